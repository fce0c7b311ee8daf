//! Cold-start wiring shared by the three consumer Lambdas: config read once, clients built
//! once, then `lambda_runtime` drives the handler.

use std::sync::Arc;

use lambda_runtime::{service_fn, LambdaEvent};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use stripe_events_core::{Family, Timestamp};
use stripe_events_lambda::{aws_sdk_config, deadline_of, init_logging};
use stripe_events_store::{dynamodb_client, DynamoStore};
use stripe_events_stripe::{StripeConfig, StripeHydrator};

use crate::{emf_line, Consumer, ConsumerConfig, InvocationReport};
use std::time::Instant;
use stripe_events_core::hydrate::Hydrator;
use stripe_events_store::EventStore;

pub async fn run(consumer: Family) -> Result<(), lambda_runtime::Error> {
    init_logging();
    let config = ConsumerConfig::from_env(consumer, |k| std::env::var(k).ok())?;
    let sdk = aws_sdk_config().await;
    let store = DynamoStore::new(dynamodb_client(&sdk, None), config.tables.clone());
    // The Stripe key's Secrets Manager read shares the SDK config, and so its timeouts.
    let stripe = StripeConfig::from_vars(|k| std::env::var(k).ok(), Some(&sdk)).await?;
    let hydrator = StripeHydrator::new(stripe)?;
    let handler = Arc::new(Consumer {
        config,
        store,
        hydrator,
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<RawPayload>| {
        let handler = handler.clone();
        async move {
            let deadline = deadline_of(&event.context);
            let report = handler.handle_raw(&event.payload, deadline).await;
            // EMF must be a bare JSON line on stdout for CloudWatch to extract the metrics:
            // serialized straight into one buffer, written with one call.
            let counts = report.counts();
            let emf = emf_line(
                handler.config.consumer.as_str(),
                &counts,
                Timestamp::now().unix_millis(),
            );
            if let Ok(mut line) = serde_json::to_vec(&emf) {
                line.push(b'\n');
                let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), &line);
            }
            report.response().map_err(lambda_runtime::Error::from)
        }
    }))
    .await
}

/// The invocation's bytes as lambda_runtime received them, for [`Consumer::handle`] to read
/// once into the typed model. lambda_runtime deserializes the payload type itself; keeping the
/// raw text costs one scan of the bytes (serde_json's validation, no tree). Deserializing it
/// never fails: lambda_runtime would answer the error itself, before the handler, so input
/// serde rejects would be neither acknowledged nor logged and retried until the DLQ.
#[derive(Debug)]
pub struct RawPayload(pub Result<Box<RawValue>, String>);

impl<'de> Deserialize<'de> for RawPayload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // lambda_runtime does not check for trailing input after this returns, so stopping
        // at the first error is safe.
        Ok(RawPayload(
            Box::<RawValue>::deserialize(d).map_err(|e| e.to_string()),
        ))
    }
}

impl<S: EventStore, H: Hydrator> Consumer<S, H> {
    /// Handles what lambda_runtime deserialized: its bytes, or one unreadable record when
    /// they were not JSON at all.
    pub async fn handle_raw(&self, payload: &RawPayload, deadline: Instant) -> InvocationReport {
        match &payload.0 {
            Ok(raw) => self.handle(raw.get().as_bytes(), deadline).await,
            Err(detail) => self.unreadable_payload(detail),
        }
    }
}
