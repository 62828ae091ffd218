//! The platform API handlers: `GET /instances` (tag filter, cursor paging) and
//! `GET /instances/{id}/docs` (the instance's OpenAPI document), each for the organization the
//! gate admitted.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri, header};

use super::gate::Caller;
use super::model::TagMatch;
use super::paging;
use super::query;
use super::reply::{self, Reply};
use super::state::Store;

/// True when an instance with `tags` passes the filter `wanted` (an empty filter passes all).
fn selected(tags: &[String], wanted: &[String], mode: TagMatch) -> bool {
    let has = |tag: &String| tags.contains(tag);
    wanted.is_empty()
        || match mode {
            TagMatch::Any => wanted.iter().any(has),
            TagMatch::All => wanted.iter().all(has),
        }
}

/// `GET /instances`: one page of the caller's instances in id order, with the next page's cursor
/// in `elements-next-page-token` when more follow.
pub(crate) async fn list(
    State(store): State<Store>,
    Extension(Caller(org)): Extension<Caller>,
    uri: Uri,
) -> Reply {
    let query = query::parse(uri.query()).map_err(reply::bad_request)?;
    let after = match query.next_page.as_deref() {
        Some(token) => Some(paging::after(token).ok_or_else(|| {
            reply::bad_request(format!("nextPage {token:?} is not a valid page token"))
        })?),
        None => None,
    };
    store.with(|s| {
        let mode = s.orgs.get(&org).map(|o| o.tag_match).unwrap_or_default();
        let matching = s
            .instances
            .values()
            .filter(|i| i.org == org && selected(&i.tags, &query.tags, mode));
        let ids: Vec<i64> = matching.map(|i| i.id).collect();
        let (served, next) = paging::page(&ids, after, query.page_size);
        let body = served.iter().map(|id| s.instances[id].json()).collect();
        Ok(reply::page(body, next))
    })
}

/// The `version` a docs request asks for: absent or `-1` (the latest, the only one kept) is
/// served, another integer is not found, anything else is a bad request.
fn check_version(uri: &Uri) -> Result<(), reply::Fail> {
    let pairs = query::pairs(uri.query().unwrap_or(""));
    let Some((_, version)) = pairs.iter().find(|(k, _)| k == "version") else {
        return Ok(());
    };
    match version.parse::<i64>() {
        Ok(-1) => Ok(()),
        Ok(n) => Err(reply::not_found(format!(
            "no docs version {n}; only -1 (latest)"
        ))),
        Err(_) => Err(reply::bad_request(format!(
            "version {version:?} is not an integer"
        ))),
    }
}

/// `GET /instances/{id}/docs?version=-1`: the instance's OpenAPI document; 404 for an id the
/// caller has no instance with.
pub(crate) async fn docs(
    State(store): State<Store>,
    Extension(Caller(org)): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Reply {
    check_version(&uri)?;
    let missing = || reply::not_found(format!("No instance found with id {id}"));
    let number: i64 = id.parse().map_err(|_| missing())?;
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    store.with(|s| {
        let instance = s.instance_of(&org, number).ok_or_else(missing)?;
        Ok(reply::ok(instance.document(host)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_filters_match_any_or_all() {
        let tags = vec!["crm".to_string(), "eu".to_string()];
        let wanted = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(selected(&tags, &[], TagMatch::Any));
        assert!(selected(&tags, &wanted(&["crm", "us"]), TagMatch::Any));
        assert!(!selected(&tags, &wanted(&["crm", "us"]), TagMatch::All));
        assert!(selected(&tags, &wanted(&["eu", "crm"]), TagMatch::All));
        assert!(!selected(&tags, &wanted(&["us"]), TagMatch::Any));
    }
}
