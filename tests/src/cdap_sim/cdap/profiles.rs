//! Compute profiles, system scope (`/v3/profiles`) and user scope
//! (`/v3/namespaces/{ns}/profiles`, `?includeSystem=true` adds the system ones): list, `GET`,
//! `PUT` (creates, or updates keeping the status), `DELETE` (409 while enabled),
//! `POST .../enable|disable` (409 when already so) and `GET .../status`.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::clock;
use super::super::instance::Instance;
use super::super::model::ProfileStatus;
use super::super::profile::Profile;
use super::super::reply::{self, Fail, Reply};
use super::super::state::Store;
use super::{Params, no_namespace, with_instance};

/// `?includeSystem=true`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListQuery {
    include_system: Option<bool>,
}

fn scope_name(p: &Params) -> &'static str {
    if p.ns.is_some() { "USER" } else { "SYSTEM" }
}

/// The profiles of the scope the path names.
fn profiles<'a>(
    i: &'a mut Instance,
    p: &Params,
) -> Result<&'a mut BTreeMap<String, Profile>, Fail> {
    i.profiles_mut(p.ns.as_deref())
        .map_err(|_| no_namespace(p.ns()))
}

fn missing(p: &Params) -> Fail {
    reply::not_found(format!("Profile '{}' was not found.", p.profile()))
}

fn profile<'a>(i: &'a mut Instance, p: &Params) -> Result<&'a mut Profile, Fail> {
    profiles(i, p)?
        .get_mut(p.profile())
        .ok_or_else(|| missing(p))
}

/// `GET .../profiles[?includeSystem=true]`.
pub(crate) async fn list(
    State(store): State<Store>,
    Path(p): Path<Params>,
    Query(q): Query<ListQuery>,
) -> Reply {
    let scope = scope_name(&p);
    with_instance(&store, &p.inst, |i| {
        let mut all: Vec<Value> = profiles(i, &p)?
            .iter()
            .map(|(n, pr)| pr.json(n, scope))
            .collect();
        if p.ns.is_some() && q.include_system == Some(true) {
            all.extend(i.system_profiles.iter().map(|(n, pr)| pr.json(n, "SYSTEM")));
        }
        Ok(reply::ok(Value::Array(all)))
    })
}

/// `GET .../profiles/{profile}`.
pub(crate) async fn get(State(store): State<Store>, Path(p): Path<Params>) -> Reply {
    with_instance(&store, &p.inst, |i| {
        Ok(reply::ok(profile(i, &p)?.json(p.profile(), scope_name(&p))))
    })
}

/// `PUT .../profiles/{profile}`: creates it enabled, or updates it keeping its status.
pub(crate) async fn put(State(store): State<Store>, Path(p): Path<Params>, body: Bytes) -> Reply {
    let mut new =
        Profile::from_body(p.profile(), &body, clock::now()).map_err(reply::bad_request)?;
    with_instance(&store, &p.inst, |i| {
        let all = profiles(i, &p)?;
        if let Some(old) = all.get(p.profile()) {
            new.status = old.status;
            new.created = old.created;
        }
        all.insert(p.profile().to_string(), new);
        Ok(reply::empty())
    })
}

/// `DELETE .../profiles/{profile}`: only a disabled one.
pub(crate) async fn delete(State(store): State<Store>, Path(p): Path<Params>) -> Reply {
    with_instance(&store, &p.inst, |i| {
        if profile(i, &p)?.status == ProfileStatus::Enabled {
            let text = format!(
                "Profile '{}' is currently enabled: it must be disabled before deletion.",
                p.profile()
            );
            return Err(reply::conflict(text));
        }
        profiles(i, &p)?.remove(p.profile());
        Ok(reply::empty())
    })
}

fn set_status(store: &Store, p: &Params, status: ProfileStatus) -> Reply {
    with_instance(store, &p.inst, |i| {
        let profile = profile(i, p)?;
        if profile.status == status {
            let text = format!(
                "Profile '{}' is already {}.",
                p.profile(),
                json!(status).as_str().unwrap_or_default()
            );
            return Err(reply::conflict(text));
        }
        profile.status = status;
        Ok(reply::empty())
    })
}

/// `POST .../profiles/{profile}/enable`.
pub(crate) async fn enable(State(store): State<Store>, Path(p): Path<Params>) -> Reply {
    set_status(&store, &p, ProfileStatus::Enabled)
}

/// `POST .../profiles/{profile}/disable`.
pub(crate) async fn disable(State(store): State<Store>, Path(p): Path<Params>) -> Reply {
    set_status(&store, &p, ProfileStatus::Disabled)
}

/// `GET .../profiles/{profile}/status`: `"ENABLED"` or `"DISABLED"`.
pub(crate) async fn status(State(store): State<Store>, Path(p): Path<Params>) -> Reply {
    with_instance(&store, &p.inst, |i| {
        Ok(reply::ok(json!(profile(i, &p)?.status)))
    })
}
