//! The Lambda binary harness, shared by the three consumer crates' `tests/runtime_api.rs`
//! (each passes its own binary: only a crate's own tests see `CARGO_BIN_EXE_<name>`).
//!
//! The built binary is started as the Lambda service starts a `provided.al2023` bootstrap
//! (Runtime API emulator on 127.0.0.1, the Lambda environment, the local stack's AWS/Stripe
//! settings) against fresh tables in moto. It must apply a fixture, answer its redelivery as a
//! duplicate, acknowledge garbage (also bytes serde rejects) without an error, and keep running. It runs at
//! `RUST_LOG=trace`, and its output must still hold neither the Stripe key nor the raw
//! payload. Needs the local stack (`make test` runs under `infra/local/stack.sh`).

use std::time::Duration;

use lambda_runtime_emulator::process::FunctionCommand;
use lambda_runtime_emulator::Emulator;
use serde_json::{json, Value};
use stripe_events_store::{dynamodb_client, DynamoStore};

use crate::fixtures::fixture_bytes;
use crate::stack::{fresh_tables, local_endpoint, sdk_config_for};

const WAIT: Duration = Duration::from_secs(30);

/// Runs `binary` (function `ai-nexus-dev-stripe-<function>`) through the three invocations
/// above and returns the store it wrote to, for the caller's assertions on the state.
pub async fn applies_dedupes_and_acknowledges(
    binary: &str,
    function: &str,
    fixture: &str,
) -> DynamoStore {
    let event = fixture_bytes(fixture);
    let endpoint = local_endpoint().unwrap_or_else(|e| panic!("{e}"));
    let client = dynamodb_client(&sdk_config_for(&endpoint).await, None);
    let tables = fresh_tables(&client).await.expect("fresh tables in moto");
    let emulator = Emulator::start().await.expect("runtime API emulator");
    // A key only this process knows, to search the logs for.
    let stripe_key = format!("sk_test_never_logged_{}", std::process::id());
    let mut process = FunctionCommand::new(
        binary,
        &emulator,
        &format!("ai-nexus-dev-stripe-{function}"),
    )
    .env("BILLING_TABLE", &tables.billing)
    .env("DEDUPE_TABLE", &tables.dedupe)
    .env("STRIPE_API_KEY", &stripe_key)
    .env("AWS_REGION", "us-east-2")
    .env("RUST_LOG", "trace")
    .env_remove("AWS_LAMBDA_LOG_LEVEL")
    .env_remove("TABLE_PREFIX")
    .env_remove("STRIPE_API_KEY_SECRET_ARN")
    .spawn()
    .expect("spawn the binary");
    process
        .wait_ready_or_explain(&emulator, WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let mut invoke = async |payload: Vec<u8>| -> Value {
        let body = process
            .invoke_for_response(&emulator, payload, WAIT)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        serde_json::from_slice(&body).expect("JSON response")
    };
    assert_eq!(
        invoke(event.clone()).await,
        json!({"outcomes": {"applied": 1}})
    );
    assert_eq!(invoke(event).await, json!({"outcomes": {"duplicate": 1}}));
    // Not an event: acknowledged (no retry), never a crash of the process.
    assert_eq!(
        invoke(b"{\"hello\":\"world\"}".to_vec()).await,
        json!({"outcomes": {"failed_permanent": 1}})
    );
    // Bytes serde rejects reach the handler and are acknowledged the same way.
    for unreadable in [
        &b"{\"source\":\"stripe.webhook\",\"detail\":{\"created\":1e400}}"[..],
        b"{\"detail\": NaN}",
    ] {
        assert_eq!(
            invoke(unreadable.to_vec()).await,
            json!({"outcomes": {"failed_permanent": 1}})
        );
    }
    process.kill().await.expect("kill");
    let output = process.output();
    assert!(output.contains("event processed"), "logs at all: {output}");
    assert!(
        !output.contains(&stripe_key),
        "the Stripe key reached the logs"
    );
    // lambda_runtime logs every raw invocation at trace; that must never be let through.
    assert!(
        !output.contains("raw JSON event"),
        "a raw payload reached the logs"
    );
    assert!(
        !output.contains("hello")
            && !output.contains("\"data\":{")
            && !output.contains("\\\"data\\\":{"),
        "payload bytes reached the logs"
    );
    DynamoStore::new(client, tables)
}
