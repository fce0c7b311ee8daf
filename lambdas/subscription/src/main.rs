//! The subscription Lambda: every input shape the core parses, handled by the shared consumer
//! pipeline for the subscription family (see `Family::of_event_type`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    stripe_events_consumer::runtime::run(stripe_events_core::Family::Subscription).await
}
