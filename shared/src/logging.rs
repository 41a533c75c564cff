//! Structured JSON logs, one object per line, in step with Lambda's `AWS_LAMBDA_LOG_FORMAT=JSON`.
//!
//! Nothing here decides what is logged; callers log fields they chose, and never a secret, a token
//! or a signature.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Installs the JSON subscriber once, writing to stdout. The level comes from `RUST_LOG`, then
/// `AWS_LAMBDA_LOG_LEVEL` (set by Lambda's advanced logging controls), then `info`.
pub fn init() {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .or_else(|| std::env::var("AWS_LAMBDA_LOG_LEVEL").ok())
        .map(|level| level.to_ascii_lowercase())
        .and_then(|level| EnvFilter::try_new(level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let _ = tracing::subscriber::set_global_default(json_subscriber(filter, std::io::stdout));
}

/// The subscriber `init` installs, writing to `writer`: tests and benchmarks read the lines
/// exactly as the functions write them.
pub fn json_subscriber<W>(filter: EnvFilter, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        // Lambda stamps each line itself; a second timestamp only costs bytes.
        .without_time()
        .with_writer(writer)
        .finish()
}

/// The most characters of a caller-controlled value (an unverified request's `uuid`, an unknown
/// input field's name, …) that a log line or a reply repeats.
pub const UNVERIFIED_FIELD_MAX_CHARS: usize = 64;

/// A caller-controlled value made safe to log or echo: at most [`UNVERIFIED_FIELD_MAX_CHARS`]
/// characters, control characters escaped (`\n`, `\u{1b}`), and, when cut, a `…(N chars)` suffix
/// giving the original length so a reader sees the value was longer.
pub fn capped(value: &str) -> String {
    capped_to(value, UNVERIFIED_FIELD_MAX_CHARS)
}

/// [`capped`] with an explicit limit.
pub fn capped_to(value: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(value.len().min(max_chars * 2));
    for (kept, character) in value.chars().enumerate() {
        if kept == max_chars {
            let total = value.chars().count();
            out.push_str(&format!("…({total} chars)"));
            return out;
        }
        if character.is_control() {
            out.extend(character.escape_default());
        } else {
            out.push(character);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_pass_unchanged() {
        assert_eq!(capped("aaaa-bbbb"), "aaaa-bbbb");
        assert_eq!(capped(""), "");
    }

    #[test]
    fn long_values_are_cut_and_say_how_long_they_were() {
        let long = "x".repeat(100_000);
        let cut = capped(&long);
        assert!(cut.starts_with(&"x".repeat(UNVERIFIED_FIELD_MAX_CHARS)));
        assert!(cut.ends_with("…(100000 chars)"), "{cut}");
        assert!(cut.len() < 100);
        assert_eq!(capped_to("abcdef", 3), "abc…(6 chars)");
        assert_eq!(capped_to("abc", 3), "abc");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(capped("a\nb\u{1b}[31m"), "a\\nb\\u{1b}[31m");
        assert!(!capped("\r\n\t\0").chars().any(char::is_control));
    }
}
