//! The refresh request: the typed, validated form of a `refresh` execution input.
//!
//! [`RefreshRequest::parse`] walks the raw JSON and reports every problem at once, each with its field
//! path, before anything is changed anywhere. A `RefreshRequest` that exists is valid.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::validate::{Obj, Validator, check_env_name, check_secret_arn, join, kind};
use crate::config::is_account_id;
use crate::error::TaskError;

/// Default number of parallel scan segments for the `scan` engine.
pub const DEFAULT_SEGMENTS: u32 = 4;
/// Default cap on deletions per bucket sync.
pub const DEFAULT_MAX_DELETE: u64 = 1000;
/// Default number of objects a bucket sync copies at once.
pub const DEFAULT_CONCURRENCY: u32 = 32;
/// Default masking domain: RFC 2606 reserves `.invalid`, so no mail can ever be delivered there.
pub const DEFAULT_MASK_DOMAIN: &str = "example.invalid";

/// One environment (account + region) as named in the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// Human name ("prod", "test").
    pub name: String,
    /// Role to assume for this environment; absent means ferry's own credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// AWS region.
    pub region: String,
}

impl Environment {
    /// The account id named in `role_arn`, if a role is given.
    pub fn role_account(&self) -> Option<&str> {
        self.role_arn
            .as_deref()
            .and_then(|arn| arn.split(':').nth(4))
    }
}

/// Settings written to the target deploy table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployTableSpec {
    /// The deploy table in the target account.
    pub table: String,
    /// Setting name → value.
    pub settings: BTreeMap<String, SettingValue>,
}

/// A deploy-table setting value: stored as BOOL, N or S.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SettingValue {
    /// Stored as `BOOL`.
    Bool(bool),
    /// Stored as `N`.
    Number(serde_json::Number),
    /// Stored as `S`.
    Text(String),
}

/// Which stream consumers to pause.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamsSpec {
    /// Target tables whose stream consumers are paused; absent: every target table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables: Option<Vec<String>>,
    /// Only these consumer functions (names or ARNs); absent: every consumer of those streams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumers: Option<Vec<String>>,
    /// Resume, with this run's own, the consumers an earlier run paused and never resumed;
    /// false (the default): a real run refuses to start while there are any.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resume_leftover: bool,
}

/// How a table is copied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "engine", rename_all = "snake_case")]
pub enum TableEngine {
    /// Parallel scan segments copied by the `copy-table` function.
    Scan {
        /// Number of parallel scan segments.
        segments: u32,
    },
    /// A Glue job run in the source account.
    Glue {
        /// Name of the Glue job.
        glue_job: String,
    },
}

/// What happens to target items the source does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyMode {
    /// The target ends equal to the masked source.
    Replace,
    /// Source items are written over the target; others stay.
    Merge,
}

/// One table to copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSpec {
    /// Table in the source account.
    pub source: String,
    /// Table in the target account.
    pub target: String,
    /// Copy engine and its settings.
    #[serde(flatten)]
    pub engine: TableEngine,
    /// Replace or merge.
    pub mode: CopyMode,
}

/// One bucket (or prefix) to sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketSpec {
    /// Source bucket.
    pub source: String,
    /// Target bucket.
    pub target: String,
    /// Key prefix on both sides ("" for the whole bucket).
    pub prefix: String,
    /// Delete target objects the source lacks.
    pub delete: bool,
    /// Refuse to delete more than this many objects.
    pub max_delete: u64,
    /// Objects copied at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
    /// How objects travel between the buckets.
    #[serde(default)]
    pub transfer: Transfer,
}

fn default_concurrency() -> u32 {
    DEFAULT_CONCURRENCY
}

/// How `sync-bucket` moves an object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transfer {
    /// Server-side copy when the target credentials can read the source bucket, else stream.
    #[default]
    Auto,
    /// `CopyObject` with the target credentials (one credential reads the source and writes the target).
    ServerSide,
    /// `GetObject` with the source credentials, `PutObject` with the target credentials.
    Stream,
}

/// Values embedded in strings after a prefix and delimiter (`user-email|<address>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddedRule {
    /// Text before the delimiter.
    pub prefix: String,
    /// The delimiter.
    pub delimiter: String,
}

