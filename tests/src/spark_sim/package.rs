//! Export packages: a real zip holding `export.json` (the manifest the import reads back) and, per
//! exported version, `{folder}/{service}/{version}/service.json` and `.../neuron.wasm`.

use std::io::{Cursor, Read, Write};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::model::{ServiceView, VersionView};
use super::state::rfc3339;

/// The package's `export.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub tenant: String,
    pub created: String,
    pub services: Vec<ServiceView>,
}

impl Manifest {
    /// The service exported as `folder/service`.
    pub fn service(&self, uri: &str) -> Option<&ServiceView> {
        self.services
            .iter()
            .find(|s| format!("{}/{}", s.folder, s.service) == uri)
    }
}

/// The zip of `services` exported from `tenant`.
pub(crate) fn build(tenant: &str, services: &[ServiceView]) -> Vec<u8> {
    let manifest = Manifest {
        tenant: tenant.to_string(),
        created: rfc3339(SystemTime::now()),
        services: services.to_vec(),
    };
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let body = serde_json::to_vec_pretty(&manifest).expect("a manifest serialises");
    add(&mut zip, "export.json", &body);
    for service in services {
        for version in &service.versions {
            add_version(&mut zip, tenant, service, version);
        }
    }
    zip.finish()
        .expect("an in-memory zip finishes")
        .into_inner()
}

fn add_version(
    zip: &mut ZipWriter<Cursor<Vec<u8>>>,
    tenant: &str,
    service: &ServiceView,
    version: &VersionView,
) {
    let dir = entry_dir(service, version);
    let meta = json!({
        "tenant": tenant,
        "folder": service.folder,
        "service": service.service,
        "service_id": service.service_id,
        "version": version.version,
        "version_id": version.version_id,
    });
    let body = serde_json::to_vec_pretty(&meta).expect("metadata serialises");
    add(zip, &format!("{dir}/service.json"), &body);
    add(zip, &format!("{dir}/neuron.wasm"), &neuron(version));
}

fn entry_dir(service: &ServiceView, version: &VersionView) -> String {
    format!("{}/{}/{}", service.folder, service.service, version.version)
}

/// A wasm header followed by a few bytes derived from the version id.
fn neuron(version: &VersionView) -> Vec<u8> {
    let mut bytes = b"\0asm\x01\0\0\0".to_vec();
    bytes.extend_from_slice(&Sha256::digest(version.version_id.as_bytes())[..8]);
    bytes
}

fn add(zip: &mut ZipWriter<Cursor<Vec<u8>>>, name: &str, body: &[u8]) {
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    zip.start_file(name, options).expect("a zip entry starts");
    zip.write_all(body).expect("an in-memory write");
}

/// Reads back the manifest of a package this simulator exported, or says why `bytes` is not one.
pub(crate) fn read(bytes: &[u8]) -> Result<Manifest, String> {
    let mut archive = ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| format!("file is not a readable zip: {e}"))?;
    let mut text = String::new();
    archive
        .by_name("export.json")
        .map_err(|_| "file is not an export package: export.json is missing".to_string())?
        .read_to_string(&mut text)
        .map_err(|e| format!("file: export.json is unreadable: {e}"))?;
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| format!("file: export.json is not a package manifest: {e}"))?;
    for service in &manifest.services {
        for version in &service.versions {
            let entry = format!("{}/service.json", entry_dir(service, version));
            if archive.index_for_name(&entry).is_none() {
                return Err(format!("file is not an export package: {entry} is missing"));
            }
        }
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quote() -> ServiceView {
        ServiceView {
            folder: "pricing".into(),
            service: "quote".into(),
            service_id: "s-1".into(),
            versions: vec![VersionView {
                version: "1.0.0".into(),
                version_id: "v-1".into(),
            }],
        }
    }

    #[test]
    fn a_built_package_reads_back() {
        let zip = build("acme", &[quote()]);
        let manifest = read(&zip).unwrap();
        assert_eq!(manifest.tenant, "acme");
        assert_eq!(manifest.services, vec![quote()]);
        assert_eq!(shared::checksum::sha256_hex(&zip).len(), 64);
    }

    #[test]
    fn other_bytes_are_refused() {
        assert!(
            read(b"not a zip")
                .unwrap_err()
                .contains("not a readable zip")
        );
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        add(&mut zip, "readme.txt", b"hi");
        let bytes = zip.finish().unwrap().into_inner();
        assert!(read(&bytes).unwrap_err().contains("export.json is missing"));
    }
}
