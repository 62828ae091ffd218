//! Numbers as the benchmark tables print them.

/// `1234567` as `1,234,567`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
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
    fn groups_by_three_from_the_right() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(rounded(12_345.6), "12,346");
        assert_eq!(rounded(-3.0), "0");
    }
}
