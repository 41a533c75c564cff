//! The retry policy of a create-call: capped exponential backoff with jitter.

use std::time::Duration;

use backon::ExponentialBuilder;

/// Capped exponential backoff with jitter, for the failures that are safe to retry.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// The wait before the first retry.
    pub first_delay: Duration,
    /// The cap on the exponential part; jitter adds up to as much again, and a 429's
    /// `Retry-After` may lengthen a delay up to this cap.
    pub max_delay: Duration,
    /// Retries after the first attempt.
    pub max_retries: usize,
    /// Whether waits get random jitter, so instances do not retry in step.
    pub jitter: bool,
}

impl Default for RetryPolicy {
    /// Vonage allows about 3 call creations a second: a few short waits clear a burst, and the
    /// worst case stays well inside a Lambda timeout of 30 s.
    fn default() -> Self {
        Self {
            first_delay: Duration::from_millis(300),
            max_delay: Duration::from_secs(2),
            max_retries: 3,
            jitter: true,
        }
    }
}

impl RetryPolicy {
    pub(super) fn backoff(&self) -> ExponentialBuilder {
        let builder = ExponentialBuilder::new()
            .with_factor(2.0)
            .with_min_delay(self.first_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries);
        if self.jitter {
            // backon's own seed is a constant without its `std` feature: every Lambda would
            // then wait in step with the others, which is what jitter is meant to prevent.
            builder
                .with_jitter()
                .with_jitter_seed(uuid::Uuid::new_v4().as_u64_pair().0)
        } else {
            builder
        }
    }

    /// The delays this policy would wait, in order (without `Retry-After`).
    pub fn delays(&self) -> Vec<Duration> {
        use backon::BackoffBuilder;
        self.backoff().build().collect()
    }

    /// A 429's `Retry-After` may lengthen the computed delay, never beyond `max_delay`.
    pub(super) fn delay_after_rate_limit(
        &self,
        computed: Duration,
        retry_after: Option<Duration>,
    ) -> Duration {
        match retry_after {
            Some(asked) => computed.max(asked.min(self.max_delay)),
            None => computed,
        }
    }
}
