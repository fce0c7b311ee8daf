//! Exactly-once effect on DynamoDB (docs/architecture.md): the dedupe/audit record and the billing
//! state writes of a new event commit in one `TransactWriteItems`, guarded so that a
//! duplicate changes nothing and an older event never replaces newer state.
//!
//! Cost per event (DynamoDB round trips, counted in `tests/dynamo_store.rs`):
//! - new snapshot event: 1 (`TransactWriteItems`);
//! - redelivery of a thin event, or any event already recorded: 1 (`UpdateItem` that records
//!   the path and returns the old record);
//! - snapshot duplicate by a path already recorded (a retry): 1 (the cancelled transaction's
//!   old image shows `seen_<path>`, so the audit already holds what this delivery would add);
//! - snapshot duplicate by a new path (partner after webhook): 2 (the cancelled transaction
//!   recognises it, an `UpdateItem` records the new path and its arrival for the migration
//!   audit);
//! - new thin event: 2 (check before the Stripe call, then the transaction);
//! - stale event: 2 (transaction refused by the guard, then the dedupe mark with outcome
//!   `stale`); redelivered, it is a snapshot duplicate as above;
//! - a same-second tie (`CommitOutcome::Tied`): the cancelled transaction, then the object
//!   fetched from Stripe is committed as a thin event's is (2 more).
//!
//! So `count_<path>` and `deliveries` count the recorded deliveries: the thin checks and the
//! first arrival by each path, not every retry of a done event by the same path.

use std::future::Future;

use stripe_events_core::project::{StateWrite, UNFILED_PK_PREFIX};
use stripe_events_core::vocabulary::AuditPath;
use stripe_events_core::{Family, Timestamp, Version};

pub mod attr;
pub mod client;
pub mod counter;
pub mod dynamo;
pub mod error;
pub mod memory;
pub mod read;
mod record;
pub mod schema;

pub use client::dynamodb_client;
pub use counter::RequestCounter;
pub use dynamo::DynamoStore;
pub use error::StoreError;
pub use memory::MemoryStore;
pub use read::{customers_of_user, read_customer_state, CustomerState, StateReader};
pub use schema::{create_tables, TableNames};

/// One delivery of one event, as the audit records it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryAudit {
    /// `{consumer}#{dedupe key}` ([`stripe_events_core::vocabulary::dedupe_key`]).
    pub key: String,
    pub consumer: Family,
    /// This delivery's own Stripe event id (a thin id differs from its snapshot's).
    pub event_id: String,
    /// The base (`v1.`-less) type.
    pub event_type: String,
    pub object_id: String,
    pub event_created: Timestamp,
    /// The way it arrived (`seen_<path>`, `count_<path>` on the record).
    pub path: AuditPath,
    pub received_at: Timestamp,
    /// DynamoDB TTL for the record, unix seconds.
    pub expires_at: i64,
}

/// A state write with the version guarding it. Its attributes may borrow from the event's
/// bytes, which outlive the commit.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionedWrite<'a> {
    pub write: StateWrite<'a>,
    pub version: Version,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Commit<'a> {
    pub audit: DeliveryAudit,
    pub writes: Vec<VersionedWrite<'a>>,
    /// True when `record_delivery` already counted this delivery (thin flow), so the commit
    /// only sets the done mark.
    pub delivery_recorded: bool,
    /// False: a write whose stored version ties with its own (same second and lifecycle
    /// rank, see [`Version::ties_with`]) makes the commit [`CommitOutcome::Tied`], whichever
    /// way the tiebreak falls. True: such ties are decided by the tiebreak, as all others
    /// (for an object fetched after the tie, or when Stripe cannot say).
    pub settle_ties: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    /// The state now reflects the event.
    Applied,
    /// The event was already applied (or found stale) by an earlier delivery.
    Duplicate,
    /// Every state item already holds a newer version; the event is marked done.
    Stale,
    /// A write ties with the stored version of its item: only milliseconds or event ids
    /// would order them, which is not the order of the changes. Nothing was written and the
    /// event is not done: the caller fetches the object's current state and commits that.
    Tied,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prior {
    New,
    AlreadyDone,
}

/// The dedupe + commit contract. `DynamoStore` is the real one; `MemoryStore` has the same
/// semantics for pure unit tests and benchmarks.
pub trait EventStore: Send + Sync {
    /// Records this delivery in the audit and says whether the event was already done.
    /// One round trip. Used before work that costs (a Stripe fetch).
    fn record_delivery(
        &self,
        audit: &DeliveryAudit,
    ) -> impl Future<Output = Result<Prior, StoreError>> + Send;

    /// Notes in the audit that this delivery, recorded by `record_delivery`, then failed
    /// (`failed_<path>`, until the path's next recorded delivery): the migration audit must
    /// not count a path whose deliveries fail as one that delivers. One round trip, only on
    /// failure.
    fn record_failure(
        &self,
        audit: &DeliveryAudit,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Marks the event done and applies its state writes, atomically, unless it is already
    /// done. Writes older than the stored versions are dropped; if all are, the outcome is
    /// `Stale`.
    fn commit(
        &self,
        commit: &Commit<'_>,
    ) -> impl Future<Output = Result<CommitOutcome, StoreError>> + Send;

    /// The key (pk, sk) under which the state item of `object_id` is filed outside the
    /// unfiled partitions, if one is: with sort key `sk` when given, else with whichever it
    /// has (an invoice's depends on a `created` a deletion stub lacks). One round trip; used
    /// only for writes whose event does not name their owner.
    fn locate(
        &self,
        object_id: &str,
        sk: Option<&str>,
    ) -> impl Future<Output = Result<Option<(String, String)>, StoreError>> + Send;
}

/// An item's stored version: `version` (ms) and `version_tiebreak`.
pub(crate) fn stored_version(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) -> Option<(i64, &str)> {
    let at = item
        .get(stripe_events_core::vocabulary::attr::VERSION)?
        .as_n()
        .ok()?
        .parse()
        .ok()?;
    let tiebreak = item
        .get(stripe_events_core::vocabulary::attr::VERSION_TIEBREAK)?
        .as_s()
        .ok()?;
    Some((at, tiebreak))
}

/// Whether `w` ties with the version stored on `item` and the commit asks for ties.
pub(crate) fn ties_with_stored(
    w: &VersionedWrite<'_>,
    settle_ties: bool,
    item: Option<&std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>>,
) -> bool {
    !settle_ties
        && w.write.kind != stripe_events_core::project::WriteKind::Marker
        && item
            .and_then(stored_version)
            .is_some_and(|(at, tiebreak)| w.version.ties_with(at, tiebreak))
}

/// The filed key among items found for an object (unfiled ones are fallbacks).
pub(crate) fn filed_key<'a>(
    items: impl IntoIterator<Item = (&'a str, &'a str)>,
    sk: Option<&str>,
) -> Option<(String, String)> {
    items
        .into_iter()
        .find(|(pk, item_sk)| {
            sk.is_none_or(|sk| *item_sk == sk) && !pk.starts_with(UNFILED_PK_PREFIX)
        })
        .map(|(pk, sk)| (pk.to_owned(), sk.to_owned()))
}
