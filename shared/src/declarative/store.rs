//! Entity sets in the artifact bucket: one canonical JSON document per entity under
//! `<prefix><kind>/<id>.json` (for people: readable, diffable), the same entities packed one per
//! line in `<prefix>entities.jsonl` (for ferry: a set loads in one request, not one per entity),
//! and a `manifest.json` listing each file's kind, identity and sha256 and the packed file's
//! sha256 (plus who made it and from where). A run's bundle is the source's set; its `before/` set
//! is the target's snapshot. Loading checks the packed file against the manifest and every packed
//! entity against its file's recorded sha256, so a set edited after it was stored is never applied.

use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::entity::{Entity, encode};
use crate::aws::objects::{get_bytes, put_bytes, uri};
use crate::checksum::sha256_hex;
use crate::error::TaskError;

/// S3 requests in flight while storing or loading a set.
const CONCURRENCY: usize = 16;

/// A stored entity set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredSet {
    /// The artifact bucket.
    pub bucket: String,
    /// Key prefix, ending in `/`.
    pub prefix: String,
    /// How many entities.
    pub entities: u64,
    /// sha256 of the manifest's bytes: pins the whole set (every file's sha256 is in it).
    pub manifest_sha256: String,
}

impl StoredSet {
    /// `s3://bucket/prefix`.
    pub fn uri(&self) -> String {
        uri(&self.bucket, &self.prefix)
    }
}

/// The packed file of a set: every entity, one JSON object per line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackedFile {
    /// Object key: `<prefix>entities.jsonl`.
    pub key: String,
    /// sha256 of the file's bytes.
    pub sha256: String,
}

/// One line of the packed file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackedEntity {
    kind: String,
    id: String,
    body: Value,
}

/// One file of a set, as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntityFile {
    /// The entity's kind.
    pub kind: String,
    /// The entity's identity.
    pub id: String,
    /// Object key.
    pub key: String,
    /// sha256 of the file's bytes.
    pub sha256: String,
}

/// Splits `s3://bucket/prefix/` into the bucket and the prefix (which gets a trailing `/`).
pub fn parse_uri(text: &str, field: &str) -> Result<(String, String), TaskError> {
    let rest = text
        .strip_prefix("s3://")
        .ok_or_else(|| TaskError::invalid(field, format!("'{text}' is not an s3:// URI")))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() || prefix.is_empty() {
        return Err(TaskError::invalid(
            field,
            format!(
                "'{text}' must name a bucket and a prefix: s3://bucket/bundles/<platform>/<run>/"
            ),
        ));
    }
    let prefix = if prefix.ends_with('/') {
        prefix.to_string()
    } else {
        format!("{prefix}/")
    };
    Ok((bucket.to_string(), prefix))
}

/// The object key of an entity: its kind and identity, percent-encoded outside `[A-Za-z0-9._-]`.
fn key_of(prefix: &str, entity: &Entity) -> String {
    format!(
        "{prefix}{}/{}.json",
        encode(&entity.kind),
        encode(&entity.id)
    )
}

