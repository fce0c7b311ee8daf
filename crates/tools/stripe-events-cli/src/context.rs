//! What every command needs, built once from the environment: the DynamoDB store on the
//! configured tables, the Stripe client, the deployed rules and one handler per family.

use std::sync::Arc;

use aws_config::BehaviorVersion;
use stripe_events_consumer::{Consumer, ConsumerConfig};
use stripe_events_core::rules::RuleSet;
use stripe_events_core::Family;
use stripe_events_store::{dynamodb_client, DynamoStore, TableNames};
use stripe_events_stripe::StripeHydrator;

pub type Handler = Consumer<DynamoStore, Arc<StripeHydrator>>;

pub struct Context {
    pub store: DynamoStore,
    pub stripe: Arc<StripeHydrator>,
    pub rules: RuleSet,
    pub handlers: Vec<Handler>,
}

impl Context {
    pub fn new(store: DynamoStore, stripe: Arc<StripeHydrator>) -> Result<Context, String> {
        let rules = RuleSet::deployed().map_err(|e| e.to_string())?;
        let handlers = Family::CONSUMERS
            .iter()
            .map(|&consumer| Consumer {
                config: ConsumerConfig::new(consumer, store.tables().clone()),
                store: store.clone(),
                hydrator: stripe.clone(),
            })
            .collect();
        Ok(Context {
            store,
            stripe,
            rules,
            handlers,
        })
    }

    /// From the standard AWS configuration (`AWS_ENDPOINT_URL` for moto) and the Stripe
    /// settings (`STRIPE_API_BASE`, `STRIPE_API_KEY` or `STRIPE_API_KEY_SECRET_ARN`).
    /// The tables must exist (else a one-line error naming `create-tables` / the prefix).
    pub async fn from_env(tables: TableNames) -> Result<Context, String> {
        let store = store_from_env(tables).await?;
        let stripe = StripeHydrator::from_env()
            .await
            .map_err(|e| e.to_string())?;
        Context::new(store, Arc::new(stripe))
    }

    pub fn handler(&self, family: Family) -> Option<&Handler> {
        self.handlers.iter().find(|h| h.config.consumer == family)
    }
}

/// The DynamoDB store alone (commands that never call Stripe: `state`, `audit`), after
/// checking both tables exist ([`crate::explain::require_tables`]).
pub async fn store_from_env(tables: TableNames) -> Result<DynamoStore, String> {
    let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let client = dynamodb_client(&sdk, None);
    crate::explain::require_tables(&client, &tables).await?;
    Ok(DynamoStore::new(client, tables))
}
