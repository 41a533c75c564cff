//! Time, passed in: wall-clock seconds for token times, a monotonic instant for cache ages.

#[cfg(any(test, feature = "test-util"))]
use std::sync::Mutex;
#[cfg(any(test, feature = "test-util"))]
use std::time::Duration;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Where the time comes from: the machine's clocks in production, a manual one in tests.
pub trait Clock: Send + Sync {
    /// Unix seconds, compared with a token's `iat`.
    fn unix_seconds(&self) -> i64;
    /// A monotonic instant, for how long a cached secret has been held.
    fn instant(&self) -> Instant;
    /// Unix milliseconds, the unit of Lambda's invocation deadline. A clock that reads only whole
    /// seconds gives the end of the current second, the latest it could be: it may understate the
    /// time left before a deadline, never overstate it.
    fn unix_millis(&self) -> i64 {
        self.unix_seconds().saturating_add(1).saturating_mul(1000)
    }
}

/// The machine's clocks.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn unix_seconds(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
            })
    }

    fn instant(&self) -> Instant {
        Instant::now()
    }

    fn unix_millis(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
            })
    }
}

#[cfg(any(test, feature = "test-util"))]
/// A clock that moves only when told, for tests and simulations: both readings advance together.
#[derive(Debug)]
pub struct ManualClock {
    unix_start: i64,
    instant_start: Instant,
    elapsed: Mutex<Duration>,
}

#[cfg(any(test, feature = "test-util"))]
impl ManualClock {
    /// A clock reading `unix_seconds` now.
    pub fn at(unix_seconds: i64) -> Self {
        Self {
            unix_start: unix_seconds,
            instant_start: Instant::now(),
            elapsed: Mutex::new(Duration::ZERO),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.lock() += by;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Duration> {
        self.elapsed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(any(test, feature = "test-util"))]
impl Clock for ManualClock {
    fn unix_seconds(&self) -> i64 {
        let elapsed = i64::try_from(self.lock().as_secs()).unwrap_or(i64::MAX);
        self.unix_start.saturating_add(elapsed)
    }

    fn instant(&self) -> Instant {
        self.instant_start + *self.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_both_readings_together() {
        let clock = ManualClock::at(1_800_000_000);
        let start = clock.instant();
        clock.advance(Duration::from_secs(301));
        assert_eq!(clock.unix_seconds(), 1_800_000_301);
        assert_eq!(clock.instant() - start, Duration::from_secs(301));
    }

    #[test]
    fn the_system_clock_reads_a_plausible_date() {
        // After 2024-01-01: catches a clock read in milliseconds or from the wrong epoch.
        let now = SystemClock.unix_seconds();
        assert!((1_704_067_200..4_102_444_800).contains(&now), "{now}");
    }
}
