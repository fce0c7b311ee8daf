//! Table names and key schemas: the one place they are defined. `infra/dynamodb.tf` declares
//! the same names and keys (checked by `crates/stripe-events-store/tests/terraform_schema.rs`).

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use stripe_events_core::vocabulary::attr;

use crate::StoreError;

/// Dedupe/audit table: hash key only.
pub const DEDUPE_PK: &str = attr::PK;
/// DynamoDB TTL attribute (unix seconds) on every dedupe record.
pub const DEDUPE_TTL_ATTRIBUTE: &str = attr::EXPIRES_AT;
pub const BILLING_PK: &str = attr::PK;
pub const BILLING_SK: &str = attr::SK;
/// GSI: a customer profile by the application's user id (`metadata.user_id`).
pub const USER_INDEX: &str = "by_user_id";
pub const USER_INDEX_KEY: &str = attr::USER_ID;
/// GSI: any state item by its Stripe object id (a subscription by id, …).
pub const OBJECT_INDEX: &str = "by_object_id";
pub const OBJECT_INDEX_KEY: &str = attr::OBJECT_ID;

pub const DEFAULT_DEDUPE_TTL_DAYS: u32 = 30;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    pub dedupe: String,
    pub billing: String,
}

impl TableNames {
    /// `<prefix>-stripe-events` and `<prefix>-stripe-billing` (prefix e.g. `ai-nexus-dev`).
    pub fn for_prefix(prefix: &str) -> TableNames {
        TableNames {
            dedupe: format!("{prefix}-stripe-events"),
            billing: format!("{prefix}-stripe-billing"),
        }
    }
}

fn attr(name: &str) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(StoreError::permanent)
}

fn key(name: &str, key_type: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(StoreError::permanent)
}

fn index(name: &str, hash: &str) -> Result<GlobalSecondaryIndex, StoreError> {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key(hash, KeyType::Hash)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(StoreError::permanent)
}

/// Creates both tables (on-demand) and enables TTL on the dedupe table. For local stacks and
/// tests; in AWS, Terraform owns the tables.
pub async fn create_tables(client: &Client, names: &TableNames) -> Result<(), StoreError> {
    client
        .create_table()
        .table_name(&names.dedupe)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr(DEDUPE_PK)?)
        .key_schema(key(DEDUPE_PK, KeyType::Hash)?)
        .send()
        .await
        .map_err(StoreError::from_sdk)?;
    client
        .update_time_to_live()
        .table_name(&names.dedupe)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(DEDUPE_TTL_ATTRIBUTE)
                .build()
                .map_err(StoreError::permanent)?,
        )
        .send()
        .await
        .map_err(StoreError::from_sdk)?;
    client
        .create_table()
        .table_name(&names.billing)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr(BILLING_PK)?)
        .attribute_definitions(attr(BILLING_SK)?)
        .attribute_definitions(attr(USER_INDEX_KEY)?)
        .attribute_definitions(attr(OBJECT_INDEX_KEY)?)
        .key_schema(key(BILLING_PK, KeyType::Hash)?)
        .key_schema(key(BILLING_SK, KeyType::Range)?)
        .global_secondary_indexes(index(USER_INDEX, USER_INDEX_KEY)?)
        .global_secondary_indexes(index(OBJECT_INDEX, OBJECT_INDEX_KEY)?)
        .send()
        .await
        .map_err(StoreError::from_sdk)?;
    Ok(())
}
