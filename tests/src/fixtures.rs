//! Builders for the resources the tests need in either account: tables with streams, stream
//! consumers (Lambda functions with event source mappings), Glue jobs, buckets.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, StreamSpecification, StreamViewType,
};
use shared::aws::Session;
use shared::contract::Environment;

/// The three accounts of the test bed: prod (source), test (target) and ferry's own.
pub fn accounts(session: &Session) -> (Account<'_>, Account<'_>, Account<'_>) {
    let account = |env| Account { session, env };
    (
        account(crate::prod()),
        account(crate::test_env()),
        account(crate::own()),
    )
}

/// Fixture access to one environment.
pub struct Account<'a> {
    /// Session holding the assumed role.
    pub session: &'a Session,
    /// The environment.
    pub env: Environment,
}

impl Account<'_> {
    /// DynamoDB client in this account.
    pub async fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        self.session
            .dynamodb(&self.env)
            .await
            .expect("dynamodb client")
    }

    /// Lambda client in this account.
    pub async fn lambda(&self) -> aws_sdk_lambda::Client {
        self.session.lambda(&self.env).await.expect("lambda client")
    }

    /// Glue client in this account.
    pub async fn glue(&self) -> aws_sdk_glue::Client {
        self.session.glue(&self.env).await.expect("glue client")
    }

    /// S3 client in this account.
    pub async fn s3(&self) -> aws_sdk_s3::Client {
        self.session.s3(&self.env).await.expect("s3 client")
    }

    /// Creates a `pk`/`sk` string-keyed table, with a NEW_AND_OLD_IMAGES stream when asked.
    /// Returns the stream ARN when there is one.
    pub async fn create_table(&self, name: &str, stream: bool) -> Option<String> {
        let mut request = self
            .dynamodb()
            .await
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest);
        for (attr, key_type) in [("pk", KeyType::Hash), ("sk", KeyType::Range)] {
            request = request
                .attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name(attr)
                        .attribute_type(ScalarAttributeType::S)
                        .build()
                        .unwrap(),
                )
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name(attr)
                        .key_type(key_type)
                        .build()
                        .unwrap(),
                );
        }
        if stream {
            request = request.stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build()
                    .unwrap(),
            );
        }
        let out = request.send().await.expect("create table");
        out.table_description.and_then(|t| t.latest_stream_arn)
    }

    /// Creates a table keyed by `id` (number) only, for key-schema mismatches.
    pub async fn create_numeric_table(&self, name: &str) {
        self.dynamodb()
            .await
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("id")
                    .attribute_type(ScalarAttributeType::N)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("id")
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("create table");
    }

    /// Every item of a table as `pk` → `current` attribute (for deploy tables).
    pub async fn scan_current(&self, table: &str) -> HashMap<String, AttributeValue> {
        let out = self
            .dynamodb()
            .await
            .scan()
            .table_name(table)
            .send()
            .await
            .expect("scan");
        out.items()
            .iter()
            .map(|item| {
                let pk = item["pk"].as_s().unwrap().clone();
                assert_eq!(
                    item["sk"].as_s().unwrap(),
                    &pk,
                    "pk and sk must both be the setting name"
                );
                (pk, item["current"].clone())
            })
            .collect()
    }

    /// Creates a Lambda function consuming `stream_arn`; returns the mapping UUID.
    pub async fn create_consumer(&self, function: &str, stream_arn: &str, enabled: bool) -> String {
        let role_name = format!("{function}-role");
        let iam = aws_sdk_iam::Client::new(&self.session.config(&self.env).await.unwrap());
        let role = iam
            .create_role()
            .role_name(&role_name)
            .assume_role_policy_document(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
            )
            .send()
            .await
            .expect("create role");
        let lambda = self.lambda().await;
        lambda
            .create_function()
            .function_name(function)
            .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
            .handler("bootstrap")
            .role(role.role.unwrap().arn)
            .code(
                aws_sdk_lambda::types::FunctionCode::builder()
                    .zip_file(aws_sdk_lambda::primitives::Blob::new(b"not run".to_vec()))
                    .build(),
            )
            .send()
            .await
            .expect("create function");
        let mapping = lambda
            .create_event_source_mapping()
            .function_name(function)
            .event_source_arn(stream_arn)
            .starting_position(aws_sdk_lambda::types::EventSourcePosition::TrimHorizon)
            .enabled(enabled)
            .send()
            .await
            .expect("create event source mapping");
        mapping.uuid.expect("mapping uuid")
    }

    /// The state of a mapping ("Enabled", "Disabled", …).
    pub async fn mapping_state(&self, mapping_id: &str) -> String {
        self.lambda()
            .await
            .get_event_source_mapping()
            .uuid(mapping_id)
            .send()
            .await
            .expect("get mapping")
            .state
            .unwrap_or_default()
    }

    /// Creates a Glue job with the given default arguments.
    pub async fn create_glue_job(&self, name: &str, default_arguments: &[(&str, &str)]) {
        let mut request = self
            .glue()
            .await
            .create_job()
            .name(name)
            .role("arn:aws:iam::111111111111:role/ferry-glue")
            .execution_property(
                aws_sdk_glue::types::ExecutionProperty::builder()
                    .max_concurrent_runs(4)
                    .build(),
            )
            .command(
                aws_sdk_glue::types::JobCommand::builder()
                    .name("glueetl")
                    .script_location("s3://scripts/refresh_table.py")
                    .build(),
            );
        for (k, v) in default_arguments {
            request = request.default_arguments(*k, *v);
        }
        request.send().await.expect("create glue job");
    }

    /// Creates a bucket.
    pub async fn create_bucket(&self, name: &str) {
        self.s3()
            .await
            .create_bucket()
            .bucket(name)
            .send()
            .await
            .expect("create bucket");
    }
}

impl Account<'_> {
    /// Writes items with batch writes, several batches at once.
    pub async fn put_items(&self, table: &str, items: Vec<shared::ddb_json::Item>) {
        use futures::StreamExt;
        use shared::aws::batch_write::{RetryPolicy, chunk, put, write_batch};
        let client = self.dynamodb().await;
        let policy = RetryPolicy::default();
        let batches = chunk(items.into_iter().map(put).collect());
        futures::stream::iter(batches)
            .map(|batch| write_batch(&client, table, batch, &policy))
            .buffer_unordered(8)
            .for_each(|r| async move {
                r.expect("batch write");
            })
            .await;
    }

    /// Every item of a table, page by page.
    pub async fn scan_all(&self, table: &str) -> Vec<shared::ddb_json::Item> {
        let client = self.dynamodb().await;
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = client
                .scan()
                .table_name(table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key.filter(|k| !k.is_empty());
            if start.is_none() {
                return items;
            }
        }
    }

    /// Creates a secret in this account; returns its ARN.
    pub async fn create_secret(&self, name: &str, value: &str) -> String {
        let client =
            aws_sdk_secretsmanager::Client::new(&self.session.config(&self.env).await.unwrap());
        client
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .expect("create secret")
            .arn
            .expect("secret arn")
    }
}
