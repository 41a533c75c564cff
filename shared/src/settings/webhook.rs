//! The answer and event functions' settings, read once at cold start. Each error names the
//! environment variable to fix.

use crate::settings::{
    ANSWER_ALLOW_UNSIGNED, ANSWER_GREETING, ANSWER_LANGUAGE, DEFAULT_GREETING, DEFAULT_LANGUAGE,
    DEFAULT_MAX_BODY_BYTES, DEFAULT_RESPONSE_BUDGET, EVENT_URL, PAYLOAD_HASH_MODE,
    SECRET_CACHE_SECONDS, SECRET_REFRESH_MIN_INTERVAL_SECONDS, SECRET_RETRY_BACKOFF_SECONDS,
    UNSIGNED_EVENT_STATUSES, WEBHOOK_MAX_AGE_SECONDS, WEBHOOK_MAX_BODY_BYTES,
    WEBHOOK_MAX_CLOCK_AHEAD_SECONDS, WEBHOOK_RESPONSE_BUDGET_MS, WEBHOOK_SECRET_ID,
};
use std::time::Duration;

use crate::secrets::SecretCacheSettings;
use crate::settings::{self, ConfigError, Settings};
use crate::vonage::ncco::{Action, Ncco, Talk};
use crate::vonage::verify::{BodyHashMode, VerificationPolicy};

/// What both webhook functions need: where the secret is, how long to keep it, what a token
/// must satisfy.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// The Secrets Manager id of the webhook secret.
    pub secret_id: String,
    /// How long the secret is trusted and how often it may be re-read.
    pub secret_cache: SecretCacheSettings,
    /// What a token must satisfy.
    pub policy: VerificationPolicy,
    /// Bodies larger than this are refused (413) before anything parses them.
    pub max_body_bytes: usize,
    /// How long a webhook may take from receipt to answer: remote reads that do not finish
    /// inside it give way to a 503, which Vonage retries, instead of a late answer it has
    /// stopped waiting for.
    pub response_budget: Duration,
}

impl WebhookConfig {
    /// Reads the settings both webhooks share; an error names the setting to fix.
    pub fn from_settings(settings: &impl Settings) -> Result<Self, ConfigError> {
        let defaults = SecretCacheSettings::default();
        let policy_defaults = VerificationPolicy::default();
        let max_age =
            settings::seconds_or(settings, WEBHOOK_MAX_AGE_SECONDS, policy_defaults.max_age)?;
        if max_age.is_zero() {
            return Err(ConfigError::Invalid {
                name: WEBHOOK_MAX_AGE_SECONDS,
                problem: "must be at least 1 second".into(),
            });
        }
        let max_body_bytes =
            settings::parsed_or(settings, WEBHOOK_MAX_BODY_BYTES, DEFAULT_MAX_BODY_BYTES)?;
        let response_budget = settings::millis_or(
            settings,
            WEBHOOK_RESPONSE_BUDGET_MS,
            DEFAULT_RESPONSE_BUDGET,
        )?;
        if response_budget.is_zero() {
            return Err(ConfigError::Invalid {
                name: WEBHOOK_RESPONSE_BUDGET_MS,
                problem: "must be at least 1 millisecond".into(),
            });
        }
        Ok(Self {
            secret_id: settings::required(settings, WEBHOOK_SECRET_ID)?,
            secret_cache: SecretCacheSettings {
                ttl: settings::seconds_or(settings, SECRET_CACHE_SECONDS, defaults.ttl)?,
                refresh_min_interval: settings::seconds_or(
                    settings,
                    SECRET_REFRESH_MIN_INTERVAL_SECONDS,
                    defaults.refresh_min_interval,
                )?,
                failure_backoff: settings::seconds_or(
                    settings,
                    SECRET_RETRY_BACKOFF_SECONDS,
                    defaults.failure_backoff,
                )?,
            },
            max_body_bytes,
            response_budget,
            policy: VerificationPolicy {
                max_age,
                max_clock_ahead: settings::seconds_or(
                    settings,
                    WEBHOOK_MAX_CLOCK_AHEAD_SECONDS,
                    policy_defaults.max_clock_ahead,
                )?,
                // Filled per secret version: the api_key and application_id stored beside the
                // signature secret are the ones enforced.
                expected_api_key: None,
                expected_application_id: None,
                body_hash: body_hash_mode(settings)?,
            },
        })
    }

    /// What `crate::http` checks on the raw event.
    pub fn request_limits(&self) -> crate::http::RequestLimits {
        crate::http::RequestLimits {
            max_body_bytes: self.max_body_bytes,
        }
    }

    /// How long after its `iat` a token stops passing the freshness check.
    pub fn max_age_seconds(&self) -> i64 {
        i64::try_from(self.policy.max_age.as_secs()).unwrap_or(i64::MAX)
    }
}

