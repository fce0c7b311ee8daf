//! The Stripe webhook endpoint (docs/architecture.md): verify `Stripe-Signature` over the raw
//! body, check the body is one Stripe event, put it on the custom EventBridge bus as
//! `stripe.webhook` / `Stripe Webhook Event`, answer 200 only once EventBridge took it.
//!
//! - [`signature`]: header parsing and verification, plain functions.
//! - [`secrets`]: the active `whsec_` secrets (env or Secrets Manager, reloadable).
//! - [`forward`]: the bus entry (size as AWS measures it, reference for oversized events),
//!   the [`Forwarder`] trait and its EventBridge implementation.
//! - [`http`]: reading the API Gateway HTTP API (payload 2.0) request, the response.
//! - [`handler`]: request → [`Outcome`] → response, with structured logs.
//! - [`config`]: the environment contract.
//!
//! `main.rs` only wires these to the Lambda runtime.

pub mod config;
pub mod forward;
pub mod handler;
pub mod http;
pub mod secrets;
pub mod signature;

pub use config::{Config, ConfigError, SecretSource};
pub use forward::{BusEntry, EventBridgeForwarder, ForwardError, Forwarded, Forwarder};
pub use handler::{Outcome, WebhookHandler};
// The request and response types of the Lambda's API Gateway HTTP API (payload 2.0) interface.
pub use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
pub use aws_lambda_events::encodings::Body;
pub use secrets::{SecretError, SecretLoader, SecretStore, SecretsManagerLoader, WebhookSecrets};
pub use signature::SignatureError;
