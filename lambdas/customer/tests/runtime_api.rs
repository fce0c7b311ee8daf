//! `main.rs` wiring of the customer Lambda: the built binary, started as the Lambda service
//! starts a `provided.al2023` bootstrap (Runtime API emulator on 127.0.0.1, the Lambda
//! environment, the local stack's AWS/Stripe settings), applies a customer event to fresh
//! tables in moto, answers a redelivery as a duplicate and acknowledges garbage without an
//! error. Needs the local stack (`make test` runs under `infra/local/stack.sh`).

use std::time::Duration;

use lambda_runtime_emulator::process::FunctionCommand;
use lambda_runtime_emulator::Emulator;
use serde_json::{json, Value};
use stripe_events_store::testkit::{fresh_tables, local_endpoint, sdk_config_for};
use stripe_events_store::{dynamodb_client, DynamoStore};

const FIXTURE: &str = "partner-snapshot/customer-updated.json";
const WAIT: Duration = Duration::from_secs(30);

fn fixture() -> Vec<u8> {
    let path = format!("{}/../../fixtures/{FIXTURE}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[tokio::test]
async fn binary_serves_the_runtime_api_against_moto() {
    let endpoint = local_endpoint().unwrap_or_else(|e| panic!("{e}"));
    let client = dynamodb_client(&sdk_config_for(&endpoint).await, None);
    let tables = fresh_tables(&client).await.expect("fresh tables in moto");
    let emulator = Emulator::start().await.expect("runtime API emulator");
    let stripe_key = std::env::var("STRIPE_API_KEY").unwrap_or_else(|_| "sk_test_emulated".into());
    let mut function = FunctionCommand::new(
        env!("CARGO_BIN_EXE_customer"),
        &emulator,
        "ai-nexus-dev-stripe-customer",
    )
    .env("BILLING_TABLE", &tables.billing)
    .env("DEDUPE_TABLE", &tables.dedupe)
    .env("STRIPE_API_KEY", stripe_key)
    .env("AWS_REGION", "us-east-2")
    .env_remove("TABLE_PREFIX")
    .env_remove("STRIPE_API_KEY_SECRET_ARN")
    .spawn()
    .expect("spawn the binary");
    function
        .wait_ready_or_explain(&emulator, WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let mut invoke = async |payload: Vec<u8>| -> Value {
        let body = function
            .invoke_for_response(&emulator, payload, WAIT)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        serde_json::from_slice(&body).expect("JSON response")
    };
    assert_eq!(invoke(fixture()).await, json!({"outcomes": {"applied": 1}}));
    assert_eq!(
        invoke(fixture()).await,
        json!({"outcomes": {"duplicate": 1}})
    );
    // Not an event: acknowledged (no retry), never a crash of the process.
    assert_eq!(
        invoke(b"{\"hello\":\"world\"}".to_vec()).await,
        json!({"outcomes": {"failed_permanent": 1}})
    );
    function.kill().await.expect("kill");

    let store = DynamoStore::new(client, tables);
    let profile = store
        .state_item("CUSTOMER#cus_NffrFeUfNV2Hib", "PROFILE")
        .await
        .expect("read state")
        .expect("profile item written by the binary");
    assert_eq!(profile["email"], "jenny.rosen@example.com");
    assert_eq!(profile["last_event_id"], "evt_1Tzqu6LkdIwHu7ixfXWWl4Gt");
}
