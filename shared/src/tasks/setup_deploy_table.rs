//! `setup-deploy-table`: write the run's settings into the target deploy table.
//!
//! One item per setting, `pk` = `sk` = the setting name, the value in `current` (BOOL, N or S).
//! Each item also keeps what the setting was before the run that last wrote it: `ferry_previous`
//! (the old `current`, NULL when the setting did not exist) and `ferry_run_id`. They are recorded
//! once per run: a retried or repeated invocation of the same run finds its own run id on the item
//! and reports the recorded value instead of the one it wrote itself, so the output's `previous`
//! always holds the values from before the run. Every write is conditional on what was read
//! (recorded by this run or not), so two invocations of one run cannot both record; one that loses
//! the race reads again.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::aws::Aws;
use crate::config::FunctionConfig;
use crate::contract::{SettingValue, SetupDeployTableInput, SetupDeployTableOutput};
use crate::error::TaskError;

/// Attribute holding a setting's value from before the run named in [`RUN_ID`].
pub const PREVIOUS: &str = "ferry_previous";
/// Attribute naming the run that recorded [`PREVIOUS`].
pub const RUN_ID: &str = "ferry_run_id";
/// Reads and writes of one setting when another invocation of the run writes it meanwhile.
const ATTEMPTS: usize = 3;

/// A stored item.
type Item = HashMap<String, AttributeValue>;

/// Writes every setting and reports what each was before the run.
pub async fn setup_deploy_table(
    aws: &Aws,
    config: &FunctionConfig,
    input: SetupDeployTableInput,
) -> Result<SetupDeployTableOutput, TaskError> {
    let session = aws.session(&input.run_id);
    session
        .writable_account(&input.target, &config.protected_accounts)
        .await?;
    let client = session.dynamodb(&input.target).await?;
    let table = &input.deploy_table.table;
    let mut previous = BTreeMap::new();
    for (name, value) in &input.deploy_table.settings {
        let before = write_setting(&client, table, &input.run_id, name, value).await?;
        previous.insert(name.clone(), from_attribute(&before));
    }
    tracing::info!(table = %table, written = previous.len(), "deploy table set up");
    Ok(SetupDeployTableOutput {
        table: table.clone(),
        written: previous.len(),
        previous,
    })
}

/// Writes one setting; returns its stored value from before the run (NULL: it did not exist).
async fn write_setting(
    client: &Client,
    table: &str,
    run_id: &str,
    name: &str,
    value: &SettingValue,
) -> Result<AttributeValue, TaskError> {
    let place = format!("{table} ({name})");
    let mut attempt = 1;
    loop {
        let stored = read_setting(client, table, name, &place).await?;
        let before = before_run(stored.as_ref(), run_id);
        let mut item = setting_key(name);
        item.insert("current".to_string(), to_attribute(value));
        item.insert(PREVIOUS.to_string(), before.value.clone());
        item.insert(RUN_ID.to_string(), AttributeValue::S(run_id.to_string()));
        let condition = if before.recorded {
            "#run = :run"
        } else {
            "attribute_not_exists(#run) OR #run <> :run"
        };
        let written = client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression(condition)
            .expression_attribute_names("#run", RUN_ID)
            .expression_attribute_values(":run", AttributeValue::S(run_id.to_string()))
            .send()
            .await;
        match written {
            Ok(_) => return Ok(before.value),
            Err(err) => {
                let err = err.into_service_error();
                if !(err.is_conditional_check_failed_exception() && attempt < ATTEMPTS) {
                    return Err(TaskError::aws("PutItem", place, err));
                }
                attempt += 1;
            }
        }
    }
}

async fn read_setting(
    client: &Client,
    table: &str,
    name: &str,
    place: &str,
) -> Result<Option<Item>, TaskError> {
    let read = client
        .get_item()
        .table_name(table)
        .set_key(Some(setting_key(name)))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| TaskError::aws("GetItem", place, e.into_service_error()))?;
    Ok(read.item)
}

