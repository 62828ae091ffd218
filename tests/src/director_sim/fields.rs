//! Resolvers that need more than the parent's member of the same name: the root fields, and the
//! object fields with arguments (`Application.labels(key)`, `Application.bundles(first, after)`,
//! `Application.bundle(id)`, `Application.apiDefinition(id)`, `Bundle.apiDefinitions(group,
//! first, after)`, `Bundle.apiDefinition(id)`). [`custom`] is the table the schema builder
//! consults for every field.

use async_graphql::dynamic::ResolverContext;
use async_graphql::{Error, Result};
use serde_json::{Map, Value};

use super::call;
use super::{mutation, page, query};

/// A resolver computing a field's value as JSON (null for none) from its context and its
/// arguments (coerced by their declared types).
pub(crate) type Resolver = fn(&ResolverContext<'_>, &Map<String, Value>) -> Result<Value>;

/// The resolver of `owner.field`, when it is not the parent's member of that name.
pub(crate) fn custom(owner: &str, field: &str) -> Option<Resolver> {
    let resolver: Resolver = match (owner, field) {
        ("Query", "applications") => query::applications,
        ("Query", "application") => query::application,
        ("Mutation", "registerApplication") => mutation::register_application,
        ("Mutation", "updateApplication") => mutation::update_application,
        ("Mutation", "unregisterApplication") => mutation::unregister_application,
        ("Mutation", "setApplicationLabel") => mutation::set_application_label,
        ("Mutation", "deleteApplicationLabel") => mutation::delete_application_label,
        ("Mutation", "addBundle") => mutation::add_bundle,
        ("Mutation", "updateBundle") => mutation::update_bundle,
        ("Mutation", "deleteBundle") => mutation::delete_bundle,
        ("Mutation", "addAPIDefinitionToBundle") => mutation::add_api_definition_to_bundle,
        ("Mutation", "updateAPIDefinition") => mutation::update_api_definition,
        ("Mutation", "deleteAPIDefinition") => mutation::delete_api_definition,
        ("Application", "labels") => application_labels,
        ("Application", "bundles") => application_bundles,
        ("Application", "bundle") => application_bundle,
        ("Application", "apiDefinition") => application_api_definition,
        ("Bundle", "apiDefinitions") => bundle_api_definitions,
        ("Bundle", "apiDefinition") => bundle_api_definition,
        _ => return None,
    };
    Some(resolver)
}

fn list<'a>(parent: &'a Value, key: &str) -> &'a [Value] {
    parent[key]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn by_id<'a>(items: impl IntoIterator<Item = &'a Value>, id: &str) -> Value {
    let found = items.into_iter().find(|item| item["id"] == id);
    found.cloned().unwrap_or(Value::Null)
}

fn paged(items: &[Value], args: &Map<String, Value>) -> Result<Value> {
    page::page(items, args.get("first"), args.get("after")).map_err(Error::new)
}

/// `labels(key: String): Labels`: every label, or only `key`'s.
fn application_labels(ctx: &ResolverContext<'_>, args: &Map<String, Value>) -> Result<Value> {
    let labels = &call::parent(ctx)?["labels"];
    let Some(key) = call::text(args, "key") else {
        return Ok(labels.clone());
    };
    let mut only = Map::new();
    if let Some(value) = labels.get(key) {
        only.insert(key.to_string(), value.clone());
    }
    Ok(Value::Object(only))
}

/// `bundles(first: Int = 200, after: PageCursor): BundlePage`
fn application_bundles(ctx: &ResolverContext<'_>, args: &Map<String, Value>) -> Result<Value> {
    paged(list(call::parent(ctx)?, "bundles"), args)
}

/// `bundle(id: ID!): Bundle`
fn application_bundle(ctx: &ResolverContext<'_>, args: &Map<String, Value>) -> Result<Value> {
    let bundles = list(call::parent(ctx)?, "bundles");
    Ok(by_id(bundles, call::required(args, "id")?))
}

/// `apiDefinition(id: ID!): APIDefinition`, in any of the application's bundles.
fn application_api_definition(
    ctx: &ResolverContext<'_>,
    args: &Map<String, Value>,
) -> Result<Value> {
    let bundles = list(call::parent(ctx)?, "bundles");
    let apis = bundles.iter().flat_map(|b| list(b, "apiDefinitions"));
    Ok(by_id(apis, call::required(args, "id")?))
}

/// `apiDefinitions(group: String, first: Int = 200, after: PageCursor): APIDefinitionPage`
fn bundle_api_definitions(ctx: &ResolverContext<'_>, args: &Map<String, Value>) -> Result<Value> {
    let apis = list(call::parent(ctx)?, "apiDefinitions");
    let Some(group) = call::text(args, "group") else {
        return paged(apis, args);
    };
    let in_group: Vec<Value> = apis
        .iter()
        .filter(|a| a["group"] == group)
        .cloned()
        .collect();
    paged(&in_group, args)
}

/// `apiDefinition(id: ID!): APIDefinition`
fn bundle_api_definition(ctx: &ResolverContext<'_>, args: &Map<String, Value>) -> Result<Value> {
    let apis = list(call::parent(ctx)?, "apiDefinitions");
    Ok(by_id(apis, call::required(args, "id")?))
}
