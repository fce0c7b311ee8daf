//! An in-memory [`EventStore`] with the DynamoDB store's semantics, for pure unit tests and
//! benchmarks of the handler. Never a substitute for the DynamoDB tests.
//!
//! It applies the very attribute updates [`crate::DynamoStore`] sends (`record.rs`) to items
//! held as DynamoDB attribute values, with the same ordering guard, so its dedupe/audit
//! records and state items carry exactly DynamoStore's attributes (`tests/store_parity.rs`
//! compares them attribute by attribute against moto).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Value};
use stripe_events_core::project::WriteKind;
use stripe_events_core::vocabulary::{attr, RECORD_APPLIED, RECORD_STALE};
use stripe_events_core::Version;

use crate::attr::{item_to_json, n, s};
use crate::record::{
    dedupe_updates, failure_cleared, failure_updates, state_updates, AttrUpdate, Op,
};
use crate::{
    filed_key, ties_with_stored, Commit, CommitOutcome, DeliveryAudit, EventStore, Prior,
    StoreError, VersionedWrite,
};

type Item = HashMap<String, AttributeValue>;

#[derive(Debug, Default)]
struct Tables {
    dedupe: HashMap<String, Item>,
    /// By (pk, sk): a partition's items in sort-key order, as a DynamoDB Query returns them.
    state: BTreeMap<(String, String), Item>,
}

#[derive(Debug, Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Tables>, StoreError> {
        self.tables
            .lock()
            .map_err(|_| StoreError::Transient("memory store poisoned".into()))
    }

    /// The dedupe/audit record of `key` (`{consumer}#{event key}`), as DynamoStore reads it.
    pub fn dedupe_record(&self, key: &str) -> Option<Map<String, Value>> {
        self.lock().ok()?.dedupe.get(key).map(item_to_json)
    }

    /// Every dedupe/audit record.
    pub fn dedupe_records(&self) -> Vec<Map<String, Value>> {
        self.lock()
            .map(|t| t.dedupe.values().map(item_to_json).collect())
            .unwrap_or_default()
    }

    /// One state item, `pk` and `sk` included, as DynamoStore reads it.
    pub fn state_item(&self, pk: &str, sk: &str) -> Option<Map<String, Value>> {
        let t = self.lock().ok()?;
        t.state
            .get(&(pk.to_owned(), sk.to_owned()))
            .map(item_to_json)
    }

    /// Every item of one partition, in sort-key order.
    pub fn partition(&self, pk: &str) -> Vec<Map<String, Value>> {
        self.lock()
            .map(|t| {
                t.state
                    .iter()
                    .filter(|((item_pk, _), _)| item_pk == pk)
                    .map(|(_, item)| item_to_json(item))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every state item, by partition and sort key.
    pub fn state_items(&self) -> Vec<Map<String, Value>> {
        self.lock()
            .map(|t| t.state.values().map(item_to_json).collect())
            .unwrap_or_default()
    }

    pub fn state_len(&self) -> usize {
        self.lock().map(|t| t.state.len()).unwrap_or(0)
    }
}

/// `SET`, `SET if_not_exists` and `ADD` as DynamoDB applies them.
fn apply(item: &mut Item, updates: Vec<AttrUpdate<'_>>) {
    for u in updates {
        // The name is copied only when the item does not hold it yet.
        match (u.op, item.get_mut(u.name)) {
            (Op::Set, Some(have)) => *have = u.value,
            (Op::SetIfAbsent, Some(_)) => {}
            (Op::Set | Op::SetIfAbsent, None) => {
                item.insert(u.name.to_owned(), u.value);
            }
            (Op::Add, _) => add(item, u.name, u.value),
            (Op::Remove, _) => {
                item.remove(u.name);
            }
        }
    }
}

/// `ADD`: a number is added to the stored one, a string set united with the stored one; an
/// absent attribute is set. (The store adds nothing else.)
fn add(item: &mut Item, name: &str, value: AttributeValue) {
    match (item.get_mut(name), value) {
        (Some(stored), AttributeValue::N(more)) if matches!(stored, AttributeValue::N(_)) => {
            let have = stored.as_n().map_or(0, |h| h.parse::<i64>().unwrap_or(0));
            *stored = n(have + more.parse::<i64>().unwrap_or(0));
        }
        (Some(AttributeValue::Ss(have)), AttributeValue::Ss(more)) => {
            for m in more {
                if !have.contains(&m) {
                    have.push(m);
                }
            }
        }
        (_, value) => {
            item.insert(name.to_owned(), value);
        }
    }
}

/// The dedupe record of `key`, created with its key attribute as `UpdateItem` creates it.
fn dedupe_entry<'t>(t: &'t mut Tables, key: &str) -> &'t mut Item {
    t.dedupe
        .entry(key.to_owned())
        .or_insert_with(|| Item::from([(attr::PK.to_owned(), s(key))]))
}

