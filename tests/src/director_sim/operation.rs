//! What a `/graphql` request asks for, read before it runs: a query, a mutation, or neither
//! (a body that is not a GraphQL request, a document that does not parse, a subscription or an
//! operation name the document lacks). Faults and counts go by it.

use async_graphql::parser::parse_query;
use async_graphql::parser::types::{DocumentOperations, OperationType};

/// The kind of operation a request runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operation {
    Query,
    Mutation,
    Other,
}

impl Operation {
    /// The operation `request` selects: the one named by `operationName`, else the only one.
    pub fn of(request: Option<&async_graphql::Request>) -> Operation {
        let Some(request) = request else {
            return Operation::Other;
        };
        let Ok(document) = parse_query(&request.query) else {
            return Operation::Other;
        };
        let kind = match (&document.operations, request.operation_name.as_deref()) {
            (DocumentOperations::Single(op), _) => Some(op.node.ty),
            (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| op.node.ty),
            (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
                ops.values().next().map(|op| op.node.ty)
            }
            (DocumentOperations::Multiple(_), None) => None,
        };
        match kind {
            Some(OperationType::Query) => Operation::Query,
            Some(OperationType::Mutation) => Operation::Mutation,
            _ => Operation::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(query: &str, name: Option<&str>) -> Operation {
        let mut request = async_graphql::Request::new(query);
        request.operation_name = name.map(str::to_string);
        Operation::of(Some(&request))
    }

    #[test]
    fn requests_are_classified_by_their_selected_operation() {
        assert_eq!(
            kind("{ applications { totalCount } }", None),
            Operation::Query
        );
        assert_eq!(kind("mutation { x }", None), Operation::Mutation);
        let two = "query A { a } mutation B { b }";
        assert_eq!(kind(two, Some("B")), Operation::Mutation);
        assert_eq!(kind(two, Some("A")), Operation::Query);
        assert_eq!(kind(two, None), Operation::Other);
        assert_eq!(kind("{ unclosed", None), Operation::Other);
        assert_eq!(Operation::of(None), Operation::Other);
    }
}
