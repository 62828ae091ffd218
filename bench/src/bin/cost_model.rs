//! The cost and time model of a refresh on AWS, per table engine.
//!
//! Combines AWS's published us-east-1 prices and limits with the per-item and per-object CPU
//! costs the benchmarks measure (`copy_table`, `sync_bucket`) and prints what a refresh of 1, 10
//! and 100 GB of DynamoDB plus 100,000 or 1,000,000 objects costs, how long it takes, how many
//! workers it needs and which limit it meets first. Usage:
//! `cost_model [--copy-cpu-us MICROS] [--sync-cpu-us MICROS] [--resync-cpu-us MICROS]` (CPU
//! microseconds per item copied, per object copied and per object compared in a no-change re-sync;
//! the defaults are the measured values in BENCHMARKS.md).
//!
//! What is not measured here is assumed and named: AWS's request latencies (`Aws::*_latency`),
//! 1 KiB items and 4 KiB objects, and a target that holds a previous refresh of the same size.

use std::process::ExitCode;

use ferry_bench::numbers::rounded;

/// Published prices, us-east-1, in dollars.
mod price {
    /// On-demand write request unit.
    pub const WRU: f64 = 0.625 / 1e6;
    /// On-demand read request unit.
    pub const RRU: f64 = 0.125 / 1e6;
    /// Lambda arm64 duration, per GB-second.
    pub const LAMBDA_GB_S: f64 = 0.000_013_333_4;
    /// Lambda request.
    pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
    /// Glue DPU-hour (standard; per second, one-minute minimum).
    pub const GLUE_DPU_HOUR: f64 = 0.44;
    /// Step Functions standard state transition.
    pub const TRANSITION: f64 = 0.025 / 1e3;
    /// S3 Standard PUT, COPY, POST or LIST request.
    pub const S3_WRITE_OR_LIST: f64 = 0.005 / 1e3;
}

/// AWS limits and the latencies the model assumes.
mod aws {
    /// Writes per second a new on-demand table takes at once (its warm throughput).
    pub const NEW_TABLE_WRITES: f64 = 4_000.0;
    /// The default per-table quota, reachable by pre-warming the table.
    pub const TABLE_QUOTA_WRITES: f64 = 40_000.0;
    /// Writes per second per partitioned S3 prefix.
    pub const PREFIX_WRITES: f64 = 3_500.0;
    /// Assumed BatchWriteItem round trip of 25 items of 1 KiB, seconds.
    pub const BATCH_WRITE_LATENCY: f64 = 0.025;
    /// Assumed CopyObject round trip for a small object, seconds.
    pub const COPY_LATENCY: f64 = 0.030;
    /// Memory of copy-table and sync-bucket (template.yaml), GB.
    pub const FUNCTION_GB: f64 = 1.0;
    /// vCPU share of a 1,024 MB function (1,769 MB gives one vCPU).
    pub const FUNCTION_VCPU: f64 = 1024.0 / 1769.0;
    /// Seconds of work one invocation does before it hands over (its budget under 900 s).
    pub const INVOCATION_SECONDS: f64 = 600.0;
    /// Glue start-up, seconds (Standard; 1 to 2 minutes).
    pub const GLUE_STARTUP: f64 = 90.0;
    /// Minimum workers of a G.1X job; each is one DPU with 4 vCPU.
    pub const GLUE_MIN_WORKERS: f64 = 2.0;
    /// vCPU per G.1X worker.
    pub const GLUE_WORKER_VCPU: f64 = 4.0;
    /// Step Functions transitions per Lambda invocation of a Map iteration (task, retry
    /// bookkeeping, choice, result), an upper estimate.
    pub const TRANSITIONS_PER_INVOCATION: f64 = 10.0;
}

/// Shape of the data the model refreshes.
mod data {
    /// Bytes per item.
    pub const ITEM_BYTES: f64 = 1024.0;
    /// Bytes read per read unit of an eventually consistent scan (0.5 unit per 4 KiB).
    pub const SCAN_BYTES_PER_RRU: f64 = 8192.0;
    /// Batch writes in flight per segment (`copy_table::WRITE_CONCURRENCY`).
    pub const WRITES_IN_FLIGHT: f64 = 8.0;
    /// Items per BatchWriteItem.
    pub const BATCH: f64 = 25.0;
    /// Objects copied at once by one sync-bucket (`DEFAULT_CONCURRENCY`).
    pub const SYNC_CONCURRENCY: f64 = 32.0;
    /// Keys per ListObjectsV2 page.
    pub const LIST_PAGE: f64 = 1000.0;
    /// Python masking in the Glue job, items per second per core (BENCHMARKS.md, masking).
    pub const GLUE_ITEMS_PER_CORE: f64 = 61_850.0;
}

