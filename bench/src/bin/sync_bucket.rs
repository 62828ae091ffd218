//! Benchmark: `sync-bucket` against `aws s3 sync` and `rclone sync` on a local S3 server.
//!
//! For each server and each size: seeds a source bucket with small objects (1–8 KiB) by writing
//! the server's files directly (in memory, `/dev/shm`, where there is one), starts the server
//! (127.0.0.1, free port) and checks the source as it lists it, then syncs it with each tool, on a
//! freshly started server, into a fresh empty target bucket (first sync), and once more with
//! nothing to change (re-sync). Every tool runs as a child process measured the same way: wall
//! time, peak RSS and CPU time from `/usr/bin/time`, and the server's CPU time from `/proc` before
//! and after, which shows when the server is the bound. ferry is this binary re-invoked with
//! `--child`, calling the task function in process (path-style, the Lambda's code path, invoked
//! again until done); its protected-account check asks STS, which the test harness's local
//! endpoint answers. Every target is verified after each run (every key, size and ETag).
//!
//! Usage: `sync_bucket [OBJECTS] [CONCURRENCY,...] [REPEATS]` (defaults: 2000, 16,32,64 and 3, on
//! `rclone serve s3`), or with flags:
//!
//! - `--objects 20000,100000,1000000`: the sizes, one table each;
//! - `--concurrency 16,32,64`: ferry's concurrencies;
//! - `--repeats 3`: runs of each tool and case (into fresh buckets); the table shows the median
//!   run and the highest peak RSS;
//! - `--server rclone,s3rver`: the servers (see the `server` module), one table per size each;
//! - `--folders 25`: the folders the keys are spread over;
//! - `--cap aws=100000,rclone-defaults=100000`: run a tool (ferry, aws, rclone-best,
//!   rclone-defaults) only at sizes up to that many objects;
//! - `--cases resync`: the cases to run (`first,resync` by default). Without `first`, each target
//!   starts as a copy of the source written directly, as the source is seeded, so a re-sync can
//!   be measured at a size where a first sync takes hours.
//!
//! Run with `cargo build --profile measure -p ferry-bench` and `target/measure/sync_bucket`, with
//! `.venv` set up by `make bench`.

#[path = "../sync_bucket/measure.rs"]
mod measure;
#[path = "../sync_bucket/objects.rs"]
mod objects;
#[path = "../sync_bucket/report.rs"]
mod report;
#[path = "../sync_bucket/server.rs"]
mod server;
#[path = "../sync_bucket/tools.rs"]
mod tools;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use shared::aws::Aws;
use shared::config::FunctionConfig;
use shared::contract::{BucketSpec, Environment, SyncBucketInput, Transfer};
use shared::tasks::budget::Budget;
use shared::tasks::sync_bucket::sync_bucket;

use ferry_bench::numbers::thousands;
use measure::measure;
use objects::{Entry, Layout};
use report::{Case, Row, Table};
use server::{Kind, Server};
use tools::{Tool, Toolbox};

const REGION: &str = "us-east-1";
const SOURCE: &str = "bench-src";
/// The budget of one invocation of ferry's task function (a sync longer than this resumes in
/// another invocation, as the Lambda function would).
const INVOCATION_BUDGET: Duration = Duration::from_secs(600);

