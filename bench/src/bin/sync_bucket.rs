//! Benchmark: `sync-bucket` against `aws s3 sync` and `rclone sync` on one local S3 server.
//!
//! Starts `rclone serve s3` (127.0.0.1, ephemeral port) over a temporary directory, seeds a source
//! bucket with small objects (1–8 KiB, default 2,000), then syncs it with each tool into a fresh
//! empty target bucket, and once more with nothing to change. Every tool runs as a child process
//! measured the same way: wall time, and peak RSS from `/usr/bin/time` (else VmHWM polled from
//! `/proc`). ferry is this binary re-invoked with `--child`, calling the task function in process
//! (path-style, the Lambda's code path, invoked again until done); its protected-account check asks
//! STS, which the test harness's local endpoint answers. Each first sync is verified (every key,
//! size and ETag in the target).
//!
//! Usage: `sync_bucket [OBJECTS] [CONCURRENCY,...] [REPEATS]` (defaults: 2000, 16,32,64 and 3).
//! Each measurement is repeated into fresh buckets; the table shows the median time and the
//! highest peak RSS.
//! Run with `cargo run --release -p ferry-bench --bin sync_bucket`.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use futures::{StreamExt, TryStreamExt, stream};
use shared::aws::Aws;
use shared::config::FunctionConfig;
use shared::contract::{BucketSpec, Environment, SyncBucketInput, Transfer};
use shared::tasks::budget::Budget;
use shared::tasks::sync_bucket::sync_bucket;

const KEY_ID: &str = "testing";
const SECRET: &str = "testing";
const REGION: &str = "us-east-1";
const SOURCE: &str = "bench-src";

