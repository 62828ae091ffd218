//! Bundles in the artifact bucket: every exported file under `bundles/<platform>/<run>/` with a
//! `manifest.json` (source, time, selection, sha256 of each file).
//!
//! A bundle is the audit trail of a promotion and its rollback source. Before an import, every file is
//! read back and checked against the manifest, so a package changed after export is never imported.

use serde_json::{Value, json};

use crate::aws::objects::{get_bytes, put_bytes, uri};
use crate::checksum::sha256_hex;
use crate::connectors::{Collected, ExportedFile};
use crate::contract::{Bundle, BundleFile, PromoteRequest};
use crate::error::TaskError;

use super::report::{format_rfc3339, unix_now};

/// `bundles/<platform>/<run>/`.
pub fn prefix(request: &PromoteRequest, run_id: &str) -> String {
    format!("bundles/{}/{run_id}/", request.platform.as_str())
}

/// Writes the files and the manifest into `bucket`, owned by account `owner`; returns the bundle
/// the later steps read.
pub async fn store(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    owner: &str,
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
        put_bytes(s3, bucket, owner, &entry.key, "application/zip", file.bytes).await?;
        files.push(entry);
    }
    let bundle = Bundle {
        platform: request.platform,
        bucket: bucket.to_string(),
        manifest_key: format!("{prefix}manifest.json"),
        prefix,
        files,
        items: collected.items,
        manifest_sha256: None,
    };
    let manifest = manifest(request, run_id, &bundle);
    let body = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    put_bytes(
        s3,
        bucket,
        owner,
        &bundle.manifest_key,
        "application/json",
        body,
    )
    .await?;
    Ok(bundle)
}

/// The manifest: what was exported, from where, when, and each file's checksum. No credentials.
fn manifest(request: &PromoteRequest, run_id: &str, bundle: &Bundle) -> Value {
    let source = &request.source;
    let tenant = source.spark.as_ref();
    let selection = request.spark.as_ref();
    json!({
        "run_id": run_id,
        "platform": request.platform,
        "created_at": format_rfc3339(unix_now()),
        "source": {"name": source.name, "tenant": tenant.map(|t| &t.tenant), "base_url": tenant.map(|t| &t.base_url)},
        "selection": {
            "services": selection.map(|s| &s.services),
            "version_filter": selection.map(|s| s.version_filter),
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
        serde_json::from_slice(&get_bytes(s3, &bundle.bucket, &bundle.manifest_key).await?)
            .map_err(|e| changed(bundle, &bundle.manifest_key, &format!("is not JSON ({e})")))?;
    let mut files = Vec::with_capacity(bundle.files.len());
    for file in &bundle.files {
        let recorded = manifest["files"]
            .as_array()
            .and_then(|all| all.iter().find(|f| f["key"] == file.key.as_str()))
            .and_then(|f| f["sha256"].as_str())
            .ok_or_else(|| changed(bundle, &file.key, "is not listed in the manifest"))?;
        let bytes = get_bytes(s3, &bundle.bucket, &file.key).await?;
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
        "bundle file {} {problem}: the bundle changed after export; nothing was imported",
        uri(&bundle.bucket, key)
    ))
}
