//! copy-table against two accounts: several thousand ef-cms shaped items copied in 4 segments with
//! forced continuations, checked item by item against the masked source; replace and merge modes,
//! re-runs, and the guards; continuations, outputs, errors and logs searched for every seeded
//! address; source keys that meet once masked; a clear whose masking key cannot be read.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use shared::contract::{
    CopyCounts, CopyMode, CopyPhase, CopyTableInput, CopyTableOutput, MaskingSpec, TableEngine,
    TableSpec,
};
use shared::ddb_json::{Item, item_to_json};
use shared::masking::{Masker, MaskingKey};
use shared::tasks::budget::Budget;
use shared::tasks::copy_table::copy_table;

use ferry_tests::fixtures::{Account, accounts};
use ferry_tests::{aws, prod, test_env, unique};

use crate::config;

const SEGMENTS: u32 = 4;
const KEY: &str = "copy-table-test-key";

fn source_item(i: usize) -> Item {
    let email = format!("Person{i}@Example.com");
    let s = |v: String| AttributeValue::S(v);
    if i.is_multiple_of(4) {
        return HashMap::from([
            ("pk".into(), s(format!("user-email|{email}"))),
            ("sk".into(), s(format!("user|{i:05}"))),
            ("userId".into(), s(format!("user-{i:05}"))),
        ]);
    }
    let contact = HashMap::from([
        ("name".to_string(), s(format!("Petitioner {i}"))),
        ("email".to_string(), s(email.clone())),
        ("pendingEmail".to_string(), s(format!("new{i}@example.org"))),
        ("phone".to_string(), AttributeValue::Null(true)),
    ]);
    HashMap::from([
        ("pk".into(), s(format!("case|{i:05}-24"))),
        ("sk".into(), s("case".into())),
        ("contactPrimary".into(), AttributeValue::M(contact)),
        (
            "serviceEmails".into(),
            AttributeValue::L(vec![
                s(email.clone()),
                s(format!("counsel{i}@lawfirm.example")),
            ]),
        ),
        ("docketNumber".into(), AttributeValue::N(i.to_string())),
        (
            "note".into(),
            s(format!(
                "Contacted {email} about the hearing. {}",
                "Lorem ipsum dolor sit amet. ".repeat(50)
            )),
        ),
    ])
}

fn masking(secret_arn: &str) -> MaskingSpec {
    MaskingSpec {
        key_secret_arn: secret_arn.into(),
        domain: "example.invalid".into(),
        attributes: vec!["email".into(), "*Email".into(), "*Emails".into()],
        embedded: vec![shared::contract::EmbeddedRule {
            prefix: "user-email".into(),
            delimiter: "|".into(),
        }],
        detect_all: true,
    }
}

/// A source table in prod with `n` items and an empty target table in test.
struct Tables {
    source: String,
    target: String,
    secret_arn: String,
}

async fn tables(p: &Account<'_>, t: &Account<'_>, own: &Account<'_>, n: usize) -> Tables {
    seeded(p, t, own, (0..n).map(source_item).collect()).await
}

/// A source table in prod holding `items` and an empty target table in test.
async fn seeded(p: &Account<'_>, t: &Account<'_>, own: &Account<'_>, items: Vec<Item>) -> Tables {
    let tables = Tables {
        source: unique("efcms-prod-alpha"),
        target: unique("efcms-test-alpha"),
        secret_arn: own.create_secret(&unique("ferry/masking-key"), KEY).await,
    };
    p.create_table(&tables.source, false).await;
    t.create_table(&tables.target, false).await;
    p.put_items(&tables.source, items).await;
    tables
}

fn input(tables: &Tables, mode: CopyMode, segment: u32, phase: CopyPhase) -> CopyTableInput {
    input_of(tables, mode, segment, phase, SEGMENTS)
}

fn input_of(
    tables: &Tables,
    mode: CopyMode,
    segment: u32,
    phase: CopyPhase,
    segments: u32,
) -> CopyTableInput {
    CopyTableInput {
        run_id: "copy-run".into(),
        source: prod(),
        target: test_env(),
        table: TableSpec {
            source: tables.source.clone(),
            target: tables.target.clone(),
            engine: TableEngine::Scan { segments },
            mode,
        },
        segment,
        phase,
        masking: Some(masking(&tables.secret_arn)),
        progress: None,
    }
}

