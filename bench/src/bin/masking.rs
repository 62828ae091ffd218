//! Benchmark: the Rust masker against the Python one (the Glue job's) on the same items, one core.
//!
//! Builds N deterministic ef-cms-shaped items (default 50,000; first argument overrides): users keyed
//! by `user-email|<address>`, cases with nested contacts and practitioner lists, docket entries with
//! free text. Masks them with [`Masker`] on this thread, then runs `infra/glue/bench_masking.py` on
//! the same items (interpreter from `FERRY_PYTHON`, else `.venv/bin/python`, else `python3`), which
//! measures the Python masker the same two ways:
//!
//! - **paged**: per page of 256 items (about one Scan page), copy the page (not timed), then mask it
//!   (timed). The items are fresh in the CPU caches, as in `copy-table` and the Glue job, which mask
//!   what they have just read;
//! - **all at once**: copy all N items (not timed), then mask them all (timed); the items are mostly
//!   out of cache, so this adds the memory traffic of walking cold items.
//!
//! Each figure is the best of 5 runs. The first 100 masked items of both implementations must be
//! identical, or the program exits with status 1.
//!
//! Run it in release mode: `cargo run --release -p ferry-bench --bin masking [N]`.
#![allow(clippy::disallowed_methods)] // a benchmark program reads FERRY_PYTHON itself

use std::collections::HashMap;
use std::hint::black_box;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use shared::contract::{EmbeddedRule, MaskingSpec};
use shared::ddb_json::{Item, canonical, item_to_json};
use shared::masking::{MaskStats, Masker, MaskingKey};

const DEFAULT_ITEMS: usize = 50_000;
const RUNS: usize = 5;
const CHECKED: usize = 100;
const PAGE: usize = 256;
const KEY: &str = "ferry benchmark key — not a secret";

fn spec() -> MaskingSpec {
    MaskingSpec {
        key_secret_arn: "arn:aws:secretsmanager:us-east-1:111111111111:secret:ferry/masking-key"
            .into(),
        domain: "example.invalid".into(),
        attributes: vec!["email".into(), "*Email".into(), "serviceEmails".into()],
        embedded: vec![EmbeddedRule {
            prefix: "user-email".into(),
            delimiter: "|".into(),
        }],
        detect_all: true,
    }
}

/// A small deterministic generator (64-bit LCG), so every run builds the same items.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() as usize) % from.len()]
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const FIRST: &[&str] = &[
    "Alice", "Bob", "Carol", "Dana", "Eli", "Fatima", "Günther", "Hiro", "Ines", "José",
];
const LAST: &[&str] = &[
    "Petitioner",
    "Taxpayer",
    "Smith",
    "García",
    "Nguyen",
    "O'Neil",
    "Kowalski",
    "Lee",
];
const DOMAINS: &[&str] = &[
    "example.com",
    "Mail.Example.org",
    "lawfirm.example.net",
    "gmail.com",
    "court.example.gov",
];
const TITLES: &[&str] = &[
    "Petition",
    "Answer",
    "Motion to Continue",
    "Order",
    "Notice of Trial",
    "Stipulated Decision",
];

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn m(pairs: Vec<(&str, AttributeValue)>) -> AttributeValue {
    AttributeValue::M(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn address(rng: &mut Rng, i: usize) -> String {
    let (first, last) = (rng.pick(FIRST), rng.pick(LAST));
    let domain = rng.pick(DOMAINS);
    let local: String = format!("{first}.{last}{}", i % 997)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect();
    if rng.below(4) == 0 {
        format!(" {local}@{domain} ")
    } else {
        format!("{local}@{domain}")
    }
}

fn id(rng: &mut Rng) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        rng.next() as u32,
        rng.below(1 << 16),
        rng.below(1 << 12),
        rng.below(1 << 12),
        rng.next() << 16 | rng.below(1 << 16)
    )
}