type Failure = Box<dyn std::error::Error + Send + Sync>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.first().map(String::as_str) == Some("--child") {
        child(&args[1..])
    } else {
        orchestrate(&args)
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
            let budget = Budget::for_duration(Duration::from_secs(600));
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
// The local S3 server
// ---------------------------------------------------------------------------------------------

/// `rclone serve s3` on 127.0.0.1, stopped when dropped, and also when this process dies: it runs
/// under a shell that kills it as soon as its stdin (a pipe from this process) closes.
struct Server {
    endpoint: String,
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Server {
    fn start(rclone: &Path, data: &Path, log: &Path) -> Result<Server, Failure> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr = format!("127.0.0.1:{port}");
        let script = r#""$0" serve s3 --addr "$1" --auth-key "$2" "$3" >"$4" 2>&1 &
pid=$!
cat >/dev/null
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null"#;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(rclone)
            .arg(&addr)
            .arg(format!("{KEY_ID},{SECRET}"))
            .arg(data)
            .arg(log)
            .stdin(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take();
        let server = Server {
            endpoint: format!("http://{addr}"),
            child,
            stdin,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&addr).is_err() {
            if Instant::now() > deadline {
                return Err(format!(
                    "rclone serve s3 did not listen on {addr}; see {}",
                    log.display()
                )
                .into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn s3_client(endpoint: &str) -> Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            KEY_ID, SECRET, None, None, "bench",
        ))
        .load()
        .await;
    Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    )
}

fn body(i: usize) -> Vec<u8> {
    let size = 1024 + (i * 7919) % (7 * 1024 + 1);
    let mut x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Keys in a few folders, using only characters `rclone serve s3` takes unencoded in a copy source.
fn key(i: usize) -> String {
    format!("records/{:02}/doc-{i:05}.bin", i % 25)
}

async fn seed(s3: &Client, objects: usize) -> Result<u64, Failure> {
    s3.create_bucket().bucket(SOURCE).send().await?;
    let bytes: Vec<u64> = stream::iter(0..objects)
        .map(|i| async move {
            let data = body(i);
            let len = data.len() as u64;
            s3.put_object()
                .bucket(SOURCE)
                .key(key(i))
                .body(ByteStream::from(data))
                .send()
                .await
                .map(|_| len)
        })
        .buffer_unordered(64)
        .try_collect()
        .await?;
    Ok(bytes.iter().sum())
}

/// key → (size, ETag) of every object in a bucket.
async fn inventory(s3: &Client, bucket: &str) -> Result<BTreeMap<String, (i64, String)>, Failure> {
    let mut objects = BTreeMap::new();
    let mut pages = s3.list_objects_v2().bucket(bucket).into_paginator().send();
    while let Some(page) = pages.next().await {
        for o in page?.contents() {
            objects.insert(
                o.key().unwrap_or_default().to_string(),
                (
                    o.size().unwrap_or(-1),
                    o.e_tag().unwrap_or_default().to_string(),
                ),
            );
        }
    }
    Ok(objects)
}

// ---------------------------------------------------------------------------------------------
// Measuring child processes
// ---------------------------------------------------------------------------------------------

struct Job {
    program: PathBuf,
    args: Vec<String>,
    envs: Vec<(String, String)>,
}

struct Measured {
    seconds: f64,
    peak_kib: u64,
    stdout: String,
}

fn measure(job: &Job, scratch: &Path) -> Result<Measured, Failure> {
    let time = Path::new("/usr/bin/time");
    let report = scratch.join("time.out");
    let mut command = if time.exists() {
        let mut c = Command::new(time);
        c.arg("-f")
            .arg("%M")
            .arg("-o")
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
    let mut polled_peak = 0;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if !time.exists() {
            polled_peak = polled_peak.max(vm_hwm(child.id()).unwrap_or(0));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let seconds = started.elapsed().as_secs_f64();
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut stdout)?;
    }
    if let Some(mut err) = child.stderr.take() {
        err.read_to_string(&mut stderr)?;
    }
    if !status.success() {
        return Err(format!("{} failed ({status}): {stderr}", job.program.display()).into());
    }
    let peak_kib = if time.exists() {
        let text = std::fs::read_to_string(&report)?;
        text.lines()
            .filter_map(|l| l.trim().parse::<u64>().ok())
            .next_back()
            .ok_or_else(|| format!("no peak RSS in {}", report.display()))?
    } else {
        polled_peak
    };
    Ok(Measured {
        seconds,
        peak_kib,
        stdout,
    })
}

/// Peak resident set size (KiB) of a running process, from `/proc/<pid>/status`.
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// The comparison
// ---------------------------------------------------------------------------------------------

struct Row {
    tool: String,
    case: &'static str,
    seconds: f64,
    peak_kib: u64,
}

struct Bench {
    objects: usize,
    repeats: usize,
    endpoint: String,
    scratch: PathBuf,
    rt: tokio::runtime::Runtime,
    s3: Client,
    source: BTreeMap<String, (i64, String)>,
    rows: Vec<Row>,
}

impl Bench {
    /// First sync into a fresh bucket (verified), then a sync with nothing to change; `repeats`
    /// times, each into its own bucket. Rows keep the median time and the highest peak RSS.
    fn compare(
        &mut self,
        tool: &str,
        target: &str,
        job: impl Fn(&str) -> Job,
    ) -> Result<(), Failure> {
        let cases = ["first sync", "no-change re-sync"];
        let mut seconds = [Vec::new(), Vec::new()];
        let mut peak = [0u64, 0u64];
        for trial in 0..self.repeats {
            let bucket = format!("{target}-{trial}");
            self.rt
                .block_on(self.s3.create_bucket().bucket(&bucket).send())?;
            for (i, case) in cases.iter().enumerate() {
                let measured = measure(&job(&bucket), &self.scratch)?;
                self.check(tool, case, &bucket, &measured)?;
                eprintln!(
                    "  {tool:<42} {case:<18} {:>7.3} s  {:>6.1} MiB",
                    measured.seconds,
                    measured.peak_kib as f64 / 1024.0
                );
                seconds[i].push(measured.seconds);
                peak[i] = peak[i].max(measured.peak_kib);
            }
        }
        for (i, case) in cases.into_iter().enumerate() {
            seconds[i].sort_by(f64::total_cmp);
            self.rows.push(Row {
                tool: tool.to_string(),
                case,
                seconds: seconds[i][seconds[i].len() / 2],
                peak_kib: peak[i],
            });
        }
        Ok(())
    }

    /// The target equals the source (keys, sizes, ETags); ferry also reports what it did.
    fn check(
        &self,
        tool: &str,
        case: &str,
        bucket: &str,
        measured: &Measured,
    ) -> Result<(), Failure> {
        if tool.starts_with("ferry") {
            let out: serde_json::Value = serde_json::from_str(measured.stdout.trim())?;
            let expected = if case == "first sync" {
                self.objects
            } else {
                0
            };
            if out["copied"] != expected || out["invocations"] != 1 {
                return Err(format!("{tool} ({case}) reported {out}").into());
            }
        }
        let copy = self.rt.block_on(inventory(&self.s3, bucket))?;
        if copy != self.source {
            let missing = self
                .source
                .keys()
                .filter(|k| !copy.contains_key(*k))
                .count();
            return Err(format!(
                "{tool} ({case}) left {bucket} unlike the source: {} objects, {missing} missing",
                copy.len()
            )
            .into());
        }
        Ok(())
    }

    fn print(&self) {
        println!();
        println!(
            "sync of {} objects (1-8 KiB) between two buckets of one `rclone serve s3` endpoint; \
             median of {} runs, highest peak RSS",
            self.objects, self.repeats
        );
        println!(
            "| {:<42} | {:<18} | {:>9} | {:>10} | {:>13} |",
            "tool", "case", "seconds", "objects/s", "peak RSS MiB"
        );
        println!(
            "|{:-<44}|{:-<20}|{:->11}|{:->12}|{:->15}|",
            "", "", "", "", ""
        );
        for r in &self.rows {
            println!(
                "| {:<42} | {:<18} | {:>9.3} | {:>10.0} | {:>13.1} |",
                r.tool,
                r.case,
                r.seconds,
                self.objects as f64 / r.seconds,
                r.peak_kib as f64 / 1024.0
            );
        }
        println!("endpoint {}", self.endpoint);
    }
}

fn orchestrate(args: &[String]) -> Result<(), Failure> {
    let objects: usize = match args.first() {
        Some(n) => n.parse()?,
        None => 2000,
    };
    let concurrencies: Vec<u32> = match args.get(1) {
        Some(list) => list.split(',').map(str::parse).collect::<Result<_, _>>()?,
        None => vec![16, 32, 64],
    };
    let repeats: usize = match args.get(2) {
        Some(n) => n.parse::<usize>()?.max(1),
        None => 3,
    };
    let root = ferry_tests::moto::project_root();
    let rclone = root.join(".venv/bin/rclone");
    let aws_cli = root.join(".venv/bin/aws");
    for tool in [&rclone, &aws_cli] {
        if !tool.exists() {
            return Err(format!("{} is missing; run `make bench` first", tool.display()).into());
        }
    }
    let scratch = std::env::temp_dir().join(format!("ferry-bench-sync-{}", std::process::id()));
    let data = scratch.join("s3");
    std::fs::create_dir_all(&data)?;
    let result = (|| {
        let server = Server::start(&rclone, &data, &scratch.join("rclone-serve.log"))?;
        eprintln!("rclone serve s3 at {}", server.endpoint);
        let sts = ferry_tests::moto::endpoint();
        let rt = runtime()?;
        let s3 = rt.block_on(s3_client(&server.endpoint));
        let started = Instant::now();
        let bytes = rt.block_on(seed(&s3, objects))?;
        eprintln!(
            "seeded {objects} objects ({:.1} MiB) in {:.1} s",
            bytes as f64 / 1024.0 / 1024.0,
            started.elapsed().as_secs_f64()
        );
        let source = rt.block_on(inventory(&s3, SOURCE))?;
        let mut bench = Bench {
            objects,
            repeats,
            endpoint: server.endpoint.clone(),
            scratch: scratch.clone(),
            rt,
            s3,
            source,
            rows: Vec::new(),
        };
        let self_exe = std::env::current_exe()?;
        let base_env = |extra: &[(&str, &str)]| -> Vec<(String, String)> {
            let mut envs: Vec<(String, String)> = [
                ("AWS_ACCESS_KEY_ID", KEY_ID),
                ("AWS_SECRET_ACCESS_KEY", SECRET),
                ("AWS_REGION", REGION),
                ("AWS_DEFAULT_REGION", REGION),
                ("AWS_EC2_METADATA_DISABLED", "true"),
            ]
            .iter()
            .chain(extra)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            envs.push((
                "AWS_CONFIG_FILE".into(),
                scratch.join("no-aws-config").display().to_string(),
            ));
            envs.push((
                "AWS_SHARED_CREDENTIALS_FILE".into(),
                scratch.join("no-aws-credentials").display().to_string(),
            ));
            envs
        };
        let endpoint = server.endpoint.clone();

        for &concurrency in &concurrencies {
            let envs = base_env(&[
                ("AWS_ENDPOINT_URL_S3", &endpoint),
                ("AWS_ENDPOINT_URL_STS", &sts),
            ]);
            bench.compare(
                &format!("ferry sync_bucket c={concurrency}"),
                &format!("dst-ferry-c{concurrency}"),
                |target| Job {
                    program: self_exe.clone(),
                    args: vec![
                        "--child".into(),
                        SOURCE.into(),
                        target.into(),
                        concurrency.to_string(),
                    ],
                    envs: envs.clone(),
                },
            )?;
        }

        let envs = base_env(&[]);
        bench.compare("aws s3 sync (defaults: 10)", "dst-aws", |target| Job {
            program: aws_cli.clone(),
            args: [
                "s3",
                "sync",
                &format!("s3://{SOURCE}"),
                &format!("s3://{target}"),
                "--delete",
                "--only-show-errors",
                "--no-progress",
                "--endpoint-url",
                &endpoint,
            ]
            .map(String::from)
            .to_vec(),
            envs: envs.clone(),
        })?;

        let rclone_config = scratch.join("rclone.conf").display().to_string();
        for (label, transfers, checkers) in [
            ("rclone sync --transfers 32 --checkers 32", "32", "32"),
            ("rclone sync (defaults: 4/8)", "4", "8"),
        ] {
            let target_bucket = format!("dst-rclone-{transfers}");
            bench.compare(label, &target_bucket, |target| Job {
                program: rclone.clone(),
                args: [
                    "sync",
                    &format!(":s3:{SOURCE}"),
                    &format!(":s3:{target}"),
                    "--s3-provider",
                    "Other",
                    "--s3-endpoint",
                    &endpoint,
                    "--s3-access-key-id",
                    KEY_ID,
                    "--s3-secret-access-key",
                    SECRET,
                    "--s3-region",
                    REGION,
                    "--transfers",
                    transfers,
                    "--checkers",
                    checkers,
                    "--config",
                    &rclone_config,
                    "-q",
                ]
                .map(String::from)
                .to_vec(),
                envs: Vec::new(),
            })?;
        }
        bench.print();
        drop(server);
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result
}
