//! copy-table against two accounts: several thousand ef-cms shaped items copied in 4 segments with
//! forced continuations, checked item by item against the masked source; replace and merge modes,
//! re-runs, and the guards.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use shared::contract::{
    CopyCounts, CopyMode, CopyPhase, CopyTableInput, MaskingSpec, TableEngine, TableSpec,
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
    let tables = Tables {
        source: unique("efcms-prod-alpha"),
        target: unique("efcms-test-alpha"),
        secret_arn: own.create_secret(&unique("ferry/masking-key"), KEY).await,
    };
    p.create_table(&tables.source, false).await;
    t.create_table(&tables.target, false).await;
    p.put_items(&tables.source, (0..n).map(source_item).collect())
        .await;
    tables
}

fn input(tables: &Tables, mode: CopyMode, segment: u32, phase: CopyPhase) -> CopyTableInput {
    CopyTableInput {
        run_id: "copy-run".into(),
        source: prod(),
        target: test_env(),
        table: TableSpec {
            source: tables.source.clone(),
            target: tables.target.clone(),
            engine: TableEngine::Scan { segments: SEGMENTS },
            mode,
        },
        segment,
        phase,
        masking: Some(masking(&tables.secret_arn)),
        progress: None,
    }
}

/// Runs every segment of a phase to completion with `budget`, as the state machine would;
/// returns the summed counts and the most invocations any segment needed.
async fn run_phase(
    tables: &Tables,
    mode: CopyMode,
    phase: CopyPhase,
    budget: Duration,
) -> (CopyCounts, u32) {
    let aws = aws().await;
    let mut total = CopyCounts::default();
    let mut most = 0;
    for segment in 0..SEGMENTS {
        let mut request = input(tables, mode, segment, phase);
        loop {
            let out = copy_table(
                &aws,
                &config(),
                request.clone(),
                Budget::for_duration(budget),
            )
            .await
            .unwrap();
            if out.done {
                let c = out.progress.counts;
                total.items_read += c.items_read;
                total.items_written += c.items_written;
                total.items_deleted += c.items_deleted;
                total.values_masked += c.values_masked;
                most = most.max(c.invocations);
                break;
            }
            assert!(out.progress.last_evaluated_key.is_some());
            request.progress = Some(out.progress);
        }
    }
    (total, most)
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
