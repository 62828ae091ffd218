//! `setup-deploy-table`: write the run's settings into the target deploy table.
//!
//! One item per setting, `pk` = `sk` = the setting name, the value in `current` (BOOL, N or S). The
//! previous values are returned so a failed run can be understood; re-running writes the same items.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::aws::Aws;
use crate::config::FunctionConfig;
use crate::contract::{SettingValue, SetupDeployTableInput, SetupDeployTableOutput};
use crate::error::TaskError;

/// Writes every setting and reports what each was before.
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
        let key = setting_key(name);
        let old = client
            .get_item()
            .table_name(table)
            .set_key(Some(key.clone()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| {
                TaskError::aws(
                    "GetItem",
                    format!("{table} ({name})"),
                    e.into_service_error(),
                )
            })?;
        previous.insert(
            name.clone(),
            old.item
                .as_ref()
                .and_then(|item| item.get("current"))
                .and_then(from_attribute),
        );
        let mut item = key;
        item.insert("current".to_string(), to_attribute(value));
        client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| {
                TaskError::aws(
                    "PutItem",
                    format!("{table} ({name})"),
                    e.into_service_error(),
                )
            })?;
    }
    tracing::info!(table = %table, written = previous.len(), "deploy table set up");
    Ok(SetupDeployTableOutput {
        table: table.clone(),
        written: previous.len(),
        previous,
    })
}

fn setting_key(name: &str) -> std::collections::HashMap<String, AttributeValue> {
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
}
