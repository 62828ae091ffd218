//! Stored JSON becomes resolver output by the field's declared type: leaves (scalars, enums)
//! as values, objects as the JSON itself (their fields then read it), lists item by item, and
//! members of a union or interface tagged with the object type whose fields the JSON has (or
//! its `__typename`).

use std::collections::{BTreeSet, HashMap};

use async_graphql::dynamic::{FieldValue, TypeRef};
use async_graphql::parser::types::{ServiceDocument, TypeKind, TypeSystemDefinition};
use serde_json::Value;

/// What a named output type is, for turning JSON into output.
#[derive(Debug)]
enum Kind {
    Object,
    Abstract(Vec<Member>),
}

/// An object type that can stand for a union or interface, with its field names.
#[derive(Debug)]
struct Member {
    name: String,
    fields: BTreeSet<String>,
}

/// The output kinds of a schema's named types; names not listed are leaves.
#[derive(Debug, Default)]
pub(crate) struct Shapes {
    kinds: HashMap<String, Kind>,
}

impl Shapes {
    /// The shapes of every type in `document`.
    pub fn of(document: &ServiceDocument) -> Shapes {
        let types = document.definitions.iter().filter_map(|d| match d {
            TypeSystemDefinition::Type(t) => Some(&t.node),
            _ => None,
        });
        let mut objects = Vec::new();
        let mut abstracts = Vec::new();
        for ty in types {
            let name = ty.name.node.to_string();
            match &ty.kind {
                TypeKind::Object(object) => {
                    let fields = object.fields.iter().map(|f| f.node.name.node.to_string());
                    let implements = object.implements.iter().map(|i| i.node.to_string());
                    objects.push((name, fields.collect(), implements.collect::<Vec<_>>()));
                }
                TypeKind::Union(union) => {
                    let members = union.members.iter().map(|m| m.node.to_string());
                    abstracts.push((name, members.collect::<Vec<_>>()));
                }
                TypeKind::Interface(_) => abstracts.push((name, Vec::new())),
                _ => {}
            }
        }
        let mut kinds = HashMap::new();
        for (name, members) in abstracts {
            let member =
                |(object, fields, implements): &(String, BTreeSet<String>, Vec<String>)| {
                    let belongs = members.contains(object) || implements.contains(&name);
                    belongs.then(|| Member {
                        name: object.clone(),
                        fields: fields.clone(),
                    })
                };
            kinds.insert(
                name.clone(),
                Kind::Abstract(objects.iter().filter_map(member).collect()),
            );
        }
        for (name, _, _) in objects {
            kinds.insert(name, Kind::Object);
        }
        Shapes { kinds }
    }

    /// `json` as the output of a field of type `ty` (`None` for null).
    pub fn output(&self, ty: &TypeRef, json: Value) -> Result<Option<FieldValue<'static>>, String> {
        if json.is_null() {
            return Ok(None);
        }
        match ty {
            TypeRef::NonNull(inner) => self.output(inner, json),
            TypeRef::List(inner) => self.list(inner, json).map(Some),
            TypeRef::Named(name) => self.named(name, json).map(Some),
        }
    }

    fn list(&self, item: &TypeRef, json: Value) -> Result<FieldValue<'static>, String> {
        let Value::Array(items) = json else {
            return Err(format!("expected a list for [{item}], found {json}"));
        };
        let mut values = Vec::with_capacity(items.len());
        for value in items {
            values.push(self.output(item, value)?.unwrap_or(FieldValue::NULL));
        }
        Ok(FieldValue::list(values))
    }

    fn named(&self, name: &str, json: Value) -> Result<FieldValue<'static>, String> {
        match self.kinds.get(name) {
            None => {
                let value = async_graphql::Value::from_json(json).map_err(|e| e.to_string())?;
                Ok(FieldValue::value(value))
            }
            Some(Kind::Object) => Ok(FieldValue::owned_any(json)),
            Some(Kind::Abstract(members)) => {
                let member = concrete(name, members, &json)?;
                Ok(FieldValue::owned_any(json).with_type(member))
            }
        }
    }
}

/// The member object type `json` is: its `__typename`, else the first whose fields cover it.
fn concrete(name: &str, members: &[Member], json: &Value) -> Result<String, String> {
    let tagged = json.get("__typename").and_then(Value::as_str);
    let keys: Vec<&String> = json
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    let fits = |m: &&Member| match tagged {
        Some(tag) => m.name == tag,
        None => keys.iter().all(|k| m.fields.contains(*k)),
    };
    let member = members.iter().find(fits);
    member
        .map(|m| m.name.clone())
        .ok_or_else(|| format!("no object type of {name} fits {json}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_schema;
    use serde_json::json;

    const SDL: &str = "
        type A { x: Int }
        type B { y: Int z: Int }
        union U = A | B
        interface I { y: Int }
        type C implements I { y: Int }
    ";

    fn member(shapes: &Shapes, name: &str, json: Value) -> Result<String, String> {
        match shapes.kinds.get(name) {
            Some(Kind::Abstract(members)) => concrete(name, members, &json),
            other => panic!("{name} is {other:?}"),
        }
    }

    #[test]
    fn union_and_interface_members_are_picked_by_fields_or_typename() {
        let shapes = Shapes::of(&parse_schema(SDL).unwrap());
        assert_eq!(member(&shapes, "U", json!({"x": 1})).unwrap(), "A");
        assert_eq!(member(&shapes, "U", json!({"z": 1})).unwrap(), "B");
        assert_eq!(
            member(&shapes, "U", json!({"__typename": "B"})).unwrap(),
            "B"
        );
        assert!(member(&shapes, "U", json!({"w": 1})).is_err());
        assert_eq!(member(&shapes, "I", json!({"y": 1})).unwrap(), "C");
        let list = TypeRef::named_nn_list("A");
        let output = shapes.output(&list, json!([{"x": 1}])).unwrap().unwrap();
        assert_eq!(output.as_list().map(<[_]>::len), Some(1));
        assert!(shapes.output(&list, json!({"x": 1})).is_err());
        assert!(
            shapes
                .output(&TypeRef::named("Int"), Value::Null)
                .unwrap()
                .is_none()
        );
    }
}
