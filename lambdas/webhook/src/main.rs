//! Lambda entry point: configuration from the environment and AWS clients once per cold
//! start, then one [`WebhookHandler`] call per request. Logs: `stripe_events_lambda::init_logging`
//! (JSON lines, plain lines when `AWS_LAMBDA_LOG_FORMAT` is `Text`; `AWS_LAMBDA_LOG_LEVEL`,
//! else `RUST_LOG`, sets the level, default `info`).

use std::sync::Arc;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use stripe_events_lambda::{aws_sdk_config, deadline_of, init_logging};
use stripe_events_webhook::secrets::RELOAD_MIN_INTERVAL;
use stripe_events_webhook::{
    ApiGatewayV2httpRequest, ApiGatewayV2httpResponse, Config, EventBridgeForwarder, SecretSource,
    SecretStore, SecretsManagerLoader, WebhookHandler,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_logging();
    let config = Config::from_lookup(|k| std::env::var(k).ok()).inspect_err(|e| {
        tracing::error!(outcome = "init_failed", error = %e, "invalid configuration");
    })?;
    // Connect, attempt and operation timeouts: the cold-start secret read cannot hang.
    let sdk = aws_sdk_config().await;

    let (secrets, secret_origin) = match config.secret_source {
        SecretSource::Inline(secrets) => (SecretStore::fixed(secrets), "env"),
        SecretSource::SecretsManager { secret_id } => {
            let loader =
                SecretsManagerLoader::new(aws_sdk_secretsmanager::Client::new(&sdk), secret_id);
            let initial = loader.load_now().await.inspect_err(|e| {
                tracing::error!(outcome = "init_failed", error = %e, "cannot load the webhook secret");
            })?;
            (
                SecretStore::reloadable(initial, Box::new(loader), RELOAD_MIN_INTERVAL),
                "secrets_manager",
            )
        }
    };
    tracing::info!(
        event_bus = %config.event_bus_name,
        secret_origin,
        secrets = secrets.current().len(),
        tolerance_seconds = config.tolerance_seconds,
        route = %config.route,
        "webhook ready"
    );

    let forwarder = EventBridgeForwarder::new(
        aws_sdk_eventbridge::Client::new(&sdk),
        config.event_bus_name,
    );
    let handler = Arc::new(
        WebhookHandler::new(secrets, config.tolerance_seconds, forwarder).with_route(config.route),
    );

    // API Gateway HTTP API, payload format 2.0 (infra/webhook.tf). A payload that does not
    // deserialize as an ApiGatewayV2httpRequest is rejected by lambda_runtime before this
    // closure runs (an invocation error, logged by lambda_runtime, no outcome or EMF line):
    // API Gateway never sends one, so it is not a Stripe request.
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayV2httpRequest>| {
            let handler = Arc::clone(&handler);
            async move {
                let trace = event.context.xray_trace_id.clone();
                let deadline = deadline_of(&event.context);
                let now = stripe_events_core::Timestamp::now().unix_seconds();
                let outcome = handler
                    .process_until(&event.payload, now, trace.as_deref(), deadline)
                    .await;
                Ok::<ApiGatewayV2httpResponse, Error>(outcome.response())
            }
        },
    ))
    .await
}
