//! What every config write shares: the `force` query parameter, JSON bodies, and committing a
//! prospective catalog: with `force=false` any config error of a posted entity refuses the write
//! (400 `validation_errors`, nothing changes); with `force=true` it is applied and the entities
//! stay flagged invalid.

use std::collections::HashMap;

use serde_json::Value;

use super::catalog::Catalog;
use super::reply::{self, Fail};
use super::rules::{self, Identified};
use super::state::{Node, State};

/// The `force` query parameter: `true` or `false` (any case), false when absent.
pub(crate) fn force(query: &HashMap<String, String>) -> Result<bool, Fail> {
    match query
        .get("force")
        .map(|f| f.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(reply::bad_request(format!(
            "force must be true or false, not {other}"
        ))),
    }
}

/// A JSON request body.
pub(crate) fn json(body: &[u8]) -> Result<Value, Fail> {
    serde_json::from_slice(body).map_err(|e| reply::bad_request(format!("body is not JSON: {e}")))
}

/// Identifies the entities of one write: 400 `validation_errors` when any fails.
pub(crate) fn identified(entities: Vec<Value>) -> Result<Vec<Identified>, Fail> {
    rules::identify_all(entities).map_err(reply::invalid)
}

/// The node called `name`.
pub(crate) fn node<'a>(s: &'a mut State, name: &str) -> Result<&'a mut Node, Fail> {
    s.nodes
        .get_mut(name)
        .ok_or_else(|| reply::not_found(format!("node {name} not found")))
}

/// Replaces the node's catalog with `prospective` unless a `posted` entity breaks a config rule
/// in it and `force` is false; the reports of the broken entities.
pub(crate) fn commit(
    node: &mut Node,
    prospective: Catalog,
    posted: &[Identified],
    force: bool,
) -> Result<Vec<Value>, Fail> {
    let reports = rules::reports(&prospective, posted);
    if !force && !reports.is_empty() {
        return Err(reply::invalid(reports));
    }
    node.catalog = prospective;
    Ok(reports)
}
