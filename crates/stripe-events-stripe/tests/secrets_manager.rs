//! `StripeConfig` reading the key from Secrets Manager by ARN, against moto
//! (`AWS_ENDPOINT_URL` from `infra/local/stack.sh run -- …`). The key read is checked by what
//! a local HTTP server receives in `Authorization`.

use std::time::{Duration, Instant};

use serde_json::json;
use stripe_events_core::hydrate::Hydrator;
use stripe_events_stripe::{
    ConfigError, StripeConfig, StripeHydrator, ENV_API_BASE, ENV_API_KEY, ENV_API_KEY_SECRET_ARN,
};
use stripe_events_testkit::events::*;
use stripe_events_testkit::stack::*;
use stripe_events_testkit::stripe::*;

async fn create_secret(name_prefix: &str, value: &str) -> String {
    require_env("AWS_ENDPOINT_URL");
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    let name = format!(
        "ai-nexus-test/stripe/{name_prefix}-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let out = client
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .expect("moto CreateSecret");
    out.arn().expect("ARN").to_owned()
}

/// The env as a Lambda sees it: an ARN, a base, and (to prove precedence) a different plain key.
fn lambda_env(arn: String, base: String) -> impl Fn(&str) -> Option<String> {
    move |name: &str| match name {
        ENV_API_KEY_SECRET_ARN => Some(arn.clone()),
        ENV_API_BASE => Some(base.clone()),
        ENV_API_KEY => Some("sk_test_plain_env_key_must_lose".to_owned()),
        _ => None,
    }
}

async fn key_seen_by_server(config: StripeConfig) -> String {
    let server = FakeStripe::start(vec![Reply::json(
        200,
        json!({"id": "cus_1", "object": "customer"}),
    )])
    .await;
    let mut config = config;
    config.api_base = server.base.clone();
    let h = StripeHydrator::new(config).unwrap();
    let d = delivery(thin_reference("customer.updated", "customer", "cus_1"));
    h.fetch(&d, Instant::now() + Duration::from_secs(5))
        .await
        .unwrap();
    let auth = server.requests()[0]
        .header("authorization")
        .unwrap()
        .to_owned();
    auth.strip_prefix("Bearer ").unwrap().to_owned()
}

#[tokio::test]
async fn key_is_read_from_secrets_manager_by_arn() {
    let arn = create_secret("plain", "sk_test_from_secrets_manager_42").await;
    let config = StripeConfig::from_vars(lambda_env(arn, "https://api.stripe.com".into()), None)
        .await
        .unwrap();
    assert_eq!(config.api_base, "https://api.stripe.com");
    let shown = format!("{config:?}");
    assert!(!shown.contains("from_secrets_manager_42"), "{shown}");
    assert!(shown.contains("sk_…redacted"), "{shown}");
    assert_eq!(
        key_seen_by_server(config).await,
        "sk_test_from_secrets_manager_42"
    );
}

#[tokio::test]
async fn a_json_secret_with_api_key_works_too() {
    let arn = create_secret("json", r#"{"api_key": "rk_test_restricted_7"}"#).await;
    let config = StripeConfig::from_vars(lambda_env(arn, "https://api.stripe.com".into()), None)
        .await
        .unwrap();
    assert_eq!(format!("{:?}", config.api_key), "rk_…redacted");
    assert_eq!(key_seen_by_server(config).await, "rk_test_restricted_7");
}

#[tokio::test]
async fn a_missing_secret_is_a_config_error_naming_the_arn() {
    require_env("AWS_ENDPOINT_URL");
    let arn = "arn:aws:secretsmanager:us-east-2:123456789012:secret:ai-nexus-test/none-AbCdEf";
    let err = StripeConfig::from_vars(
        lambda_env(arn.to_owned(), "https://api.stripe.com".into()),
        None,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, ConfigError::Secret { arn: a, .. } if a == arn),
        "{err:?}"
    );
}

#[tokio::test]
async fn from_env_uses_the_plain_key_locally() {
    // The stack exports STRIPE_API_BASE/STRIPE_API_KEY and no secret ARN.
    let ls = local_stripe();
    assert!(std::env::var(ENV_API_KEY_SECRET_ARN).is_err());
    let h = StripeHydrator::from_env().await.unwrap();
    let (_, _, sub) = local_subscription(&ls, "user_env").await;
    let d = delivery(thin_reference(
        "customer.subscription.created",
        "subscription",
        sub["id"].as_str().unwrap(),
    ));
    let fetched = h
        .fetch(&d, Instant::now() + Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(fetched.json()["id"], sub["id"]);
    assert_eq!(h.calls(), 1);
}