/// Masking rules (the key itself is read from Secrets Manager, never carried in payloads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskingSpec {
    /// Secrets Manager ARN of the HMAC key.
    pub key_secret_arn: String,
    /// Reserved domain of masked addresses.
    pub domain: String,
    /// Attribute names (exact or glob) whose values are masked, at any depth.
    pub attributes: Vec<String>,
    /// Values embedded after a prefix and delimiter.
    pub embedded: Vec<EmbeddedRule>,
    /// Mask every email-shaped substring of every string.
    pub detect_all: bool,
}

/// Polling of long jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Polling {
    /// Seconds between two status checks.
    pub interval_seconds: u64,
    /// Give up on a job after this many seconds.
    pub deadline_seconds: u64,
}

/// A human approval between the plan and the first change: the run waits (a Step Functions task
/// token) and announces `ferry.approval`; approve continues, reject or timeout ends it with
/// nothing applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// Wait for an approval before applying.
    pub required: bool,
    /// How long to wait before the run ends as `ApprovalTimedOut`.
    pub timeout_seconds: u64,
}

impl Approval {
    /// A day: long enough for a person, short enough that a forgotten plan does not go stale.
    pub const DEFAULT_TIMEOUT_SECONDS: u64 = 24 * 3600;
    /// A Standard execution lasts at most a year.
    pub const MAX_TIMEOUT_SECONDS: u64 = 365 * 24 * 3600;
}

impl Default for Polling {
    fn default() -> Self {
        Polling {
            interval_seconds: 30,
            deadline_seconds: 6 * 3600,
        }
    }
}

/// How much of a refresh runs at once: the `MaxConcurrency` of the state machines' Maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Concurrency {
    /// Tables copied at once (a Glue job runs one table at a time unless its `MaxConcurrentRuns`
    /// says more).
    pub tables: u64,
    /// Scan segments of one table copied at once (each is one `copy-table` invocation at a time).
    pub segments: u64,
    /// Buckets synced at once.
    pub buckets: u64,
}

impl Default for Concurrency {
    /// At most 4 × 40 = 160 `copy-table` and 4 `sync-bucket` invocations at once: within Lambda's
    /// default 1,000 concurrent executions per account and region, beside other workloads.
    fn default() -> Self {
        Concurrency {
            tables: 4,
            segments: 40,
            buckets: 4,
        }
    }
}

/// A validated refresh request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRequest {
    /// Stop after preflight with the plan.
    pub dry_run: bool,
    /// Where data comes from (read only).
    pub source: Environment,
    /// Where data goes.
    pub target: Environment,
    /// Settings for the target's deploy table.
    pub deploy_table: Option<DeployTableSpec>,
    /// Consumers to pause.
    pub streams: StreamsSpec,
    /// Tables to copy.
    pub tables: Vec<TableSpec>,
    /// Buckets to sync.
    pub buckets: Vec<BucketSpec>,
    /// Masking rules.
    pub masking: Option<MaskingSpec>,
    /// Job polling.
    pub polling: Polling,
    /// How much runs at once.
    pub concurrency: Concurrency,
    /// Wait for a human approval after the buckets' count pass, before anything changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
}

impl RefreshRequest {
    /// Parses and validates a raw refresh input, reporting every problem with its field path.
    pub fn parse(raw: &Value) -> Result<Self, TaskError> {
        let mut v = Validator::default();
        let request = v.request(raw);
        v.finish(request)
    }
}

impl Validator {
    fn request(&mut self, raw: &Value) -> Option<RefreshRequest> {
        let root = self.object(
            "",
            raw,
            &[
                "dry_run",
                "source",
                "target",
                "deploy_table",
                "streams",
                "tables",
                "buckets",
                "masking",
                "polling",
                "concurrency",
                "approval",
            ],
        )?;
        let dry_run = self.boolean(&root, "dry_run", false);
        let source = self.environment(&root, "source");
        let target = self.environment(&root, "target");
        let deploy_table = self
            .field(&root, "deploy_table", false)
            .and_then(|v| self.deploy_table(v));
        let streams = self.streams(&root);
        let tables = self.tables(&root);
        let buckets = self.buckets(&root);
        let masking = self
            .field(&root, "masking", false)
            .and_then(|v| self.masking(v));
        let polling = self.polling(&root);
        let concurrency = self.concurrency(&root);
        let approval = self.approval(&root);

        if let (Some(source), Some(target)) = (&source, &target)
            && source.name == target.name
        {
            self.problem("target.name", "must differ from source.name");
        }
        let listed = |key: &str| {
            root.map
                .get(key)
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
        };
        let (any_tables, any_buckets) = (listed("tables"), listed("buckets"));
        if !any_tables && !any_buckets && root.map.get("deploy_table").is_none() {
            self.problem(
                "tables",
                "nothing to refresh: give tables, buckets or deploy_table",
            );
        }
        if any_tables && root.map.get("masking").is_none() {
            self.problem(
                "masking",
                "is required when tables are copied (production data must not reach a lower environment unmasked)",
            );
        }
        self.streams_consistent(&streams, &tables);
        Some(RefreshRequest {
            dry_run,
            source: source?,
            target: target?,
            deploy_table,
            streams,
            tables,
            buckets,
            masking,
            polling,
            concurrency,
            approval,
        })
    }

