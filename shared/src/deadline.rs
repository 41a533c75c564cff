//! Time budgets against a Lambda invocation's deadline.
//!
//! Past its deadline (`lambda_runtime::Context::deadline`, Unix milliseconds) an invocation is
//! stopped and its caller gets no answer at all, not even an error. A [`Budget`] turns that
//! deadline into a monotonic instant on the project's [`Clock`], keeps a safety margin before it
//! for writing the answer, and tells each remote step how long it may take: never longer than its
//! own timeout, never past the budget.
//!
//! The decisions are plain methods over the clock, so they are tested with a
//! [`ManualClock`](crate::clock::ManualClock); only [`Budget::run`] waits, on tokio's timer.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::clock::Clock;

/// Kept free before the deadline: time to log the outcome and hand the payload back to Lambda.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(500);

/// Lambda runs an invocation for at most 15 minutes: no real deadline is further away, and the
/// cap keeps the instant arithmetic far from overflowing.
const MAX_BUDGET: Duration = Duration::from_secs(15 * 60);

/// The time one invocation has left for its remote calls.
#[derive(Clone)]
pub struct Budget {
    /// When the invocation must be answering: the deadline less the margin.
    ends_at: Instant,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budget")
            .field("remaining", &self.remaining())
            .finish()
    }
}

impl Budget {
    /// The budget of an invocation whose deadline is `deadline_unix_ms` (what the Lambda runtime
    /// gives as `Context::deadline`), keeping [`DEADLINE_MARGIN`] free before it.
    pub fn for_invocation(deadline_unix_ms: u64, clock: Arc<dyn Clock>) -> Self {
        Self::until(deadline_unix_ms, DEADLINE_MARGIN, clock)
    }

    /// A budget ending `margin` before `deadline_unix_ms`.
    ///
    /// A deadline more than 15 minutes in the past is no Lambda deadline (Lambda stops an
    /// invocation at its deadline, and runs none for longer than 15 minutes): `cargo lambda watch`
    /// sends the constant 600000, i.e. 1970. Such an invocation gets the longest budget Lambda
    /// could give, so that only each step's own timeout bounds it, and a warning.
    pub fn until(deadline_unix_ms: u64, margin: Duration, clock: Arc<dyn Clock>) -> Self {
        // A clock that reads whole seconds answers the latest millisecond it could be, which can
        // only understate the time left, never overstate it (see `Clock::unix_millis`).
        let now_ms = u64::try_from(clock.unix_millis()).unwrap_or(0);
        let max_ms = u64::try_from(MAX_BUDGET.as_millis()).unwrap_or(u64::MAX);
        // Judged a second earlier than that, so that a real deadline is never taken for none.
        if deadline_unix_ms.saturating_add(max_ms) < now_ms.saturating_sub(1000) {
            tracing::warn!(
                deadline_ms = deadline_unix_ms,
                budget_ms = max_ms,
                "the runtime gave no usable invocation deadline; only the steps' own timeouts apply"
            );
            return Self::lasting(MAX_BUDGET, clock);
        }
        let left = Duration::from_millis(deadline_unix_ms.saturating_sub(now_ms));
        Self::lasting(left.saturating_sub(margin), clock)
    }

    /// A budget of `length` from now: for callers with no Lambda deadline, and for tests.
    pub fn lasting(length: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            ends_at: clock.instant() + length.min(MAX_BUDGET),
            clock,
        }
    }

    /// When the budget runs out.
    pub fn ends_at(&self) -> Instant {
        self.ends_at
    }

    /// The time left; zero once the budget is spent.
    pub fn remaining(&self) -> Duration {
        self.ends_at.saturating_duration_since(self.clock.instant())
    }

    /// How long a step whose own timeout is `own` may run now: the shorter of `own` and the time
    /// left, or `None` when less than `at_least` is left (a step cut that short would most likely
    /// be cut in the middle, which for a request that was sent means an unknown outcome).
    pub fn step_limit(&self, own: Duration, at_least: Duration) -> Option<Duration> {
        let left = self.remaining();
        (!left.is_zero() && left >= at_least).then(|| own.min(left))
    }

    /// True when a step that first waits `wait` and may then run for `run` ends inside the budget.
    pub fn fits(&self, wait: Duration, run: Duration) -> bool {
        wait.saturating_add(run) <= self.remaining()
    }

    /// Runs `step` for at most the time left; the step's own timeouts still apply inside it, so
    /// it gets the shorter of the two. A step is not started once the budget is spent. `what`
    /// names the step in the error ("reading the application secret").
    pub async fn run<T>(
        &self,
        what: &'static str,
        step: impl Future<Output = T>,
    ) -> Result<T, DeadlineExceeded> {
        let left = self.remaining();
        if left.is_zero() {
            return Err(DeadlineExceeded::not_started(what));
        }
        tokio::time::timeout(left, step)
            .await
            .map_err(|_| DeadlineExceeded::cut(what, left))
    }
}