type Failure = Box<dyn std::error::Error + Send + Sync>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.first().map(String::as_str) == Some("--child") {
        child(&args[1..])
    } else {
        Options::parse(&args).and_then(|options| orchestrate(&options))
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("sync_bucket benchmark: {err}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

// ---------------------------------------------------------------------------------------------
// The measured ferry process
// ---------------------------------------------------------------------------------------------

/// `--child SOURCE TARGET CONCURRENCY`: one complete sync with ferry's task function, configured
/// from the environment like the Lambda function; prints the final counts as JSON.
fn child(args: &[String]) -> Result<(), Failure> {
    let [source, target, concurrency] = args else {
        return Err("usage: --child SOURCE TARGET CONCURRENCY".into());
    };
    let concurrency: u32 = concurrency.parse()?;
    runtime()?.block_on(async {
        let aws = Aws::from_env(true).await;
        let config = FunctionConfig {
            s3_path_style: true,
            ..FunctionConfig::default()
        };
        let env = Environment {
            name: "bench".into(),
            role_arn: None,
            region: REGION.into(),
        };
        let mut input = SyncBucketInput {
            run_id: "bench".into(),
            source: env.clone(),
            target: env,
            bucket: BucketSpec {
                source: source.clone(),
                target: target.clone(),
                prefix: String::new(),
                delete: true,
                max_delete: 1000,
                concurrency,
                transfer: Transfer::Auto,
            },
            dry_run: false,
            progress: None,
        };
        loop {
            let budget = Budget::for_duration(INVOCATION_BUDGET);
            let out = sync_bucket(&aws, &config, input.clone(), budget).await?;
            if out.done {
                let c = out.progress.counts;
                println!(
                    "{}",
                    serde_json::json!({
                        "transfer": out.transfer,
                        "to_copy": c.to_copy,
                        "copied": c.copied,
                        "deleted": c.deleted,
                        "invocations": c.invocations,
                    })
                );
                return Ok(());
            }
            input.progress = Some(out.progress);
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

struct Options {
    sizes: Vec<usize>,
    concurrencies: Vec<u32>,
    repeats: usize,
    servers: Vec<Kind>,
    folders: usize,
    /// Tool name and the largest size it runs at.
    caps: Vec<(String, usize)>,
    cases: Vec<Case>,
}

impl Options {
    /// The positional arguments are OBJECTS, CONCURRENCY,... and REPEATS; see the module docs.
    fn parse(args: &[String]) -> Result<Options, Failure> {
        let mut options = Options {
            sizes: vec![2000],
            concurrencies: vec![16, 32, 64],
            repeats: 3,
            servers: vec![Kind::Rclone],
            folders: 25,
            caps: Vec::new(),
            cases: Case::BOTH.to_vec(),
        };
        let mut positional = ["objects", "concurrency", "repeats"].into_iter();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.strip_prefix("--") {
                Some(flag) => {
                    let value = args.next().ok_or(format!("--{flag} needs a value"))?;
                    options.set(flag, value)?;
                }
                None => options.set(positional.next().ok_or("too many arguments")?, arg)?,
            }
        }
        if options.sizes.contains(&0) || options.folders == 0 {
            return Err("sizes and --folders must be at least 1".into());
        }
        if options.cases.is_empty() {
            return Err("--cases needs first, resync or both".into());
        }
        Ok(options)
    }

    fn set(&mut self, flag: &str, value: &str) -> Result<(), Failure> {
        match flag {
            "objects" => self.sizes = list(value)?,
            "concurrency" => self.concurrencies = list(value)?,
            "repeats" => self.repeats = value.parse::<usize>()?.max(1),
            "server" => {
                self.servers = value
                    .split(',')
                    .map(Kind::parse)
                    .collect::<Result<_, _>>()?
            }
            "folders" => self.folders = value.parse()?,
            "cases" => {
                self.cases = Case::BOTH
                    .into_iter()
                    .filter(|case| value.split(',').any(|v| v == case.name()))
                    .collect();
                if let Some(bad) = value
                    .split(',')
                    .find(|v| Case::BOTH.iter().all(|case| case.name() != *v))
                {
                    return Err(format!("--cases: unknown case '{bad}' (first, resync)").into());
                }
            }
            "cap" => {
                for cap in value.split(',') {
                    let (name, max) = cap
                        .split_once('=')
                        .ok_or(format!("--cap {cap}: TOOL=OBJECTS"))?;
                    if !Tool::NAMES.contains(&name) {
                        return Err(format!(
                            "--cap: unknown tool '{name}' ({})",
                            Tool::NAMES.join(", ")
                        )
                        .into());
                    }
                    self.caps
                        .push((name.to_string(), max.replace('_', "").parse()?));
                }
            }
            _ => return Err(format!("unknown option --{flag}").into()),
        }
        Ok(())
    }

    /// The tools that run at a size of `objects`, in table order.
    fn tools(&self, objects: usize) -> Vec<Tool> {
        let ferry = self.concurrencies.iter().map(|&c| Tool::Ferry(c));
        ferry
            .chain([Tool::Aws, Tool::RcloneBest, Tool::RcloneDefaults])
            .filter(|tool| {
                self.caps
                    .iter()
                    .all(|(name, max)| name != tool.name() || objects <= *max)
            })
            .collect()
    }
}

/// `20000,100_000` as numbers.
fn list<T: FromStr>(text: &str) -> Result<Vec<T>, Failure>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    Ok(text
        .split(',')
        .map(|item| item.replace('_', "").parse())
        .collect::<Result<_, _>>()?)
}

// ---------------------------------------------------------------------------------------------
// The comparison
// ---------------------------------------------------------------------------------------------

/// What every size of every server shares.
struct Context<'a> {
    options: &'a Options,
    root: PathBuf,
    scratch: PathBuf,
    sts: String,
    rt: tokio::runtime::Runtime,
}

/// Where the servers keep their files: in memory (`/dev/shm`) where the machine has it, else the
/// temporary directory. On disk, each run after the first met the write-back of what earlier runs
/// wrote and deleted: three identical first syncs took 9.3, 14.8 and 22.3 s, with the server's CPU
/// time growing alike.
fn scratch_root() -> PathBuf {
    let shm = PathBuf::from("/dev/shm");
    if shm.is_dir() {
        shm
    } else {
        std::env::temp_dir()
    }
}

fn orchestrate(options: &Options) -> Result<(), Failure> {
    let root = ferry_tests::moto::project_root();
    for tool in ["rclone", "aws"] {
        let path = root.join(".venv/bin").join(tool);
        if !path.exists() {
            return Err(format!("{} is missing; run `make bench` first", path.display()).into());
        }
    }
    let scratch = scratch_root().join(format!("ferry-bench-sync-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let result = runtime().and_then(|rt| {
        let context = Context {
            options,
            root,
            scratch: scratch.clone(),
            sts: ferry_tests::moto::endpoint(),
            rt,
        };
        context.run_all()
    });
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

impl Context<'_> {
    fn run_all(&self) -> Result<(), Failure> {
        for &kind in &self.options.servers {
            let mut tables = Vec::new();
            for &objects in &self.options.sizes {
                let table = self.run_size(kind, objects)?;
                table.print();
                tables.push(table);
            }
            report::print_rss_by_size(&tables.iter().collect::<Vec<_>>());
        }
        Ok(())
    }

    /// Seeds a fresh server with `objects` objects and measures every tool on it.
    fn run_size(&self, kind: Kind, objects: usize) -> Result<Table, Failure> {
        let layout = Layout::new(objects, self.options.folders);
        let data = self.scratch.join(format!("{}-{objects}", kind.name()));
        eprintln!("{} objects on {}:", thousands(objects), kind.label());
        let (_, seeding) = timed(
            || objects::seed(kind, &data, SOURCE, layout),
            |bytes| {
                format!(
                    "seeding {} objects ({:.0} MiB, files written directly)",
                    thousands(objects),
                    *bytes as f64 / 1024.0 / 1024.0
                )
            },
        )?;
        let log = self.scratch.join(format!("{}-{objects}.log", kind.name()));
        let server = Server::start(kind, &self.root, &data, &log)?;
        let s3 = self.rt.block_on(s3_client(&server));
        let (source, checking) = timed(
            || {
                self.rt
                    .block_on(objects::check_source(&s3, kind, &data, SOURCE, layout))
            },
            |_| {
                format!(
                    "listing and checking the source (keys, sizes, {} ETags against md5sum)",
                    objects::MD5_SAMPLE.min(objects)
                )
            },
        )?;
        let mut run = SizeRun {
            context: self,
            server,
            spent: (0.0, 0),
            log: &log,
            data: &data,
            layout,
            s3,
            source,
            rows: Vec::new(),
            notes: vec![seeding, checking],
        };
        for tool in self.options.tools(objects) {
            run.compare(tool)?;
        }
        let (cpu, peak_kib) = run.spent();
        run.notes.push(format!(
            "server: {cpu:.1} s CPU in all, highest peak RSS {:.0} MiB (restarted before each run)",
            peak_kib as f64 / 1024.0
        ));
        let table = Table {
            server: kind.label(),
            objects,
            folders: layout.folders,
            repeats: self.options.repeats,
            rows: run.rows,
            notes: run.notes,
        };
        drop(run.server);
        std::fs::remove_dir_all(&data)?;
        Ok(table)
    }
}

/// Runs `step`; prints and returns, beside its value, a note of what it did (`what`) and how long
/// it took.
fn timed<T>(
    step: impl FnOnce() -> Result<T, Failure>,
    what: impl FnOnce(&T) -> String,
) -> Result<(T, String), Failure> {
    let started = Instant::now();
    let value = step()?;
    let note = format!("{}: {:.1} s", what(&value), started.elapsed().as_secs_f64());
    eprintln!("  {note}");
    Ok((value, note))
}

async fn s3_client(server: &Server) -> Client {
    let (key_id, secret) = server.kind.credentials();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&server.endpoint)
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            key_id, secret, None, None, "bench",
        ))
        .load()
        .await;
    Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    )
}

