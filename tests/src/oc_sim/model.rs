//! The simulator's public data shapes: organization and instance seeds, instance changes, views,
//! fault scopes, the request log and request counts. Each one is also a JSON body of the control API
//! (`/control/...`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How `tags[]` filters combine on `GET /instances`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TagMatch {
    /// An instance matches when it has at least one of the requested tags (the default).
    #[default]
    Any,
    /// An instance matches only when it has every requested tag.
    All,
}

/// An organization to create: its name (for the control API only), the secrets its callers
/// present, how tag filters combine, and its first instances.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrgSeed {
    /// The name the control API and the request log use for it.
    pub name: String,
    /// The user secret of its one user.
    pub user_secret: String,
    /// The organization secret.
    pub organization_secret: String,
    /// How `tags[]` filters combine.
    pub tag_match: TagMatch,
    /// Its instances, numbered in order when they carry no id.
    pub instances: Vec<InstanceSeed>,
}

impl OrgSeed {
    /// An organization without instances.
    pub fn new(name: &str, user_secret: &str, organization_secret: &str) -> Self {
        OrgSeed {
            name: name.to_string(),
            user_secret: user_secret.to_string(),
            organization_secret: organization_secret.to_string(),
            ..OrgSeed::default()
        }
    }

    /// Adds an instance.
    pub fn instance(mut self, instance: InstanceSeed) -> Self {
        self.instances.push(instance);
        self
    }

    /// Sets how tag filters combine.
    pub fn tag_match(mut self, tag_match: TagMatch) -> Self {
        self.tag_match = tag_match;
        self
    }
}

/// The connector an instance was created from. Only `key` is required: a known key (`sfdc`,
/// `hubspotcrm`, `zendesk`, `shopify`, `dropbox`) fills in its id and name; another key gets a
/// derived id and its key as name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ElementSeed {
    /// The connector key, such as `sfdc`.
    pub key: String,
    /// The numeric connector id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// The connector's display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// An instance to create.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceSeed {
    /// Its id; the next free one when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Its display name.
    pub name: String,
    /// Its connector.
    pub element: ElementSeed,
    /// User-defined tags.
    pub tags: Vec<String>,
    /// Its instance token; a random one when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The `disabled` flag.
    pub disabled: bool,
    /// The `valid` flag (true when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid: Option<bool>,
    /// `createdDate`; the creation time when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_date: Option<String>,
    /// A whole OpenAPI document served instead of the one derived from the element.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<Value>,
}

impl InstanceSeed {
    /// An instance named `name` of the connector `element_key`.
    pub fn new(name: &str, element_key: &str) -> Self {
        InstanceSeed {
            name: name.to_string(),
            element: ElementSeed {
                key: element_key.to_string(),
                ..ElementSeed::default()
            },
            ..InstanceSeed::default()
        }
    }

    /// Gives it a fixed id.
    pub fn id(mut self, id: i64) -> Self {
        self.id = Some(id);
        self
    }

    /// Adds a tag.
    pub fn tag(mut self, tag: &str) -> Self {
        self.tags.push(tag.to_string());
        self
    }

    /// Gives it a fixed token.
    pub fn token(mut self, token: &str) -> Self {
        self.token = Some(token.to_string());
        self
    }

    /// Serves `spec` as its OpenAPI document.
    pub fn spec(mut self, spec: Value) -> Self {
        self.spec = Some(spec);
        self
    }
}

/// A change to an instance: every field present replaces the current value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InstanceChange {
    /// A new display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// A new `disabled` flag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    /// A new `valid` flag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid: Option<bool>,
}

/// The connector of an instance, resolved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElementView {
    /// The numeric connector id.
    pub id: i64,
    /// The display name.
    pub name: String,
    /// The connector key.
    pub key: String,
}

/// A snapshot of an instance as the simulator holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstanceView {
    /// Its id.
    pub id: i64,
    /// The organization (by name) it belongs to.
    pub org: String,
    /// Its display name.
    pub name: String,
    /// Its instance token.
    pub token: String,
    /// Its connector.
    pub element: ElementView,
    /// Its tags.
    pub tags: Vec<String>,
    /// The `disabled` flag.
    pub disabled: bool,
    /// The `valid` flag.
    pub valid: bool,
    /// `createdDate`.
    pub created_date: String,
    /// The whole document served instead of the derived one, when set.
    pub spec: Option<Value>,
    /// Path items added to the derived document, by path.
    pub extra_paths: Map<String, Value>,
}

/// A snapshot of an organization.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrgView {
    /// Its name.
    pub name: String,
    /// How tag filters combine.
    pub tag_match: TagMatch,
    /// Its instances, by id.
    pub instances: Vec<InstanceView>,
    /// Faults still armed, with their remaining counts, in arming order.
    pub faults: Vec<Fault>,
}

/// Which API call a request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `GET /instances`.
    Instances,
    /// `GET /instances/{id}/docs`.
    Docs,
}

/// A fault armed on an organization: fires on the next `count` authenticated requests of that
/// organization matching the optional endpoint and instance of its [`FaultScope`], then is gone.
pub type Fault = crate::sim_kit::faults::Fault<FaultScope>;

/// Which requests of an organization a fault fires on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultScope {
    /// Only requests to this endpoint, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<Endpoint>,
    /// Only requests addressing this instance (`/instances/{id}/...`), when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<i64>,
}

impl Fault {
    /// Limits the fault to one endpoint.
    pub fn on(mut self, endpoint: Endpoint) -> Self {
        self.scope.endpoint = Some(endpoint);
        self
    }

    /// Limits the fault to requests addressing instance `id` (its docs).
    pub fn on_instance(mut self, id: i64) -> Self {
        self.scope.instance_id = Some(id);
        self
    }
}

/// One request the simulator answered (control requests are not logged). Secrets are never
/// recorded, only whether the credentials were valid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// The organization whose organization secret the request presented, if any.
    pub org: Option<String>,
    /// The HTTP method.
    pub method: String,
    /// The path as received (still percent-encoded), without the query.
    pub path: String,
    /// The query string, when there was one.
    pub query: Option<String>,
    /// The API call, when the path is one.
    pub endpoint: Option<Endpoint>,
    /// The instance the path addresses, if any.
    pub instance_id: Option<i64>,
    /// The HTTP status returned.
    pub status: u16,
    /// `valid` (the secrets of one organization), `invalid` (any other `Authorization`) or `none`.
    pub auth: String,
}

/// How many requests one organization made, from the request log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Every request.
    pub total: u64,
    /// `GET /instances` requests.
    pub instances: u64,
    /// `GET /instances/{id}/docs` requests.
    pub docs: u64,
    /// Docs requests per instance id.
    pub docs_by_instance: BTreeMap<i64, u64>,
    /// Requests per HTTP status returned.
    pub by_status: BTreeMap<u16, u64>,
}
