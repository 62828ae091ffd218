//! Times and durations as the command prints them: UTC, to the second.

use std::time::SystemTime;

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

/// `2026-05-01T12:00:00Z`.
pub fn iso(at: &DateTime) -> String {
    DateTime::from_secs(at.secs())
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| at.secs().to_string())
}

/// `12:00:00` (UTC), the prefix of a progress line.
pub fn hms(at: &DateTime) -> String {
    let iso = iso(at);
    iso.get(11..19).map_or(iso.clone(), str::to_string)
}

/// `20260501T120000`: the compact UTC stamp of execution names.
pub fn stamp(at: SystemTime) -> String {
    let iso = iso(&DateTime::from(at));
    iso.trim_end_matches('Z').replace(['-', ':'], "")
}

/// Seconds between two times (never negative).
pub fn seconds_between(from: &DateTime, to: &DateTime) -> f64 {
    (to.as_secs_f64() - from.as_secs_f64()).max(0.0)
}

/// `0.4s`, `12s`, `3m 05s`, `2h 07m`.
pub fn duration(seconds: f64) -> String {
    if seconds < 10.0 {
        return format!("{seconds:.1}s");
    }
    let whole = seconds.round() as u64;
    match whole {
        0..60 => format!("{whole}s"),
        60..3600 => format!("{}m {:02}s", whole / 60, whole % 60),
        _ => format!("{}h {:02}m", whole / 3600, (whole % 3600) / 60),
    }
}

/// `512 B`, `3.2 MiB`, `1.5 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stamps_are_compact_utc_seconds() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_777_636_800_250);
        assert_eq!(stamp(at), "20260501T120000");
        assert_eq!(hms(&DateTime::from(at)), "12:00:00");
        assert_eq!(iso(&DateTime::from(at)), "2026-05-01T12:00:00Z");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(0.42), "0.4s");
        assert_eq!(duration(12.4), "12s");
        assert_eq!(duration(185.0), "3m 05s");
        assert_eq!(duration(7_625.0), "2h 07m");
    }

    #[test]
    fn sizes_are_in_binary_units() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3 * 1024 * 1024 + 200 * 1024), "3.2 MiB");
    }
}