/// Runs every segment of a phase to completion with `budget`, as the state machine would (each
/// invocation gets the previous one's whole `progress`, through JSON); returns every output in
/// order.
async fn run_outputs(
    tables: &Tables,
    mode: CopyMode,
    phase: CopyPhase,
    budget: Duration,
    segments: u32,
) -> Vec<CopyTableOutput> {
    let aws = aws().await;
    let mut outputs = Vec::new();
    for segment in 0..segments {
        let mut request = input_of(tables, mode, segment, phase, segments);
        loop {
            let out = copy_table(
                &aws,
                &config(),
                request.clone(),
                Budget::for_duration(budget),
            )
            .await
            .unwrap();
            outputs.push(out.clone());
            if out.done {
                break;
            }
            // The state machine hands the output's `progress` back as JSON.
            let progress = serde_json::to_value(&out.progress).unwrap();
            request.progress = Some(serde_json::from_value(progress).unwrap());
        }
    }
    outputs
}

/// Runs every segment of a phase to completion with `budget`, as the state machine would;
/// returns the summed counts and the most invocations any segment needed.
async fn run_phase(
    tables: &Tables,
    mode: CopyMode,
    phase: CopyPhase,
    budget: Duration,
) -> (CopyCounts, u32) {
    let mut total = CopyCounts::default();
    let mut most = 0;
    for out in run_outputs(tables, mode, phase, budget, SEGMENTS).await {
        if out.done {
            let c = out.progress.counts;
            total.items_read += c.items_read;
            total.items_written += c.items_written;
            total.items_deleted += c.items_deleted;
            total.values_masked += c.values_masked;
            most = most.max(c.invocations);
        }
    }
    (total, most)
}

/// The sum of one count over the finished segments, read from the outputs as the state machine
/// reads them.
fn summed(outputs: &[CopyTableOutput], count: &str) -> u64 {
    outputs
        .iter()
        .filter(|o| o.done)
        .map(|o| {
            serde_json::to_value(o).unwrap()["progress"]["counts"][count]
                .as_u64()
                .unwrap_or_else(|| panic!("counts.{count} missing from {o:?}"))
        })
        .sum()
}

/// Asserts two sets of items are equal, showing the first differences when they are not.
fn assert_same(actual: &BTreeSet<String>, expected: &BTreeSet<String>, what: &str) {
    let missing: Vec<&String> = expected.difference(actual).take(2).collect();
    let extra: Vec<&String> = actual.difference(expected).take(2).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: {} missing, {} unexpected; first missing {missing:?}; first unexpected {extra:?}",
        expected.difference(actual).count(),
        actual.difference(expected).count()
    );
}

fn as_set(items: Vec<Item>) -> BTreeSet<String> {
    items.iter().map(|i| item_to_json(i).to_string()).collect()
}

fn expected(n: usize, secret: &str) -> BTreeSet<String> {
    let masker = Masker::new(&MaskingKey::new(KEY.as_bytes().to_vec()), &masking(secret));
    as_set(
        (0..n)
            .map(|i| {
                let mut item = source_item(i);
                masker.mask_item(&mut item);
                item
            })
            .collect(),
    )
}

#[tokio::test]
async fn replace_copies_every_item_masked_across_continuations_and_removes_stale_ones() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let (p, t, own) = accounts(&session);
    let n = 4000;
    let tables = tables(&p, &t, &own, n).await;
    let stale: Item = HashMap::from([
        ("pk".into(), AttributeValue::S("case|stale".into())),
        ("sk".into(), AttributeValue::S("case".into())),
    ]);
    t.put_items(&tables.target, vec![stale]).await;

    let (cleared, _) =
        run_phase(&tables, CopyMode::Replace, CopyPhase::Clear, Duration::ZERO).await;
    assert_eq!(cleared.items_deleted, 1);
    let (copied, most_invocations) =
        run_phase(&tables, CopyMode::Replace, CopyPhase::Copy, Duration::ZERO).await;

    assert!(
        most_invocations > 1,
        "the 1 MB scan pages force continuations"
    );
    assert_eq!(copied.items_read, n as u64);
    assert_eq!(copied.items_written, n as u64);
    assert!(
        copied.values_masked >= n as u64,
        "masked {}",
        copied.values_masked
    );
    let target = t.scan_all(&tables.target).await;
    assert_eq!(target.len(), n);
    let target_text: String = target.iter().map(|i| item_to_json(i).to_string()).collect();
    assert!(
        !target_text.to_lowercase().contains("@example.com"),
        "no real address survives"
    );
    assert!(!target_text.contains("@lawfirm.example"));
    assert_same(
        &as_set(target),
        &expected(n, &tables.secret_arn),
        "the target equals the masked source",
    );
}

