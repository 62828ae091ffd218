//! The connectors the simulator knows: for each key its numeric id, display name, hub and the
//! resources its OpenAPI document describes. A key it does not know still works, with an id
//! derived from the key and one generic resource.

use super::model::{ElementSeed, ElementView};

/// One resource of a connector: its path segment, the name of its definition and its fields.
pub(crate) struct Resource {
    pub plural: &'static str,
    pub singular: &'static str,
    pub fields: &'static [&'static str],
}

/// A connector: its id, name, hub and resources.
pub(crate) struct Connector {
    pub key: &'static str,
    pub id: i64,
    pub name: &'static str,
    pub hub: &'static str,
    pub resources: &'static [Resource],
}

const fn resource(
    plural: &'static str,
    singular: &'static str,
    fields: &'static [&'static str],
) -> Resource {
    Resource {
        plural,
        singular,
        fields,
    }
}

const CONNECTORS: &[Connector] = &[
    Connector {
        key: "sfdc",
        id: 23,
        name: "Salesforce Sales Cloud",
        hub: "crm",
        resources: &[
            resource("accounts", "Account", &["Name", "Industry", "Phone"]),
            resource("contacts", "Contact", &["FirstName", "LastName", "Email"]),
            resource("leads", "Lead", &["Company", "LastName", "Status"]),
            resource(
                "opportunities",
                "Opportunity",
                &["Name", "StageName", "Amount"],
            ),
        ],
    },
    Connector {
        key: "hubspotcrm",
        id: 1490,
        name: "HubSpot CRM",
        hub: "crm",
        resources: &[
            resource("companies", "Company", &["name", "domain"]),
            resource("contacts", "Contact", &["firstname", "lastname", "email"]),
            resource("deals", "Deal", &["dealname", "amount", "dealstage"]),
        ],
    },
    Connector {
        key: "zendesk",
        id: 41,
        name: "Zendesk",
        hub: "helpdesk",
        resources: &[
            resource("tickets", "Ticket", &["subject", "status", "priority"]),
            resource("users", "User", &["name", "email", "role"]),
        ],
    },
    Connector {
        key: "shopify",
        id: 1125,
        name: "Shopify",
        hub: "ecommerce",
        resources: &[
            resource("orders", "Order", &["name", "total_price", "currency"]),
            resource("products", "Product", &["title", "vendor", "product_type"]),
            resource(
                "customers",
                "Customer",
                &["first_name", "last_name", "email"],
            ),
        ],
    },
    Connector {
        key: "dropbox",
        id: 14,
        name: "Dropbox",
        hub: "documents",
        resources: &[
            resource("files", "File", &["name", "path", "size"]),
            resource("folders", "Folder", &["name", "path"]),
        ],
    },
];

const GENERIC: &[Resource] = &[resource("objects", "Object", &["name", "description"])];

/// The known connector with `key`.
fn known(key: &str) -> Option<&'static Connector> {
    CONNECTORS.iter().find(|c| c.key == key)
}

/// The hub and resources of the connector `key` (`general` and one generic resource when unknown).
pub(crate) fn shape(key: &str) -> (&'static str, &'static [Resource]) {
    known(key).map_or(("general", GENERIC), |c| (c.hub, c.resources))
}

/// The seed's connector with its id and name filled in; refuses an empty or unsafe key.
pub(crate) fn resolve(seed: &ElementSeed) -> Result<ElementView, String> {
    let key = seed.key.as_str();
    let safe = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if key.is_empty() || !key.chars().all(safe) {
        return Err(format!("element key {key:?} must match [A-Za-z0-9_-]+"));
    }
    let found = known(key);
    Ok(ElementView {
        id: seed
            .id
            .or(found.map(|c| c.id))
            .unwrap_or_else(|| derived_id(key)),
        name: seed
            .name
            .clone()
            .or(found.map(|c| c.name.to_string()))
            .unwrap_or_else(|| key.to_string()),
        key: key.to_string(),
    })
}

/// A stable id for an unknown key, above every known one.
fn derived_id(key: &str) -> i64 {
    let sum = key
        .bytes()
        .fold(0i64, |acc, b| (acc * 31 + i64::from(b)) % 90_000);
    10_000 + sum
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(key: &str) -> ElementSeed {
        ElementSeed {
            key: key.into(),
            ..ElementSeed::default()
        }
    }

    #[test]
    fn known_keys_fill_in_id_and_name_and_unknown_ones_are_derived() {
        let sfdc = resolve(&seed("sfdc")).unwrap();
        assert_eq!(
            (sfdc.id, sfdc.name.as_str()),
            (23, "Salesforce Sales Cloud")
        );
        let custom = resolve(&seed("acme-erp")).unwrap();
        assert_eq!(custom.name, "acme-erp");
        assert_eq!(custom.id, resolve(&seed("acme-erp")).unwrap().id);
        assert!(custom.id >= 10_000);
        assert_eq!(shape("acme-erp").0, "general");
        assert!(resolve(&seed("bad key")).is_err());
        assert!(resolve(&seed("")).is_err());
    }
}
