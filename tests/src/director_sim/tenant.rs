//! One tenant's applications, kept in name order (the order `applications` pages in), and how
//! its applications, bundles and API definitions are found by id. Errors name what was missing.

use serde_json::Value;

use super::{build, clock, validate};

/// The applications of one tenant, sorted by name (names are unique within a tenant).
#[derive(Clone, Debug, Default)]
pub(crate) struct Tenant {
    apps: Vec<Value>,
}

fn name(app: &Value) -> &str {
    app["name"].as_str().unwrap_or_default()
}

fn id(item: &Value) -> &str {
    item["id"].as_str().unwrap_or_default()
}

/// The list under `key` of a stored object (bundles of an application, APIs of a bundle).
fn children<'a>(parent: &'a Value, key: &str) -> &'a [Value] {
    parent[key]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn children_mut<'a>(parent: &'a mut Value, key: &str) -> &'a mut Vec<Value> {
    if !parent[key].is_array() {
        parent[key] = Value::Array(Vec::new());
    }
    parent[key].as_array_mut().expect("just made an array")
}

/// `Object not found` for a `kind` with `id`.
pub(crate) fn not_found(kind: &str, id: &str) -> String {
    format!("Object not found [object={kind}; id={id}]")
}

impl Tenant {
    /// Every application, in name order.
    pub fn apps(&self) -> &[Value] {
        &self.apps
    }

    /// Validates an `ApplicationRegisterInput`, refuses a name the tenant already has, and
    /// stores the application with its inline bundles (`id` when given, else a new UUID).
    pub fn register(&mut self, input: &Value, id: Option<String>) -> Result<Value, String> {
        validate::application_register(input)?;
        let wanted = input["name"].as_str().unwrap_or_default();
        let at = self.apps.binary_search_by(|app| name(app).cmp(wanted));
        let Err(at) = at else {
            return Err(format!(
                "Object not unique [object=application; name={wanted}]"
            ));
        };
        if let Some(id) = id.as_deref().filter(|id| self.app(id).is_some()) {
            return Err(format!("Object not unique [object=application; id={id}]"));
        }
        let id = id.unwrap_or_else(clock::uuid);
        let app = build::application(input, id, &clock::now());
        self.apps.insert(at, app.clone());
        Ok(app)
    }

    /// The application `app_id`, if present.
    pub fn app(&self, app_id: &str) -> Option<&Value> {
        self.apps.iter().find(|app| id(app) == app_id)
    }

    /// The application `app_id`, to change it.
    pub fn app_mut(&mut self, app_id: &str) -> Result<&mut Value, String> {
        let found = self.apps.iter_mut().find(|app| id(app) == app_id);
        found.ok_or_else(|| not_found("application", app_id))
    }

    /// Removes the application `app_id` with its bundles; returns it.
    pub fn remove_app(&mut self, app_id: &str) -> Result<Value, String> {
        let at = self.apps.iter().position(|app| id(app) == app_id);
        let at = at.ok_or_else(|| not_found("application", app_id))?;
        Ok(self.apps.remove(at))
    }

    /// Where the bundle `bundle_id` is: (application, bundle) positions.
    fn bundle_at(&self, bundle_id: &str) -> Result<(usize, usize), String> {
        self.apps
            .iter()
            .enumerate()
            .find_map(|(a, app)| {
                let bundles = children(app, "bundles");
                bundles
                    .iter()
                    .position(|b| id(b) == bundle_id)
                    .map(|b| (a, b))
            })
            .ok_or_else(|| not_found("bundle", bundle_id))
    }

    /// The bundles of the application `app_id`, to add one.
    pub fn bundles_mut(&mut self, app_id: &str) -> Result<&mut Vec<Value>, String> {
        Ok(children_mut(self.app_mut(app_id)?, "bundles"))
    }

