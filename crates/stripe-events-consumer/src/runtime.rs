//! Cold-start wiring shared by the three consumer Lambdas: config read once, clients built
//! once, then `lambda_runtime` drives the handler.

use std::sync::Arc;

use lambda_runtime::{service_fn, LambdaEvent};
use stripe_events_core::prune::PrunedPayload;
use stripe_events_core::{Family, Timestamp};
use stripe_events_lambda::{aws_sdk_config, deadline_of, init_logging};
use stripe_events_store::{dynamodb_client, DynamoStore};
use stripe_events_stripe::{StripeConfig, StripeHydrator};

use crate::{emf_line, Consumer, ConsumerConfig};

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
    // The payload is parsed pruned: only the fields the pipeline reads are built (prune.rs).
    lambda_runtime::run(service_fn(move |event: LambdaEvent<PrunedPayload>| {
        let handler = handler.clone();
        async move {
            let deadline = deadline_of(&event.context);
            let report = handler.handle_payload(event.payload, deadline).await;
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