#[tokio::test]
async fn merge_keeps_target_items_and_a_rerun_converges() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let (p, t, own) = accounts(&session);
    let n = 300;
    let tables = tables(&p, &t, &own, n).await;
    let local: Item = HashMap::from([
        ("pk".into(), AttributeValue::S("test-only".into())),
        ("sk".into(), AttributeValue::S("fixture".into())),
    ]);
    t.put_items(&tables.target, vec![local.clone()]).await;

    run_phase(
        &tables,
        CopyMode::Merge,
        CopyPhase::Copy,
        Duration::from_secs(60),
    )
    .await;
    let first = as_set(t.scan_all(&tables.target).await);
    run_phase(
        &tables,
        CopyMode::Merge,
        CopyPhase::Copy,
        Duration::from_secs(60),
    )
    .await;
    let second = as_set(t.scan_all(&tables.target).await);

    assert_same(&second, &first, "a re-run gives the same table");
    let mut want = expected(n, &tables.secret_arn);
    want.insert(item_to_json(&local).to_string());
    assert_same(&second, &want, "merge keeps the target's own items");
}

#[tokio::test]
async fn clear_is_refused_in_merge_mode_and_nothing_is_deleted() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let (p, t, own) = accounts(&session);
    let tables = tables(&p, &t, &own, 10).await;
    t.put_items(&tables.target, (0..5).map(source_item).collect())
        .await;

    let err = copy_table(
        &aws,
        &config(),
        input(&tables, CopyMode::Merge, 0, CopyPhase::Clear),
        Budget::for_duration(Duration::from_secs(60)),
    )
    .await
    .unwrap_err();

    assert_eq!(err.error_type(), "InvalidInput");
    assert!(err.to_string().contains("phase"), "{err}");
    assert_eq!(t.scan_all(&tables.target).await.len(), 5);
}

#[tokio::test]
async fn differing_key_schemas_and_protected_targets_are_refused() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let (p, t, own) = accounts(&session);
    let tables_ok = tables(&p, &t, &own, 10).await;
    let numeric = unique("numeric-target");
    t.create_numeric_table(&numeric).await;
    let mut mismatched = input(&tables_ok, CopyMode::Replace, 0, CopyPhase::Copy);
    mismatched.table.target = numeric.clone();

    let err = copy_table(
        &aws,
        &config(),
        mismatched,
        Budget::for_duration(Duration::from_secs(60)),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("key schemas differ"), "{err}");
    assert!(t.scan_all(&numeric).await.is_empty());

    let mut protected = input(&tables_ok, CopyMode::Replace, 0, CopyPhase::Copy);
    protected.target = prod();
    protected.table.target = tables_ok.source.clone();
    let err = copy_table(
        &aws,
        &config(),
        protected,
        Budget::for_duration(Duration::from_secs(60)),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "ProtectedTarget");

    let mut bad_segment = input(&tables_ok, CopyMode::Replace, SEGMENTS, CopyPhase::Copy);
    bad_segment.segment = SEGMENTS;
    let err = copy_table(
        &aws,
        &config(),
        bad_segment,
        Budget::for_duration(Duration::from_secs(60)),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("segment: must be below table.segments (4)"),
        "{err}"
    );
}

/// A user record keyed by its address, as ef-cms keeps them: every key of such a table, and so
/// every continuation of its scan, holds an address.
fn user(email: &str, name: &str, filler: usize) -> Item {
    HashMap::from([
        (
            "pk".into(),
            AttributeValue::S(format!("user-email|{email}")),
        ),
        ("sk".into(), AttributeValue::S("user".into())),
        ("email".into(), AttributeValue::S(email.to_string())),
        ("name".into(), AttributeValue::S(name.to_string())),
        (
            "note".into(),
            AttributeValue::S(format!(
                "Wrote to {email}. {}",
                "Lorem ipsum. ".repeat(filler)
            )),
        ),
    ])
}

