//! Starting and reading pipeline runs: `POST .../apps/{app}/workflows/DataPipelineWorkflow/start`
//! (optional runtime-args body; 200 with an empty body), the batch `POST
//! /v3/namespaces/{ns}/start` (a status and run id per item), `GET .../runs[?status=&limit=]`
//! (newest first) and `GET .../runs/{run}`. A run's arguments are the resolved preferences
//! overlaid with the runtime args; its profile (`system.profile.name`) must exist and be
//! enabled. Every read of a run moves it on (see [`super::super::run`]).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::app::{WORKFLOW, uuid};
use super::super::instance::Instance;
use super::super::reply::{self, Fail, Reply};
use super::super::run::{Run, RunProfile};
use super::super::state::Store;
use super::{Params, app, namespace, with_instance};

/// Why a start was refused: the status and message.
type Refused = (StatusCode, String);

fn refused(status: StatusCode, text: String) -> Refused {
    (status, text)
}

fn program_missing(ns: &str, app: &str, program: &str) -> Refused {
    let text = format!("Program '{ns}.{app}.workflow.{program}' was not found.");
    refused(StatusCode::NOT_FOUND, text)
}

/// Starts `program` of `ns/app_name` with `runtime` args; the run id.
fn start_run(
    i: &mut Instance,
    ns: &str,
    app_name: &str,
    program: &str,
    runtime: BTreeMap<String, String>,
) -> Result<String, Refused> {
    let found = app(i, ns, app_name).map_err(|_| {
        refused(
            StatusCode::NOT_FOUND,
            format!("Application '{app_name}' was not found in namespace '{ns}'."),
        )
    })?;
    if program != WORKFLOW || !found.latest().has_workflow() {
        return Err(program_missing(ns, app_name, program));
    }
    let mut args = i.resolved(Some(ns), Some(app_name));
    args.extend(runtime);
    let (name, owner) = i.run_profile(ns, &args).map_err(|text| {
        let status = if text.contains("DISABLED") {
            StatusCode::CONFLICT
        } else {
            StatusCode::NOT_FOUND
        };
        refused(status, text)
    })?;
    let profile = RunProfile {
        name,
        namespace: owner,
    };
    let id = uuid();
    let run = Run::new(id.clone(), args, profile);
    app(i, ns, app_name)
        .map_err(|_| program_missing(ns, app_name, program))?
        .runs
        .push(run);
    Ok(id)
}

/// A runtime-args object of strings; `what` names it in the message.
fn args_of(value: Option<&Value>, what: &str) -> Result<BTreeMap<String, String>, String> {
    match value {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(value) => serde_json::from_value(value.clone())
            .map_err(|e| format!("{what} must map strings to strings: {e}")),
    }
}

/// `POST .../apps/{app}/workflows/{program}/start`: 200 with an empty body.
pub(crate) async fn start(State(store): State<Store>, Path(p): Path<Params>, body: Bytes) -> Reply {
    let value: Option<Value> = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(
            serde_json::from_slice(&body)
                .map_err(|e| reply::bad_request(format!("Invalid runtime arguments: {e}")))?,
        )
    };
    let runtime = args_of(value.as_ref(), "Runtime arguments").map_err(reply::bad_request)?;
    let program = p.program.clone().unwrap_or_default();
    with_instance(&store, &p.inst, |i| {
        start_run(i, p.ns(), p.app(), &program, runtime)
            .map_err(|(status, text)| reply::text(status, text))?;
        Ok(reply::empty())
    })
}

/// One item of a batch start.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchItem {
    app_id: String,
    program_type: String,
    program_id: String,
    #[serde(default)]
    runtimeargs: Option<Value>,
}

fn start_item(i: &mut Instance, ns: &str, item: &BatchItem) -> Value {
    let mut result = json!({"appId": item.app_id, "programType": item.program_type, "programId": item.program_id});
    let outcome = args_of(item.runtimeargs.as_ref(), "runtimeargs")
        .map_err(|text| refused(StatusCode::BAD_REQUEST, text))
        .and_then(|args| {
            if !item.program_type.eq_ignore_ascii_case("workflow") {
                return Err(program_missing(ns, &item.app_id, &item.program_id));
            }
            start_run(i, ns, &item.app_id, &item.program_id, args)
        });
    match outcome {
        Ok(run_id) => {
            result["statusCode"] = json!(200);
            result["runId"] = json!(run_id);
        }
        Err((status, text)) => {
            result["statusCode"] = json!(status.as_u16());
            result["error"] = json!(text);
        }
    }
    result
}

/// `POST /v3/namespaces/{ns}/start`: 200 with a result per item.
pub(crate) async fn start_batch(
    State(store): State<Store>,
    Path(p): Path<Params>,
    body: Bytes,
) -> Reply {
    let items: Vec<BatchItem> = serde_json::from_slice(&body)
        .map_err(|e| reply::bad_request(format!("Invalid batch start body: {e}")))?;
    with_instance(&store, &p.inst, |i| {
        namespace(i, p.ns())?;
        let results: Vec<Value> = items
            .iter()
            .map(|item| start_item(i, p.ns(), item))
            .collect();
        Ok(reply::ok(Value::Array(results)))
    })
}

/// The query of the run list.
#[derive(Deserialize)]
pub(crate) struct RunsQuery {
    status: Option<String>,
    limit: Option<String>,
}

fn limit(q: &RunsQuery) -> Result<usize, Fail> {
    match q.limit.as_deref() {
        None => Ok(100),
        Some(text) => text.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
            reply::bad_request(format!("limit {text:?} must be a positive integer"))
        }),
    }
}

fn check_program(p: &Params) -> Result<(), Fail> {
    let program = p.program.as_deref().unwrap_or_default();
    if program == WORKFLOW {
        return Ok(());
    }
    let (status, text) = program_missing(p.ns(), p.app(), program);
    Err(reply::text(status, text))
}

/// `GET .../workflows/{program}/runs[?status=&limit=]`: newest first; each listed run moves on.
pub(crate) async fn list(
    State(store): State<Store>,
    Path(p): Path<Params>,
    Query(q): Query<RunsQuery>,
) -> Reply {
    check_program(&p)?;
    let limit = limit(&q)?;
    let wanted = q.status.filter(|s| !s.eq_ignore_ascii_case("all"));
    with_instance(&store, &p.inst, |i| {
        let outcome = i
            .outcomes
            .get(&(p.ns().to_string(), p.app().to_string()))
            .cloned();
        let runs = &mut app(i, p.ns(), p.app())?.runs;
        let matching = runs.iter_mut().rev().filter(|r| {
            wanted
                .as_ref()
                .is_none_or(|w| r.status.name().eq_ignore_ascii_case(w))
        });
        let records: Vec<Value> = matching
            .take(limit)
            .map(|r| r.read(outcome.as_ref()))
            .collect();
        Ok(reply::ok(Value::Array(records)))
    })
}

/// `GET .../workflows/{program}/runs/{run}`: the run, which then moves on.
pub(crate) async fn get(State(store): State<Store>, Path(p): Path<Params>) -> Reply {
    check_program(&p)?;
    let run_id = p.run.clone().unwrap_or_default();
    with_instance(&store, &p.inst, |i| {
        let outcome = i
            .outcomes
            .get(&(p.ns().to_string(), p.app().to_string()))
            .cloned();
        let runs = &mut app(i, p.ns(), p.app())?.runs;
        let run = runs
            .iter_mut()
            .find(|r| r.id == run_id)
            .ok_or_else(|| reply::not_found(format!("Run '{run_id}' was not found.")))?;
        Ok(reply::ok(run.read(outcome.as_ref())))
    })
}