    fn environment(&mut self, root: &Obj<'_>, key: &str) -> Option<Environment> {
        let value = self.field(root, key, true)?;
        let obj = self.object(key, value, &["name", "role_arn", "region"])?;
        let name = self.checked(&obj, "name", check_env_name);
        let role_arn = match self.string(&obj, "role_arn", false) {
            Some(arn) => match check_role_arn(&arn) {
                Some(problem) => {
                    self.problem(join(key, "role_arn"), problem);
                    None
                }
                None => Some(arn),
            },
            None => None,
        };
        let region = self.checked(&obj, "region", check_region);
        Some(Environment {
            name: name?,
            role_arn,
            region: region?,
        })
    }

    fn deploy_table(&mut self, value: &Value) -> Option<DeployTableSpec> {
        let obj = self.object("deploy_table", value, &["table", "settings"])?;
        let table = self.checked(&obj, "table", check_table_name);
        let settings_value = self.field(&obj, "settings", true)?;
        let settings_obj = self.any_object("deploy_table.settings", settings_value)?;
        let mut settings = BTreeMap::new();
        for (name, value) in settings_obj.map {
            let path = format!("deploy_table.settings.{name}");
            let setting = match value {
                Value::Bool(b) => SettingValue::Bool(*b),
                Value::Number(n) => SettingValue::Number(n.clone()),
                Value::String(s) => SettingValue::Text(s.clone()),
                other => {
                    self.problem(
                        path,
                        format!(
                            "must be true/false, a number or a string, found {}",
                            kind(other)
                        ),
                    );
                    continue;
                }
            };
            settings.insert(name.clone(), setting);
        }
        if settings_obj.map.is_empty() {
            self.problem("deploy_table.settings", "must name at least one setting");
        }
        Some(DeployTableSpec {
            table: table?,
            settings,
        })
    }

    fn streams(&mut self, root: &Obj<'_>) -> StreamsSpec {
        let Some(value) = self.field(root, "streams", false) else {
            return StreamsSpec::default();
        };
        let Some(obj) = self.object(
            "streams",
            value,
            &["tables", "consumers", "resume_leftover"],
        ) else {
            return StreamsSpec::default();
        };
        StreamsSpec {
            tables: self.names(&obj, "tables", check_table_name),
            consumers: self.names(&obj, "consumers", check_function_name),
            resume_leftover: self.boolean(&obj, "resume_leftover", false),
        }
    }

    fn streams_consistent(&mut self, streams: &StreamsSpec, tables: &[TableSpec]) {
        if streams.tables.is_none() && streams.consumers.is_some() && tables.is_empty() {
            self.problem(
                "streams.tables",
                "is required when streams.consumers is given and no tables are copied",
            );
        }
    }

