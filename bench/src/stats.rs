//! Summaries of timings and the one clock every process in the run shares.

use serde::Serialize;

/// Median, minimum and maximum of a set of measurements, in the unit they were taken in.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Summary {
    pub samples: usize,
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Summary {
    /// `None` for an empty set: a benchmark that measured nothing has nothing to report.
    pub fn of(values: &[f64]) -> Option<Self> {
        let mut sorted: Vec<f64> = values
            .iter()
            .copied()
            .filter(|value| value.is_finite())
            .collect();
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_by(f64::total_cmp);
        let middle = sorted.len() / 2;
        let median = if sorted.len() % 2 == 1 {
            sorted[middle]
        } else {
            (sorted[middle - 1] + sorted[middle]) / 2.0
        };
        Some(Self {
            samples: sorted.len(),
            median,
            min: sorted[0],
            max: sorted[sorted.len() - 1],
        })
    }

    pub fn scaled(self, factor: f64) -> Self {
        Self {
            samples: self.samples,
            median: self.median * factor,
            min: self.min * factor,
            max: self.max * factor,
        }
    }
}

/// The one clock every process in the run shares (the process helper time-stamps forks on it).
pub use integration_tests::spawner::monotonic_ns;

/// Nanoseconds to milliseconds.
pub fn ms(nanoseconds: u64) -> f64 {
    nanoseconds as f64 / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::Summary;

    #[test]
    fn median_of_odd_and_even_counts() {
        let odd = Summary::of(&[5.0, 1.0, 3.0]).expect("three values");
        assert_eq!((odd.median, odd.min, odd.max), (3.0, 1.0, 5.0));
        let even = Summary::of(&[4.0, 1.0, 3.0, 2.0]).expect("four values");
        assert_eq!(even.median, 2.5);
        assert!(Summary::of(&[]).is_none());
    }
}
