//! Bundles in the artifact bucket: every exported file under `bundles/<platform>/<run>/` with a
//! `manifest.json` (source, time, selection, sha256 of each file).
//!
//! A bundle is the audit trail of a promotion and its rollback source. Before an import, every file is
//! read back and checked against the manifest, so a package changed after export is never imported.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::connectors::{Collected, ExportedFile};
use crate::contract::{Bundle, BundleFile, PromoteRequest};
use crate::error::TaskError;

use super::report::{format_rfc3339, unix_now};

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `bundles/<platform>/<run>/`.
pub fn prefix(request: &PromoteRequest, run_id: &str) -> String {
    format!("bundles/{}/{run_id}/", request.platform.as_str())
}

/// Writes the files and the manifest; returns the bundle the later steps read.
pub async fn store(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    request: &PromoteRequest,
    run_id: &str,
    collected: Collected,
) -> Result<Bundle, TaskError> {
    let prefix = prefix(request, run_id);
    let mut files = Vec::with_capacity(collected.files.len());
    for file in collected.files {
        let key = format!("{prefix}{}", file.name);
        let entry = BundleFile {
            sha256: sha256_hex(&file.bytes),
            size: file.bytes.len() as u64,
            name: file.name,
            key,
        };
        put(s3, bucket, &entry.key, "application/zip", file.bytes).await?;
        files.push(entry);
    }
    let bundle = Bundle {
        platform: request.platform,
        bucket: bucket.to_string(),
        manifest_key: format!("{prefix}manifest.json"),
        prefix,
        files,
        items: collected.items,
    };
    let manifest = manifest(request, run_id, &bundle);
    let body = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    put(s3, bucket, &bundle.manifest_key, "application/json", body).await?;
    Ok(bundle)
}

/// The manifest: what was exported, from where, when, and each file's checksum. No credentials.
fn manifest(request: &PromoteRequest, run_id: &str, bundle: &Bundle) -> Value {
    let source = &request.source;
    json!({
        "run_id": run_id,
        "platform": request.platform,
        "created_at": format_rfc3339(unix_now()),
        "source": {"name": source.name, "tenant": source.spark.tenant, "base_url": source.spark.base_url},
        "selection": {
            "services": request.spark.services,
            "version_filter": request.spark.version_filter,
        },
        "items": bundle.items,
        "files": bundle.files,
    })
}

/// Reads every file back and checks it against the stored manifest.
pub async fn load(
    s3: &aws_sdk_s3::Client,
    bundle: &Bundle,
) -> Result<Vec<ExportedFile>, TaskError> {
    let manifest: Value =
        serde_json::from_slice(&get(s3, &bundle.bucket, &bundle.manifest_key).await?)
            .map_err(|e| changed(bundle, &bundle.manifest_key, &format!("is not JSON ({e})")))?;
    let mut files = Vec::with_capacity(bundle.files.len());
    for file in &bundle.files {
        let recorded = manifest["files"]
            .as_array()
            .and_then(|all| all.iter().find(|f| f["key"] == file.key.as_str()))
            .and_then(|f| f["sha256"].as_str())
            .ok_or_else(|| changed(bundle, &file.key, "is not listed in the manifest"))?;
        let bytes = get(s3, &bundle.bucket, &file.key).await?;
        let actual = sha256_hex(&bytes);
        if actual != recorded || actual != file.sha256 {
            return Err(changed(
                bundle,
                &file.key,
                &format!("has sha256 {actual}, the manifest records {recorded}"),
            ));
        }
        files.push(ExportedFile {
            name: file.name.clone(),
            bytes,
        });
    }
    Ok(files)
}

fn changed(bundle: &Bundle, key: &str, problem: &str) -> TaskError {
    TaskError::Mismatch(format!(
        "bundle file s3://{}/{key} {problem}: the bundle changed after export; nothing was imported",
        bundle.bucket
    ))
}

async fn put(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Result<(), TaskError> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_type(content_type)
        .body(body.into())
        .send()
        .await
        .map_err(|e| {
            TaskError::aws(
                "PutObject",
                format!("s3://{bucket}/{key}"),
                e.into_service_error(),
            )
        })?;
    Ok(())
}

async fn get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Vec<u8>, TaskError> {
    let output = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| {
            TaskError::aws(
                "GetObject",
                format!("s3://{bucket}/{key}"),
                e.into_service_error(),
            )
        })?;
    let bytes = output.body.collect().await.map_err(|e| TaskError::Aws {
        operation: "GetObject",
        resource: format!("s3://{bucket}/{key}"),
        failure: crate::error::Failure::Retryable,
        detail: e.to_string(),
        source: Box::new(e),
    })?;
    Ok(bytes.into_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