/// Records a delivery; true when the event was already done (`ALL_OLD` held `applied_at`).
fn record(t: &mut Tables, a: &DeliveryAudit) -> bool {
    let rec = dedupe_entry(t, &a.key);
    let done = rec.contains_key(attr::APPLIED_AT);
    apply(rec, dedupe_updates(a, true, None));
    done
}

fn has_seen(t: &Tables, a: &DeliveryAudit) -> bool {
    t.dedupe
        .get(&a.key)
        .is_some_and(|r| r.contains_key(a.path.seen_attr()))
}

fn is_done(t: &Tables, key: &str) -> bool {
    t.dedupe
        .get(key)
        .is_some_and(|r| r.contains_key(attr::APPLIED_AT))
}

/// DynamoStore's guard: `attribute_not_exists(version) OR version < v OR (version = v AND
/// version_tiebreak < t)`; markers are unconditional. (Ties are checked before it.)
fn passes_guard(item: Option<&Item>, w: &VersionedWrite<'_>) -> bool {
    if w.write.kind == WriteKind::Marker {
        return true;
    }
    let Some(item) = item else { return true };
    let stored = item
        .get(attr::VERSION)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<i64>().ok());
    let Some(stored) = stored else { return true };
    let Version { at, tiebreak } = &w.version;
    let at = at.unix_millis();
    let tie = item
        .get(attr::VERSION_TIEBREAK)
        .and_then(|v| v.as_s().ok())
        .is_some_and(|stored_tie| stored_tie.as_str() < tiebreak.as_str());
    stored < at || (stored == at && tie)
}

impl EventStore for MemoryStore {
    async fn locate(
        &self,
        object_id: &str,
        sk: Option<&str>,
    ) -> Result<Option<(String, String)>, StoreError> {
        let t = self.lock()?;
        let keys = t
            .state
            .iter()
            .filter(|(_, item)| {
                item.get(attr::OBJECT_ID)
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|id| id == object_id)
            })
            .map(|((pk, sk), _)| (pk.as_str(), sk.as_str()));
        Ok(filed_key(keys, sk))
    }

    async fn record_delivery(&self, audit: &DeliveryAudit) -> Result<Prior, StoreError> {
        let mut t = self.lock()?;
        Ok(if record(&mut t, audit) {
            Prior::AlreadyDone
        } else {
            Prior::New
        })
    }

    async fn record_failure(&self, audit: &DeliveryAudit) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        apply(dedupe_entry(&mut t, &audit.key), failure_updates(audit));
        Ok(())
    }

    async fn commit(&self, c: &Commit<'_>) -> Result<CommitOutcome, StoreError> {
        let mut t = self.lock()?;
        if is_done(&t, &c.audit.key) {
            // As DynamoStore: only a delivery that adds a path is recorded; one by a path seen
            // before clears that path's failure.
            if !c.delivery_recorded {
                if has_seen(&t, &c.audit) {
                    let rec = dedupe_entry(&mut t, &c.audit.key);
                    if rec.contains_key(c.audit.path.failed_attr()) {
                        apply(rec, failure_cleared(&c.audit));
                    }
                } else {
                    record(&mut t, &c.audit);
                }
            }
            return Ok(CommitOutcome::Duplicate);
        }
        // As DynamoStore: a tie with a stored version writes nothing and says so; the writes
        // the guard refuses are dropped, and when all are, the event is marked done as stale.
        let mut fresh: Vec<&VersionedWrite<'_>> = Vec::with_capacity(c.writes.len());
        for w in &c.writes {
            let stored = t.state.get(&(w.write.pk.clone(), w.write.sk.clone()));
            if ties_with_stored(w, c.settle_ties, stored) {
                return Ok(CommitOutcome::Tied);
            }
            if passes_guard(stored, w) {
                fresh.push(w);
            }
        }
        let applied = c.writes.is_empty() || !fresh.is_empty();
        for w in fresh {
            let item = t
                .state
                .entry((w.write.pk.clone(), w.write.sk.clone()))
                .or_insert_with(|| {
                    Item::from([
                        (attr::PK.to_owned(), s(&w.write.pk)),
                        (attr::SK.to_owned(), s(&w.write.sk)),
                    ])
                });
            apply(item, state_updates(w, &c.audit));
        }
        let outcome = if applied {
            RECORD_APPLIED
        } else {
            RECORD_STALE
        };
        let rec = dedupe_entry(&mut t, &c.audit.key);
        apply(
            rec,
            dedupe_updates(&c.audit, !c.delivery_recorded, Some(outcome)),
        );
        Ok(if applied {
            CommitOutcome::Applied
        } else {
            CommitOutcome::Stale
        })
    }
}
