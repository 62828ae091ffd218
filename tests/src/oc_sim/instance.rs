//! One connector instance as the simulator holds it: built from a seed, shown to the API as Open
//! Connectors prints an instance, to the control API as a view, and its OpenAPI document.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::catalog;
use super::clock;
use super::model::{InstanceSeed, InstanceView};
use super::spec;

/// An instance of one organization: the simulator holds exactly what the control API shows.
pub(crate) type Instance = InstanceView;

/// A new random instance token: 32 random bytes in base64, like the service's.
pub(crate) fn new_token() -> String {
    let bytes: Vec<u8> = std::iter::repeat_with(|| fastrand::u8(..))
        .take(32)
        .collect();
    STANDARD.encode(bytes)
}

/// A stable user id for the one user of `org`.
fn user_id(org: &str) -> i64 {
    org.bytes()
        .fold(4_000i64, |acc, b| (acc * 31 + i64::from(b)) % 1_000_000)
}

impl Instance {
    /// The instance `id` of `org` described by `seed`; refuses an empty name, a bad element key or
    /// a spec that is not a JSON object.
    pub(crate) fn build(id: i64, org: &str, seed: InstanceSeed) -> Result<Instance, String> {
        if seed.name.trim().is_empty() {
            return Err(format!("instance {id} needs a name"));
        }
        if seed.spec.as_ref().is_some_and(|s| !s.is_object()) {
            return Err(format!("the spec of instance {id} must be a JSON object"));
        }
        Ok(Instance {
            id,
            org: org.to_string(),
            name: seed.name,
            token: seed.token.unwrap_or_else(new_token),
            element: catalog::resolve(&seed.element)?,
            tags: seed.tags,
            disabled: seed.disabled,
            valid: seed.valid.unwrap_or(true),
            created_date: seed.created_date.unwrap_or_else(clock::now),
            spec: seed.spec,
            extra_paths: Map::new(),
        })
    }

    /// The instance as `GET /instances` prints it.
    pub(crate) fn json(&self) -> Value {
        let element = &self.element;
        json!({
            "id": self.id,
            "name": self.name,
            "token": self.token,
            "element": {
                "id": element.id,
                "name": element.name,
                "key": element.key,
                "image": format!("elements/provider_{}.png", element.key),
                "deleted": false,
                "typeOauth": false,
                "trialAccount": false,
                "transformationsEnabled": false,
                "bulkDownloadEnabled": false,
                "bulkUploadEnabled": false,
                "cloneable": false,
                "extendable": false,
                "beta": false,
                "extended": false
            },
            "elementId": element.id,
            "tags": self.tags,
            "valid": self.valid,
            "disabled": self.disabled,
            "maxCacheSize": 0,
            "cacheTimeToLive": 0,
            "configuration": {},
            "eventsEnabled": false,
            "traceLoggingEnabled": false,
            "cachingEnabled": false,
            "externalAuthentication": "none",
            "user": {"id": user_id(&self.org), "emailAddress": format!("admin@{}.example", self.org)},
            "createdDate": self.created_date
        })
    }

    /// The OpenAPI document, as reached through `host`.
    pub(crate) fn document(&self, host: &str) -> Value {
        match &self.spec {
            Some(spec) => spec.clone(),
            None => spec::derived(&self.element, host, &self.extra_paths),
        }
    }

    /// Adds (or replaces) one path item of the document.
    pub(crate) fn add_path(&mut self, path: &str, item: Value) {
        let Some(spec) = self.spec.as_mut().and_then(Value::as_object_mut) else {
            self.extra_paths.insert(path.to_string(), item);
            return;
        };
        let paths = spec
            .entry("paths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !paths.is_object() {
            *paths = Value::Object(Map::new());
        }
        if let Some(paths) = paths.as_object_mut() {
            paths.insert(path.to_string(), item);
        }
    }

    /// The control API's view.
    pub(crate) fn view(&self) -> InstanceView {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_base64_of_32_bytes() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(STANDARD.decode(&a).unwrap().len(), 32);
    }

    #[test]
    fn added_paths_go_into_a_replaced_document_or_the_derived_one() {
        let seed = InstanceSeed::new("crm", "sfdc");
        let mut derived = Instance::build(1, "acme", seed.clone()).unwrap();
        derived.add_path("/reports", json!({"get": {}}));
        assert!(derived.document("h").pointer("/paths/~1reports").is_some());
        assert!(derived.document("h").pointer("/paths/~1accounts").is_some());
        let mut replaced =
            Instance::build(2, "acme", seed.spec(json!({"swagger": "2.0"}))).unwrap();
        replaced.add_path("/reports", json!({"get": {}}));
        assert_eq!(
            replaced.document("h"),
            json!({"swagger": "2.0", "paths": {"/reports": {"get": {}}}})
        );
        assert!(Instance::build(3, "acme", InstanceSeed::new(" ", "sfdc")).is_err());
    }
}
