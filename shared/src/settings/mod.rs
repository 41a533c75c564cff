//! Settings read once at cold start from the environment. Every error names the variable, so a
//! bad deployment fails at init with a message that says what to fix.

mod names;
pub mod webhook;

pub use names::*;

use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
/// A setting that is missing or cannot be used; it names the variable.
pub enum ConfigError {
    #[error("the setting {name} is required but not set")]
    /// A required setting is unset or blank.
    Missing {
        /// The setting's name.
        name: &'static str,
    },
    #[error("the setting {name} is invalid: {problem}")]
    /// A setting's value cannot be used, and why.
    Invalid {
        /// The setting's name.
        name: &'static str,
        /// What went wrong.
        problem: String,
    },
}

/// Where settings come from. The process environment in production; a map in tests.
pub trait Settings {
    /// The value of the setting `name`, if set.
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct Environment;

impl Settings for Environment {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Settings for std::collections::HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl<const N: usize> Settings for [(&str, &str); N] {
    fn get(&self, name: &str) -> Option<String> {
        self.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    }
}

/// A non-empty value, trimmed; unset and blank are both "missing".
pub fn required(settings: &impl Settings, name: &'static str) -> Result<String, ConfigError> {
    optional(settings, name).ok_or(ConfigError::Missing { name })
}

/// A value that may be absent; blank counts as absent.
pub fn optional(settings: &impl Settings, name: &'static str) -> Option<String> {
    settings
        .get(name)
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// A value parsed with `FromStr`, or `default` when absent.
pub fn parsed_or<T>(
    settings: &impl Settings,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match optional(settings, name) {
        None => Ok(default),
        Some(text) => text.parse().map_err(|error: T::Err| ConfigError::Invalid {
            name,
            problem: format!("{error} (got {text:?})"),
        }),
    }
}

/// Whole seconds, or `default` when absent.
pub fn seconds_or(
    settings: &impl Settings,
    name: &'static str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    parsed_or(settings, name, default.as_secs()).map(Duration::from_secs)
}

/// Whole milliseconds, or `default` when absent.
pub fn millis_or(
    settings: &impl Settings,
    name: &'static str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let default_ms = u64::try_from(default.as_millis()).unwrap_or(u64::MAX);
    parsed_or(settings, name, default_ms).map(Duration::from_millis)
}

/// `true`/`false` (also `1`/`0`, `yes`/`no`), or `default` when absent.
pub fn flag_or(
    settings: &impl Settings,
    name: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match optional(settings, name).map(|v| v.to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if ["true", "1", "yes"].contains(&v.as_str()) => Ok(true),
        Some(v) if ["false", "0", "no"].contains(&v.as_str()) => Ok(false),
        Some(v) => Err(ConfigError::Invalid {
            name,
            problem: format!("expected true or false, got {v:?}"),
        }),
    }
}

/// A comma-separated list; empty items are dropped.
pub fn list(settings: &impl Settings, name: &'static str) -> Vec<String> {
    optional(settings, name)
        .map(|text| {
            text.split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// An absolute `http(s)://` URL without a trailing slash.
pub fn url(settings: &impl Settings, name: &'static str) -> Result<Option<String>, ConfigError> {
    let Some(value) = optional(settings, name) else {
        return Ok(None);
    };
    if !(value.starts_with("https://") || value.starts_with("http://")) {
        return Err(ConfigError::Invalid {
            name,
            problem: format!("expected an http(s) URL, got {value:?}"),
        });
    }
    Ok(Some(value.trim_end_matches('/').to_owned()))
}

/// A BCP 47 language tag as Vonage's `talk` action takes it (`en-US`, `cmn-CN`): a primary
/// language subtag of 2 or 3 letters, then subtags of 1 to 8 letters or digits. One-character
/// subtags are allowed, as BCP 47 allows them for extensions and private use (`en-US-x-a`).
pub fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or_default();
    (2..=3).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|part| {
            (1..=8).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_blank_settings_name_the_variable() {
        let settings = [("BLANK", "  ")];
        assert_eq!(
            required(&settings, "ABSENT").unwrap_err().to_string(),
            "the setting ABSENT is required but not set"
        );
        assert_eq!(
            required(&settings, "BLANK"),
            Err(ConfigError::Missing { name: "BLANK" })
        );
    }

    #[test]
    fn malformed_numbers_name_the_variable_and_the_value() {
        let settings = [("WINDOW", "five")];
        let error = seconds_or(&settings, "WINDOW", Duration::from_secs(1)).unwrap_err();
        assert!(error.to_string().contains("WINDOW"), "{error}");
        assert!(error.to_string().contains("\"five\""), "{error}");
        assert_eq!(
            seconds_or(&[("WINDOW", "42")], "WINDOW", Duration::ZERO),
            Ok(Duration::from_secs(42))
        );
        assert_eq!(
            seconds_or(&settings, "OTHER", Duration::from_secs(7)),
            Ok(Duration::from_secs(7))
        );
    }

    #[test]
    fn flags_accept_the_usual_spellings_and_refuse_others() {
        assert_eq!(flag_or(&[("F", "TRUE")], "F", false), Ok(true));
        assert_eq!(flag_or(&[("F", "0")], "F", true), Ok(false));
        assert_eq!(flag_or(&[("X", "1")], "F", true), Ok(true));
        assert!(matches!(
            flag_or(&[("F", "maybe")], "F", true),
            Err(ConfigError::Invalid { name: "F", .. })
        ));
    }

    #[test]
    fn lists_and_urls() {
        assert_eq!(
            list(&[("L", " input, ,transfer ")], "L"),
            ["input", "transfer"]
        );
        assert!(list(&[("L", "")], "L").is_empty());
        assert_eq!(
            url(&[("U", "https://api.nexmo.com/")], "U"),
            Ok(Some("https://api.nexmo.com".into()))
        );
        assert!(url(&[("U", "api.nexmo.com")], "U").is_err());
        assert_eq!(url(&[("U", "")], "U"), Ok(None));
    }
}
