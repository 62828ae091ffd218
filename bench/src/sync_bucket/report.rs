//! The sync benchmark's tables and target checks.
//!
//! One table per server and size (seconds, objects/s, peak RSS, the tool's and the server's CPU
//! time), the targets of that size as met / not met with their ratios, and, when several sizes
//! ran on a server, each tool's peak RSS by size.

use crate::tools::Tool;
use ferry_bench::numbers::thousands;

/// The two measured cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    First,
    Resync,
}

impl Case {
    pub const BOTH: [Case; 2] = [Case::First, Case::Resync];

    /// The name `--cases` takes.
    pub fn name(self) -> &'static str {
        match self {
            Case::First => "first",
            Case::Resync => "resync",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Case::First => "first sync",
            Case::Resync => "no-change re-sync",
        }
    }
}

/// One table row: the median run of a tool in one case (its time and CPU times), with the
/// highest peak RSS of all its runs.
#[derive(Debug, Clone)]
pub struct Row {
    pub tool: Tool,
    pub case: Case,
    pub seconds: f64,
    pub peak_kib: u64,
    pub client_cpu: f64,
    pub server_cpu: f64,
}

/// What one server at one size produced.
pub struct Table {
    pub server: &'static str,
    pub objects: usize,
    pub folders: usize,
    pub repeats: usize,
    pub rows: Vec<Row>,
    /// Lines printed under the table (steps and their times, server totals).
    pub notes: Vec<String>,
}

/// The first-sync target holds at this size.
const FIRST_SYNC_TARGET_OBJECTS: usize = 20_000;
const FIRST_SYNC_TARGET: f64 = 3.0;
const RSS_TARGET_MIB: f64 = 30.0;
const RESYNC_TARGET: f64 = 10.0;

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

impl Table {
    pub fn print(&self) {
        println!();
        println!(
            "sync of {} objects (1-8 KiB, {} folders) between two buckets of one {} endpoint; \
             median of {} runs, highest peak RSS",
            thousands(self.objects),
            self.folders,
            self.server,
            self.repeats
        );
        println!(
            "| {:<51} | {:<17} | {:>9} | {:>9} | {:>12} | {:>12} | {:>12} |",
            "tool", "case", "seconds", "objects/s", "peak RSS MiB", "client CPU s", "server CPU s"
        );
        println!(
            "|{:-<53}|{:-<19}|{:->11}|{:->11}|{:->14}|{:->14}|{:->14}|",
            "", "", "", "", "", "", ""
        );
        for r in &self.rows {
            println!(
                "| {:<51} | {:<17} | {:>9.3} | {:>9} | {:>12.1} | {:>12.2} | {:>12.2} |",
                r.tool.label(),
                r.case.label(),
                r.seconds,
                thousands((self.objects as f64 / r.seconds).round() as usize),
                mib(r.peak_kib),
                r.client_cpu,
                r.server_cpu
            );
        }
        for note in &self.notes {
            println!("- {note}");
        }
        self.print_targets();
    }

    /// The fastest row of a case among the tools `which` accepts.
    fn best(&self, case: Case, which: impl Fn(Tool) -> bool) -> Option<&Row> {
        self.rows
            .iter()
            .filter(|r| r.case == case && which(r.tool))
            .min_by(|a, b| a.seconds.total_cmp(&b.seconds))
    }

    fn print_targets(&self) {
        println!("targets:");
        let ferry = |case| self.best(case, |t| matches!(t, Tool::Ferry(_)));
        let first = (
            ferry(Case::First),
            self.best(Case::First, |t| t == Tool::RcloneBest),
        );
        if let Some(row) = first.0 {
            println!(
                "- ferry's client CPU per object copied, first sync: {:.1} µs (the cost model's --sync-cpu-us)",
                1e6 * row.client_cpu / self.objects as f64
            );
        }
        let target = (self.objects == FIRST_SYNC_TARGET_OBJECTS).then_some(FIRST_SYNC_TARGET);
        println!(
            "- first sync ≥ 3× rclone's best at 20,000 objects: {}",
            ratio(first, target)
        );
        let ferry_peak = self
            .rows
            .iter()
            .filter(|r| matches!(r.tool, Tool::Ferry(_)))
            .map(|r| r.peak_kib)
            .max();
        println!(
            "- ferry's peak RSS ≤ {RSS_TARGET_MIB} MiB: {}",
            rss(ferry_peak)
        );
        let resync = ferry(Case::Resync);
        let aws = self.best(Case::Resync, |t| t == Tool::Aws);
        let rclone = self.best(Case::Resync, |t| {
            matches!(t, Tool::RcloneBest | Tool::RcloneDefaults)
        });
        println!(
            "- re-sync ≥ 10× aws s3 sync: {}",
            ratio((resync, aws), Some(RESYNC_TARGET))
        );
        println!(
            "- re-sync ≥ 10× rclone sync (its faster setting): {}",
            ratio((resync, rclone), Some(RESYNC_TARGET))
        );
    }
}

/// "peer s / ferry s = N× (met|not met)" for a pair of rows; `target` None means no target at this
/// size.
fn ratio((ferry, peer): (Option<&Row>, Option<&Row>), target: Option<f64>) -> String {
    let (Some(ferry), Some(peer)) = (ferry, peer) else {
        return "not measured at this size".into();
    };
    let times = peer.seconds / ferry.seconds;
    let verdict = match target {
        Some(t) if times >= t => "met",
        Some(_) => "NOT MET",
        None => "no target at this size",
    };
    format!(
        "{:.2}× ({} {:.3} s vs {} {:.3} s): {verdict}",
        times,
        ferry.tool.label(),
        ferry.seconds,
        peer.tool.label(),
        peer.seconds
    )
}

fn rss(peak_kib: Option<u64>) -> String {
    match peak_kib {
        None => "not measured at this size".into(),
        Some(kib) if mib(kib) <= RSS_TARGET_MIB => format!("{:.1} MiB: met", mib(kib)),
        Some(kib) => format!("{:.1} MiB: NOT MET", mib(kib)),
    }
}

/// Each tool's highest peak RSS (MiB, both cases) at each size of one server.
pub fn print_rss_by_size(tables: &[&Table]) {
    let Some(first) = tables.first() else { return };
    if tables.len() < 2 {
        return;
    }
    println!();
    println!("peak RSS MiB by size on {}:", first.server);
    let sizes: Vec<String> = tables
        .iter()
        .map(|t| format!("{:>9}", thousands(t.objects)))
        .collect();
    println!("| {:<51} | {} |", "tool", sizes.join(" | "));
    println!("|{:-<53}|{}", "", "----------:|".repeat(sizes.len()));
    let mut tools: Vec<Tool> = Vec::new();
    for row in tables.iter().flat_map(|t| &t.rows) {
        if !tools.contains(&row.tool) {
            tools.push(row.tool);
        }
    }
    for tool in tools {
        let cells: Vec<String> = tables
            .iter()
            .map(|t| {
                let peak = t
                    .rows
                    .iter()
                    .filter(|r| r.tool == tool)
                    .map(|r| r.peak_kib)
                    .max();
                let cell = peak.map_or("–".to_string(), |kib| format!("{:.1}", mib(kib)));
                format!("{cell:>9}")
            })
            .collect();
        println!("| {:<51} | {} |", tool.label(), cells.join(" | "));
    }
}
