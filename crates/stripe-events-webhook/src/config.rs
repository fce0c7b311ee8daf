//! The runtime contract (infra/locals.tf `webhook_environment`), read once at cold start.
//!
//! | variable | meaning |
//! |---|---|
//! | `EVENT_BUS_NAME` | required: the custom bus PutEvents writes to |
//! | `STRIPE_WEBHOOK_SECRET_ARN` | Secrets Manager secret holding the `whsec_…` secret(s) (AWS) |
//! | `STRIPE_WEBHOOK_SECRET` | the secret(s) themselves (local runs); exactly one of the two |
//! | `SIGNATURE_TOLERANCE_SECONDS` | optional, default 300; a positive integer |
//! | `WEBHOOK_ROUTE` | optional, default `/stripe/webhook`: the only path served (POST only) |
//!
//! Several secrets are separated by commas or newlines.

use thiserror::Error;

use crate::secrets::{SecretError, WebhookSecrets};
use crate::signature::DEFAULT_TOLERANCE_SECONDS;

pub const ENV_EVENT_BUS_NAME: &str = "EVENT_BUS_NAME";
pub const ENV_SECRET_ARN: &str = "STRIPE_WEBHOOK_SECRET_ARN";
pub const ENV_SECRET: &str = "STRIPE_WEBHOOK_SECRET";
pub const ENV_TOLERANCE: &str = "SIGNATURE_TOLERANCE_SECONDS";
pub const ENV_ROUTE: &str = "WEBHOOK_ROUTE";
/// The path Terraform's API Gateway route serves (`POST /stripe/webhook`).
pub const DEFAULT_ROUTE: &str = "/stripe/webhook";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    SecretsManager { secret_id: String },
    Inline(WebhookSecrets),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub event_bus_name: String,
    pub secret_source: SecretSource,
    pub tolerance_seconds: i64,
    pub route: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error(
        "set exactly one of {ENV_SECRET_ARN} (Secrets Manager) and {ENV_SECRET} (local), not both"
    )]
    BothSecretSources,
    #[error("set {ENV_SECRET_ARN} (Secrets Manager) or {ENV_SECRET} (local)")]
    NoSecretSource,
    #[error("{ENV_TOLERANCE} must be a positive whole number of seconds, got `{0}`")]
    InvalidTolerance(String),
    #[error("{ENV_ROUTE} must be a path starting with `/`, got `{0}`")]
    InvalidRoute(String),
    #[error("{ENV_SECRET}: {0}")]
    Secret(SecretError),
}

impl Config {
    /// Reads the configuration through `get` (`std::env::var` in the binary). Empty values
    /// count as unset.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let event_bus_name = get(ENV_EVENT_BUS_NAME)
            .map(|v| v.trim().to_owned())
            .ok_or(ConfigError::Missing(ENV_EVENT_BUS_NAME))?;
        let secret_source = match (get(ENV_SECRET_ARN), get(ENV_SECRET)) {
            (Some(_), Some(_)) => return Err(ConfigError::BothSecretSources),
            (None, None) => return Err(ConfigError::NoSecretSource),
            (Some(arn), None) => SecretSource::SecretsManager {
                secret_id: arn.trim().to_owned(),
            },
            (None, Some(raw)) => {
                SecretSource::Inline(WebhookSecrets::parse(&raw).map_err(ConfigError::Secret)?)
            }
        };
        let tolerance_seconds = match get(ENV_TOLERANCE) {
            None => DEFAULT_TOLERANCE_SECONDS,
            Some(raw) => match raw.trim().parse::<i64>() {
                Ok(n) if n > 0 => n,
                _ => return Err(ConfigError::InvalidTolerance(raw)),
            },
        };
        let route = match get(ENV_ROUTE) {
            None => DEFAULT_ROUTE.to_owned(),
            Some(raw) if raw.trim().starts_with('/') => raw.trim().to_owned(),
            Some(raw) => return Err(ConfigError::InvalidRoute(raw)),
        };
        Ok(Config {
            event_bus_name,
            secret_source,
            tolerance_seconds,
            route,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn reads_the_contract() {
        let c = config(&[
            ("EVENT_BUS_NAME", "ai-nexus-dev-stripe-event-bus"),
            (
                "STRIPE_WEBHOOK_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-2:1:secret:x",
            ),
            ("SIGNATURE_TOLERANCE_SECONDS", "120"),
        ])
        .unwrap();
        assert_eq!(c.tolerance_seconds, 120);
        assert_eq!(
            c.secret_source,
            SecretSource::SecretsManager {
                secret_id: "arn:aws:secretsmanager:us-east-2:1:secret:x".into()
            }
        );
        let c = config(&[
            ("EVENT_BUS_NAME", "bus"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_a\nwhsec_b"),
            ("SIGNATURE_TOLERANCE_SECONDS", ""),
        ])
        .unwrap();
        assert_eq!(c.tolerance_seconds, 300);
        assert_eq!(c.route, "/stripe/webhook");
        assert!(matches!(c.secret_source, SecretSource::Inline(s) if s.len() == 2));
        let c = config(&[
            ("EVENT_BUS_NAME", "bus"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_a"),
            ("WEBHOOK_ROUTE", "/hooks/stripe"),
        ])
        .unwrap();
        assert_eq!(c.route, "/hooks/stripe");
        assert_eq!(
            config(&[
                ("EVENT_BUS_NAME", "bus"),
                ("STRIPE_WEBHOOK_SECRET", "whsec_a"),
                ("WEBHOOK_ROUTE", "stripe/webhook"),
            ]),
            Err(ConfigError::InvalidRoute("stripe/webhook".into()))
        );
    }

    #[test]
    fn rejects_bad_configuration() {
        let base = [
            ("EVENT_BUS_NAME", "bus"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_a"),
        ];
        for bad in ["0", "-5", "abc", "1.5", "300s"] {
            let mut vars = base.to_vec();
            vars.push(("SIGNATURE_TOLERANCE_SECONDS", bad));
            assert_eq!(
                config(&vars),
                Err(ConfigError::InvalidTolerance(bad.into()))
            );
        }
        assert_eq!(
            config(&[("STRIPE_WEBHOOK_SECRET", "whsec_a")]),
            Err(ConfigError::Missing("EVENT_BUS_NAME"))
        );
        assert_eq!(
            config(&[("EVENT_BUS_NAME", "bus")]),
            Err(ConfigError::NoSecretSource)
        );
        assert_eq!(
            config(&[
                ("EVENT_BUS_NAME", "bus"),
                ("STRIPE_WEBHOOK_SECRET", "whsec_a"),
                ("STRIPE_WEBHOOK_SECRET_ARN", "arn")
            ]),
            Err(ConfigError::BothSecretSources)
        );
        let e = config(&[
            ("EVENT_BUS_NAME", "bus"),
            ("STRIPE_WEBHOOK_SECRET", "sk_live_oops"),
        ])
        .unwrap_err();
        assert!(!e.to_string().contains("oops"), "{e}");
    }
}
