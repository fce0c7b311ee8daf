//! The lifecycle scenarios (`scenarios/mod.rs`) on `DynamoStore` against moto, each order on
//! fresh tables, through the production client. Needs the local stack: run through `make test`
//! or `infra/local/stack.sh run -- cargo test -p stripe-events-consumer --test scenarios_moto`.
//! `scenarios_memory.rs` runs the same functions on the in-memory store.

mod scenarios;

use stripe_events_store::{dynamodb_client, DynamoStore};
use stripe_events_testkit::stack::{fresh_tables, local_endpoint, sdk_config_for};

async fn fresh() -> DynamoStore {
    let endpoint = local_endpoint().unwrap_or_else(|e| panic!("{e}"));
    let client = dynamodb_client(&sdk_config_for(&endpoint).await, None);
    let tables = fresh_tables(&client)
        .await
        .unwrap_or_else(|e| panic!("creating tables in moto: {e}"));
    DynamoStore::new(client, tables)
}

scenarios::scenario_tests!(fresh);
