//! Measuring one child process: wall time, peak RSS and CPU time.
//!
//! The child runs under `/usr/bin/time -f "%M %U %S"` (peak RSS in KiB, user and system CPU
//! seconds); without it, peak RSS is VmHWM polled from `/proc` and CPU time is unknown (NaN).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::Failure;

const TIME: &str = "/usr/bin/time";

/// A program to run, with its arguments and extra environment.
pub struct Job {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub envs: Vec<(String, String)>,
}

/// What one run of a [`Job`] took.
pub struct Measured {
    pub seconds: f64,
    pub peak_kib: u64,
    /// User + system CPU seconds of the child (NaN without `/usr/bin/time`).
    pub cpu_seconds: f64,
    pub stdout: String,
}

/// Runs `job` to completion; fails when it exits unsuccessfully. `scratch` holds the report of
/// `/usr/bin/time`.
pub fn measure(job: &Job, scratch: &Path) -> Result<Measured, Failure> {
    let report = scratch.join("time.out");
    let timed = Path::new(TIME).exists();
    let mut command = if timed {
        let mut c = Command::new(TIME);
        c.args(["-f", "%M %U %S", "-o"])
            .arg(&report)
            .arg(&job.program);
        c
    } else {
        Command::new(&job.program)
    };
    command
        .args(&job.args)
        .envs(job.envs.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command.spawn()?;
    // Read both pipes while the child runs, so that a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take().ok_or("no stdout pipe")?;
    let mut err = child.stderr.take().ok_or("no stderr pipe")?;
    let stdout = std::thread::spawn(move || read_all(&mut out));
    let stderr = std::thread::spawn(move || read_all(&mut err));
    let (status, polled_peak) = wait(&mut child, !timed)?;
    let seconds = started.elapsed().as_secs_f64();
    let stdout = stdout.join().map_err(|_| "stdout reader panicked")?;
    let stderr = stderr.join().map_err(|_| "stderr reader panicked")?;
    if !status.success() {
        return Err(format!("{} failed ({status}): {stderr}", job.program.display()).into());
    }
    let (peak_kib, cpu_seconds) = if timed {
        time_report(&report)?
    } else {
        (polled_peak, f64::NAN)
    };
    Ok(Measured {
        seconds,
        peak_kib,
        cpu_seconds,
        stdout,
    })
}

fn read_all(pipe: &mut impl Read) -> String {
    let mut text = String::new();
    let _ = pipe.read_to_string(&mut text);
    text
}

/// Waits for the child; with `poll`, also follows its peak RSS.
fn wait(child: &mut std::process::Child, poll: bool) -> Result<(ExitStatus, u64), Failure> {
    let mut peak = 0;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok((status, peak));
        }
        if poll {
            peak = peak.max(vm_hwm(child.id()).unwrap_or(0));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Peak RSS (KiB) and CPU seconds from the last line of `/usr/bin/time`'s report.
fn time_report(report: &Path) -> Result<(u64, f64), Failure> {
    let text = std::fs::read_to_string(report)?;
    let line = text.lines().next_back().unwrap_or_default();
    let fields: Vec<&str> = line.split_whitespace().collect();
    match fields[..] {
        [peak, user, system] => Ok((peak.parse()?, user.parse::<f64>()? + system.parse::<f64>()?)),
        _ => Err(format!("no peak RSS and CPU time in {}", report.display()).into()),
    }
}

/// Peak resident set size (KiB) of a running process, from `/proc/<pid>/status`.
pub fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
