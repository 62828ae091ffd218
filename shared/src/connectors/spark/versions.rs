//! Spark version labels (`major.minor.patch`): ordering and bumps.

use crate::contract::Upgrade;

/// The numeric parts of a label; missing or non-numeric parts count as 0.
fn parts(label: &str) -> [u64; 3] {
    let mut out = [0; 3];
    for (slot, part) in out.iter_mut().zip(label.trim().split('.')) {
        *slot = part.parse().unwrap_or(0);
    }
    out
}

/// The highest label.
pub fn latest<'a>(labels: &[&'a str]) -> Option<&'a str> {
    labels.iter().copied().max_by_key(|label| parts(label))
}

/// `label` bumped by `upgrade`: 1.2.3 → 2.0.0 (major), 1.3.0 (minor), 1.2.4 (patch).
pub fn bump(label: &str, upgrade: Upgrade) -> String {
    let [major, minor, patch] = parts(label);
    match upgrade {
        Upgrade::Major => format!("{}.0.0", major + 1),
        Upgrade::Minor => format!("{major}.{}.0", minor + 1),
        Upgrade::Patch => format!("{major}.{minor}.{}", patch + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_numerically() {
        assert_eq!(latest(&["1.9.0", "1.10.0", "1.2.0"]), Some("1.10.0"));
        assert_eq!(latest(&[]), None);
    }

    #[test]
    fn bumps_each_part() {
        assert_eq!(bump("1.2.3", Upgrade::Major), "2.0.0");
        assert_eq!(bump("1.2.3", Upgrade::Minor), "1.3.0");
        assert_eq!(bump("1.2.3", Upgrade::Patch), "1.2.4");
        assert_eq!(bump("4", Upgrade::Patch), "4.0.1");
    }
}
