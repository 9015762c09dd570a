//! Latency distributions as the guest tools report them: 101 quantiles (0th to 100th percentile,
//! nearest rank) on one line, which the host's charts read as a cumulative distribution.

/// The `p`-th percentile (0..=100, nearest rank) of `sorted`, or 0 if empty.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    // The ceiling, by hand: `f64::ceil` is not in `core`.
    let x = (p / 100.0) * sorted.len() as f64;
    let rank = x as usize + usize::from((x as usize as f64) < x);
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The 0th, 1st, ..., 100th percentiles of `sorted`, in units of `unit` (e.g. 1000 for
/// microseconds from nanoseconds) with one decimal, comma-separated: the value of a
/// `..._quantiles_us=` field. Empty if `sorted` is.
pub fn quantiles(sorted: &[u64], unit: u64) -> alloc::string::String {
    use core::fmt::Write;
    let mut s = alloc::string::String::new();
    if sorted.is_empty() {
        return s;
    }
    for p in 0..=100 {
        let v = percentile(sorted, f64::from(p));
        let sep = if p == 0 { "" } else { "," };
        let _ = write!(s, "{sep}{:.1}", v as f64 / unit as f64);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_quantiles() {
        let v: alloc::vec::Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&v, 0.0), 1);
        assert_eq!(percentile(&[], 50.0), 0);
        let q = quantiles(&[1000, 2000, 3000, 4000], 1000);
        let q: alloc::vec::Vec<&str> = q.split(',').collect();
        assert_eq!(q.len(), 101);
        assert_eq!((q[0], q[25], q[26], q[100]), ("1.0", "1.0", "2.0", "4.0"));
        assert_eq!(quantiles(&[], 1000), "");
    }
}
