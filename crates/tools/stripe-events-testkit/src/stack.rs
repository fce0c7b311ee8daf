//! Helpers for tests, benchmarks and the demo against a local stack (moto): the standard
//! AWS configuration pointed at an endpoint, and uniquely named fresh tables.

use std::sync::atomic::{AtomicU32, Ordering};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::Client;
use stripe_events_core::Timestamp;

use crate::{create_tables, StoreError, TableNames};

/// The endpoint of the local stack (`AWS_ENDPOINT_URL`, set by `infra/local/stack.sh`).
pub fn local_endpoint() -> Result<String, String> {
    std::env::var("AWS_ENDPOINT_URL").map_err(|_| {
        "AWS_ENDPOINT_URL is not set: run through `make test` (infra/local/stack.sh starts moto)"
            .to_owned()
    })
}

/// The standard AWS configuration with an explicit endpoint (e.g. a dead port in tests).
pub async fn sdk_config_for(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-2"))
        .load()
        .await
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Creates both tables under a prefix no other test uses.
pub async fn fresh_tables(client: &Client) -> Result<TableNames, StoreError> {
    let prefix = format!(
        "t{}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst),
        Timestamp::now().unix_millis()
    );
    let tables = TableNames::for_prefix(&prefix);
    create_tables(client, &tables).await?;
    Ok(tables)
}