    fn tables(&mut self, root: &Obj<'_>) -> Vec<TableSpec> {
        let Some(items) = self.array(root, "tables") else {
            return Vec::new();
        };
        let mut tables = Vec::new();
        let mut targets = BTreeSet::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("tables[{i}]");
            if let Some(table) = self.table(&path, item) {
                if !targets.insert(table.target.clone()) {
                    self.problem(
                        format!("{path}.target"),
                        format!(
                            "table '{}' is the target of more than one entry",
                            table.target
                        ),
                    );
                }
                tables.push(table);
            }
        }
        tables
    }

    fn table(&mut self, path: &str, value: &Value) -> Option<TableSpec> {
        let obj = self.object(
            path,
            value,
            &["source", "target", "engine", "segments", "glue_job", "mode"],
        )?;
        let source = self.checked(&obj, "source", check_table_name);
        let target = self.checked(&obj, "target", check_table_name);
        let engine_name = self
            .string(&obj, "engine", false)
            .unwrap_or_else(|| "scan".into());
        let engine = match engine_name.as_str() {
            "scan" => {
                if obj.map.contains_key("glue_job") {
                    self.problem(join(path, "glue_job"), "is only used with engine \"glue\"");
                }
                let segments =
                    self.integer(&obj, "segments", u64::from(DEFAULT_SEGMENTS), (1, 1000));
                Some(TableEngine::Scan {
                    segments: u32::try_from(segments).unwrap_or(DEFAULT_SEGMENTS),
                })
            }
            "glue" => {
                if obj.map.contains_key("segments") {
                    self.problem(join(path, "segments"), "is only used with engine \"scan\"");
                }
                self.checked(&obj, "glue_job", check_glue_job_name)
                    .map(|glue_job| TableEngine::Glue { glue_job })
            }
            other => {
                self.problem(
                    join(path, "engine"),
                    format!("must be \"scan\" or \"glue\", found \"{other}\""),
                );
                None
            }
        };
        let mode = match self.string(&obj, "mode", false).as_deref() {
            None | Some("replace") => Some(CopyMode::Replace),
            Some("merge") => Some(CopyMode::Merge),
            Some(other) => {
                self.problem(
                    join(path, "mode"),
                    format!("must be \"replace\" or \"merge\", found \"{other}\""),
                );
                None
            }
        };
        Some(TableSpec {
            source: source?,
            target: target?,
            engine: engine?,
            mode: mode?,
        })
    }

    fn buckets(&mut self, root: &Obj<'_>) -> Vec<BucketSpec> {
        let Some(items) = self.array(root, "buckets") else {
            return Vec::new();
        };
        let mut buckets = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("buckets[{i}]");
            let Some(obj) = self.object(
                &path,
                item,
                &[
                    "source",
                    "target",
                    "prefix",
                    "delete",
                    "max_delete",
                    "concurrency",
                    "transfer",
                ],
            ) else {
                continue;
            };
            let source = self.checked(&obj, "source", check_bucket_name);
            let target = self.checked(&obj, "target", check_bucket_name);
            let prefix = self.string(&obj, "prefix", false).unwrap_or_default();
            let delete = self.boolean(&obj, "delete", false);
            let max_delete = self.integer(&obj, "max_delete", DEFAULT_MAX_DELETE, (0, u64::MAX));
            let concurrency = self.integer(
                &obj,
                "concurrency",
                u64::from(DEFAULT_CONCURRENCY),
                (1, 256),
            );
            let transfer = match self.string(&obj, "transfer", false).as_deref() {
                None | Some("auto") => Transfer::Auto,
                Some("server_side") => Transfer::ServerSide,
                Some("stream") => Transfer::Stream,
                Some(other) => {
                    self.problem(
                        format!("{path}.transfer"),
                        format!(
                            "must be \"auto\", \"server_side\" or \"stream\", found \"{other}\""
                        ),
                    );
                    Transfer::Auto
                }
            };
            if let (Some(source), Some(target)) = (source, target) {
                buckets.push(BucketSpec {
                    source,
                    target,
                    prefix,
                    delete,
                    max_delete,
                    concurrency: u32::try_from(concurrency).unwrap_or(DEFAULT_CONCURRENCY),
                    transfer,
                });
            }
        }
        buckets
    }

    fn masking(&mut self, value: &Value) -> Option<MaskingSpec> {
        let obj = self.object(
            "masking",
            value,
            &[
                "key_secret_arn",
                "domain",
                "attributes",
                "embedded",
                "detect_all",
            ],
        )?;
        let key_secret_arn = self.checked(&obj, "key_secret_arn", check_secret_arn);
        let domain = match self.string(&obj, "domain", false) {
            None => DEFAULT_MASK_DOMAIN.to_string(),
            Some(domain) => {
                if let Some(problem) = check_reserved_domain(&domain) {
                    self.problem("masking.domain", problem);
                }
                domain.to_ascii_lowercase()
            }
        };
        let attributes = self
            .names(&obj, "attributes", check_attribute_pattern)
            .unwrap_or_default();
        let embedded = self.embedded(&obj);
        let detect_all = self.boolean(&obj, "detect_all", false);
        if attributes.is_empty() && embedded.is_empty() && !detect_all {
            self.problem(
                "masking",
                "masks nothing: give attributes, embedded or detect_all: true",
            );
        }
        Some(MaskingSpec {
            key_secret_arn: key_secret_arn?,
            domain,
            attributes,
            embedded,
            detect_all,
        })
    }

    fn embedded(&mut self, obj: &Obj<'_>) -> Vec<EmbeddedRule> {
        let Some(items) = self.array(obj, "embedded") else {
            return Vec::new();
        };
        let mut rules = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("masking.embedded[{i}]");
            let Some(rule) = self.object(&path, item, &["prefix", "delimiter"]) else {
                continue;
            };
            let prefix = self.string(&rule, "prefix", true);
            let delimiter = self.string(&rule, "delimiter", true);
            if let (Some(prefix), Some(delimiter)) = (prefix, delimiter) {
                rules.push(EmbeddedRule { prefix, delimiter });
            }
        }
        rules
    }
}