/// One server at one size: the source, and the rows measured so far.
struct SizeRun<'a> {
    context: &'a Context<'a>,
    server: Server,
    /// CPU seconds and highest peak RSS (KiB) of the servers stopped so far.
    spent: (f64, u64),
    log: &'a Path,
    data: &'a Path,
    layout: Layout,
    s3: Client,
    source: Vec<Entry>,
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl SizeRun<'_> {
    /// First sync into a fresh bucket, then a sync with nothing to change, each verified;
    /// `repeats` times, each into its own bucket, removed afterwards. Rows keep the median run
    /// and the highest peak RSS. Without the first sync, the target starts as a copy of the
    /// source.
    fn compare(&mut self, tool: Tool) -> Result<(), Failure> {
        let started = Instant::now();
        let cases = &self.context.options.cases;
        let mut runs: Vec<Vec<Row>> = vec![Vec::new(); cases.len()];
        let (mut verifying, mut removing) = (Duration::ZERO, Duration::ZERO);
        for trial in 0..self.context.options.repeats {
            let bucket = tool.bucket(trial);
            if !cases.contains(&Case::First) {
                objects::seed(self.server.kind, self.data, &bucket, self.layout)?;
            }
            self.restart_server()?;
            if cases.contains(&Case::First) {
                self.context
                    .rt
                    .block_on(self.s3.create_bucket().bucket(&bucket).send())?;
            }
            for (i, &case) in cases.iter().enumerate() {
                runs[i].push(self.run_once(tool, case, &bucket)?);
                let verified = Instant::now();
                self.context.rt.block_on(objects::verify(
                    &self.s3,
                    &bucket,
                    self.layout,
                    &self.source,
                ))?;
                verifying += verified.elapsed();
            }
            let removed = Instant::now();
            std::fs::remove_dir_all(self.data.join(&bucket))?;
            removing += removed.elapsed();
        }
        for mut runs in runs {
            let peak_kib = runs.iter().map(|r| r.peak_kib).max().unwrap_or(0);
            runs.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
            let median = runs.swap_remove(runs.len() / 2);
            self.rows.push(Row { peak_kib, ..median });
        }
        self.notes.push(format!(
            "{}: {:.1} s in all, of which {:.1} s verifying and {:.1} s removing the targets",
            tool.label(),
            started.elapsed().as_secs_f64(),
            verifying.as_secs_f64(),
            removing.as_secs_f64()
        ));
        Ok(())
    }

    /// Replaces the server by a fresh one over the same files, so that every run meets the same
    /// server: one that earlier runs have not loaded (rclone's directory cache, for one, keeps the
    /// targets removed behind its back, and its CPU per request grew run after run).
    fn restart_server(&mut self) -> Result<(), Failure> {
        let (cpu, peak_kib) = self.spent();
        self.server = Server::start(self.server.kind, &self.context.root, self.data, self.log)?;
        self.spent = (cpu, peak_kib);
        self.s3 = self.context.rt.block_on(s3_client(&self.server));
        Ok(())
    }

    /// CPU seconds and highest peak RSS (KiB) of every server of this size so far.
    fn spent(&self) -> (f64, u64) {
        let (cpu, peak_kib) = self.spent;
        (
            cpu + self.server.cpu_seconds(),
            peak_kib.max(self.server.peak_kib()),
        )
    }

    fn run_once(&mut self, tool: Tool, case: Case, bucket: &str) -> Result<Row, Failure> {
        let toolbox = Toolbox {
            self_exe: std::env::current_exe()?,
            aws_cli: self.context.root.join(".venv/bin/aws"),
            rclone: self.context.root.join(".venv/bin/rclone"),
            sts: self.context.sts.clone(),
            server: &self.server,
            scratch: &self.context.scratch,
        };
        let server_cpu = self.server.cpu_seconds();
        let measured = measure(&toolbox.job(tool, bucket), &self.context.scratch)?;
        let server_cpu = self.server.cpu_seconds() - server_cpu;
        if let Tool::Ferry(_) = tool {
            self.check_ferry_report(tool, case, &measured.stdout)?;
        }
        eprintln!(
            "  {:<51} {:<17} {:>8.3} s {:>6.1} MiB  CPU {:>7.2} s, server {:>7.2} s",
            tool.label(),
            case.label(),
            measured.seconds,
            measured.peak_kib as f64 / 1024.0,
            measured.cpu_seconds,
            server_cpu
        );
        Ok(Row {
            tool,
            case,
            seconds: measured.seconds,
            peak_kib: measured.peak_kib,
            client_cpu: measured.cpu_seconds,
            server_cpu,
        })
    }

    /// ferry copied every object in a first sync and none in a re-sync; a sync that needed more
    /// than one invocation is noted.
    fn check_ferry_report(&mut self, tool: Tool, case: Case, stdout: &str) -> Result<(), Failure> {
        let out: serde_json::Value = serde_json::from_str(stdout.trim())?;
        let expected = match case {
            Case::First => self.layout.objects,
            Case::Resync => 0,
        };
        if out["copied"] != expected {
            return Err(format!("{} ({}) reported {out}", tool.label(), case.label()).into());
        }
        if out["invocations"] != 1 {
            self.notes.push(format!(
                "{} ({}) took {} invocations of {} s",
                tool.label(),
                case.label(),
                out["invocations"],
                INVOCATION_BUDGET.as_secs()
            ));
        }
        Ok(())
    }
}
