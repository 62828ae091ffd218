//! Sesam: node configuration promoted from a git folder (or another node) onto a node, on the
//! declarative engine.
//!
//! Entities are the node's pipes, systems and metadata (by `_id`) and, when the request names an
//! `env_file`, its `/env` as one entity. Both sides are read as parsed JSON, so formatting and key
//! order never count as a change. Each change is one idempotent call validated by the node
//! (`force=false`); ferry never rewrites the metadata (no `disable_user_pipes` injected into a
//! production node). Both secrets are read and checked (shape, host binding) before either side is
//! read.

pub mod layout;
pub mod node;

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use self::node::NodeClient;
use super::{SecretSource, both, with_secret};
use crate::contract::{GitSource, PromoteRequest, SesamNode, SesamSelection};
use crate::declarative::{Action, Change, Declarative, Entity, Kinds, SourceState};
use crate::error::TaskError;
use crate::git::{GitAuth, read_tree};
use crate::http::SecretDoc;

/// Public git hosts a token may go to when its secret names no `hosts` (exact hosts, no
/// wildcards: a wildcard over a cloud's domain would reach anyone's endpoint there; CodeCommit and
/// self-hosted remotes name their host in the secret).
pub const GIT_DOMAINS: &[&str] = &["github.com", "gitlab.com", "bitbucket.org"];

/// Where the desired state is read from.
enum Source {
    Git {
        spec: GitSource,
        auth: Option<GitAuth>,
    },
    Node(NodeClient),
    /// A stored bundle: the engine reads it; the connector never does.
    Bundle,
}

/// A Sesam promotion with both sides connected.
pub struct SesamConnector {
    source: Source,
    target: NodeClient,
    selection: SesamSelection,
}

impl SesamConnector {
    /// Reads both secrets and checks them (shape, host binding) before anything is sent; every bad
    /// secret is reported at once.
    pub async fn connect(
        request: &PromoteRequest,
        secrets: &impl SecretSource,
    ) -> Result<Self, TaskError> {
        let selection = request
            .sesam
            .clone()
            .ok_or_else(|| TaskError::invalid("sesam", "is required"))?;
        let timeout = Duration::from_secs(selection.timeout_seconds);
        let target_node = request
            .target
            .sesam
            .as_ref()
            .ok_or_else(|| TaskError::invalid("target.sesam", "is required"))?;
        let target = node_client(
            secrets,
            target_node,
            "target.sesam.auth_secret_arn",
            timeout,
        )
        .await;
        let source = match (&request.source.git, &request.source.sesam) {
            (Some(git), _) => git_source(secrets, git).await,
            (None, Some(node)) => {
                node_client(secrets, node, "source.sesam.auth_secret_arn", timeout)
                    .await
                    .map(Source::Node)
            }
            (None, None) => Ok(Source::Bundle),
        };
        let (source, target) = both(source, target)?;
        Ok(SesamConnector {
            source,
            target,
            selection,
        })
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.selection.timeout_seconds)
    }

    async fn node_state(&self, node: &NodeClient) -> Result<Vec<Entity>, TaskError> {
        let mut entities = Vec::new();
        for value in node.config().await? {
            let entity =
                layout::config_entity(&value, "the node's config").map_err(TaskError::Mismatch)?;
            entities.push(entity);
        }
        if self.selection.env_file.is_some() {
            entities.push(layout::env_entity(&node.env().await?));
        }
        Ok(entities)
    }
}

async fn node_client(
    secrets: &impl SecretSource,
    node: &SesamNode,
    field: &str,
    timeout: Duration,
) -> Result<NodeClient, TaskError> {
    with_secret(secrets, &node.auth_secret_arn, field, |text| {
        NodeClient::new(node, text, field, timeout)
    })
    .await
}

/// The git secret `{"token": …, "username"?: …, "hosts"?: […]}`, bound to the remote's host.
async fn git_source(secrets: &impl SecretSource, git: &GitSource) -> Result<Source, TaskError> {
    let Some(arn) = &git.auth_secret_arn else {
        return Ok(Source::Git {
            spec: git.clone(),
            auth: None,
        });
    };
    let field = "source.git.auth_secret_arn";
    let text = Box::pin(secrets.secret(arn, field)).await?;
    let doc = SecretDoc::parse(
        &text,
        arn,
        field,
        "{\"token\": …} (optionally \"username\", \"hosts\")",
    )?;
    doc.only(&["token", "username"])?;
    doc.required("token")?;
    let binding = doc.binding(GIT_DOMAINS)?;
    let url = url::Url::parse(&git.url)
        .map_err(|e| TaskError::invalid("source.git.url", e.to_string()))?;
    binding.check(&url)?;
    let mut auth = GitAuth::deserialize(&Value::Object(doc.map().clone()))
        .map_err(|_| doc.invalid("is not a token secret"))?;
    auth.token = auth.token.trim().to_string();
    auth.username = auth.username.trim().to_string();
    Ok(Source::Git {
        spec: git.clone(),
        auth: Some(auth),
    })
}

impl Declarative for SesamConnector {
    fn kinds(&self) -> Kinds {
        layout::kinds()
    }

    async fn read_source(&self) -> Result<SourceState, TaskError> {
        match &self.source {
            Source::Git { spec, auth } => {
                let tree = read_tree(
                    &spec.url,
                    &spec.reference,
                    &spec.path,
                    auth.as_ref(),
                    self.timeout(),
                )
                .await?;
                let files: Vec<(String, Vec<u8>)> =
                    tree.files.into_iter().map(|f| (f.path, f.bytes)).collect();
                let entities = layout::from_files(
                    &files,
                    self.selection.env_file.as_deref(),
                    "source.git.path",
                )?;
                Ok(SourceState {
                    entities,
                    origin: json!({"git": spec.url, "ref": spec.reference, "path": spec.path, "commit": tree.commit}),
                })
            }
            Source::Node(node) => Ok(SourceState {
                entities: self.node_state(node).await?,
                origin: json!({"sesam": node_url(node)}),
            }),
            Source::Bundle => Err(TaskError::Mismatch(
                "a bundle source is read by the engine, not the connector".into(),
            )),
        }
    }

    async fn read_target(&self) -> Result<Vec<Entity>, TaskError> {
        self.node_state(&self.target).await
    }

    async fn apply_change(
        &self,
        change: &Change,
        desired: Option<&Entity>,
    ) -> Result<(), TaskError> {
        match (change.action, desired) {
            (Action::Delete, _) if change.kind == layout::ENV => {
                self.target.put_env(&node::empty_env()).await
            }
            (Action::Delete, _) => self.target.delete_entity(&change.kind, &change.id).await,
            (_, Some(entity)) if entity.kind == layout::ENV => {
                self.target.put_env(&entity.body).await
            }
            (_, Some(entity)) => {
                self.target
                    .put_entity(&entity.kind, &entity.id, &entity.body)
                    .await
            }
            (_, None) => Err(TaskError::Mismatch(format!(
                "{}: the plan names an entity the bundle does not hold",
                change.key()
            ))),
        }
    }
}

fn node_url(node: &NodeClient) -> String {
    node.url().to_string()
}
