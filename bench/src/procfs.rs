//! CPU time of processes from `/proc`, so that a benchmark can tell its own work from a server's.

/// Clock ticks per second of `/proc/*/stat` times (USER_HZ, 100 on Linux x86_64).
const TICKS: f64 = 100.0;

/// The fields of `/proc/<process>/stat` after the command name (`state` first).
fn stat_fields(process: &str) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{process}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// CPU seconds (user + system) used so far by `process` (a pid, or `self`), not counting its
/// children; NaN when it cannot be read.
pub fn cpu_seconds(process: &str) -> f64 {
    let ticks = |fields: &[String], i: usize| fields.get(i)?.parse::<f64>().ok();
    stat_fields(process)
        .and_then(|f| Some((ticks(&f, 11)? + ticks(&f, 12)?) / TICKS))
        .unwrap_or(f64::NAN)
}

/// A child of this process whose command line contains `fragment`.
pub fn child_running(fragment: &str) -> Option<u32> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let parent = stat_fields(&pid.to_string())?.get(1)? == &me;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            (parent && String::from_utf8_lossy(&cmdline).contains(fragment)).then_some(pid)
        })
}
