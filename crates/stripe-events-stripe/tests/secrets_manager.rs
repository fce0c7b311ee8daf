//! `StripeConfig` reading the key from Secrets Manager by ARN, against moto
//! (`AWS_ENDPOINT_URL` from `infra/local/stack.sh run -- …`). The key read is checked by what
//! a local HTTP server receives in `Authorization`.

use std::time::{Duration, Instant};

use serde_json::json;
use stripe_events_core::hydrate::{HydrateError, Hydrator};
use stripe_events_stripe::{
    ConfigError, StripeConfig, StripeHydrator, ENV_API_BASE, ENV_API_KEY, ENV_API_KEY_SECRET_ARN,
};
use stripe_events_testkit::events::*;
use stripe_events_testkit::stack::*;
use stripe_events_testkit::stripe::*;

async fn secrets_client() -> aws_sdk_secretsmanager::Client {
    require_env("AWS_ENDPOINT_URL");
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    aws_sdk_secretsmanager::Client::new(&sdk)
}

async fn create_secret(name_prefix: &str, value: &str) -> String {
    let client = secrets_client().await;
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

/// A key revoked in Stripe, then replaced in its secret by the operator: a warm hydrator reads
/// the secret again when Stripe answers 401 (at most once per interval) and sends the
/// rejected request once more with the new key, so the event needs no redeploy.
#[tokio::test]
async fn a_rotated_key_is_read_again_when_stripe_rejects_the_old_one() {
    const OLD: &str = "sk_test_revoked_in_stripe_1";
    const NEW: &str = "sk_test_rotated_into_the_secret_2";
    let arn = create_secret("rotated", OLD).await;
    let server = FakeStripe::responding(|request| {
        if request.header("authorization") == Some(&format!("Bearer {NEW}")) {
            Reply::json(200, json!({"id": "cus_rot", "object": "customer"}))
        } else {
            Reply::stripe_error(401, "invalid_request_error", "Invalid API Key provided")
        }
    })
    .await;
    let mut config = StripeConfig::from_vars(lambda_env(arn.clone(), server.base.clone()), None)
        .await
        .unwrap();
    let interval = Duration::from_secs(2);
    config.key_reload_interval = interval;
    config.retry = fast_policy();
    let h = StripeHydrator::new(config).unwrap();
    let d = delivery(thin_reference("customer.updated", "customer", "cus_rot"));
    let soon = || Instant::now() + Duration::from_secs(10);

    // Rejected, and the secret was read moments ago: transient, one call.
    let err = h.fetch(&d, soon()).await.unwrap_err();
    assert!(matches!(err, HydrateError::Transient(_)), "{err:?}");
    assert_eq!(h.calls(), 1);

    // The operator puts the new key into the secret.
    secrets_client()
        .await
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(NEW)
        .send()
        .await
        .expect("moto PutSecretValue");
    tokio::time::sleep(interval + Duration::from_millis(200)).await;

    // Rejected again: the secret is read again and the request sent once more, with the new
    // key; later fetches use it from the start.
    let fetched = h.fetch(&d, soon()).await.unwrap();
    assert_eq!(fetched.json()["id"], "cus_rot");
    h.fetch(&d, soon()).await.unwrap();
    let keys: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.header("authorization").unwrap_or("").to_owned())
        .collect();
    let (old, new) = (format!("Bearer {OLD}"), format!("Bearer {NEW}"));
    assert_eq!(keys, [old.as_str(), &old, &new, &new]);
    assert!(!format!("{h:?}").contains("rotated_into"), "{h:?}");
}

/// The secret is read again at most once per interval: a run of rejections with an unchanged
/// secret does not read it per request, and a secret still holding the rejected key sends
/// nothing again.
#[tokio::test]
async fn a_rejected_key_rereads_the_secret_at_most_once_per_interval() {
    let arn = create_secret("rejected", "sk_test_rejected_for_good_3").await;
    let server = FakeStripe::start(vec![Reply::stripe_error(
        403,
        "invalid_request_error",
        "The provided key does not have the required permissions",
    )])
    .await;
    let mut config = StripeConfig::from_vars(lambda_env(arn.clone(), server.base.clone()), None)
        .await
        .unwrap();
    let interval = Duration::from_secs(1);
    config.key_reload_interval = interval;
    config.retry = fast_policy();
    let h = StripeHydrator::new(config).unwrap();
    let d = delivery(thin_reference("customer.updated", "customer", "cus_403"));
    let deadline = || Instant::now() + Duration::from_secs(10);
    let secrets = secrets_client().await;
    tokio::time::sleep(interval + Duration::from_millis(100)).await;
    // Due: read again, the same key, so no second request.
    let err = h.fetch(&d, deadline()).await.unwrap_err();
    assert!(matches!(err, HydrateError::Transient(_)), "{err:?}");
    assert_eq!(h.calls(), 1);
    // A key put in now is not read before the interval has passed since the last read.
    secrets
        .put_secret_value()
        .secret_id(&arn)
        .secret_string("sk_test_permitted_4")
        .send()
        .await
        .expect("moto PutSecretValue");
    let err = h.fetch(&d, deadline()).await.unwrap_err();
    assert!(matches!(err, HydrateError::Transient(_)), "{err:?}");
    assert_eq!(h.calls(), 2);
    tokio::time::sleep(interval + Duration::from_millis(100)).await;
    // Due again: the new key is read, and the request sent once more with it (still 403
    // here: a retry, not a loop).
    let err = h.fetch(&d, deadline()).await.unwrap_err();
    assert!(matches!(err, HydrateError::Transient(_)), "{err:?}");
    assert_eq!(h.calls(), 4);
    let last = server.requests().pop().unwrap();
    assert_eq!(
        last.header("authorization"),
        Some("Bearer sk_test_permitted_4")
    );
}
