//! Resolver errors carry their `path`, as the Director's errors do: async-graphql's dynamic
//! schema reports an error a resolver returns without one, so this extension sets the path of
//! the field being resolved on every error that lacks it.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::{PathSegment, QueryPathNode, QueryPathSegment, ServerResult, Value};

/// The extension (and its factory).
pub(crate) struct ErrorPaths;

impl ExtensionFactory for ErrorPaths {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorPaths)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ErrorPaths {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let node = info.path_node;
        next.run(ctx, info).await.map_err(|mut error| {
            if error.path.is_empty() {
                error.path = path(node);
            }
            error
        })
    }
}

/// The segments from the root to `node`.
fn path(node: &QueryPathNode<'_>) -> Vec<PathSegment> {
    let nodes = std::iter::once(node).chain(node.parents());
    let mut segments: Vec<PathSegment> = nodes
        .map(|n| match n.segment {
            QueryPathSegment::Name(name) => PathSegment::Field(name.to_string()),
            QueryPathSegment::Index(index) => PathSegment::Index(index),
        })
        .collect();
    segments.reverse();
    segments
}
