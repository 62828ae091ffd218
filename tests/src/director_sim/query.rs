//! The `Query` root: `applications(filter, first, after)` pages the tenant's applications in
//! name order, keeping those every label filter accepts; `application(id)` is the tenant's
//! application or null. Both need the `application:read` scope.

use async_graphql::dynamic::ResolverContext;
use async_graphql::{Error, Result};
use serde_json::{Map, Value};

use super::call::{self, READ};
use super::{filter, page};

/// `applications(filter: [LabelFilter!], first: Int, after: PageCursor): ApplicationPage!`
pub(crate) fn applications(ctx: &ResolverContext<'_>, args: &Map<String, Value>) -> Result<Value> {
    let (store, tenant) = call::authorize(ctx, READ)?;
    let filters = filter::parse(args.get("filter")).map_err(Error::new)?;
    let no_labels = Map::new();
    store.with(|s| {
        let apps = s.tenant(&tenant).map_err(Error::new)?.apps();
        let accepted = |app: &&Value| {
            let labels = app["labels"].as_object().unwrap_or(&no_labels);
            filters.iter().all(|f| f.matches(labels))
        };
        let matching: Vec<Value> = apps.iter().filter(accepted).cloned().collect();
        page::page(&matching, args.get("first"), args.get("after")).map_err(Error::new)
    })
}

/// `application(id: ID!): Application`
pub(crate) fn application(ctx: &ResolverContext<'_>, args: &Map<String, Value>) -> Result<Value> {
    let (store, tenant) = call::authorize(ctx, READ)?;
    let id = call::required(args, "id")?;
    store.with(|s| {
        let app = s.tenant(&tenant).map_err(Error::new)?.app(id);
        Ok(app.cloned().unwrap_or(Value::Null))
    })
}
