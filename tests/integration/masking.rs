//! Masking: the shared vectors (`tests/fixtures/masking-vectors.json`, also run by the Glue job's
//! pytest suite) through the Rust masker, byte for byte, and the masking key read from Secrets Manager.

use std::fmt::Write as _;
use std::path::PathBuf;

use aws_sdk_dynamodb::primitives::Blob;
use serde_json::Value;
use shared::contract::MaskingSpec;
use shared::ddb_json::{canonical, item_from_json, item_to_json};
use shared::masking::{Masker, MaskingKey};
use shared::tasks::masking_key::load_key;

use ferry_tests::{aws, unique};

fn vectors() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/masking-vectors.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_vector_masks_byte_for_byte_and_is_idempotent() {
    let doc = vectors();
    let key = MaskingKey::new(doc["key"].as_str().expect("key").as_bytes().to_vec());
    let cases = doc["cases"].as_array().expect("cases");
    assert!(
        cases.len() >= 15,
        "at least 15 vectors, found {}",
        cases.len()
    );
    let mut failures = String::new();
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let spec: MaskingSpec = serde_json::from_value(case["rules"].clone())
            .unwrap_or_else(|e| panic!("{name}: rules: {e}"));
        let masker = Masker::new(&key, &spec);
        let mut item =
            item_from_json(&case["input"]).unwrap_or_else(|e| panic!("{name}: input: {e}"));
        let count = masker.mask_item(&mut item);
        let got = canonical(&item_to_json(&item));
        let want = canonical(&case["expected"]);
        if got != want {
            let _ = writeln!(failures, "{name}:\n  got  {got}\n  want {want}");
        }
        if Some(count) != case["masked"].as_u64() {
            let _ = writeln!(failures, "{name}: masked {count}, want {}", case["masked"]);
        }
        let again = masker.mask_item(&mut item);
        if again != 0 || canonical(&item_to_json(&item)) != got {
            let _ = writeln!(failures, "{name}: a second pass changed {again} values");
        }
    }
    assert!(failures.is_empty(), "vectors failed:\n{failures}");
}

#[test]
fn vector_names_are_unique() {
    let doc = vectors();
    let mut names: Vec<&str> = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let total = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), total, "duplicate vector names");
}

/// An ARN in the local endpoint's region, only used to pick the Secrets Manager region.
const ANY_SECRET_ARN: &str = "arn:aws:secretsmanager:us-east-1:000000000000:secret:any";

#[tokio::test]
async fn the_key_is_the_secret_string_and_masks_like_the_same_bytes() {
    let aws = aws().await;
    let session = aws.session("masking-key");
    let client = session.own_secrets_manager(ANY_SECRET_ARN);
    let created = client
        .create_secret()
        .name(unique("ferry/masking-key"))
        .secret_string("a key — with UTF-8")
        .send()
        .await
        .expect("create secret");
    let arn = created.arn.expect("arn");

    let key = load_key(&session, &arn).await.expect("load key");
    assert_eq!(format!("{key:?}"), "MaskingKey(<redacted>)");
    let spec = MaskingSpec {
        key_secret_arn: arn.clone(),
        domain: "example.invalid".into(),
        attributes: vec!["email".into()],
        embedded: vec![],
        detect_all: false,
    };
    let item =
        || item_from_json(&serde_json::json!({"email": {"S": "Alice@Example.com"}})).unwrap();
    let (mut loaded, mut direct) = (item(), item());
    Masker::new(&key, &spec).mask_item(&mut loaded);
    Masker::new(
        &MaskingKey::new("a key — with UTF-8".as_bytes().to_vec()),
        &spec,
    )
    .mask_item(&mut direct);
    assert_eq!(loaded, direct);
}

#[tokio::test]
async fn a_binary_secret_is_refused_without_showing_its_value() {
    let aws = aws().await;
    let session = aws.session("masking-key");
    let client = session.own_secrets_manager(ANY_SECRET_ARN);
    let arn = client
        .create_secret()
        .name(unique("ferry/masking-key-binary"))
        .secret_binary(Blob::new(b"binary-secret-value".to_vec()))
        .send()
        .await
        .expect("create secret")
        .arn
        .expect("arn");

    let err = load_key(&session, &arn).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput");
    let message = err.to_string();
    assert!(message.contains("masking.key_secret_arn"), "{message}");
    assert!(message.contains("SecretString"), "{message}");
    assert!(!message.contains("binary-secret-value"), "{message}");
}

#[tokio::test]
async fn a_missing_secret_is_not_found() {
    let aws = aws().await;
    let session = aws.session("masking-key");
    let arn = format!(
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:{}",
        unique("ferry/absent")
    );
    let err = load_key(&session, &arn).await.unwrap_err();
    assert_eq!(err.error_type(), "NotFound", "{err}");
    assert!(err.to_string().contains(&arn), "{err}");
    assert!(err.to_string().contains("masking.key_secret_arn"), "{err}");
}
