//! The active webhook signing secrets: parsed from one string (Secrets Manager's
//! `SecretString` or `STRIPE_WEBHOOK_SECRET`), loaded once at cold start, and reloaded (at
//! most once per [`RELOAD_MIN_INTERVAL`]) when a well-formed, fresh signature matches none of
//! them, so a warm container picks up a secret added during a rotation.
//!
//! Secret values never reach `Debug`, `Display`, errors or logs.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use stripe_events_core::reload::{Reload, Reloadable};
use thiserror::Error;

/// The minimum time between two reloads triggered by signature mismatches. Bounds the
/// Secrets Manager calls an unauthenticated caller can cause to one per interval per
/// container.
pub const RELOAD_MIN_INTERVAL: Duration = Duration::from_secs(300);

const SECRET_PREFIX: &str = "whsec_";

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SecretError {
    #[error(
        "the webhook secret holds no secret (expected whsec_… separated by commas or newlines)"
    )]
    Empty,
    #[error("webhook secret #{position} does not start with `whsec_` (is it the endpoint's signing secret?)")]
    NotWebhookSecret { position: usize },
    #[error("the Secrets Manager secret has no SecretString (binary secrets are not supported)")]
    NotAString,
    #[error("cannot read the webhook secret from Secrets Manager: {0}")]
    Fetch(String),
}

/// One or more `whsec_…` secrets; a signature is valid under any of them.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecrets(Vec<String>);

impl WebhookSecrets {
    /// Parses a list separated by commas and/or newlines; surrounding whitespace and empty
    /// items are ignored, duplicates removed. Every item must be a `whsec_` secret (catches
    /// an API key or a JSON document stored in the wrong place).
    pub fn parse(raw: &str) -> Result<WebhookSecrets, SecretError> {
        let mut secrets: Vec<String> = Vec::new();
        let items = raw
            .split([',', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty());
        for (i, item) in items.enumerate() {
            if !item.starts_with(SECRET_PREFIX) || item.len() == SECRET_PREFIX.len() {
                return Err(SecretError::NotWebhookSecret { position: i + 1 });
            }
            if !secrets.iter().any(|s| s == item) {
                secrets.push(item.to_owned());
            }
        }
        if secrets.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(WebhookSecrets(secrets))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl std::fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebhookSecrets([{} redacted])", self.0.len())
    }
}

pub type LoadFuture<'a> =
    Pin<Box<dyn Future<Output = Result<WebhookSecrets, SecretError>> + Send + 'a>>;

/// Where secrets are (re)loaded from.
pub trait SecretLoader: Send + Sync {
    fn load(&self) -> LoadFuture<'_>;
}

/// Secrets Manager by ARN (or name): `GetSecretValue`, `SecretString` parsed with
/// [`WebhookSecrets::parse`].
pub struct SecretsManagerLoader {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
}

impl SecretsManagerLoader {
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>) -> Self {
        SecretsManagerLoader {
            client,
            secret_id: secret_id.into(),
        }
    }

    pub async fn load_now(&self) -> Result<WebhookSecrets, SecretError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|e| {
                // The error describes the call (service code, message), never the value.
                SecretError::Fetch(
                    aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string(),
                )
            })?;
        let raw = out.secret_string().ok_or(SecretError::NotAString)?;
        WebhookSecrets::parse(raw)
    }
}

impl SecretLoader for SecretsManagerLoader {
    fn load(&self) -> LoadFuture<'_> {
        Box::pin(self.load_now())
    }
}

/// The secrets the handler verifies with.
pub struct SecretStore {
    secrets: Reloadable<WebhookSecrets>,
    /// `None`: the secrets never change.
    loader: Option<Box<dyn SecretLoader>>,
}

impl SecretStore {
    /// Secrets that never change (env var, tests).
    pub fn fixed(secrets: WebhookSecrets) -> Self {
        SecretStore {
            secrets: Reloadable::new(secrets, Duration::MAX),
            loader: None,
        }
    }