/// CPU the benchmarks measured per unit of work.
struct Measured {
    copy_cpu_us: f64,
    sync_cpu_us: f64,
    resync_cpu_us: f64,
}

/// One modelled run of one engine or one sync.
struct Run {
    label: String,
    workers: f64,
    bound: &'static str,
    seconds: f64,
    data_cost: f64,
    compute_cost: f64,
}

impl Run {
    fn total(&self) -> f64 {
        self.data_cost + self.compute_cost
    }
}

fn main() -> ExitCode {
    match measured(std::env::args().skip(1).collect()) {
        Ok(measured) => {
            print(&measured);
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("cost_model: {message}");
            ExitCode::FAILURE
        }
    }
}

fn measured(args: Vec<String>) -> Result<Measured, String> {
    let mut m = Measured {
        // Measured on the benchmark machine, 2026-12-03 (BENCHMARKS.md): copy-table on DynamoDB
        // Local at 100,000 items (median over 1-16 segments), sync-bucket's first sync of 20,000
        // objects on `rclone serve s3` (median of 3), and its no-change re-sync. Plain HTTP on
        // loopback: no TLS.
        copy_cpu_us: 49.0,
        sync_cpu_us: 384.0,
        resync_cpu_us: 22.0,
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number: f64 = value
            .parse()
            .map_err(|_| format!("{flag}: not a number: {value}"))?;
        match flag.as_str() {
            "--copy-cpu-us" => m.copy_cpu_us = number,
            "--sync-cpu-us" => m.sync_cpu_us = number,
            "--resync-cpu-us" => m.resync_cpu_us = number,
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    Ok(m)
}

/// Items in a table of `gb` gigabytes of 1 KiB items.
fn items(gb: f64) -> f64 {
    gb * f64::from(1u32 << 30) / data::ITEM_BYTES
}

/// Read and write cost of a replace-mode copy: scan the target and delete what it holds (a
/// previous refresh of the same size), then scan the source and write every item.
fn table_data_cost(gb: f64) -> f64 {
    let reads = 2.0 * gb * f64::from(1u32 << 30) / data::SCAN_BYTES_PER_RRU;
    let writes = 2.0 * items(gb);
    reads * price::RRU + writes * price::WRU
}

/// Items per second one copy-table segment sustains on AWS: its write window or its CPU.
fn segment_rate(m: &Measured) -> (f64, &'static str) {
    let network = data::WRITES_IN_FLIGHT * data::BATCH / aws::BATCH_WRITE_LATENCY;
    let cpu = aws::FUNCTION_VCPU * 1e6 / m.copy_cpu_us;
    if cpu < network {
        (cpu, "function CPU")
    } else {
        (network, "write latency")
    }
}

fn scan_engine(m: &Measured, gb: f64, table_writes: f64) -> Run {
    let (per_segment, _) = segment_rate(m);
    let segments = (table_writes / per_segment).ceil();
    // Clear and copy each write every item once, at the table's write rate.
    let seconds = 2.0 * items(gb) / table_writes;
    let invocations = segments * 2.0 * (seconds / 2.0 / aws::INVOCATION_SECONDS).ceil();
    let compute = segments * aws::FUNCTION_GB * seconds * price::LAMBDA_GB_S
        + invocations
            * (price::LAMBDA_REQUEST + aws::TRANSITIONS_PER_INVOCATION * price::TRANSITION);
    Run {
        label: format!("scan in Lambda, {} writes/s", rounded(table_writes)),
        workers: segments,
        bound: "table write throughput",
        seconds,
        data_cost: table_data_cost(gb),
        compute_cost: compute,
    }
}

fn glue_engine(gb: f64, table_writes: f64) -> Run {
    let per_worker = aws::GLUE_WORKER_VCPU * data::GLUE_ITEMS_PER_CORE;
    let workers = (table_writes / per_worker)
        .ceil()
        .max(aws::GLUE_MIN_WORKERS);
    let seconds = aws::GLUE_STARTUP + 2.0 * items(gb) / table_writes;
    let billed_hours = seconds.max(60.0) / 3600.0;
    Run {
        label: format!("Glue G.1X, {} writes/s", rounded(table_writes)),
        workers,
        bound: "table write throughput",
        seconds,
        data_cost: table_data_cost(gb),
        compute_cost: workers * billed_hours * price::GLUE_DPU_HOUR,
    }
}

/// Objects per second one sync-bucket copies on AWS, and what bounds it.
fn sync_rate(m: &Measured) -> (f64, &'static str) {
    let network = data::SYNC_CONCURRENCY / aws::COPY_LATENCY;
    let cpu = aws::FUNCTION_VCPU * 1e6 / m.sync_cpu_us;
    [
        (network, "copy latency × concurrency"),
        (cpu, "function CPU"),
        (aws::PREFIX_WRITES, "S3 writes per prefix"),
    ]
    .into_iter()
    .min_by(|a, b| a.0.total_cmp(&b.0))
    .unwrap_or((network, "copy latency × concurrency"))
}

/// A first sync of `objects` small objects by one sync-bucket: list both sides, copy each.
fn first_sync(m: &Measured, objects: f64) -> Run {
    let (rate, bound) = sync_rate(m);
    let seconds = objects / rate;
    let invocations = (seconds / aws::INVOCATION_SECONDS).ceil();
    let requests = objects + 2.0 * (objects / data::LIST_PAGE).ceil();
    Run {
        label: format!("first sync, {} objects", rounded(objects)),
        workers: 1.0,
        bound,
        seconds,
        data_cost: requests * price::S3_WRITE_OR_LIST,
        compute_cost: aws::FUNCTION_GB * seconds * price::LAMBDA_GB_S
            + invocations * price::LAMBDA_REQUEST,
    }
}

/// A no-change re-sync: two listings, nothing copied.
fn re_sync(m: &Measured, objects: f64) -> Run {
    let pages = 2.0 * (objects / data::LIST_PAGE).ceil();
    // Listing pages are fetched one after another per side; assume one copy latency each, plus
    // the CPU of listing and comparing every key.
    let seconds =
        pages / 2.0 * aws::COPY_LATENCY + objects * m.resync_cpu_us / 1e6 / aws::FUNCTION_VCPU;
    Run {
        label: format!("no-change re-sync, {} objects", rounded(objects)),
        workers: 1.0,
        bound: "listing round trips",
        seconds,
        data_cost: pages * price::S3_WRITE_OR_LIST,
        compute_cost: aws::FUNCTION_GB * seconds * price::LAMBDA_GB_S + price::LAMBDA_REQUEST,
    }
}

fn row(run: &Run) {
    println!(
        "| {} | {} | {} | {} | ${:.2} | ${:.2} | **${:.2}** |",
        run.label,
        run.workers as u64,
        run.bound,
        duration(run.seconds),
        run.data_cost,
        run.compute_cost,
        run.total()
    );
}

fn duration(seconds: f64) -> String {
    match seconds {
        s if s < 120.0 => format!("{s:.0} s"),
        s if s < 7200.0 => format!("{:.0} min", s / 60.0),
        s => format!("{:.1} h", s / 3600.0),
    }
}

fn header(first: &str) {
    println!(
        "| {first} | workers | limit met first | time | requests and units | compute | total |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|");
}

fn print(m: &Measured) {
    let (per_segment, segment_bound) = segment_rate(m);
    println!(
        "measured: copy-table {:.1} µs CPU per item, sync-bucket {:.1} µs CPU per object copied \
         and {:.1} µs per object compared in a no-change re-sync",
        m.copy_cpu_us, m.sync_cpu_us, m.resync_cpu_us
    );
    let (per_sync, sync_bound) = sync_rate(m);
    println!(
        "one copy-table segment on AWS: {per_segment:.0} items/s ({segment_bound}); one \
         sync-bucket: {per_sync:.0} objects/s ({sync_bound})\n"
    );
    for gb in [1.0, 10.0, 100.0] {
        println!(
            "DynamoDB, {gb} GB ({:.1} M items of 1 KiB), replace mode over a same-sized target",
            items(gb) / 1e6
        );
        header("engine");
        for writes in [aws::NEW_TABLE_WRITES, aws::TABLE_QUOTA_WRITES] {
            row(&scan_engine(m, gb, writes));
            row(&glue_engine(gb, writes));
        }
        println!();
    }
    println!("S3, objects of 4 KiB, one bucket");
    header("case");
    for objects in [1e5, 1e6] {
        row(&first_sync(m, objects));
        row(&re_sync(m, objects));
    }
    println!();
    totals(m);
}

/// Whole refreshes: tables and buckets run side by side, so the time is the longer of the two.
fn totals(m: &Measured) {
    println!(
        "Whole refresh (tables and buckets in parallel), new on-demand table (4,000 writes/s)"
    );
    println!("| refresh | engine | time | total |");
    println!("|---|---|---:|---:|");
    for (gb, objects) in [(1.0, 1e5), (10.0, 1e6), (100.0, 1e6)] {
        let sync = first_sync(m, objects);
        for table in [
            scan_engine(m, gb, aws::NEW_TABLE_WRITES),
            glue_engine(gb, aws::NEW_TABLE_WRITES),
        ] {
            println!(
                "| {gb} GB + {} objects | {} | {} | **${:.2}** |",
                rounded(objects),
                table.label.split(',').next().unwrap_or_default(),
                duration(table.seconds.max(sync.seconds)),
                table.total() + sync.total()
            );
        }
    }
}
