//! The zip form of a node's config: `node-metadata.conf.json`, `pipes/<id>.conf.json` and
//! `systems/<id>.conf.json`, one entity per file, printed the node's way. Uploads are read back
//! by content: every `*.json` file anywhere in the zip holds one entity or an array of entities,
//! classified by `type` rather than by folder; other files are ignored. Entries must be stored
//! uncompressed (the simulator reads no deflate).

use std::io::{Cursor, Read, Write};

use serde_json::Value;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::catalog::Catalog;
use super::model::EntityKind;
use super::render::pretty;

/// The zip of every entity of `catalog`.
pub(crate) fn build(catalog: &Catalog) -> Vec<u8> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (kind, id, entity) in catalog.entries() {
        add(&mut zip, &entry_name(kind, id), pretty(entity).as_bytes());
    }
    zip.finish()
        .expect("an in-memory zip finishes")
        .into_inner()
}

fn entry_name(kind: EntityKind, id: &str) -> String {
    match kind {
        EntityKind::Metadata => "node-metadata.conf.json".to_string(),
        EntityKind::System => format!("systems/{id}.conf.json"),
        EntityKind::Pipe => format!("pipes/{id}.conf.json"),
    }
}

fn add(zip: &mut ZipWriter<Cursor<Vec<u8>>>, name: &str, body: &[u8]) {
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    zip.start_file(name, options).expect("a zip entry starts");
    zip.write_all(body).expect("an in-memory write");
}

/// Every entity in the `*.json` files of `bytes`, in entry order, or why it is not such a zip.
pub(crate) fn read(bytes: &[u8]) -> Result<Vec<Value>, String> {
    let mut archive =
        ZipArchive::new(Cursor::new(bytes)).map_err(|e| format!("not a readable zip: {e}"))?;
    let mut entities = Vec::new();
    for index in 0..archive.len() {
        let mut file = archive
            .by_index(index)
            .map_err(|e| format!("zip entry {index} is unreadable: {e}"))?;
        let name = file
            .name()
            .map_err(|e| format!("zip entry {index} has no readable name: {e}"))?
            .to_string();
        if file.is_dir() || !name.ends_with(".json") {
            continue;
        }
        let mut text = String::new();
        file.read_to_string(&mut text)
            .map_err(|e| format!("{name} is unreadable: {e}"))?;
        let value: Value =
            serde_json::from_str(&text).map_err(|e| format!("{name} is not JSON: {e}"))?;
        match value {
            Value::Array(items) => entities.extend(items),
            entity => entities.push(entity),
        }
    }
    Ok(entities)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_built_zip_reads_back_in_listing_order() {
        let mut catalog = Catalog::default();
        let pipe = json!({"_id": "p", "type": "pipe"});
        let system = json!({"_id": "s", "type": "system:url", "url_pattern": "http://x/%s"});
        let metadata = json!({"_id": "node", "type": "metadata"});
        catalog.put(EntityKind::Pipe, "p", pipe.clone());
        catalog.put(EntityKind::System, "s", system.clone());
        catalog.put(EntityKind::Metadata, "node", metadata.clone());
        let zip = build(&catalog);
        assert_eq!(read(&zip).unwrap(), vec![metadata, system, pipe]);
        let names: Vec<String> = ZipArchive::new(Cursor::new(zip))
            .unwrap()
            .file_names()
            .map(|name| name.unwrap().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "node-metadata.conf.json",
                "systems/s.conf.json",
                "pipes/p.conf.json"
            ]
        );
        assert!(read(b"nope").unwrap_err().contains("not a readable zip"));
    }
}
