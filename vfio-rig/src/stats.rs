// SPDX-License-Identifier: GPL-2.0

//! Small statistics helpers for the race report and the benchmark table.

use std::time::Duration;

pub use edu_regs::latency::{percentile, quantiles};

/// Median of `v` (sorts it), or 0 if empty.
pub fn median(v: &mut [u64]) -> u64 {
    v.sort_unstable();
    percentile(v, 50.0)
}

/// A duration in whole microseconds.
pub fn us(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}

/// A duration in whole nanoseconds.
pub fn ns(d: Duration) -> u64 {
    d.as_nanos().min(u64::MAX as u128) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 90.0), 90);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&v, 0.0), 1);
        assert_eq!(percentile(&[], 50.0), 0);
        assert_eq!(median(&mut [5, 1, 3]), 3);
        assert_eq!(us(Duration::from_millis(2)), 2000);
    }
}
