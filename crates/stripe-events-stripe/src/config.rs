//! Where the hydrator's settings come from: the API base, the API key (Secrets Manager in
//! AWS, an environment variable locally) and the retry budget.

use std::fmt;
use std::time::Duration;

use hyper::Uri;
use thiserror::Error;

/// Stripe's production API.
pub const DEFAULT_API_BASE: &str = "https://api.stripe.com";
/// API base override (localstripe, a proxy). Default [`DEFAULT_API_BASE`].
pub const ENV_API_BASE: &str = "STRIPE_API_BASE";
/// Plain API key, for local runs and tests.
pub const ENV_API_KEY: &str = "STRIPE_API_KEY";
/// ARN of the Secrets Manager secret holding the API key (what the Lambdas get). Wins over
/// [`ENV_API_KEY`] when both are set.
pub const ENV_API_KEY_SECRET_ARN: &str = "STRIPE_API_KEY_SECRET_ARN";
/// Optional `Stripe-Version` to pin fetched objects to. Unset: the account's default version,
/// i.e. the same shape the account's snapshot events carry.
pub const ENV_API_VERSION: &str = "STRIPE_API_VERSION";
/// The least time between two reads of the key's secret after Stripe rejected the key (and
/// since the cold start's read): a rotated key reaches a warm container within about this
/// long of a rejected fetch, at the cost of at most one `GetSecretValue` per interval per
/// container while the key is rejected.
pub const KEY_RELOAD_MIN_INTERVAL: Duration = Duration::from_secs(60);

/// A Stripe secret or restricted key. It has no `Display`, and its `Debug` prints only
/// `sk_…redacted`, so it cannot leak through a log line, an error or a `{:?}`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Validates the key's form (non-empty, visible ASCII, as an HTTP header needs). The error
    /// never repeats the value.
    pub fn new(key: impl Into<String>) -> Result<Self, ConfigError> {
        let key = key.into();
        let key = key.trim();
        if key.is_empty() {
            return Err(ConfigError::InvalidKey("it is empty"));
        }
        if !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::InvalidKey(
                "it contains whitespace or non-ASCII characters",
            ));
        }
        if !(key.starts_with("sk_") || key.starts_with("rk_")) {
            tracing::warn!("the Stripe API key does not start with sk_ or rk_");
        }
        Ok(ApiKey(key.to_owned()))
    }

    /// The key itself, for the `Authorization` header only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// The redacted form used by `Debug` and in place of the key inside error texts.
    pub fn redacted(&self) -> &'static str {
        if self.0.starts_with("rk_") {
            "rk_…redacted"
        } else if self.0.starts_with("sk_") {
            "sk_…redacted"
        } else {
            "…redacted"
        }
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.redacted())
    }
}

/// How hard one API request tries. Every wait is additionally bounded by the caller's
/// deadline: the hydrator never sleeps past it and never starts an attempt after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total HTTP attempts per request, first one included (async-stripe's
    /// `RequestStrategy::Retry(n)` decides which outcomes are retried).
    pub max_attempts: u32,
    /// Backoff before the first retry; doubles per retry, with jitter in `[d/2, d]`
    /// (Stripe's SDKs start at 0.5 s).
    pub initial_backoff: Duration,
    /// Cap on one backoff, and on a `Retry-After` we are willing to honour.
    pub max_backoff: Duration,
    /// Cap on one attempt (connect + response + body), within the deadline.
    pub attempt_timeout: Duration,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Deadline per page of [`crate::StripeHydrator::list_events`], which has no caller
    /// deadline (operator CLI, not a Lambda).
    pub list_page_budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(4),
            attempt_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            list_page_budget: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("no Stripe API key: set {ENV_API_KEY_SECRET_ARN} (Secrets Manager) or {ENV_API_KEY}")]
    MissingKey,
    /// The reason never contains the key.
    #[error("the Stripe API key is unusable: {0}")]
    InvalidKey(&'static str),
    #[error("reading the Stripe API key from Secrets Manager secret {arn} failed: {detail}")]
    Secret { arn: String, detail: String },
    #[error("invalid {ENV_API_BASE} {base:?}: {reason}")]
    InvalidBase { base: String, reason: &'static str },
    #[error("invalid {ENV_API_VERSION} {0:?}: not a header value")]
    InvalidVersion(String),
    #[error("cannot set up the TLS client: {0}")]
    Tls(String),
}

/// Everything [`crate::StripeHydrator::new`] needs.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// `scheme://host[:port][/prefix]`, normalised without a trailing slash.
    pub api_base: String,
    pub api_key: ApiKey,
    /// Where `api_key` was read from, to read it again when Stripe rejects it (401/403);
    /// `None`: a fixed key (`STRIPE_API_KEY`, tests).
    pub key_source: Option<SecretKeySource>,
    /// The least time between two reads of `key_source` ([`KEY_RELOAD_MIN_INTERVAL`]).
    pub key_reload_interval: Duration,
    /// `Stripe-Version` header; `None` sends none (the account's default version).
    pub api_version: Option<String>,
    pub retry: RetryPolicy,
}