thread_local! {
    /// Where log lines written on this thread go, while a [`Logs`] lives on it.
    static LOG_SINK: std::cell::RefCell<Option<std::sync::Arc<std::sync::Mutex<Vec<u8>>>>> =
        const { std::cell::RefCell::new(None) };
}

/// Log lines written on this thread while it lives (the test's runtime runs every task on it),
/// formatted as the functions write them.
struct Logs {
    lines: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

/// Appends to the lines of the [`Logs`] living on the writing thread, if any.
struct ThreadSink;

impl std::io::Write for ThreadSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOG_SINK.with(|sink| {
            if let Some(lines) = sink.borrow().as_ref() {
                lines.lock().unwrap().extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// Captures ferry's logs at every level and the SDK's at `info` (the deployed level). One
    /// process-wide subscriber routes lines by thread: a subscriber scoped to the thread would
    /// miss events whose call sites other tests' threads registered first.
    fn capture() -> Logs {
        static INSTALL: std::sync::Once = std::sync::Once::new();
        INSTALL.call_once(|| {
            use tracing_subscriber::layer::SubscriberExt;
            let subscriber = tracing_subscriber::fmt()
                .json()
                .with_max_level(tracing::level_filters::LevelFilter::TRACE)
                .with_writer(|| ThreadSink)
                .finish()
                .with(shared::telemetry::filter(Some("info,shared=trace")));
            tracing::subscriber::set_global_default(subscriber).expect("one log subscriber");
        });
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        LOG_SINK.with(|sink| *sink.borrow_mut() = Some(lines.clone()));
        Logs { lines }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.lines.lock().unwrap()).into_owned()
    }
}

impl Drop for Logs {
    fn drop(&mut self) {
        LOG_SINK.with(|sink| *sink.borrow_mut() = None);
    }
}

/// The addresses of `emails` that appear in `text`, whatever their case.
fn leaked<'a>(emails: &'a [String], text: &str) -> Vec<&'a String> {
    let text = text.to_lowercase();
    emails
        .iter()
        .filter(|e| text.contains(&e.to_lowercase()))
        .collect()
}

#[tokio::test]
async fn continuations_outputs_and_logs_hold_no_production_value_and_resume_exactly() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let (p, t, own) = accounts(&session);
    let n = 1500;
    let emails: Vec<String> = (0..n)
        .map(|i| format!("Keyed.User{i}@Example.com"))
        .collect();
    let items: Vec<Item> = emails
        .iter()
        .enumerate()
        .map(|(i, e)| user(e, &format!("User {i}"), 160))
        .collect();
    let tables = seeded(&p, &t, &own, items.clone()).await;
    let logs = Logs::capture();

    let outputs = run_outputs(
        &tables,
        CopyMode::Replace,
        CopyPhase::Copy,
        Duration::ZERO,
        2,
    )
    .await;

    let continued = outputs.iter().filter(|o| !o.done).count();
    assert!(
        continued >= 2,
        "one page per invocation: {continued} continuations"
    );
    let outputs_text: Vec<String> = outputs
        .iter()
        .map(|o| serde_json::to_string(o).unwrap())
        .collect();
    let found = leaked(&emails, &outputs_text.join("\n"));
    assert!(
        found.is_empty(),
        "{} seeded addresses in the outputs, first {:?}",
        found.len(),
        found.first()
    );
    assert_eq!(
        summed(&outputs, "items_read"),
        n as u64,
        "no page read twice"
    );
    assert_eq!(summed(&outputs, "items_written"), n as u64);
    let masker = Masker::new(
        &MaskingKey::new(KEY.as_bytes().to_vec()),
        &masking(&tables.secret_arn),
    );
    let want = as_set(
        items
            .into_iter()
            .map(|mut item| {
                masker.mask_item(&mut item);
                item
            })
            .collect(),
    );
    assert_same(
        &as_set(t.scan_all(&tables.target).await),
        &want,
        "every item copied once, masked",
    );

    // A continuation is bound to its segment: handed to another one it is refused, and the
    // refusal names no value either.
    let mut misrouted = input_of(&tables, CopyMode::Replace, 1, CopyPhase::Copy, 2);
    misrouted.progress = Some(outputs[0].progress.clone());
    assert!(!outputs[0].done, "segment 0 continued");
    let err = copy_table(
        &aws,
        &config(),
        misrouted,
        Budget::for_duration(Duration::from_secs(60)),
    )
    .await
    .expect_err("a continuation of segment 0 does not resume segment 1");
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("progress.continuation"), "{err}");
    let logs = logs.text();
    assert!(
        logs.contains("copy-table invocation finished"),
        "logs captured"
    );
    let found = leaked(&emails, &format!("{err}\n{logs}"));
    assert!(
        found.is_empty(),
        "{} seeded addresses in errors or logs, first {:?}",
        found.len(),
        found.first()
    );
}

