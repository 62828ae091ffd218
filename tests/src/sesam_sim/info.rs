//! The simulator's health check and a node's status (`GET /{node}/api`), which reports
//! `status.developer_mode`.

use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::json;

use super::reply::{self, Reply};
use super::state::Store;
use super::write::node;

/// `GET /health`: always 200.
pub(crate) async fn health() -> Response {
    reply::ok(json!({"status": "ok"}))
}

/// `GET /{node}/api`: `{"status": {"developer_mode": bool}}`.
pub(crate) async fn status(State(store): State<Store>, Path(name): Path<String>) -> Reply {
    store.with(|s| {
        let developer_mode = node(s, &name)?.developer_mode;
        Ok(reply::ok(
            json!({"status": {"developer_mode": developer_mode}}),
        ))
    })
}
