//! The `Mutation` root. Each mutation needs the `application:write` scope, acts on the request's
//! tenant only, validates its input first and changes the store under one lock, so a refused
//! mutation changes nothing. Unknown ids are errors; deletions return what they removed.

use async_graphql::dynamic::ResolverContext;
use async_graphql::{Error, Result};
use serde_json::{Map, Value, json};

use super::call::{self, WRITE};
use super::state::State;
use super::tenant::{Tenant, not_found};
use super::{build, clock, validate};

/// Runs `change` on the request's tenant with its arguments, after the scope check.
fn on_tenant(
    ctx: &ResolverContext<'_>,
    args: &Map<String, Value>,
    change: impl FnOnce(&mut Tenant, &Map<String, Value>) -> std::result::Result<Value, String>,
) -> Result<Value> {
    let (store, tenant) = call::authorize(ctx, WRITE)?;
    let run = |s: &mut State| change(s.tenant_mut(&tenant)?, args);
    store.with(run).map_err(Error::new)
}

fn arg<'a>(args: &'a Map<String, Value>, name: &str) -> std::result::Result<&'a str, String> {
    call::text(args, name).ok_or_else(|| format!("argument {name} is required"))
}

fn input(args: &Map<String, Value>) -> &Value {
    args.get("in").unwrap_or(&Value::Null)
}

/// Only synchronous operations: the simulator has no webhooks to run asynchronous ones.
fn sync_mode(args: &Map<String, Value>) -> std::result::Result<(), String> {
    match call::text(args, "mode") {
        None | Some("SYNC") => Ok(()),
        Some(mode) => Err(format!(
            "operation mode {mode} needs webhooks the simulator does not run"
        )),
    }
}

/// `registerApplication(in: ApplicationRegisterInput!, mode: OperationMode): Application!`
pub(crate) fn register_application(
    ctx: &ResolverContext<'_>,
    args: &Map<String, Value>,
) -> Result<Value> {
    on_tenant(ctx, args, |tenant, args| {
        sync_mode(args)?;
        tenant.register(input(args), None)
    })
}

/// `updateApplication(id: ID!, in: ApplicationUpdateInput!): Application!`
pub(crate) fn update_application(
    ctx: &ResolverContext<'_>,
    args: &Map<String, Value>,
) -> Result<Value> {
    on_tenant(ctx, args, |tenant, args| {
        validate::application_update(input(args))?;
        let app = tenant.app_mut(arg(args, "id")?)?;
        build::update_application(app, input(args), &clock::now());
        Ok(app.clone())
    })
}

/// `unregisterApplication(id: ID!, mode: OperationMode): Application!`
pub(crate) fn unregister_application(
    ctx: &ResolverContext<'_>,
    args: &Map<String, Value>,
) -> Result<Value> {
    on_tenant(ctx, args, |tenant, args| {
        sync_mode(args)?;
        tenant.remove_app(arg(args, "id")?)
    })
}

/// `setApplicationLabel(applicationID: ID!, key: String!, value: Any!): Label!`
pub(crate) fn set_application_label(
    ctx: &ResolverContext<'_>,
    args: &Map<String, Value>,
) -> Result<Value> {
    on_tenant(ctx, args, |tenant, args| {
        let key = arg(args, "key")?;
        validate::label_key(key)?;
        let value = args.get("value").cloned().unwrap_or(Value::Null);
        let app = tenant.app_mut(arg(args, "applicationID")?)?;
        labels_mut(app).insert(key.to_string(), value.clone());
        Ok(json!({"key": key, "value": value}))
    })
}

/// `deleteApplicationLabel(applicationID: ID!, key: String!): Label!`
pub(crate) fn delete_application_label(
    ctx: &ResolverContext<'_>,
    args: &Map<String, Value>,
) -> Result<Value> {
    on_tenant(ctx, args, |tenant, args| {
        let (app_id, key) = (arg(args, "applicationID")?, arg(args, "key")?);
        let app = tenant.app_mut(app_id)?;
        let removed = labels_mut(app).remove(key);
        let value = removed.ok_or_else(|| not_found("label", &format!("{app_id}/{key}")))?;
        Ok(json!({"key": key, "value": value}))
    })
}

fn labels_mut(app: &mut Value) -> &mut Map<String, Value> {
    if !app["labels"].is_object() {
        app["labels"] = json!({});
    }
    app["labels"].as_object_mut().expect("just made an object")
}

/// `addBundle(applicationID: ID!, in: BundleCreateInput!): Bundle!`
pub(crate) fn add_bundle(ctx: &ResolverContext<'_>, args: &Map<String, Value>) -> Result<Value> {
    on_tenant(ctx, args, |tenant, args| {
        validate::bundle_create(input(args))?;
        let bundles = tenant.bundles_mut(arg(args, "applicationID")?)?;
        let bundle = build::bundle(input(args), &clock::now());
        bundles.push(bundle.clone());
        Ok(bundle)
    })
}

/// `updateBundle(id: ID!, in: BundleUpdateInput!): Bundle!`
pub(crate) fn update_bundle(ctx: &ResolverContext<'_>, args: &Map<String, Value>) -> Result<Value> {
    on_tenant(ctx, args, |tenant, args| {
        validate::bundle_update(input(args))?;
        let bundle = tenant.bundle_mut(arg(args, "id")?)?;
        build::update_bundle(bundle, input(args), &clock::now());
        Ok(bundle.clone())
    })
}

/// `deleteBundle(id: ID!): Bundle!`
pub(crate) fn delete_bundle(ctx: &ResolverContext<'_>, args: &Map<String, Value>) -> Result<Value> {
    on_tenant(ctx, args, |tenant, args| {
        tenant.remove_bundle(arg(args, "id")?)
    })
}

/// `addAPIDefinitionToBundle(bundleID: ID!, in: APIDefinitionInput!): APIDefinition!`
pub(crate) fn add_api_definition_to_bundle(
    ctx: &ResolverContext<'_>,
    args: &Map<String, Value>,
) -> Result<Value> {
    on_tenant(ctx, args, |tenant, args| {
        validate::api_definition(input(args))?;
        let apis = tenant.apis_mut(arg(args, "bundleID")?)?;
        let api = build::api_definition(input(args), &clock::now());
        apis.push(api.clone());
        Ok(api)
    })
}

/// `updateAPIDefinition(id: ID!, in: APIDefinitionInput!): APIDefinition!`
pub(crate) fn update_api_definition(
    ctx: &ResolverContext<'_>,
    args: &Map<String, Value>,
) -> Result<Value> {
    on_tenant(ctx, args, |tenant, args| {
        validate::api_definition(input(args))?;
        let api = tenant.api_mut(arg(args, "id")?)?;
        build::update_api_definition(api, input(args), &clock::now());
        Ok(api.clone())
    })
}

/// `deleteAPIDefinition(id: ID!): APIDefinition!`
pub(crate) fn delete_api_definition(
    ctx: &ResolverContext<'_>,
    args: &Map<String, Value>,
) -> Result<Value> {
    on_tenant(ctx, args, |tenant, args| {
        tenant.remove_api(arg(args, "id")?)
    })
}
