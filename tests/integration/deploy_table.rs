//! setup-deploy-table: typed items, previous values, idempotent re-runs, the protected guard.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use shared::contract::{DeployTableSpec, SettingValue, SetupDeployTableInput};
use shared::tasks::setup_deploy_table::setup_deploy_table;

use ferry_tests::fixtures::Account;
use ferry_tests::{aws, prod, test_env, unique};

use crate::config;

fn settings() -> BTreeMap<String, SettingValue> {
    BTreeMap::from([
        ("migrate".to_string(), SettingValue::Bool(false)),
        (
            "source-table-version".to_string(),
            SettingValue::Text("alpha".into()),
        ),
        (
            "destination-table-version".to_string(),
            SettingValue::Text("alpha".into()),
        ),
        ("batch-size".to_string(), SettingValue::Number(25.into())),
    ])
}

#[tokio::test]
async fn writes_one_typed_item_per_setting_and_returns_previous_values() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let t = Account {
        session: &session,
        env: test_env(),
    };
    let table = unique("efcms-deploy-test");
    t.create_table(&table, false).await;
    t.dynamodb()
        .await
        .put_item()
        .table_name(&table)
        .item("pk", AttributeValue::S("migrate".into()))
        .item("sk", AttributeValue::S("migrate".into()))
        .item("current", AttributeValue::Bool(true))
        .send()
        .await
        .unwrap();
    let input = SetupDeployTableInput {
        run_id: unique("run"),
        target: test_env(),
        deploy_table: DeployTableSpec {
            table: table.clone(),
            settings: settings(),
        },
    };

    let first = setup_deploy_table(&aws, &config(), input.clone())
        .await
        .unwrap();

    assert_eq!(first.written, 4);
    assert_eq!(first.previous["migrate"], Some(SettingValue::Bool(true)));
    assert_eq!(first.previous["source-table-version"], None);
    let items = t.scan_current(&table).await;
    assert_eq!(items.len(), 4);
    assert_eq!(items["migrate"], AttributeValue::Bool(false));
    assert_eq!(
        items["source-table-version"],
        AttributeValue::S("alpha".into())
    );
    assert_eq!(items["batch-size"], AttributeValue::N("25".into()));

    let next_run = SetupDeployTableInput {
        run_id: unique("run"),
        ..input
    };
    let second = setup_deploy_table(&aws, &config(), next_run).await.unwrap();
    assert_eq!(
        t.scan_current(&table).await,
        items,
        "a re-run leaves the same table"
    );
    assert_eq!(second.previous["migrate"], Some(SettingValue::Bool(false)));
    assert_eq!(
        second.previous["batch-size"],
        Some(SettingValue::Number(25.into()))
    );
}

#[tokio::test]
async fn a_retried_run_reports_the_values_from_before_the_run_not_its_own() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let t = Account {
        session: &session,
        env: test_env(),
    };
    let table = unique("efcms-deploy-test");
    t.create_table(&table, false).await;
    t.dynamodb()
        .await
        .put_item()
        .table_name(&table)
        .item("pk", AttributeValue::S("source-table-version".into()))
        .item("sk", AttributeValue::S("source-table-version".into()))
        .item("current", AttributeValue::S("beta".into()))
        .send()
        .await
        .unwrap();
    let input = SetupDeployTableInput {
        run_id: unique("run"),
        target: test_env(),
        deploy_table: DeployTableSpec {
            table: table.clone(),
            settings: settings(),
        },
    };

    let config = config();
    let first = setup_deploy_table(&aws, &config, input.clone())
        .await
        .unwrap();
    let (second, third) = tokio::join!(
        setup_deploy_table(&aws, &config, input.clone()),
        setup_deploy_table(&aws, &config, input.clone()),
    );

    let originals = BTreeMap::from([
        ("batch-size".to_string(), None),
        ("destination-table-version".to_string(), None),
        ("migrate".to_string(), None),
        (
            "source-table-version".to_string(),
            Some(SettingValue::Text("beta".into())),
        ),
    ]);
    assert_eq!(first.previous, originals);
    assert_eq!(second.unwrap().previous, originals, "a retry of the run");
    assert_eq!(third.unwrap().previous, originals, "a concurrent retry");
    let items = t.scan_current(&table).await;
    assert_eq!(
        items["source-table-version"],
        AttributeValue::S("alpha".into()),
        "the run's values are written"
    );
}

#[tokio::test]
async fn refuses_a_protected_account_and_writes_nothing() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let p = Account {
        session: &session,
        env: prod(),
    };
    let table = unique("efcms-deploy-prod");
    p.create_table(&table, false).await;
    let input = SetupDeployTableInput {
        run_id: unique("run"),
        target: prod(),
        deploy_table: DeployTableSpec {
            table: table.clone(),
            settings: settings(),
        },
    };

    let err = setup_deploy_table(&aws, &config(), input)
        .await
        .unwrap_err();

    assert_eq!(err.error_type(), "ProtectedTarget");
    assert!(p.scan_current(&table).await.is_empty());
}

#[tokio::test]
async fn a_missing_deploy_table_is_not_found() {
    let aws = aws().await;
    let input = SetupDeployTableInput {
        run_id: unique("run"),
        target: test_env(),
        deploy_table: DeployTableSpec {
            table: unique("no-such-deploy"),
            settings: settings(),
        },
    };

    let err = setup_deploy_table(&aws, &config(), input)
        .await
        .unwrap_err();

    assert_eq!(err.error_type(), "NotFound", "{err}");
    assert!(err.to_string().contains("no-such-deploy"), "{err}");
}
