//! Benchmark: `copy-table` with masking against the ceiling of the same endpoint.
//!
//! The ceiling is a bare copy loop (scan a page, then batch-write it, no masking) over the same
//! segments with the same write concurrency, measured in the same run against the same local
//! endpoint. Usage: `copy_table [ITEMS] [SEGMENTS]` (defaults 20000 and 4).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use futures::{StreamExt, TryStreamExt, stream};
use shared::aws::batch_write::{RetryPolicy, chunk, put, write_batch};
use shared::contract::{
    CopyMode, CopyPhase, CopyTableInput, EmbeddedRule, MaskingSpec, TableEngine, TableSpec,
};
use shared::ddb_json::Item;
use shared::tasks::budget::Budget;
use shared::tasks::copy_table::{WRITE_CONCURRENCY, copy_table};

use ferry_tests::fixtures::{Account, accounts};
use ferry_tests::{aws, prod, test_env, unique};

fn item(i: usize) -> Item {
    let email = format!("person{i}@example.com");
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
            AttributeValue::L(vec![
                s(email.clone()),
                s(format!("counsel{i}@firm.example")),
            ]),
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

/// The bare loop: per segment, scan a page then write it, batches 25 at a time in parallel.
async fn bare_copy(
    from: &Account<'_>,
    to: &Account<'_>,
    source: &str,
    target: &str,
    segments: u32,
) -> u64 {
    let reader = from.dynamodb().await;
    let writer = to.dynamodb().await;
    let policy = RetryPolicy::default();
    let copied = stream::iter(0..segments)
        .map(|segment| {
            let (reader, writer) = (reader.clone(), writer.clone());
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
                        .map(|batch| write_batch(&writer, target, batch, &policy))
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

/// ferry's copy-table over every segment in parallel, as the state machine's Map runs it.
async fn ferry_copy(source: &str, target: &str, segments: u32, secret_arn: &str) -> (u64, u64) {
    let aws = aws().await;
    let config = shared::config::FunctionConfig::default();
    let masking = MaskingSpec {
        key_secret_arn: secret_arn.into(),
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
                    source: source.into(),
                    target: target.into(),
                    engine: TableEngine::Scan { segments },
                    mode: CopyMode::Merge,
                },
                segment,
                phase: CopyPhase::Copy,
                masking: Some(masking.clone()),
                progress: None,
            };
            let (aws, config) = (&aws, &config);
            async move {
                let out = copy_table(
                    aws,
                    config,
                    input,
                    Budget::for_duration(Duration::from_secs(3600)),
                )
                .await
                .expect("copy-table");
                assert!(out.done);
                (
                    out.progress.counts.items_written,
                    out.progress.counts.values_masked,
                )
            }
        })
        .buffer_unordered(segments as usize)
        .collect::<Vec<_>>()
        .await;
    results.iter().fold((0, 0), |(w, m), (a, b)| (w + a, m + b))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let items: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let segments: u32 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(4);
    let aws = aws().await;
    let session = aws.session("bench");
    let (p, t, own) = accounts(&session);
    let source = unique("bench-source");
    let (bare_target, ferry_target) = (unique("bench-bare"), unique("bench-ferry"));
    p.create_table(&source, false).await;
    t.create_table(&bare_target, false).await;
    t.create_table(&ferry_target, false).await;
    let secret_arn = own
        .create_secret(&unique("bench-key"), "bench-masking-key")
        .await;
    let seeded = Instant::now();
    p.put_items(&source, (0..items).map(item).collect()).await;
    eprintln!(
        "seeded {items} items in {:.1}s",
        seeded.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let bare = bare_copy(&p, &t, &source, &bare_target, segments).await;
    let bare_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let (written, masked) = ferry_copy(&source, &ferry_target, segments, &secret_arn).await;
    let ferry_secs = started.elapsed().as_secs_f64();
    assert_eq!(bare, items as u64);
    assert_eq!(written, items as u64);

    let rate = |n: u64, s: f64| n as f64 / s;
    println!(
        "copy-table vs the endpoint's ceiling ({items} items, {segments} segments, {WRITE_CONCURRENCY} batches in flight per segment)"
    );
    println!("| loop | seconds | items/s | of ceiling |");
    println!("|---|---:|---:|---:|");
    println!(
        "| bare scan+batch-write, no masking | {bare_secs:.2} | {:.0} | 100% |",
        rate(bare, bare_secs)
    );
    println!(
        "| ferry copy-table, masking on ({masked} values masked) | {ferry_secs:.2} | {:.0} | {:.0}% |",
        rate(written, ferry_secs),
        100.0 * rate(written, ferry_secs) / rate(bare, bare_secs)
    );
}