    /// Secrets loaded at cold start, reloadable through `loader` at most once per
    /// `min_interval` (counted from the initial load).
    pub fn reloadable(
        initial: WebhookSecrets,
        loader: Box<dyn SecretLoader>,
        min_interval: Duration,
    ) -> Self {
        SecretStore {
            secrets: Reloadable::new(initial, min_interval),
            loader: Some(loader),
        }
    }

    pub fn current(&self) -> Arc<WebhookSecrets> {
        self.secrets.current()
    }

    /// Reloads when allowed: returns the new secrets if they differ from the current ones.
    /// Never waits for a reload another request is doing.
    pub async fn reload_if_due(&self) -> Option<Arc<WebhookSecrets>> {
        let loader = self.loader.as_ref()?;
        let (changed, fresh) = match self.secrets.try_reload_if_due(|| loader.load()).await {
            Reload::NotDue => return None,
            Reload::Failed(e) => {
                tracing::warn!(outcome = "secrets_reload_failed", error = %e, "keeping the current webhook secrets");
                return None;
            }
            Reload::Unchanged => (false, self.current()),
            Reload::Changed(fresh) => (true, fresh),
        };
        tracing::info!(
            outcome = "secrets_reloaded",
            changed,
            secrets = fresh.len(),
            "webhook secrets reloaded"
        );
        changed.then_some(fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn parses_lists() {
        let s = WebhookSecrets::parse(" whsec_a ,\nwhsec_b\r\n,whsec_a,,\n").unwrap();
        assert_eq!(s.iter().collect::<Vec<_>>(), ["whsec_a", "whsec_b"]);
        assert_eq!(WebhookSecrets::parse(" , \n"), Err(SecretError::Empty));
        assert_eq!(
            WebhookSecrets::parse("whsec_a,sk_test_123"),
            Err(SecretError::NotWebhookSecret { position: 2 })
        );
        assert_eq!(
            WebhookSecrets::parse(r#"{"secret":"whsec_a"}"#),
            Err(SecretError::NotWebhookSecret { position: 1 })
        );
        assert_eq!(
            WebhookSecrets::parse("whsec_"),
            Err(SecretError::NotWebhookSecret { position: 1 })
        );
    }

    #[test]
    fn debug_and_errors_hide_values() {
        let s = WebhookSecrets::parse("whsec_topsecret").unwrap();
        assert_eq!(format!("{s:?}"), "WebhookSecrets([1 redacted])");
        let e = WebhookSecrets::parse("whsec_ok,sk_live_topsecret").unwrap_err();
        assert!(!e.to_string().contains("topsecret"));
    }

    struct Counting(Arc<AtomicU32>, &'static str);
    impl SecretLoader for Counting {
        fn load(&self) -> LoadFuture<'_> {
            self.0.fetch_add(1, Ordering::SeqCst);
            let raw = self.1;
            Box::pin(async move { WebhookSecrets::parse(raw) })
        }
    }

    #[tokio::test]
    async fn reload_is_rate_limited() {
        let calls = Arc::new(AtomicU32::new(0));
        let initial = WebhookSecrets::parse("whsec_old").unwrap();
        let store = SecretStore::reloadable(
            initial.clone(),
            Box::new(Counting(calls.clone(), "whsec_old,whsec_new")),
            Duration::from_secs(3600),
        );
        assert!(store.reload_if_due().await.is_none());
        assert_eq!(calls.load(Ordering::SeqCst), 0);

        let store = SecretStore::reloadable(
            initial,
            Box::new(Counting(calls.clone(), "whsec_old,whsec_new")),
            Duration::ZERO,
        );
        let fresh = store.reload_if_due().await.unwrap();
        assert_eq!(fresh.len(), 2);
        assert_eq!(store.current().len(), 2);
        // Same value again: loaded, but nothing changed.
        assert!(store.reload_if_due().await.is_none());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert!(
            SecretStore::fixed(WebhookSecrets::parse("whsec_x").unwrap())
                .reload_if_due()
                .await
                .is_none()
        );
    }
}
