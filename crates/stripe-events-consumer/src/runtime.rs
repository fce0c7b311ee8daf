//! Cold-start wiring shared by the three consumer Lambdas: config read once, clients built
//! once, then `lambda_runtime` drives the handler.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use lambda_runtime::{service_fn, LambdaEvent};
use stripe_events_core::prune::PrunedPayload;
use stripe_events_core::{Family, Timestamp};
use stripe_events_store::{dynamodb_client, DynamoStore};
use stripe_events_stripe::StripeHydrator;

use crate::{emf_line, Consumer, ConsumerConfig};

/// Time kept back from the Lambda deadline to log and answer after a Stripe retry loop.
const DEADLINE_MARGIN: Duration = Duration::from_millis(500);

/// JSON logs, one object per line, fields at the top level (CloudWatch Logs Insights).
/// Level from `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_target(false)
        .with_env_filter(filter)
        .init();
}

/// The Lambda's deadline as an `Instant`, minus a margin.
pub fn deadline_of(context: &lambda_runtime::Context) -> Instant {
    let remaining_ms = (context.deadline as i64).saturating_sub(Timestamp::now().unix_millis());
    let remaining = Duration::from_millis(remaining_ms.max(0) as u64);
    Instant::now() + remaining.saturating_sub(DEADLINE_MARGIN)
}

pub async fn run(consumer: Family) -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let config = ConsumerConfig::from_env(consumer, |k| std::env::var(k).ok())?;
    let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let store = DynamoStore::new(dynamodb_client(&sdk, None), config.tables.clone());
    let hydrator = StripeHydrator::from_env().await?;
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
            let report = handler.handle(event.payload.0, deadline).await;
            // EMF must be a bare JSON line on stdout for CloudWatch to extract the metrics.
            let counts = report.counts();
            println!(
                "{}",
                emf_line(
                    handler.config.consumer.as_str(),
                    &counts,
                    Timestamp::now().unix_millis()
                )
            );
            report.response().map_err(lambda_runtime::Error::from)
        }
    }))
    .await
}
