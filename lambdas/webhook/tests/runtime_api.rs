//! The webhook's built binary over the Lambda Runtime API (emulator on 127.0.0.1) against
//! moto's EventBridge, at `RUST_LOG=trace`: a signed payload 2.0 request is forwarded, a
//! request off the route is refused, a REST (payload 1.0) request is an invocation error, and
//! the output holds neither the signature, the secret nor the body.
//! Needs the local stack (`infra/local/stack.sh run -- cargo test -p webhook`).

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use lambda_runtime_emulator::process::FunctionCommand;
use lambda_runtime_emulator::{Emulator, Outcome as EmulatorOutcome};
use serde_json::{json, Value};
use sha2::Sha256;
use stripe_events_core::Timestamp;
use stripe_events_testkit::stack::require_env;
use stripe_events_testkit::webhook::http_api_json;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn binary_forwards_and_logs_no_secret_signature_or_body() {
    let endpoint = require_env("AWS_ENDPOINT_URL");
    let secret = format!("whsec_test_never_logged_{}", std::process::id());
    let emulator = Emulator::start().await.expect("runtime API emulator");
    let mut process = FunctionCommand::new(
        env!("CARGO_BIN_EXE_webhook"),
        &emulator,
        "ai-nexus-dev-stripe-webhook",
    )
    .env("AWS_ENDPOINT_URL", &endpoint)
    .env("AWS_REGION", "us-east-2")
    .env("AWS_ACCESS_KEY_ID", "testing")
    .env("AWS_SECRET_ACCESS_KEY", "testing")
    .env("EVENT_BUS_NAME", "default")
    .env("STRIPE_WEBHOOK_SECRET", &secret)
    .env("RUST_LOG", "trace")
    .env_remove("AWS_LAMBDA_LOG_LEVEL")
    .env_remove("STRIPE_WEBHOOK_SECRET_ARN")
    .env_remove("WEBHOOK_ROUTE")
    .spawn()
    .expect("spawn the binary");
    process
        .wait_ready_or_explain(&emulator, WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // A body marker our logs never print (only ids, types and outcomes are logged).
    let body = json!({"id": "evt_binary_logs", "object": "event", "type": "customer.updated",
        "created": Timestamp::now().unix_seconds(), "livemode": false,
        "data": {"object": {"id": "cus_logs", "object": "customer",
                            "email": "body-marker-never-logged@example.com"}}})
    .to_string();
    let t = Timestamp::now().unix_seconds();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{t}.{body}").as_bytes());
    let signature_hex = hex::encode(mac.finalize().into_bytes());
    let signature = format!("t={t},v1={signature_hex}");

    let request = |method: &str, path: &str| -> Value {
        let mut request = http_api_json(&body, false, &[("stripe-signature", &signature)]);
        request["rawPath"] = json!(path);
        request["requestContext"]["http"] = json!({"method": method, "path": path});
        request
    };
    let mut invoke = async |request: Value| -> Value {
        let answer = process
            .invoke_for_response(&emulator, serde_json::to_vec(&request).expect("JSON"), WAIT)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        serde_json::from_slice(&answer).expect("JSON response")
    };
    // The binary answers with an HTTP API (payload 2.0) response.
    let accepted = invoke(request("POST", "/stripe/webhook")).await;
    assert_eq!(accepted["statusCode"], 200, "{accepted}");
    assert_eq!(accepted["headers"]["content-type"], "application/json");
    assert_eq!(accepted["body"], r#"{"received":true}"#);
    assert_eq!(accepted["isBase64Encoded"], false);
    let wrong_method = invoke(request("GET", "/stripe/webhook")).await;
    assert_eq!(wrong_method["statusCode"], 405);
    assert_eq!(wrong_method["headers"]["allow"], "POST");
    assert_eq!(
        invoke(request("POST", "/anything/else")).await["statusCode"],
        404
    );

    // A REST API (payload 1.0) request is not an ApiGatewayV2httpRequest: lambda_runtime
    // answers it with an invocation error before the handler runs, and serves the next one.
    let mut rest = request("POST", "/stripe/webhook");
    rest["requestContext"] = json!({"stage": "prod", "httpMethod": "POST"});
    rest["httpMethod"] = json!("POST");
    rest["path"] = json!("/stripe/webhook");
    let result = emulator
        .invoke(serde_json::to_vec(&rest).expect("JSON"), WAIT)
        .await
        .expect("an answer");
    assert!(
        matches!(result.outcome, EmulatorOutcome::Error(_)),
        "{:?}",
        result.outcome
    );
    assert_eq!(
        invoke(request("POST", "/stripe/webhook")).await["statusCode"],
        200
    );
    process.kill().await.expect("kill");

    let output = process.output();
    assert!(output.contains("webhook event forwarded"), "{output}");
    for (what, needle) in [
        ("the secret", secret.as_str()),
        ("the signature", signature_hex.as_str()),
        ("the body", "body-marker-never-logged"),
        ("a raw invocation", "raw JSON event"),
    ] {
        assert!(!output.contains(needle), "{what} reached the logs");
    }
}
