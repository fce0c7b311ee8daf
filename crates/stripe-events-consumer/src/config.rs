use stripe_events_core::Family;
use stripe_events_store::schema::DEFAULT_DEDUPE_TTL_DAYS;
use stripe_events_store::TableNames;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// A consumer Lambda's settings, read once at cold start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerConfig {
    pub consumer: Family,
    pub tables: TableNames,
    pub dedupe_ttl_days: u32,
    /// Snapshot event types (base, without `v1.`) whose object is re-fetched from the API
    /// anyway, like stripe-sync-engine's `revalidateObjectsViaStripeApi`.
    pub revalidate_types: Vec<String>,
    /// How far ahead of this clock an event's `created` (or a fetched version) may be before
    /// it is refused as impossible.
    pub max_future_skew_seconds: i64,
    /// How many records of one SQS batch are processed at once.
    pub record_concurrency: usize,
    /// `Some(true)`: live-mode events only; `Some(false)`: test-mode only; `None`: both.
    pub livemode: Option<bool>,
}

/// One hour: far beyond any real clock skew, far below a frozen item's cost.
pub const DEFAULT_MAX_FUTURE_SKEW_SECONDS: i64 = 3600;

/// SQS delivers at most 10 records per batch by default: all of them at once.
pub const DEFAULT_RECORD_CONCURRENCY: usize = 10;

impl ConsumerConfig {
    /// The default settings for these tables: dedupe TTL 30 days, no revalidation.
    pub fn new(consumer: Family, tables: TableNames) -> ConsumerConfig {
        ConsumerConfig {
            consumer,
            tables,
            dedupe_ttl_days: DEFAULT_DEDUPE_TTL_DAYS,
            revalidate_types: Vec::new(),
            max_future_skew_seconds: DEFAULT_MAX_FUTURE_SKEW_SECONDS,
            record_concurrency: DEFAULT_RECORD_CONCURRENCY,
            livemode: None,
        }
    }

    /// Reads `BILLING_TABLE`, `DEDUPE_TABLE` (or `TABLE_PREFIX` for both),
    /// `DEDUPE_TTL_DAYS` (default 30), `REVALIDATE_TYPES` (comma-separated) and
    /// `MAX_FUTURE_SKEW_SECONDS` (default 3600), `SQS_RECORD_CONCURRENCY` (default 10) and
    /// `STRIPE_LIVEMODE` (`live`, `test`, or `any`, the default).
    pub fn from_env(
        consumer: Family,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<ConsumerConfig, ConfigError> {
        let prefixed = var("TABLE_PREFIX").map(|p| TableNames::for_prefix(&p));
        let table = |name: &'static str, from_prefix: Option<String>| {
            var(name)
                .filter(|v| !v.is_empty())
                .or(from_prefix)
                .ok_or(ConfigError::Missing(name))
        };
        let tables = TableNames {
            billing: table(
                "BILLING_TABLE",
                prefixed.as_ref().map(|t| t.billing.clone()),
            )?,
            dedupe: table("DEDUPE_TABLE", prefixed.as_ref().map(|t| t.dedupe.clone()))?,
        };
        let dedupe_ttl_days = match var("DEDUPE_TTL_DAYS").filter(|v| !v.is_empty()) {
            None => DEFAULT_DEDUPE_TTL_DAYS,
            Some(v) => match v.parse::<u32>() {
                // Below Stripe's 3-day retry window a late retry would be applied twice.
                Ok(days) if days >= 4 => days,
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "DEDUPE_TTL_DAYS",
                        reason: format!("{v:?} is not a whole number of days >= 4"),
                    })
                }
            },
        };
        let revalidate_types = var("REVALIDATE_TYPES")
            .unwrap_or_default()
            .split(',')
            .map(|t| t.trim().trim_start_matches("v1.").to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        let max_future_skew_seconds = match var("MAX_FUTURE_SKEW_SECONDS").filter(|v| !v.is_empty())
        {
            None => DEFAULT_MAX_FUTURE_SKEW_SECONDS,
            Some(v) => match v.parse::<i64>() {
                Ok(s) if s >= 0 => s,
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "MAX_FUTURE_SKEW_SECONDS",
                        reason: format!("{v:?} is not a whole number of seconds >= 0"),
                    })
                }
            },
        };
        let record_concurrency = match var("SQS_RECORD_CONCURRENCY").filter(|v| !v.is_empty()) {
            None => DEFAULT_RECORD_CONCURRENCY,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if n >= 1 => n,
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "SQS_RECORD_CONCURRENCY",
                        reason: format!("{v:?} is not a whole number >= 1"),
                    })
                }
            },
        };
        let livemode = match var("STRIPE_LIVEMODE").as_deref().map(str::trim) {
            None | Some("" | "any") => None,
            Some("live") => Some(true),
            Some("test") => Some(false),
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "STRIPE_LIVEMODE",
                    reason: format!("{other:?} is not live, test or any"),
                })
            }
        };
        Ok(ConsumerConfig {
            consumer,
            tables,
            dedupe_ttl_days,
            revalidate_types,
            max_future_skew_seconds,
            record_concurrency,
            livemode,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn reads_tables_ttl_and_revalidation() {
        let c = ConsumerConfig::from_env(
            Family::Payment,
            env(&[
                ("TABLE_PREFIX", "ai-nexus-dev"),
                ("DEDUPE_TTL_DAYS", "45"),
                ("REVALIDATE_TYPES", "invoice.paid, v1.charge.refunded"),
            ]),
        )
        .unwrap();
        assert_eq!(c.tables, TableNames::for_prefix("ai-nexus-dev"));
        assert_eq!(c.dedupe_ttl_days, 45);
        assert_eq!(c.revalidate_types, ["invoice.paid", "charge.refunded"]);
        assert_eq!(
            ConsumerConfig::from_env(Family::Payment, env(&[("BILLING_TABLE", "b")])),
            Err(ConfigError::Missing("DEDUPE_TABLE"))
        );
        assert!(ConsumerConfig::from_env(
            Family::Payment,
            env(&[("TABLE_PREFIX", "p"), ("DEDUPE_TTL_DAYS", "1")])
        )
        .is_err());
    }

    #[test]
    fn livemode_is_live_test_or_any() {
        let mode = |v: &str| {
            ConsumerConfig::from_env(
                Family::Payment,
                env(&[("TABLE_PREFIX", "p"), ("STRIPE_LIVEMODE", v)]),
            )
            .map(|c| c.livemode)
        };
        assert_eq!(mode("live"), Ok(Some(true)));
        assert_eq!(mode("test"), Ok(Some(false)));
        assert_eq!(mode("any"), Ok(None));
        assert_eq!(mode(""), Ok(None));
        assert!(matches!(mode("prod"), Err(ConfigError::Invalid { .. })));
    }
}