fn contact(rng: &mut Rng, i: usize) -> AttributeValue {
    m(vec![
        ("contactId", s(id(rng))),
        ("name", s(format!("{} {}", rng.pick(FIRST), rng.pick(LAST)))),
        ("email", s(address(rng, i))),
        ("address1", s(format!("{} Main St", rng.below(9000) + 1))),
        ("city", s("Springfield")),
        ("state", s("IL")),
        ("postalCode", s(format!("{:05}", rng.below(100_000)))),
        ("phone", s(format!("555-{:04}", rng.below(10_000)))),
        ("serviceIndicator", s("Electronic")),
        ("hasConsentedToEService", AttributeValue::Bool(true)),
    ])
}

/// One ef-cms-shaped item: a user, a case or a docket entry.
fn item(i: usize) -> Item {
    let mut rng = Rng(i as u64 ^ 0x9e37_79b9_7f4a_7c15);
    let docket = format!("{}-{:02}", 100 + i % 90_000, 18 + i % 8);
    let pairs: Vec<(&str, AttributeValue)> = match i % 10 {
        0 => {
            let email = address(&mut rng, i);
            let user = id(&mut rng);
            vec![
                ("pk", s(format!("user-email|{}", email.trim()))),
                ("sk", s(format!("user|{user}"))),
                ("userId", s(user)),
                ("email", s(email)),
                (
                    "pendingEmail",
                    if i.is_multiple_of(3) {
                        s(address(&mut rng, i + 1))
                    } else {
                        AttributeValue::Null(true)
                    },
                ),
                ("name", s(format!("{} {}", rng.pick(FIRST), rng.pick(LAST)))),
                ("role", s("petitioner")),
            ]
        }
        1 => {
            let user = id(&mut rng);
            vec![
                ("pk", s(format!("user|{user}"))),
                ("sk", s(format!("user|{user}"))),
                ("email", s(address(&mut rng, i))),
                ("barNumber", s(format!("PT{:04}", rng.below(10_000)))),
                ("contact", contact(&mut rng, i)),
                (
                    "serviceEmails",
                    AttributeValue::L(vec![
                        s(address(&mut rng, i + 2)),
                        s(address(&mut rng, i + 3)),
                    ]),
                ),
                ("role", s("privatePractitioner")),
            ]
        }
        2..=6 => {
            let mut pairs = vec![
                ("pk", s(format!("case|{docket}"))),
                ("sk", s(format!("case|{docket}"))),
                ("docketNumber", s(docket.clone())),
                (
                    "caseCaption",
                    s(format!(
                        "{} {}, Petitioner v. Commissioner of Internal Revenue, Respondent",
                        rng.pick(FIRST),
                        rng.pick(LAST)
                    )),
                ),
                ("contactPrimary", contact(&mut rng, i)),
                ("status", s("General Docket - Not at Issue")),
                (
                    "receivedAt",
                    s(format!(
                        "2024-{:02}-{:02}T10:00:00.000Z",
                        1 + i % 12,
                        1 + i % 28
                    )),
                ),
                ("procedureType", s("Regular")),
                ("irsNoticeDate", AttributeValue::Null(true)),
                ("isPaper", AttributeValue::Bool(i.is_multiple_of(2))),
                ("entityName", s("Case")),
                ("gsi1pk", s(format!("leadCase|{docket}"))),
                (
                    "petitioners",
                    AttributeValue::L((0..1 + i % 2).map(|_| contact(&mut rng, i)).collect()),
                ),
                (
                    "privatePractitioners",
                    AttributeValue::L(vec![m(vec![
                        ("userId", s(id(&mut rng))),
                        ("barNumber", s(format!("PT{:04}", rng.below(10_000)))),
                        ("email", s(address(&mut rng, i + 5))),
                        ("representing", AttributeValue::L(vec![s(id(&mut rng))])),
                        ("serviceIndicator", s("Electronic")),
                    ])]),
                ),
            ];
            if i.is_multiple_of(4) {
                pairs.push(("contactSecondary", contact(&mut rng, i + 7)));
            }
            pairs
        }
        _ => {
            let note = if i.is_multiple_of(3) {
                format!(
                    "Contacted {} about the hearing; follow up by phone. Reference {docket}.",
                    address(&mut rng, i).trim()
                )
            } else {
                "Served on all parties electronically; no further action required.".to_string()
            };
            vec![
                ("pk", s(format!("case|{docket}"))),
                ("sk", s(format!("docket-entry|{}", id(&mut rng)))),
                ("documentTitle", s(rng.pick(TITLES))),
                ("documentType", s(rng.pick(TITLES))),
                (
                    "filingDate",
                    s(format!("2024-{:02}-{:02}", 1 + i % 12, 1 + i % 28)),
                ),
                ("index", AttributeValue::N(format!("{}", i % 50))),
                ("isDraft", AttributeValue::Bool(false)),
                ("notes", s(note)),
                (
                    "servedParties",
                    AttributeValue::L(vec![m(vec![
                        ("name", s(format!("{} {}", rng.pick(FIRST), rng.pick(LAST)))),
                        ("email", s(address(&mut rng, i + 9))),
                    ])]),
                ),
            ]
        }
    };
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect::<HashMap<_, _>>()
}

