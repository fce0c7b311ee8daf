//! async-stripe's [`StripeClient`] trait on the hydrator's own transport, so an async-stripe
//! request builder's `.send()` goes through the pooled hyper/rustls client, the retry loop
//! bounded by a deadline, the call counter and `Stripe-Context`:
//!
//! ```no_run
//! # async fn demo(h: stripe_events_stripe::StripeHydrator) {
//! use std::time::{Duration, Instant};
//! let deadline = Instant::now() + Duration::from_secs(5);
//! let events = stripe_core::event::ListEvent::new()
//!     .limit(10)
//!     .send(&h.client(deadline).stripe_context("acct_1Connected"))
//!     .await;
//! # }
//! ```
//!
//! `.send()` deserializes into async-stripe's owned types: for tools, not the event path,
//! whose bytes go to the borrowed model (the hydrator's [`Hydrator`] impl).
//!
//! [`Hydrator`]: stripe_events_core::hydrate::Hydrator

use std::fmt::Display;
use std::future::Future;
use std::time::Instant;

use hyper::body::Bytes;
use stripe_client_core::{CustomizedStripeRequest, StripeClient, StripeClientErr};
use stripe_events_core::hydrate::HydrateError;

use crate::StripeHydrator;

/// The hydrator bound to one deadline and, optionally, a `Stripe-Context`: an async-stripe
/// [`StripeClient`].
#[derive(Debug, Clone)]
pub struct BoundClient<'a> {
    hydrator: &'a StripeHydrator,
    deadline: Instant,
    stripe_context: Option<String>,
}

impl<'a> BoundClient<'a> {
    /// Sends `Stripe-Context: context` with every request.
    pub fn stripe_context(mut self, context: impl Into<String>) -> Self {
        self.stripe_context = Some(context.into());
        self
    }
}

impl StripeHydrator {
    /// async-stripe's client for requests that must be answered by `deadline` (retries
    /// included).
    pub fn client(&self, deadline: Instant) -> BoundClient<'_> {
        BoundClient {
            hydrator: self,
            deadline,
            stripe_context: None,
        }
    }
}

/// A failed async-stripe call: the hydrator's error rules, or a response async-stripe could
/// not deserialize.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Api(#[from] HydrateError),
    #[error("Stripe response not understood: {0}")]
    Deserialize(String),
}

impl StripeClientErr for ClientError {
    fn deserialize_err(msg: impl Display) -> Self {
        ClientError::Deserialize(msg.to_string())
    }
}

impl StripeClient for BoundClient<'_> {
    type Err = ClientError;

    fn execute(
        &self,
        req: CustomizedStripeRequest,
    ) -> impl Future<Output = Result<Bytes, ClientError>> + Send {
        let context = self.stripe_context.as_deref();
        async move {
            Ok(self
                .hydrator
                .execute_request(req, context, self.deadline)
                .await?)
        }
    }
}

/// Without a bound: each request gets `retry.list_page_budget` (like a `backfill` page), no
/// `Stripe-Context`.
impl StripeClient for StripeHydrator {
    type Err = ClientError;

    fn execute(
        &self,
        req: CustomizedStripeRequest,
    ) -> impl Future<Output = Result<Bytes, ClientError>> + Send {
        let deadline = self.page_deadline();
        async move { Ok(self.execute_request(req, None, deadline).await?) }
    }
}