#[tokio::test]
async fn keys_that_differ_only_in_case_are_written_once_and_reported_masked() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let (p, t, own) = accounts(&session);
    let mut items: Vec<Item> = (0..60)
        .map(|i| user(&format!("member{i}@example.com"), &format!("Member {i}"), 0))
        .collect();
    items.push(user("Alice@Example.com", "Alice (upper case)", 0));
    items.push(user("alice@example.com", "alice (lower case)", 0));
    let tables = seeded(&p, &t, &own, items).await;

    let mut outputs = run_outputs(
        &tables,
        CopyMode::Replace,
        CopyPhase::Clear,
        Duration::from_secs(60),
        SEGMENTS,
    )
    .await;
    outputs.extend(
        run_outputs(
            &tables,
            CopyMode::Replace,
            CopyPhase::Copy,
            Duration::from_secs(60),
            SEGMENTS,
        )
        .await,
    );

    let masker = Masker::new(
        &MaskingKey::new(KEY.as_bytes().to_vec()),
        &masking(&tables.secret_arn),
    );
    let mut alice = user("alice@example.com", "", 0);
    masker.mask_item(&mut alice);
    let AttributeValue::S(masked_pk) = &alice["pk"] else {
        unreachable!()
    };
    assert_eq!(summed(&outputs, "key_collisions"), 1);
    let reported: Vec<String> = outputs
        .iter()
        .filter(|o| o.done)
        .flat_map(|o| {
            serde_json::to_value(o).unwrap()["progress"]["counts"]["collided_keys"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    assert_eq!(reported, vec![format!("pk={masked_pk},sk=user")]);
    assert!(!reported[0].to_lowercase().contains("alice@"));
    assert_eq!(summed(&outputs, "items_written"), 61);
    let target = t.scan_all(&tables.target).await;
    assert_eq!(target.len(), 61);
}

#[tokio::test]
async fn colliding_keys_in_one_batch_never_fail_it() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let (p, t, own) = accounts(&session);
    // Equal once masked, so even an endpoint that compares whole items sees the duplicate key.
    let twin = |email: &str| {
        HashMap::from([
            (
                "pk".into(),
                AttributeValue::S(format!("user-email|{email}")),
            ),
            ("sk".into(), AttributeValue::S("user".into())),
        ])
    };
    let items: Vec<Item> = vec![twin("Bob@Example.com"), twin("bob@example.com")];
    let tables = seeded(&p, &t, &own, items).await;

    for _ in 0..2 {
        let outputs = run_outputs(
            &tables,
            CopyMode::Merge,
            CopyPhase::Copy,
            Duration::from_secs(60),
            1,
        )
        .await;
        assert_eq!(summed(&outputs, "key_collisions"), 1);
        assert_eq!(summed(&outputs, "items_written"), 1);
    }
    assert_eq!(t.scan_all(&tables.target).await.len(), 1);
}

#[tokio::test]
async fn a_clear_whose_masking_key_cannot_be_read_deletes_nothing() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let (p, t, own) = accounts(&session);
    let tables = tables(&p, &t, &own, 10).await;
    t.put_items(&tables.target, (0..5).map(source_item).collect())
        .await;
    let mut clear = input_of(&tables, CopyMode::Replace, 0, CopyPhase::Clear, 1);
    let unreadable = format!(
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:{}",
        unique("ferry/not-readable")
    );
    clear.masking = Some(masking(&unreadable));

    let err = copy_table(
        &aws,
        &config(),
        clear,
        Budget::for_duration(Duration::from_secs(60)),
    )
    .await
    .unwrap_err();

    assert_eq!(err.error_type(), "NotFound", "{err}");
    assert!(err.to_string().contains("masking.key_secret_arn"), "{err}");
    assert_eq!(t.scan_all(&tables.target).await.len(), 5, "nothing deleted");
}