/// The Secrets Manager secret holding the API key: the bare key (`sk_…`/`rk_…`) or a JSON
/// object with an `api_key` field.
#[derive(Debug, Clone)]
pub struct SecretKeySource {
    client: aws_sdk_secretsmanager::Client,
    arn: String,
}

impl SecretKeySource {
    /// The secret `arn` (or name), read through a client of `aws`.
    pub fn new(aws: &aws_config::SdkConfig, arn: impl Into<String>) -> Self {
        SecretKeySource {
            client: aws_sdk_secretsmanager::Client::new(aws),
            arn: arn.into(),
        }
    }

    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// One `GetSecretValue`. The error names the secret, never its value.
    pub async fn load(&self) -> Result<ApiKey, ConfigError> {
        let arn = self.arn.as_str();
        let secret_err = |detail: String| ConfigError::Secret {
            arn: arn.to_owned(),
            detail,
        };
        let out = self
            .client
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .map_err(|e| {
                secret_err(aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string())
            })?;
        let Some(raw) = out.secret_string() else {
            return Err(secret_err("the secret has no SecretString".to_owned()));
        };
        ApiKey::new(key_in_secret(raw).map_err(|e| secret_err(e.to_owned()))?)
    }
}

/// The Stripe key a Secrets Manager secret string holds: the bare key, or JSON
/// `{"api_key": "…"}` (surrounding whitespace ignored). Also what the CLI reads.
pub fn key_in_secret(raw: &str) -> Result<String, &'static str> {
    let raw = raw.trim();
    if !raw.starts_with('{') {
        return Ok(raw.to_owned());
    }
    let parsed: serde_json::Value =
        serde_json::from_str(raw).map_err(|_| "the secret is neither a bare key nor valid JSON")?;
    parsed
        .get("api_key")
        .and_then(serde_json::Value::as_str)
        .map(|k| k.trim().to_owned())
        .ok_or("the secret's JSON has no string field `api_key`")
}

impl StripeConfig {
    /// A config with the default retry policy and no pinned API version.
    pub fn new(api_base: &str, api_key: ApiKey) -> Result<Self, ConfigError> {
        Ok(StripeConfig {
            api_base: normalise_base(api_base)?,
            api_key,
            key_source: None,
            key_reload_interval: KEY_RELOAD_MIN_INTERVAL,
            api_version: None,
            retry: RetryPolicy::default(),
        })
    }

    /// Reads the process environment (see the `ENV_*` constants). With
    /// `STRIPE_API_KEY_SECRET_ARN` set the key is fetched from Secrets Manager through the
    /// standard AWS config chain (which honours `AWS_ENDPOINT_URL`), and kept as
    /// `key_source` to be read again when Stripe rejects the key: call this at cold start, not
    /// per event.
    pub async fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok(), None).await
    }

    /// As [`StripeConfig::from_env`], with the variables looked up through `var` (tests, or a
    /// caller with its own settings) and an AWS config to reuse (else the default chain is
    /// loaded when a secret ARN is set). Empty values count as unset.
    pub async fn from_vars<F>(
        var: F,
        aws: Option<&aws_config::SdkConfig>,
    ) -> Result<Self, ConfigError>
    where
        F: Fn(&str) -> Option<String>,
    {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let base = get(ENV_API_BASE).unwrap_or_else(|| DEFAULT_API_BASE.to_owned());
        let (api_key, key_source) = if let Some(arn) = get(ENV_API_KEY_SECRET_ARN) {
            let source = secret_source(arn.trim(), aws).await;
            let key = source.load().await?;
            tracing::info!(secret_arn = %arn.trim(), key = ?key, "Stripe API key read from Secrets Manager");
            (key, Some(source))
        } else if let Some(key) = get(ENV_API_KEY) {
            (ApiKey::new(key)?, None)
        } else {
            return Err(ConfigError::MissingKey);
        };
        let mut config = StripeConfig::new(&base, api_key)?;
        config.key_source = key_source;
        config.api_version = get(ENV_API_VERSION).map(|v| v.trim().to_owned());
        Ok(config)
    }
}