/// A step that did not fit before the invocation's deadline.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("the invocation's deadline left no time for {step}")]
pub struct DeadlineExceeded {
    /// What could not be done, and how far it got ("reading the application secret (cut after
    /// 2.4s)").
    pub step: String,
}

impl DeadlineExceeded {
    /// A step that was not started for lack of time.
    pub fn not_started(step: &str) -> Self {
        Self {
            step: step.to_owned(),
        }
    }

    /// A step cut after running for `after`.
    pub fn cut(step: &str, after: Duration) -> Self {
        Self {
            step: format!("{step} (cut after {after:.1?})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    /// 2027-01-15T08:00:00Z, on a whole second.
    const NOW: i64 = 1_800_000_000;
    const NOW_MS: u64 = 1_800_000_000_000;

    fn clock() -> Arc<ManualClock> {
        Arc::new(ManualClock::at(NOW))
    }

    #[test]
    fn the_deadline_becomes_time_left_less_the_margin_and_never_more() {
        let clock = clock();
        let budget = Budget::until(NOW_MS + 30_000, DEADLINE_MARGIN, clock.clone());
        // Whole-second clock: up to a second is given up so that the time left is never
        // overstated, then the margin.
        assert_eq!(budget.remaining(), Duration::from_millis(28_500));
        clock.advance(Duration::from_millis(28_000));
        assert_eq!(budget.remaining(), Duration::from_millis(500));
        clock.advance(Duration::from_millis(600));
        assert_eq!(budget.remaining(), Duration::ZERO);
    }

    #[test]
    fn a_deadline_already_past_or_inside_the_margin_leaves_nothing() {
        let fifteen_minutes_ago = NOW_MS - 15 * 60 * 1000;
        for deadline in [
            fifteen_minutes_ago,
            NOW_MS - 1,
            NOW_MS + 1_000,
            NOW_MS + 1_500,
        ] {
            let budget = Budget::for_invocation(deadline, clock());
            assert_eq!(budget.remaining(), Duration::ZERO, "{deadline}");
            assert_eq!(
                budget.step_limit(Duration::from_secs(10), Duration::ZERO),
                None
            );
        }
    }

    #[test]
    fn no_real_deadline_gives_the_longest_budget_lambda_could() {
        // cargo lambda watch's constant, an unset one, and the far future.
        for deadline in [600_000, 0, u64::MAX] {
            let budget = Budget::for_invocation(deadline, clock());
            assert_eq!(budget.remaining(), MAX_BUDGET, "{deadline}");
        }
    }

    #[test]
    fn a_step_gets_the_shorter_of_its_own_timeout_and_the_time_left() {
        let clock = clock();
        let budget = Budget::lasting(Duration::from_secs(12), clock.clone());
        let own = Duration::from_secs(10);
        let at_least = Duration::from_secs(1);
        assert_eq!(budget.step_limit(own, at_least), Some(own));
        clock.advance(Duration::from_secs(9));
        assert_eq!(
            budget.step_limit(own, at_least),
            Some(Duration::from_secs(3))
        );
        clock.advance(Duration::from_millis(2_100));
        assert_eq!(budget.step_limit(own, at_least), None, "0.9s < 1s");
        assert_eq!(
            budget.step_limit(own, Duration::ZERO),
            Some(Duration::from_millis(900))
        );
    }

    #[test]
    fn a_step_fits_only_when_its_wait_and_whole_run_end_inside_the_budget() {
        let clock = clock();
        let budget = Budget::lasting(Duration::from_secs(11), clock.clone());
        let run = Duration::from_secs(10);
        assert!(budget.fits(Duration::from_millis(1_000), run));
        assert!(!budget.fits(Duration::from_millis(1_001), run));
        clock.advance(Duration::from_secs(2));
        assert!(!budget.fits(Duration::ZERO, run));
        assert!(budget.fits(Duration::from_secs(1), Duration::from_secs(8)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_hanging_step_is_cut_when_the_budget_ends_and_none_starts_after() {
        let budget = Budget::lasting(Duration::from_secs(2), clock());
        let started = tokio::time::Instant::now();
        let hanging = budget
            .run("reading the secret", std::future::pending::<()>())
            .await;
        let error = hanging.unwrap_err();
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        assert_eq!(
            error.to_string(),
            "the invocation's deadline left no time for reading the secret (cut after 2.0s)"
        );

        assert_eq!(budget.run("a quick step", async { 7 }).await, Ok(7));

        let spent = Budget::lasting(Duration::ZERO, clock());
        let mut ran = false;
        let refused = spent.run("a late step", async { ran = true }).await;
        assert_eq!(refused, Err(DeadlineExceeded::not_started("a late step")));
        assert!(!ran, "a step is not started once the budget is spent");
    }
}
