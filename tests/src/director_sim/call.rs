//! What every resolver reads from its context: the caller of the request (its tenant header and
//! the scopes of its token), the store, the parent object and the arguments as JSON; and the
//! scope check the Director makes on each root field (`application:read` for queries,
//! `application:write` for mutations).

use async_graphql::dynamic::ResolverContext;
use async_graphql::{Error, Result};
use serde_json::{Map, Value};

use super::state::Store;

/// Who sent a `/graphql` request: the `tenant` header and the scopes its token grants.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    pub tenant: Option<String>,
    pub scopes: Vec<String>,
}

/// The scope queries need.
pub(crate) const READ: &str = "application:read";
/// The scope mutations need.
pub(crate) const WRITE: &str = "application:write";

/// The store and tenant of a root field's request, once its token holds `scope` and it named a
/// tenant (whether the tenant exists is checked under the store's lock).
pub(crate) fn authorize<'a>(ctx: &ResolverContext<'a>, scope: &str) -> Result<(&'a Store, String)> {
    let caller = ctx.data::<Caller>()?;
    if !caller.scopes.iter().any(|s| s == scope) {
        return Err(Error::new(format!(
            "insufficient scopes provided, required: [{scope}], actual: [{}]",
            caller.scopes.join(" ")
        )));
    }
    let tenant = caller.tenant.clone();
    let tenant = tenant.ok_or_else(|| Error::new("the tenant header is required"))?;
    Ok((ctx.data::<Store>()?, tenant))
}

/// The stored object a field belongs to.
pub(crate) fn parent<'a>(ctx: &ResolverContext<'a>) -> Result<&'a Value> {
    ctx.parent_value.try_downcast_ref::<Value>()
}

/// The field's arguments (defaults included) as JSON; enum values become strings.
pub(crate) fn args(ctx: &ResolverContext<'_>) -> Result<Map<String, Value>> {
    let mut args = Map::new();
    for (name, value) in ctx.args.as_index_map() {
        let json = value.clone().into_json()?;
        args.insert(name.to_string(), json);
    }
    Ok(args)
}

/// A string argument (`None` when absent or null).
pub(crate) fn text<'a>(args: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    args.get(name).and_then(Value::as_str)
}

/// A required string argument (GraphQL validation has already made sure it is there).
pub(crate) fn required<'a>(args: &'a Map<String, Value>, name: &str) -> Result<&'a str> {
    text(args, name).ok_or_else(|| Error::new(format!("argument {name} is required")))
}
