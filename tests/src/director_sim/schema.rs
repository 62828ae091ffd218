//! The Director's GraphQL schema, built at run time from the SDL file the project keeps
//! (`shared/schemas/compass-director.graphql`), never retyped: every object, interface, union,
//! enum, input and scalar of the file becomes a type of an `async_graphql::dynamic::Schema`,
//! with its descriptions, argument defaults and deprecations. Custom scalars accept any JSON
//! value, except those the SDL describes as stringified JSON, which take strings. Object fields
//! read the member of the same name of their parent's stored JSON; root fields and fields with
//! arguments get the resolvers of [`super::fields::custom`], with their arguments coerced by
//! type (`input.rs`); resolver errors carry the field's path.

use std::sync::Arc;

use async_graphql::dynamic::{
    Enum, EnumItem, Field, FieldFuture, FieldValue, InputObject, InputValue, Interface,
    InterfaceField, Object, ResolverContext, Scalar, Schema, Type, TypeRef, Union,
};
use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{
    BaseType, ConstDirective, EnumType, FieldDefinition, InputObjectType, InputValueDefinition,
    InterfaceType, ObjectType, ServiceDocument, Type as SdlType, TypeDefinition, TypeKind,
    TypeSystemDefinition, UnionType,
};
use async_graphql::{Error, Positioned, Result};
use serde_json::Value;

use super::call;
use super::error_path::ErrorPaths;
use super::fields::{Resolver, custom};
use super::input::InputShapes;
use super::output::Shapes;
use super::state::Store;

/// The SDL file, as the project keeps it.
pub const SDL: &str = include_str!("../../../shared/schemas/compass-director.graphql");

/// The schema of [`SDL`] over `store`.
///
/// # Panics
/// When the SDL does not parse or build, or has a root field or a field with arguments that no
/// resolver serves.
pub(crate) fn build(store: Store) -> Schema {
    let document = parse_schema(SDL).unwrap_or_else(|e| panic!("the Director SDL: {e}"));
    let shapes = Arc::new(Shapes::of(&document));
    let inputs = Arc::new(InputShapes::of(&document));
    let mut builder = Schema::build("Query", Some("Mutation"), None)
        .data(store)
        .extension(ErrorPaths);
    for definition in definitions(&document) {
        builder = builder.register(dynamic_type(definition, &shapes, &inputs));
    }
    builder
        .finish()
        .unwrap_or_else(|e| panic!("the Director SDL does not build a schema: {e}"))
}

fn definitions(document: &ServiceDocument) -> impl Iterator<Item = &TypeDefinition> {
    document.definitions.iter().filter_map(|d| match d {
        TypeSystemDefinition::Type(t) => Some(&t.node),
        _ => None,
    })
}

fn dynamic_type(
    definition: &TypeDefinition,
    shapes: &Arc<Shapes>,
    inputs: &Arc<InputShapes>,
) -> Type {
    let name = definition.name.node.as_str();
    let description = definition.description.as_ref().map(|d| d.node.as_str());
    match &definition.kind {
        TypeKind::Scalar => scalar(name, description).into(),
        TypeKind::Object(object_type) => {
            object(name, description, object_type, shapes, inputs).into()
        }
        TypeKind::Interface(interface_type) => interface(name, description, interface_type).into(),
        TypeKind::Union(union_type) => union(name, description, union_type).into(),
        TypeKind::Enum(enum_type) => enumeration(name, description, enum_type).into(),
        TypeKind::InputObject(input_type) => input_object(name, description, input_type).into(),
    }
}

/// `description` on `item` when there is one.
fn described<'a, T>(item: T, description: Option<&'a str>, set: impl FnOnce(T, &'a str) -> T) -> T {
    match description {
        Some(text) => set(item, text),
        None => item,
    }
}

fn scalar(name: &str, description: Option<&str>) -> Scalar {
    let scalar = described(Scalar::new(name), description, Scalar::description);
    let stringified = description.is_some_and(|d| d.to_lowercase().contains("stringified"));
    if stringified {
        scalar.validator(|value| matches!(value, async_graphql::Value::String(_)))
    } else {
        scalar
    }
}

/// The dynamic type of an SDL type.
pub(crate) fn type_ref(ty: &SdlType) -> TypeRef {
    let base = match &ty.base {
        BaseType::Named(name) => TypeRef::named(name.as_str()),
        BaseType::List(item) => TypeRef::List(Box::new(type_ref(item))),
    };
    if ty.nullable {
        base
    } else {
        TypeRef::NonNull(Box::new(base))
    }
}

/// `Some(reason)` when the directives hold `@deprecated(reason: ...)` (the reason optional).
fn deprecation(directives: &[Positioned<ConstDirective>]) -> Option<Option<String>> {
    let directive = directives
        .iter()
        .find(|d| d.node.name.node == "deprecated")?;
    let reason = directive
        .node
        .get_argument("reason")
        .and_then(|r| match &r.node {
            async_graphql::Value::String(text) => Some(text.clone()),
            _ => None,
        });
    Some(reason)
}

fn input_value(definition: &InputValueDefinition) -> InputValue {
    let value = InputValue::new(definition.name.node.as_str(), type_ref(&definition.ty.node));
    let description = definition.description.as_ref().map(|d| d.node.as_str());
    let mut value = described(value, description, InputValue::description);
    if let Some(default) = &definition.default_value {
        value = value.default_value(default.node.clone());
    }
    match deprecation(&definition.directives) {
        Some(reason) => value.deprecation(reason.as_deref()),
        None => value,
    }
}