fn check_region(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.split('-').collect();
    let ok = parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
    (!ok).then(|| format!("'{s}' is not an AWS region such as us-east-1"))
}

fn check_role_arn(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && is_account_id(parts[4])
        && parts[5]
            .strip_prefix("role/")
            .is_some_and(|r| !r.is_empty());
    (!ok).then(|| {
        format!("'{s}' is not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)")
    })
}

/// DynamoDB table names: 3-255 of `[A-Za-z0-9_.-]`.
fn check_table_name(s: &str) -> Option<String> {
    let ok = (3..=255).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    (!ok).then(|| format!("'{s}' is not a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)"))
}

/// S3 bucket names: 3-63 of lower-case letters, digits, '.', '-', starting and ending alphanumeric.
fn check_bucket_name(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let ok = (3..=63).contains(&s.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b".-".contains(b))
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric();
    (!ok).then(|| format!("'{s}' is not an S3 bucket name (3-63 of a-z 0-9 . -)"))
}

fn check_glue_job_name(s: &str) -> Option<String> {
    let ok = (1..=255).contains(&s.len()) && !s.chars().any(char::is_control);
    (!ok).then(|| format!("'{s}' is not a Glue job name"))
}

/// Lambda function names (or ARNs) of stream consumers.
fn check_function_name(s: &str) -> Option<String> {
    let name = s.rsplit(':').next().unwrap_or(s);
    let ok = !name.is_empty()
        && s.len() <= 170
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (!ok).then(|| format!("'{s}' is not a Lambda function name or ARN"))
}

fn check_attribute_pattern(s: &str) -> Option<String> {
    (s.is_empty() || s.len() > 255).then(|| "must be 1-255 characters".to_string())
}

