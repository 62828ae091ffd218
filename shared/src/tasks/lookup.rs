//! Look-ups shared by several steps: "does this exist?" answered as `Option`, other failures as errors.

use aws_sdk_dynamodb::types::TableDescription;
use aws_sdk_lambda::types::EventSourceMappingConfiguration;

use crate::error::TaskError;

/// `DescribeTable`, with a missing table as `None`.
pub async fn describe_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<Option<TableDescription>, TaskError> {
    match client.describe_table().table_name(table).send().await {
        Ok(out) => Ok(out.table),
        Err(err) => {
            let err = err.into_service_error();
            if err.is_resource_not_found_exception() {
                Ok(None)
            } else {
                Err(TaskError::aws("DescribeTable", table, err))
            }
        }
    }
}

/// `GetEventSourceMapping`, with a missing mapping as `None`.
pub async fn get_mapping(
    client: &aws_sdk_lambda::Client,
    mapping_id: &str,
) -> Result<Option<EventSourceMappingConfiguration>, TaskError> {
    match client
        .get_event_source_mapping()
        .uuid(mapping_id)
        .send()
        .await
    {
        Ok(out) => Ok(Some(mapping_from_get(out))),
        Err(err) => {
            let err = err.into_service_error();
            if err.is_resource_not_found_exception() {
                Ok(None)
            } else {
                Err(TaskError::aws("GetEventSourceMapping", mapping_id, err))
            }
        }
    }
}

fn mapping_from_get(
    out: aws_sdk_lambda::operation::get_event_source_mapping::GetEventSourceMappingOutput,
) -> EventSourceMappingConfiguration {
    EventSourceMappingConfiguration::builder()
        .set_uuid(out.uuid)
        .set_state(out.state)
        .set_function_arn(out.function_arn)
        .set_event_source_arn(out.event_source_arn)
        .set_event_source_mapping_arn(out.event_source_mapping_arn)
        .build()
}

/// The mapping's own ARN (what tags are put on), or an error naming the mapping.
pub fn mapping_arn(mapping: &EventSourceMappingConfiguration) -> Result<&str, TaskError> {
    mapping.event_source_mapping_arn().ok_or_else(|| {
        TaskError::Mismatch(format!(
            "event source mapping {} was described without its EventSourceMappingArn",
            mapping.uuid().unwrap_or("?")
        ))
    })
}

/// The settled-or-moving state of a mapping as Lambda reports it ("Enabled", "Disabling", …).
pub fn mapping_state(mapping: &EventSourceMappingConfiguration) -> &str {
    mapping.state.as_deref().unwrap_or("Unknown")
}