struct RustRun {
    all_at_once: Duration,
    paged: Duration,
    stats: MaskStats,
    first: Vec<Item>,
}

fn run_rust(items: &[Item], masker: &Masker) -> RustRun {
    let mask_all = |batch: &mut [Item]| {
        let mut total = MaskStats::default();
        for item in batch.iter_mut() {
            let s = masker.mask_item_counted(item);
            total.values += s.values;
            total.addresses += s.addresses;
        }
        total
    };
    let mut all_at_once = Duration::MAX;
    let mut stats = MaskStats::default();
    let mut first = Vec::new();
    for run in 0..RUNS {
        let mut batch = items.to_vec();
        let started = Instant::now();
        stats = mask_all(&mut batch);
        all_at_once = all_at_once.min(started.elapsed());
        black_box(&batch);
        if run == 0 {
            first = batch.into_iter().take(CHECKED).collect();
        }
    }
    let mut paged = Duration::MAX;
    for _ in 0..RUNS {
        let mut total = Duration::ZERO;
        for page in items.chunks(PAGE) {
            let mut batch = page.to_vec();
            let started = Instant::now();
            black_box(mask_all(&mut batch));
            total += started.elapsed();
            black_box(&batch);
        }
        paged = paged.min(total);
    }
    RustRun {
        all_at_once,
        paged,
        stats,
        first,
    }
}

/// ns to mask one item holding one address attribute: name match, trim, HMAC-SHA256 from the
/// cloned keyed state, hex into the new string (paged like the items, so the data is warm).
fn one_address(masker: &Masker) -> f64 {
    let items: Vec<Item> = (0..PAGE * 200)
        .map(|i| HashMap::from([("email".to_string(), s(format!("first.last{i}@example.com")))]))
        .collect();
    let mut best = Duration::MAX;
    for _ in 0..RUNS {
        let mut total = Duration::ZERO;
        for page in items.chunks(PAGE) {
            let mut batch = page.to_vec();
            let started = Instant::now();
            for item in batch.iter_mut() {
                black_box(masker.mask_item(item));
            }
            total += started.elapsed();
            black_box(&batch);
        }
        best = best.min(total);
    }
    best.as_nanos() as f64 / items.len() as f64
}

