//! Argument values coerced by their declared types, as GraphQL's input coercion asks and
//! async-graphql's dynamic schema leaves to the resolvers: a single value given where a list is
//! declared becomes a list of one (`filter: {key: "k"}` is `filter: [{key: "k"}]`), at any depth
//! of input objects. Scalars (such as `Labels` objects) stay as given.

use std::collections::HashMap;

use async_graphql::dynamic::TypeRef;
use async_graphql::parser::types::{ServiceDocument, TypeKind, TypeSystemDefinition};
use serde_json::{Map, Value};

use super::schema::type_ref;

/// The fields of every input object type, with their declared types.
#[derive(Debug, Default)]
pub(crate) struct InputShapes {
    objects: HashMap<String, Vec<(String, TypeRef)>>,
}

impl InputShapes {
    /// The input objects of `document`.
    pub fn of(document: &ServiceDocument) -> InputShapes {
        let mut objects = HashMap::new();
        for definition in &document.definitions {
            let TypeSystemDefinition::Type(ty) = definition else {
                continue;
            };
            if let TypeKind::InputObject(input) = &ty.node.kind {
                let fields = input.fields.iter().map(|f| {
                    let field = &f.node;
                    (field.name.node.to_string(), type_ref(&field.ty.node))
                });
                objects.insert(ty.node.name.node.to_string(), fields.collect());
            }
        }
        InputShapes { objects }
    }

    /// `args` with each declared argument coerced by its type.
    pub fn coerce_args(
        &self,
        declared: &[(String, TypeRef)],
        mut args: Map<String, Value>,
    ) -> Map<String, Value> {
        for (name, ty) in declared {
            if let Some(value) = args.remove(name) {
                args.insert(name.clone(), self.coerce(ty, value));
            }
        }
        args
    }

    /// `value` coerced to `ty`.
    pub fn coerce(&self, ty: &TypeRef, value: Value) -> Value {
        match (ty, value) {
            (_, Value::Null) => Value::Null,
            (TypeRef::NonNull(inner), value) => self.coerce(inner, value),
            (TypeRef::List(item), Value::Array(items)) => {
                Value::Array(items.into_iter().map(|v| self.coerce(item, v)).collect())
            }
            (TypeRef::List(item), single) => Value::Array(vec![self.coerce(item, single)]),
            (TypeRef::Named(name), Value::Object(fields)) => {
                match self.objects.get(name.as_ref()) {
                    Some(declared) => Value::Object(self.coerce_args(declared, fields)),
                    None => Value::Object(fields),
                }
            }
            (TypeRef::Named(_), value) => value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_schema;
    use serde_json::json;

    #[test]
    fn single_values_become_lists_at_any_depth_but_scalars_stay() {
        let sdl = "scalar Labels
            input F { key: String! }
            input B { name: String! apis: [A!] }
            input A { name: String! }
            input R { name: String! labels: Labels bundles: [B!] }";
        let shapes = InputShapes::of(&parse_schema(sdl).unwrap());
        let filter = shapes.coerce(&TypeRef::named_nn_list("F"), json!({"key": "k"}));
        assert_eq!(filter, json!([{"key": "k"}]));
        let register = json!({"name": "r", "labels": {"k": ["v"]}, "bundles": {"name": "b", "apis": {"name": "a"}}});
        let coerced = shapes.coerce(&TypeRef::named_nn("R"), register);
        let expected = json!({"name": "r", "labels": {"k": ["v"]}, "bundles": [{"name": "b", "apis": [{"name": "a"}]}]});
        assert_eq!(coerced, expected);
        assert_eq!(
            shapes.coerce(&TypeRef::named_list("F"), Value::Null),
            Value::Null
        );
    }
}