fn body_hash_mode(settings: &impl Settings) -> Result<BodyHashMode, ConfigError> {
    match settings::optional(settings, PAYLOAD_HASH_MODE)
        .map(|mode| mode.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("exact") => Ok(BodyHashMode::Exact),
        Some("exact-or-compact-json") => Ok(BodyHashMode::ExactOrCompactJson),
        Some(other) => Err(ConfigError::Invalid {
            name: PAYLOAD_HASH_MODE,
            problem: format!("expected exact or exact-or-compact-json, got {other:?}"),
        }),
    }
}

/// The event function's settings.
#[derive(Clone, Debug)]
pub struct EventConfig {
    /// The settings both webhooks share.
    pub webhook: WebhookConfig,
    /// Event kinds (see `VoiceEvent::kind`) accepted without an Authorization header.
    pub unsigned_statuses: Vec<String>,
}

impl EventConfig {
    /// Reads the event function's settings; an error names the setting to fix.
    pub fn from_settings(settings: &impl Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            webhook: WebhookConfig::from_settings(settings)?,
            unsigned_statuses: settings::list(settings, UNSIGNED_EVENT_STATUSES)
                .into_iter()
                .map(|status| status.to_ascii_lowercase())
                .collect(),
        })
    }
}

/// The answer function's settings.
#[derive(Clone, Debug)]
pub struct AnswerConfig {
    /// The settings both webhooks share.
    pub webhook: WebhookConfig,
    /// Answer a request that carries no token (Vonage's preview did not sign the answer webhook).
    pub allow_unsigned: bool,
    /// The greeting, validated as an NCCO at cold start.
    pub greeting: Ncco,
    /// Our event endpoint; when absent it is derived from each request's host and stage.
    pub event_url: Option<String>,
}

impl AnswerConfig {
    /// Reads the answer function's settings; an error names the setting to fix.
    pub fn from_settings(settings: &impl Settings) -> Result<Self, ConfigError> {
        let text = settings::optional(settings, ANSWER_GREETING)
            .unwrap_or_else(|| DEFAULT_GREETING.to_owned());
        let language = settings::optional(settings, ANSWER_LANGUAGE)
            .unwrap_or_else(|| DEFAULT_LANGUAGE.to_owned());
        if !settings::is_language_tag(&language) {
            return Err(ConfigError::Invalid {
                name: ANSWER_LANGUAGE,
                problem: format!("expected a BCP-47 tag such as en-US, got {language:?}"),
            });
        }
        let talk = Talk {
            language: Some(language),
            ..Talk::new(text)
        };
        let greeting =
            Ncco::new(vec![Action::Talk(talk)]).map_err(|error| ConfigError::Invalid {
                name: ANSWER_GREETING,
                problem: error.to_string(),
            })?;
        Ok(Self {
            webhook: WebhookConfig::from_settings(settings)?,
            allow_unsigned: settings::flag_or(settings, ANSWER_ALLOW_UNSIGNED, true)?,
            greeting,
            event_url: settings::url(settings, EVENT_URL)?,
        })
    }
}