fn object(
    name: &str,
    description: Option<&str>,
    ty: &ObjectType,
    shapes: &Arc<Shapes>,
    inputs: &Arc<InputShapes>,
) -> Object {
    let mut object = described(Object::new(name), description, Object::description);
    for interface in &ty.implements {
        object = object.implement(interface.node.as_str());
    }
    for field in &ty.fields {
        object = object.field(output_field(name, &field.node, shapes, inputs));
    }
    object
}

/// How a field gets its JSON: its parent's member of the same name, or a resolver given the
/// arguments coerced by their declared types.
enum Compute {
    Member(String),
    Custom {
        resolver: Resolver,
        arguments: Vec<(String, TypeRef)>,
        inputs: Arc<InputShapes>,
    },
}

impl Compute {
    fn of(owner: &str, field: &FieldDefinition, inputs: &Arc<InputShapes>) -> Compute {
        let name = field.name.node.as_str();
        if let Some(resolver) = custom(owner, name) {
            let arguments = field.arguments.iter().map(|a| {
                let argument = &a.node;
                (argument.name.node.to_string(), type_ref(&argument.ty.node))
            });
            return Compute::Custom {
                resolver,
                arguments: arguments.collect(),
                inputs: Arc::clone(inputs),
            };
        }
        let root = owner == "Query" || owner == "Mutation";
        assert!(
            !root && field.arguments.is_empty(),
            "director-sim has no resolver for {owner}.{name}"
        );
        Compute::Member(name.to_string())
    }

    fn run(&self, ctx: &ResolverContext<'_>) -> Result<Value> {
        match self {
            Compute::Member(name) => Ok(call::parent(ctx)?.get(name).cloned().unwrap_or_default()),
            Compute::Custom {
                resolver,
                arguments,
                inputs,
            } => {
                let args = inputs.coerce_args(arguments, call::args(ctx)?);
                resolver(ctx, &args)
            }
        }
    }
}

fn output_field(
    owner: &str,
    definition: &FieldDefinition,
    shapes: &Arc<Shapes>,
    inputs: &Arc<InputShapes>,
) -> Field {
    let ty = type_ref(&definition.ty.node);
    let compute = Compute::of(owner, definition, inputs);
    let (shapes, declared) = (Arc::clone(shapes), ty.clone());
    let field = Field::new(definition.name.node.as_str(), ty, move |ctx| {
        resolve(&compute, &shapes, &declared, ctx)
    });
    let description = definition.description.as_ref().map(|d| d.node.as_str());
    let mut field = described(field, description, Field::description);
    for argument in &definition.arguments {
        field = field.argument(input_value(&argument.node));
    }
    match deprecation(&definition.directives) {
        Some(reason) => field.deprecation(reason.as_deref()),
        None => field,
    }
}

/// Runs a field's computation and turns its JSON into output of the declared type.
fn resolve<'a>(
    compute: &Compute,
    shapes: &Shapes,
    declared: &TypeRef,
    ctx: ResolverContext<'a>,
) -> FieldFuture<'a> {
    let value = compute.run(&ctx);
    let output = value.and_then(|json| shapes.output(declared, json).map_err(Error::new));
    let output: Result<Option<FieldValue<'a>>> = output;
    FieldFuture::new(async move { output })
}

fn interface(name: &str, description: Option<&str>, ty: &InterfaceType) -> Interface {
    let mut interface = described(Interface::new(name), description, Interface::description);
    for parent in &ty.implements {
        interface = interface.implement(parent.node.as_str());
    }
    for field in &ty.fields {
        let field = &field.node;
        let mut member = InterfaceField::new(field.name.node.as_str(), type_ref(&field.ty.node));
        let field_description = field.description.as_ref().map(|d| d.node.as_str());
        member = described(member, field_description, InterfaceField::description);
        for argument in &field.arguments {
            member = member.argument(input_value(&argument.node));
        }
        interface = interface.field(member);
    }
    interface
}

fn union(name: &str, description: Option<&str>, ty: &UnionType) -> Union {
    let union = described(Union::new(name), description, Union::description);
    ty.members.iter().fold(union, |union, member| {
        union.possible_type(member.node.as_str())
    })
}

fn enumeration(name: &str, description: Option<&str>, ty: &EnumType) -> Enum {
    let enumeration = described(Enum::new(name), description, Enum::description);
    ty.values.iter().fold(enumeration, |enumeration, value| {
        let value = &value.node;
        let item = EnumItem::new(value.value.node.as_str());
        let item_description = value.description.as_ref().map(|d| d.node.as_str());
        let item = described(item, item_description, EnumItem::description);
        let item = match deprecation(&value.directives) {
            Some(reason) => item.deprecation(reason.as_deref()),
            None => item,
        };
        enumeration.item(item)
    })
}

fn input_object(name: &str, description: Option<&str>, ty: &InputObjectType) -> InputObject {
    let input = described(
        InputObject::new(name),
        description,
        InputObject::description,
    );
    ty.fields
        .iter()
        .fold(input, |input, field| input.field(input_value(&field.node)))
}

/// The SDL of the schema the simulator serves, as async-graphql exports it.
pub fn served_sdl() -> String {
    build(Store::new()).sdl()
}