/// The secret `arn` read through `aws`, else the default AWS config chain.
async fn secret_source(arn: &str, aws: Option<&aws_config::SdkConfig>) -> SecretKeySource {
    match aws {
        Some(c) => SecretKeySource::new(c, arn),
        None => {
            let loaded = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .load()
                .await;
            SecretKeySource::new(&loaded, arn)
        }
    }
}

/// Checks the base URL and drops a trailing slash. Plain `http` is allowed only for loopback
/// hosts (localstripe, test servers), so the key never crosses a network unencrypted.
fn normalise_base(base: &str) -> Result<String, ConfigError> {
    let invalid = |reason| ConfigError::InvalidBase {
        base: base.to_owned(),
        reason,
    };
    let trimmed = base.trim().trim_end_matches('/');
    let uri: Uri = trimmed
        .parse()
        .map_err(|_| invalid("not an absolute URL"))?;
    let host = uri.host().ok_or_else(|| invalid("no host"))?;
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if is_loopback(host) => {}
        Some("http") => return Err(invalid("plain http is only allowed to a loopback host")),
        _ => return Err(invalid("the scheme must be https")),
    }
    if uri.query().is_some() {
        return Err(invalid("a query string is not allowed"));
    }
    Ok(trimmed.to_owned())
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_hold_the_bare_key_or_json() {
        assert_eq!(key_in_secret(" sk_test_1\n").as_deref(), Ok("sk_test_1"));
        assert_eq!(
            key_in_secret(r#"{"api_key": "rk_test_2", "note": "x"}"#).as_deref(),
            Ok("rk_test_2")
        );
        let no_field = key_in_secret(r#"{"key": "sk_test_3"}"#);
        assert!(no_field.is_err_and(|e| e.contains("api_key") && !e.contains("sk_test_3")));
        assert!(key_in_secret("{not json").is_err());
    }

    #[test]
    fn key_debug_is_redacted() {
        let key = ApiKey::new("sk_test_abcdef123456").unwrap();
        assert_eq!(format!("{key:?}"), "sk_…redacted");
        let config = StripeConfig::new("https://api.stripe.com/", key).unwrap();
        let shown = format!("{config:?} {config:#?}");
        assert!(!shown.contains("abcdef123456"), "{shown}");
        assert_eq!(config.api_base, "https://api.stripe.com");
        assert!(matches!(ApiKey::new("  "), Err(ConfigError::InvalidKey(_))));
        let err = ApiKey::new("sk_test_with space").unwrap_err().to_string();
        assert!(!err.contains("with space"), "{err}");
    }

    #[test]
    fn base_rules() {
        let key = || ApiKey::new("sk_test_x").unwrap();
        assert!(StripeConfig::new("http://127.0.0.1:8420", key()).is_ok());
        assert!(StripeConfig::new("http://localhost:8420/", key()).is_ok());
        assert!(StripeConfig::new("http://[::1]:8420", key()).is_ok());
        assert!(StripeConfig::new("http://api.stripe.com", key()).is_err());
        assert!(StripeConfig::new("ftp://127.0.0.1", key()).is_err());
        assert!(StripeConfig::new("/v1", key()).is_err());
        assert_eq!(
            StripeConfig::new("https://proxy.example/stripe/", key())
                .unwrap()
                .api_base,
            "https://proxy.example/stripe"
        );
    }

    #[tokio::test]
    async fn env_key_and_defaults() {
        let vars = |name: &str| match name {
            ENV_API_KEY => Some("sk_test_local".to_owned()),
            ENV_API_BASE => Some(String::new()),
            _ => None,
        };
        let c = StripeConfig::from_vars(vars, None).await.unwrap();
        assert_eq!(c.api_base, DEFAULT_API_BASE);
        assert_eq!(c.api_key.expose(), "sk_test_local");
        assert_eq!(c.api_version, None);
        let none = StripeConfig::from_vars(|_| None, None).await;
        assert!(matches!(none, Err(ConfigError::MissingKey)));
    }
}