    /// The bundle `bundle_id`, to change it.
    pub fn bundle_mut(&mut self, bundle_id: &str) -> Result<&mut Value, String> {
        let (a, b) = self.bundle_at(bundle_id)?;
        Ok(&mut children_mut(&mut self.apps[a], "bundles")[b])
    }

    /// Removes the bundle `bundle_id` with its API definitions; returns it.
    pub fn remove_bundle(&mut self, bundle_id: &str) -> Result<Value, String> {
        let (a, b) = self.bundle_at(bundle_id)?;
        Ok(children_mut(&mut self.apps[a], "bundles").remove(b))
    }

    /// The API definitions of the bundle `bundle_id`, to add one.
    pub fn apis_mut(&mut self, bundle_id: &str) -> Result<&mut Vec<Value>, String> {
        Ok(children_mut(self.bundle_mut(bundle_id)?, "apiDefinitions"))
    }

    /// Where the API definition `api_id` is: (application, bundle, API) positions.
    fn api_at(&self, api_id: &str) -> Result<(usize, usize, usize), String> {
        let mut found = None;
        for (a, app) in self.apps.iter().enumerate() {
            for (b, bundle) in children(app, "bundles").iter().enumerate() {
                let apis = children(bundle, "apiDefinitions");
                if let Some(i) = apis.iter().position(|api| id(api) == api_id) {
                    found = Some((a, b, i));
                }
            }
        }
        found.ok_or_else(|| not_found("apiDefinition", api_id))
    }

    /// The API definition `api_id`, to change it.
    pub fn api_mut(&mut self, api_id: &str) -> Result<&mut Value, String> {
        let (a, b, i) = self.api_at(api_id)?;
        let bundle = &mut children_mut(&mut self.apps[a], "bundles")[b];
        Ok(&mut children_mut(bundle, "apiDefinitions")[i])
    }

    /// Removes the API definition `api_id`; returns it.
    pub fn remove_api(&mut self, api_id: &str) -> Result<Value, String> {
        let (a, b, i) = self.api_at(api_id)?;
        let bundle = &mut children_mut(&mut self.apps[a], "bundles")[b];
        Ok(children_mut(bundle, "apiDefinitions").remove(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with_bundle(name: &str) -> Value {
        json!({"name": name, "bundles": [{"name": "b", "apiDefinitions": [
            {"name": "api", "targetURL": "https://x", "spec": {"type": "OPEN_API", "format": "JSON", "data": "{}"}}
        ]}]})
    }

    #[test]
    fn applications_stay_in_name_order_and_names_stay_unique() {
        let mut tenant = Tenant::default();
        for name in ["m", "c", "x", "a"] {
            tenant.register(&json!({"name": name}), None).unwrap();
        }
        let names: Vec<&str> = tenant.apps().iter().map(name).collect();
        assert_eq!(names, ["a", "c", "m", "x"]);
        let again = tenant.register(&json!({"name": "c"}), None).unwrap_err();
        assert!(again.contains("not unique"), "{again}");
        assert_eq!(tenant.apps().len(), 4);
    }

    #[test]
    fn bundles_and_apis_are_found_by_id_across_applications() {
        let mut tenant = Tenant::default();
        tenant.register(&with_bundle("one"), None).unwrap();
        let two = tenant.register(&with_bundle("two"), None).unwrap();
        let bundle_id = two["bundles"][0]["id"].as_str().unwrap();
        let api_id = two["bundles"][0]["apiDefinitions"][0]["id"]
            .as_str()
            .unwrap();
        assert_eq!(tenant.api_mut(api_id).unwrap()["name"], "api");
        let removed = tenant.remove_bundle(bundle_id).unwrap();
        assert_eq!(removed["apiDefinitions"].as_array().unwrap().len(), 1);
        let gone = tenant.api_mut(api_id).unwrap_err();
        assert_eq!(gone, not_found("apiDefinition", api_id));
        assert_eq!(
            tenant.app(two["id"].as_str().unwrap()).unwrap()["bundles"],
            json!([])
        );
    }
}
