//! A node's config entities: the `node` metadata, systems and pipes, each kind keyed by `_id`, in
//! the order the node lists them (metadata, then systems, then pipes, each sorted by `_id`).

use std::collections::BTreeMap;

use serde_json::Value;

use super::model::EntityKind;

/// One kind's entities by `_id`.
pub(crate) type Shelf = BTreeMap<String, Value>;

/// Every config entity of a node; cheap enough to clone for a prospective change.
#[derive(Clone, Debug, Default)]
pub(crate) struct Catalog {
    metadata: Shelf,
    systems: Shelf,
    pipes: Shelf,
}

/// The kinds in listing order.
pub(crate) const KINDS: [EntityKind; 3] =
    [EntityKind::Metadata, EntityKind::System, EntityKind::Pipe];

impl Catalog {
    /// The entities of `kind`.
    pub fn shelf(&self, kind: EntityKind) -> &Shelf {
        match kind {
            EntityKind::Metadata => &self.metadata,
            EntityKind::System => &self.systems,
            EntityKind::Pipe => &self.pipes,
        }
    }

    fn shelf_mut(&mut self, kind: EntityKind) -> &mut Shelf {
        match kind {
            EntityKind::Metadata => &mut self.metadata,
            EntityKind::System => &mut self.systems,
            EntityKind::Pipe => &mut self.pipes,
        }
    }

    /// The entity of `kind` named `id`.
    pub fn get(&self, kind: EntityKind, id: &str) -> Option<&Value> {
        self.shelf(kind).get(id)
    }

    /// True when a system named `id` exists.
    pub fn has_system(&self, id: &str) -> bool {
        self.systems.contains_key(id)
    }

    /// Stores (or replaces) an entity.
    pub fn put(&mut self, kind: EntityKind, id: &str, entity: Value) {
        self.shelf_mut(kind).insert(id.to_string(), entity);
    }

    /// Removes an entity, returning it.
    pub fn remove(&mut self, kind: EntityKind, id: &str) -> Option<Value> {
        self.shelf_mut(kind).remove(id)
    }

    /// Every entity in listing order, with its kind and `_id`.
    pub fn entries(&self) -> impl Iterator<Item = (EntityKind, &str, &Value)> {
        KINDS.into_iter().flat_map(move |kind| {
            let shelf = self.shelf(kind).iter();
            shelf.map(move |(id, entity)| (kind, id.as_str(), entity))
        })
    }
}