#[cfg(any(test, feature = "test-util"))]
/// Used by tests that build a configuration by hand.
impl WebhookConfig {
    /// The defaults, reading `secret_id`.
    pub fn for_secret(secret_id: impl Into<String>) -> Self {
        Self {
            secret_id: secret_id.into(),
            secret_cache: SecretCacheSettings::default(),
            policy: VerificationPolicy::default(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            response_budget: DEFAULT_RESPONSE_BUDGET,
        }
    }

    /// The same, with the secret kept for `ttl` and re-read at most every `refresh_min_interval`.
    pub fn with_cache(mut self, ttl: Duration, refresh_min_interval: Duration) -> Self {
        self.secret_cache = SecretCacheSettings {
            ttl,
            refresh_min_interval,
            ..self.secret_cache
        };
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vonage::ncco::Action;

    #[test]
    fn defaults_apply_when_only_the_secret_id_is_set() {
        let settings = [(WEBHOOK_SECRET_ID, "vonage/webhook")];
        let event = EventConfig::from_settings(&settings).unwrap();
        assert_eq!(event.webhook.secret_id, "vonage/webhook");
        assert_eq!(event.webhook.secret_cache, SecretCacheSettings::default());
        assert_eq!(event.webhook.secret_cache.ttl, Duration::from_secs(300));
        assert_eq!(event.webhook.policy.max_age, Duration::from_secs(300));
        assert_eq!(
            event.webhook.policy.max_clock_ahead,
            Duration::from_secs(300)
        );
        assert_eq!(event.webhook.policy.body_hash, BodyHashMode::Exact);
        assert!(event.unsigned_statuses.is_empty());
        assert_eq!(event.webhook.max_body_bytes, 65_536);
        assert_eq!(event.webhook.response_budget, Duration::from_millis(2500));
        assert_eq!(
            event.webhook.secret_cache.failure_backoff,
            Duration::from_secs(5)
        );

        let answer = AnswerConfig::from_settings(&settings).unwrap();
        assert!(answer.allow_unsigned);
        assert_eq!(answer.event_url, None);
        let Action::Talk(talk) = &answer.greeting.actions()[0] else {
            panic!("the greeting is a talk action");
        };
        assert_eq!(talk.text, DEFAULT_GREETING);
        assert_eq!(talk.language.as_deref(), Some("en-US"));
    }

    #[test]
    fn every_setting_is_read() {
        let settings = [
            (
                WEBHOOK_SECRET_ID,
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:w-AbCdEf",
            ),
            (SECRET_CACHE_SECONDS, "60"),
            (SECRET_REFRESH_MIN_INTERVAL_SECONDS, "2"),
            (WEBHOOK_MAX_AGE_SECONDS, "120"),
            (WEBHOOK_MAX_CLOCK_AHEAD_SECONDS, "30"),
            (PAYLOAD_HASH_MODE, "exact-or-compact-json"),
            (UNSIGNED_EVENT_STATUSES, "Input, transfer,,notify"),
            (ANSWER_ALLOW_UNSIGNED, "false"),
            (ANSWER_GREETING, "Bonjour"),
            (ANSWER_LANGUAGE, "fr-FR"),
            (EVENT_URL, "https://voice.example.com/event/"),
            (WEBHOOK_MAX_BODY_BYTES, "1024"),
            (WEBHOOK_RESPONSE_BUDGET_MS, "800"),
            (SECRET_RETRY_BACKOFF_SECONDS, "7"),
        ];
        let event = EventConfig::from_settings(&settings).unwrap();
        assert_eq!(event.webhook.secret_cache.ttl, Duration::from_secs(60));
        assert_eq!(
            event.webhook.secret_cache.refresh_min_interval,
            Duration::from_secs(2)
        );
        assert_eq!(event.webhook.policy.max_age, Duration::from_secs(120));
        assert_eq!(
            event.webhook.policy.max_clock_ahead,
            Duration::from_secs(30)
        );
        assert_eq!(
            event.webhook.policy.body_hash,
            BodyHashMode::ExactOrCompactJson
        );
        assert_eq!(event.unsigned_statuses, ["input", "transfer", "notify"]);
        assert_eq!(event.webhook.max_body_bytes, 1024);
        assert_eq!(event.webhook.response_budget, Duration::from_millis(800));
        assert_eq!(
            event.webhook.secret_cache.failure_backoff,
            Duration::from_secs(7)
        );
        let answer = AnswerConfig::from_settings(&settings).unwrap();
        assert!(!answer.allow_unsigned);
        assert_eq!(
            answer.event_url.as_deref(),
            Some("https://voice.example.com/event")
        );
        assert_eq!(
            answer.greeting.to_json(),
            serde_json::json!([{"action":"talk","text":"Bonjour","language":"fr-FR"}])
        );
    }

    #[test]
    fn bad_values_name_their_variable() {
        let name_of = |error: ConfigError| match error {
            ConfigError::Missing { name } | ConfigError::Invalid { name, .. } => name,
        };
        assert_eq!(
            name_of(EventConfig::from_settings(&[("X", "1")]).unwrap_err()),
            WEBHOOK_SECRET_ID
        );
        let with =
            |name: &'static str, value: &'static str| [(WEBHOOK_SECRET_ID, "s"), (name, value)];
        for (name, value) in [
            (SECRET_CACHE_SECONDS, "five"),
            (WEBHOOK_MAX_AGE_SECONDS, "0"),
            (WEBHOOK_MAX_CLOCK_AHEAD_SECONDS, "-1"),
            (PAYLOAD_HASH_MODE, "lenient"),
            (WEBHOOK_MAX_BODY_BYTES, "64k"),
            (WEBHOOK_RESPONSE_BUDGET_MS, "0"),
            (SECRET_RETRY_BACKOFF_SECONDS, "soon"),
        ] {
            assert_eq!(
                name_of(EventConfig::from_settings(&with(name, value)).unwrap_err()),
                name
            );
        }
        for (name, value) in [
            (ANSWER_ALLOW_UNSIGNED, "sometimes"),
            (ANSWER_LANGUAGE, "english please"),
            (EVENT_URL, "example.com/event"),
        ] {
            assert_eq!(
                name_of(AnswerConfig::from_settings(&with(name, value)).unwrap_err()),
                name
            );
        }
        let too_long = "a".repeat(1501);
        let settings = [
            (WEBHOOK_SECRET_ID, "s"),
            (ANSWER_GREETING, too_long.as_str()),
        ];
        assert_eq!(
            name_of(AnswerConfig::from_settings(&settings).unwrap_err()),
            ANSWER_GREETING
        );
    }
}