/// Masked addresses must land in a domain that can never receive mail (RFC 2606).
fn check_reserved_domain(s: &str) -> Option<String> {
    let lower = s.to_ascii_lowercase();
    let reserved_tld = [".invalid", ".test", ".example", ".localhost"]
        .iter()
        .any(|tld| lower.ends_with(tld) || lower == tld[1..]);
    let reserved_sld = ["example.com", "example.net", "example.org"]
        .iter()
        .any(|d| lower == *d || lower.ends_with(&format!(".{d}")));
    let well_formed = lower.split('.').all(|label| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    (!(well_formed && (reserved_tld || reserved_sld))).then(|| {
        format!(
            "'{s}' is not a reserved domain: masked addresses must never be deliverable (use e.g. example.invalid, *.test, example.com)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FieldProblem;
    use serde_json::json;

    fn valid() -> Value {
        json!({
            "source": {"name": "prod", "role_arn": "arn:aws:iam::111111111111:role/ferry-source", "region": "us-east-1"},
            "target": {"name": "test", "role_arn": "arn:aws:iam::222222222222:role/ferry-target", "region": "us-east-1"},
            "deploy_table": {"table": "efcms-deploy-test", "settings": {"migrate": false, "source-table-version": "alpha", "n": 3}},
            "tables": [
                {"source": "efcms-prod-alpha", "target": "efcms-test-alpha", "engine": "scan", "segments": 8, "mode": "replace"},
                {"source": "efcms-prod-big", "target": "efcms-test-big", "engine": "glue", "glue_job": "ferry-refresh-table"}
            ],
            "buckets": [{"source": "prod-documents", "target": "test-documents", "delete": true, "max_delete": 10000}],
            "masking": {"key_secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry/masking-key",
                        "attributes": ["email", "*Email"], "embedded": [{"prefix": "user-email", "delimiter": "|"}]}
        })
    }

    fn problems(raw: &Value) -> Vec<FieldProblem> {
        match RefreshRequest::parse(raw) {
            Err(TaskError::InvalidInput(problems)) => problems,
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn parses_a_full_input_with_defaults() {
        let r = RefreshRequest::parse(&valid()).unwrap();
        assert!(!r.dry_run);
        assert_eq!(r.tables[0].engine, TableEngine::Scan { segments: 8 });
        assert_eq!(
            r.tables[1].engine,
            TableEngine::Glue {
                glue_job: "ferry-refresh-table".into()
            }
        );
        assert_eq!(r.tables[1].mode, CopyMode::Replace);
        assert_eq!(r.buckets[0].prefix, "");
        assert_eq!(r.masking.as_ref().unwrap().domain, DEFAULT_MASK_DOMAIN);
        assert_eq!(r.polling, Polling::default());
        assert_eq!(
            r.deploy_table.unwrap().settings["migrate"],
            SettingValue::Bool(false)
        );
        assert_eq!(r.source.role_account(), Some("111111111111"));
    }

    #[test]
    fn reports_every_problem_with_its_path() {
        let raw = json!({
            "source": {"name": "prod", "region": "moon"},
            "target": {"name": "test", "role_arn": "arn:aws:iam::22:role/x", "region": "us-east-1", "colour": "blue"},
            "tables": [{"source": "efcms-prod-alpha", "target": "t", "engine": "glue"},
                       {"source": "a-table", "target": "b-table", "segments": 0, "mode": "append"}],
            "buckets": [{"source": "Prod_Docs", "target": "test-docs", "max_delete": -1}],
            "masking": {"key_secret_arn": "not-an-arn", "domain": "gmail.com", "attributes": ["email"]},
            "polling": {"interval_seconds": 0},
            "tabels": []
        });
        let fields: Vec<String> = problems(&raw).into_iter().map(|p| p.field).collect();
        for expected in [
            "source.region",
            "target.role_arn",
            "target.colour",
            "tables[0].target",
            "tables[0].glue_job",
            "tables[1].segments",
            "tables[1].mode",
            "buckets[0].source",
            "buckets[0].max_delete",
            "masking.key_secret_arn",
            "masking.domain",
            "polling.interval_seconds",
            "tabels",
        ] {
            assert!(
                fields.iter().any(|f| f == expected),
                "missing {expected} in {fields:?}"
            );
        }
    }

    #[test]
    fn requires_masking_when_tables_are_copied() {
        let mut raw = valid();
        raw.as_object_mut().unwrap().remove("masking");
        let p = problems(&raw);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].field, "masking");
    }

    #[test]
    fn refuses_same_source_and_target_names_and_duplicate_targets() {
        let mut raw = valid();
        raw["target"]["name"] = json!("prod");
        raw["tables"][1]["target"] = json!("efcms-test-alpha");
        let fields: Vec<String> = problems(&raw).into_iter().map(|p| p.field).collect();
        assert!(fields.contains(&"target.name".to_string()));
        assert!(fields.contains(&"tables[1].target".to_string()));
    }

    #[test]
    fn a_non_object_input_is_one_problem() {
        let p = problems(&json!([1, 2]));
        assert_eq!(p[0].field, "$");
    }

    #[test]
    fn settings_accept_any_name_but_only_scalar_values() {
        let mut raw = valid();
        raw["deploy_table"]["settings"] = json!({"any-name": "x", "bad": {"a": 1}});
        let p = problems(&raw);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].field, "deploy_table.settings.bad");
    }

    #[test]
    fn reserved_domains() {
        assert!(check_reserved_domain("example.invalid").is_none());
        assert!(check_reserved_domain("mig.test").is_none());
        assert!(check_reserved_domain("example.com").is_none());
        assert!(check_reserved_domain("mig.ef-cms.ustaxcourt.gov").is_some());
        assert!(check_reserved_domain("notexample.com").is_some());
    }
}