fn python() -> PathBuf {
    if let Ok(p) = std::env::var("FERRY_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = root().join(".venv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ lives in the project root")
        .to_path_buf()
}

fn main() -> ExitCode {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| {
            a.parse()
                .expect("the first argument is the number of items")
        })
        .unwrap_or(DEFAULT_ITEMS);
    let spec = spec();
    let masker = Masker::new(&MaskingKey::new(KEY.as_bytes().to_vec()), &spec);
    let items: Vec<Item> = (0..n).map(item).collect();

    let rust = run_rust(&items, &masker);
    let floor = one_address(&masker);

    let dir = std::env::temp_dir().join(format!("ferry-bench-masking-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let input = dir.join("items.jsonl");
    let output = dir.join("masked.jsonl");
    {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&input).expect("items file"));
        writeln!(file, "{}", json!({"key": KEY, "rules": spec})).expect("write");
        for item in &items {
            writeln!(file, "{}", item_to_json(item)).expect("write");
        }
    }
    let script = root().join("infra/glue/bench_masking.py");
    let py = python();
    let result = Command::new(&py)
        .arg(&script)
        .arg(&input)
        .arg("--runs")
        .arg(RUNS.to_string())
        .arg("--page")
        .arg(PAGE.to_string())
        .arg("--out")
        .arg(&output)
        .arg("--check")
        .arg(CHECKED.to_string())
        .output();
    let result = match result {
        Ok(r) if r.status.success() => r,
        Ok(r) => {
            eprintln!(
                "{} failed: {}",
                script.display(),
                String::from_utf8_lossy(&r.stderr)
            );
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("cannot run {}: {e}", py.display());
            return ExitCode::FAILURE;
        }
    };
    let report: Value =
        serde_json::from_slice(&result.stdout).expect("bench_masking.py prints JSON");

    // Same output for the first items, byte for byte in canonical form.
    let python_items: Vec<Value> = std::fs::read_to_string(&output)
        .expect("masked items")
        .lines()
        .map(|l| serde_json::from_str(l).expect("masked item JSON"))
        .collect();
    let mut mismatches = 0;
    for (i, (mine, theirs)) in rust.first.iter().zip(&python_items).enumerate() {
        let (a, b) = (canonical(&item_to_json(mine)), canonical(theirs));
        if a != b {
            mismatches += 1;
            if mismatches <= 3 {
                eprintln!("item {i} differs:\n  rust   {a}\n  python {b}");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let compared = rust.first.len().min(python_items.len());

    let ns = |d: Duration| d.as_nanos() as f64 / n as f64;
    let py = |mode: &str, field: &str| report[mode][field].as_f64().unwrap_or(f64::NAN);
    let rows = [
        ("paged", ns(rust.paged), py("paged", "ns_per_item")),
        (
            "all at once",
            ns(rust.all_at_once),
            py("all_at_once", "ns_per_item"),
        ),
    ];
    let hmacs = rust.stats.addresses as f64 / n as f64;
    let values = rust.stats.values as f64 / n as f64;
    let python_name = report["implementation"].as_str().unwrap_or("python");

    println!("masking {n} ef-cms-shaped items on one thread, best of {RUNS} runs");
    println!(
        "rules: attributes {:?}, embedded user-email|, detect_all on; paged = pages of {PAGE} items",
        spec.attributes
    );
    println!();
    println!(
        "{:<24} {:<12} {:>12} {:>10} {:>8}",
        "implementation", "mode", "items/s", "ns/item", "ratio"
    );
    for (mode, rust_ns, py_ns) in rows {
        println!(
            "{:<24} {:<12} {:>12.0} {:>10.0} {:>7.1}x",
            "rust (shared::masking)",
            mode,
            1e9 / rust_ns,
            rust_ns,
            py_ns / rust_ns
        );
        println!(
            "{:<24} {:<12} {:>12.0} {:>10.0} {:>7.1}x",
            python_name,
            mode,
            1e9 / py_ns,
            py_ns,
            1.0
        );
    }
    println!();
    let rust_ns = ns(rust.paged);
    println!(
        "per item: {values:.2} string values changed, {hmacs:.2} HMACs (python counted {:.2})",
        report["hmacs"].as_f64().unwrap_or(0.0) / n as f64
    );
    println!(
        "one address alone (an item of one masked attribute, paged): {floor:.0} ns; x {hmacs:.2} = {:.0} ns of the {rust_ns:.0} ns/item (paged)",
        floor * hmacs
    );
    println!(
        "first {compared} items: {} identical, {mismatches} different",
        compared - mismatches
    );

    if mismatches > 0
        || compared < CHECKED.min(n)
        || report["hmacs"].as_u64() != Some(rust.stats.addresses)
    {
        eprintln!("the Rust and Python masking disagree");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
