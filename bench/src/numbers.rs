//! Numbers as the benchmark tables print them.

/// `1234567` as `1,234,567`, for the counts the benchmarks keep as `usize`.
pub fn thousands(n: usize) -> String {
    shared::numbers::thousands(n as u64)
}

/// A rate or an estimate rounded to a whole number, with separators: `12345.6` as `12,346`.
/// Negative values print as 0.
pub fn rounded(n: f64) -> String {
    thousands(n.round().max(0.0) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_then_groups_by_three() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(rounded(12_345.6), "12,346");
        assert_eq!(rounded(-3.0), "0");
    }
}
