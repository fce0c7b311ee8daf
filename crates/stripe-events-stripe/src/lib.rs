//! Hydration of thin Stripe events from the Stripe API (docs/stripe-and-eventbridge-facts.md).
//!
//! [`StripeHydrator`] implements [`stripe_events_core::hydrate::Hydrator`]: a v2 thin
//! notification is fetched with `GET related_object.url` (plus `Stripe-Context` when the event
//! has a context), the legacy thin reference and snapshot revalidation with the v1 retrieve path of
//! the object type. 409/424/429/500–504 are retried within the caller's deadline, honouring
//! `Stripe-Should-Retry` (other 5xx are transient at once); 401/403 are transient (events wait
//! for a fixed key); a 3xx is transient and never followed; 404 is `NotFound`; other 4xx are
//! permanent. [`StripeHydrator::calls`] counts the HTTP requests sent, so tests and benchmarks
//! can check "one Stripe call per thin event".
//!
//! [`StripeConfig::from_env`] reads `STRIPE_API_BASE` and the key, from Secrets Manager by ARN
//! (`STRIPE_API_KEY_SECRET_ARN`, at cold start) or `STRIPE_API_KEY` locally. A key from
//! Secrets Manager that Stripe rejects (401/403) is read again, at most once per
//! [`KEY_RELOAD_MIN_INTERVAL`] ([`stripe_events_core::reload::Reloadable`]), and a request it
//! failed is sent once more if the secret now holds another key: a rotated key reaches a warm
//! container. The key lives in [`ApiKey`], whose `Debug` prints `sk_…redacted`.

pub mod client;
pub mod config;
pub mod hydrator;
pub mod requests;

pub use client::{BoundClient, ClientError};
pub use config::{
    key_in_secret, ApiKey, ConfigError, RetryPolicy, SecretKeySource, StripeConfig,
    DEFAULT_API_BASE, ENV_API_BASE, ENV_API_KEY, ENV_API_KEY_SECRET_ARN, ENV_API_VERSION,
    KEY_RELOAD_MIN_INTERVAL,
};
pub use hydrator::StripeHydrator;