/// The bytes of an entity's own file: its body, pretty-printed, with a final newline.
fn file_bytes(body: &Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(body).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// The packed file's bytes: one compact JSON object per entity and line, in the set's order.
fn packed_bytes(entities: &[Entity]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entity in entities {
        let line = json!({"kind": entity.kind, "id": entity.id, "body": entity.body});
        bytes.extend(serde_json::to_vec(&line).unwrap_or_default());
        bytes.push(b'\n');
    }
    bytes
}

/// Writes every entity, the packed file and then the manifest (`about` is merged into it: source,
/// run, time).
pub async fn save(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    owner: &str,
    prefix: &str,
    entities: &[Entity],
    about: Value,
) -> Result<StoredSet, TaskError> {
    let files: Vec<(EntityFile, Vec<u8>)> = entities
        .iter()
        .map(|entity| {
            let bytes = file_bytes(&entity.body);
            let file = EntityFile {
                kind: entity.kind.clone(),
                id: entity.id.clone(),
                key: key_of(prefix, entity),
                sha256: sha256_hex(&bytes),
            };
            (file, bytes)
        })
        .collect();
    futures::stream::iter(files.iter().cloned().map(|(file, bytes)| async move {
        put_bytes(s3, bucket, owner, &file.key, "application/json", bytes).await
    }))
    .buffer_unordered(CONCURRENCY)
    .try_collect::<Vec<()>>()
    .await?;
    let packed_body = packed_bytes(entities);
    let packed = PackedFile {
        key: format!("{prefix}entities.jsonl"),
        sha256: sha256_hex(&packed_body),
    };
    put_bytes(
        s3,
        bucket,
        owner,
        &packed.key,
        "application/jsonl",
        packed_body,
    )
    .await?;
    let listed: Vec<EntityFile> = files.into_iter().map(|(file, _)| file).collect();
    let mut manifest = json!({"entities": listed.len(), "files": listed, "packed": packed});
    if let (Some(target), Value::Object(extra)) = (manifest.as_object_mut(), about) {
        target.extend(extra);
    }
    let body = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    let manifest_sha256 = sha256_hex(&body);
    put_bytes(
        s3,
        bucket,
        owner,
        &format!("{prefix}manifest.json"),
        "application/json",
        body,
    )
    .await?;
    Ok(StoredSet {
        bucket: bucket.to_string(),
        prefix: prefix.to_string(),
        entities: listed.len() as u64,
        manifest_sha256,
    })
}

/// Whether a set's manifest exists already (a snapshot is taken once per run). A listing, not a
/// HeadObject: without `s3:ListBucket` on the exact key, S3 answers a HeadObject of a missing key
/// with 403, and the listing's `prefix` is what an IAM condition can scope.
pub async fn exists(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<bool, TaskError> {
    let key = format!("{prefix}manifest.json");
    let listed = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(&key)
        .max_keys(1)
        .send()
        .await
        .map_err(|e| TaskError::aws("ListObjectsV2", uri(bucket, &key), e.into_service_error()))?;
    Ok(listed
        .contents()
        .iter()
        .any(|o| o.key() == Some(key.as_str())))
}

/// Reads a stored set back, checking the manifest against `pinned` (its sha256 when the set was
/// stored, if known) and each file against the manifest; returns the entities and the manifest.
pub async fn load(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    pinned: Option<&str>,
) -> Result<(Vec<Entity>, Value), TaskError> {
    let manifest_key = format!("{prefix}manifest.json");
    let bytes = get_bytes(s3, bucket, &manifest_key).await?;
    if let Some(pinned) = pinned.filter(|p| *p != sha256_hex(&bytes)) {
        return Err(changed(
            bucket,
            &manifest_key,
            &format!(
                "has sha256 {}, it was stored as {pinned}",
                sha256_hex(&bytes)
            ),
        ));
    }
    let manifest: Value = serde_json::from_slice(&bytes)
        .map_err(|e| changed(bucket, &manifest_key, &format!("is not JSON ({e})")))?;
    let files: Vec<EntityFile> = serde_json::from_value(manifest["files"].clone())
        .map_err(|e| changed(bucket, &manifest_key, &format!("lists no files ({e})")))?;
    if let Some(stray) = files
        .iter()
        .find(|f| f.key != key_of(prefix, &Entity::new(&*f.kind, &*f.id, &Value::Null)))
    {
        return Err(changed(
            bucket,
            &manifest_key,
            &format!("lists {} outside the set's own keys", stray.key),
        ));
    }
    let packed: PackedFile = serde_json::from_value(manifest["packed"].clone()).map_err(|e| {
        changed(
            bucket,
            &manifest_key,
            &format!("names no packed file ({e})"),
        )
    })?;
    if packed.key != format!("{prefix}entities.jsonl") {
        return Err(changed(
            bucket,
            &manifest_key,
            &format!("names {} as the packed file, outside the set", packed.key),
        ));
    }
    let bytes = get_bytes(s3, bucket, &packed.key).await?;
    let actual = sha256_hex(&bytes);
    if actual != packed.sha256 {
        return Err(changed(
            bucket,
            &packed.key,
            &format!(
                "has sha256 {actual}, the manifest records {}",
                packed.sha256
            ),
        ));
    }
    let entities =
        unpack(&bytes, &files).map_err(|problem| changed(bucket, &packed.key, &problem))?;
    Ok((entities, manifest))
}

/// The packed entities, each checked against its own file's sha256 in the manifest (same kind and
/// identity, in the same order).
fn unpack(bytes: &[u8], files: &[EntityFile]) -> Result<Vec<Entity>, String> {
    let mut entities = Vec::with_capacity(files.len());
    let mut lines = bytes.split(|b| *b == b'\n').filter(|line| !line.is_empty());
    for file in files {
        let line = lines
            .next()
            .ok_or_else(|| format!("ends before {}/{}", file.kind, file.id))?;
        let packed: PackedEntity = serde_json::from_slice(line)
            .map_err(|e| format!("holds a line that is not an entity ({e})"))?;
        if packed.kind != file.kind || packed.id != file.id {
            return Err(format!(
                "holds {}/{} where the manifest lists {}/{}",
                packed.kind, packed.id, file.kind, file.id
            ));
        }
        let sha256 = sha256_hex(&file_bytes(&packed.body));
        if sha256 != file.sha256 {
            return Err(format!(
                "holds {}/{} with sha256 {sha256}, the manifest records {}",
                file.kind, file.id, file.sha256
            ));
        }
        entities.push(Entity::new(packed.kind, packed.id, &packed.body));
    }
    match lines.next() {
        Some(_) => Err(format!(
            "holds more than the {} entities the manifest lists",
            files.len()
        )),
        None => Ok(entities),
    }
}

fn changed(bucket: &str, key: &str, problem: &str) -> TaskError {
    TaskError::Mismatch(format!(
        "stored file {} {problem}: the set changed after it was stored; nothing was applied",
        uri(bucket, key)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bundle_uris() {
        assert_eq!(
            parse_uri("s3://art/bundles/sesam/r1/before", "source.bundle").unwrap(),
            ("art".to_string(), "bundles/sesam/r1/before/".to_string())
        );
        let err = parse_uri("s3://art", "source.bundle").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid input (1 problem): source.bundle:")
        );
        assert!(parse_uri("https://x/y", "source.bundle").is_err());
    }

    fn listed(entities: &[Entity]) -> Vec<EntityFile> {
        entities
            .iter()
            .map(|e| EntityFile {
                kind: e.kind.clone(),
                id: e.id.clone(),
                key: key_of("p/", e),
                sha256: sha256_hex(&file_bytes(&e.body)),
            })
            .collect()
    }

    #[test]
    fn a_packed_set_reads_back_as_stored_and_refuses_any_edit() {
        let entities = vec![
            Entity::new(
                "system",
                "crm",
                &json!({"_id": "crm", "type": "system:rest", "n": 1.5}),
            ),
            Entity::new(
                "pipe",
                "orders",
                &json!({"_id": "orders", "source": {"system": "crm"}}),
            ),
        ];
        let files = listed(&entities);
        let packed = packed_bytes(&entities);
        assert_eq!(unpack(&packed, &files).unwrap(), entities);

        let text = String::from_utf8(packed.clone()).unwrap();
        let edited = text.replace("\"crm\"}}", "\"erp\"}}");
        assert_ne!(edited, text);
        let err = unpack(edited.as_bytes(), &files).unwrap_err();
        assert!(err.starts_with("holds pipe/orders with sha256"), "{err}");

        let swapped: String = text.lines().rev().map(|l| format!("{l}\n")).collect();
        let err = unpack(swapped.as_bytes(), &files).unwrap_err();
        assert_eq!(err, "holds pipe/orders where the manifest lists system/crm");

        let short = text.lines().next().unwrap();
        assert_eq!(
            unpack(short.as_bytes(), &files).unwrap_err(),
            "ends before pipe/orders"
        );
        let err = unpack(&packed, &files[..1]).unwrap_err();
        assert_eq!(err, "holds more than the 1 entities the manifest lists");
    }

    #[test]
    fn encodes_identities_into_safe_keys() {
        let entity = Entity::new("system", "a b/c", &json!({}));
        assert_eq!(key_of("p/", &entity), "p/system/a%20b%2Fc.json");
    }
}