/// A setting's stored value from before a run, and whether that run already recorded it.
#[derive(Debug, Clone, PartialEq)]
struct Before {
    value: AttributeValue,
    recorded: bool,
}

/// What `stored` says the setting was before `run_id`: the value that run recorded, else the
/// current one (NULL when there is none).
fn before_run(stored: Option<&Item>, run_id: &str) -> Before {
    let attribute = |name: &str| {
        stored
            .and_then(|item| item.get(name))
            .cloned()
            .unwrap_or(AttributeValue::Null(true))
    };
    let recorded = stored
        .and_then(|item| item.get(RUN_ID))
        .and_then(|run| run.as_s().ok())
        .is_some_and(|run| run == run_id);
    Before {
        value: attribute(if recorded { PREVIOUS } else { "current" }),
        recorded,
    }
}

fn setting_key(name: &str) -> Item {
    [
        ("pk".to_string(), AttributeValue::S(name.to_string())),
        ("sk".to_string(), AttributeValue::S(name.to_string())),
    ]
    .into_iter()
    .collect()
}

/// The stored form of a setting.
pub fn to_attribute(value: &SettingValue) -> AttributeValue {
    match value {
        SettingValue::Bool(b) => AttributeValue::Bool(*b),
        SettingValue::Number(n) => AttributeValue::N(n.to_string()),
        SettingValue::Text(s) => AttributeValue::S(s.clone()),
    }
}

/// A stored setting read back; other attribute types are not settings ferry wrote and read as absent.
pub fn from_attribute(value: &AttributeValue) -> Option<SettingValue> {
    match value {
        AttributeValue::Bool(b) => Some(SettingValue::Bool(*b)),
        AttributeValue::S(s) => Some(SettingValue::Text(s.clone())),
        AttributeValue::N(n) => serde_json::from_str::<serde_json::Number>(n)
            .ok()
            .map(SettingValue::Number),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_through_attributes() {
        for value in [
            SettingValue::Bool(false),
            SettingValue::Text("alpha".into()),
            SettingValue::Number(serde_json::Number::from(42)),
        ] {
            assert_eq!(from_attribute(&to_attribute(&value)), Some(value));
        }
        assert_eq!(from_attribute(&AttributeValue::Null(true)), None);
    }

    fn item(current: bool, recorded: Option<(&str, AttributeValue)>) -> Item {
        let mut item = setting_key("migrate");
        item.insert("current".into(), AttributeValue::Bool(current));
        if let Some((run, previous)) = recorded {
            item.insert(RUN_ID.into(), AttributeValue::S(run.into()));
            item.insert(PREVIOUS.into(), previous);
        }
        item
    }

    #[test]
    fn the_value_before_a_run_is_the_one_it_recorded_else_the_current_one() {
        let absent = before_run(None, "run-2");
        assert_eq!(absent.value, AttributeValue::Null(true));
        assert!(!absent.recorded);

        let untouched = before_run(Some(&item(true, None)), "run-2");
        assert_eq!(untouched.value, AttributeValue::Bool(true));
        assert!(!untouched.recorded);

        let earlier_run = item(false, Some(("run-1", AttributeValue::Bool(true))));
        let fresh = before_run(Some(&earlier_run), "run-2");
        assert_eq!(fresh.value, AttributeValue::Bool(false), "run-1's value");
        assert!(!fresh.recorded);

        let this_run = item(false, Some(("run-2", AttributeValue::Bool(true))));
        let retried = before_run(Some(&this_run), "run-2");
        assert_eq!(
            retried.value,
            AttributeValue::Bool(true),
            "recorded, not current"
        );
        assert!(retried.recorded);

        let created = item(false, Some(("run-2", AttributeValue::Null(true))));
        assert_eq!(
            before_run(Some(&created), "run-2").value,
            AttributeValue::Null(true)
        );
    }
}
