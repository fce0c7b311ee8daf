//! An in-memory [`EventStore`] with the DynamoDB store's semantics, for pure unit tests and
//! benchmarks of the handler. Never a substitute for the DynamoDB tests.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde_json::{Map, Value};

use crate::{
    filed_pk, seen_attr, version_fields, Commit, CommitOutcome, DeliveryAudit, EventStore, Prior,
    StoreError,
};
use stripe_events_core::project::WriteKind;
use stripe_events_core::{Timestamp, Version};

#[derive(Debug, Default)]
struct Tables {
    dedupe: HashMap<String, Map<String, Value>>,
    state: BTreeMap<(String, String), (Version, Map<String, Value>)>,
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

    pub fn dedupe_record(&self, key: &str) -> Option<Map<String, Value>> {
        self.lock().ok()?.dedupe.get(key).cloned()
    }

    pub fn state_item(&self, pk: &str, sk: &str) -> Option<Map<String, Value>> {
        let t = self.lock().ok()?;
        t.state
            .get(&(pk.to_owned(), sk.to_owned()))
            .map(|(_, m)| m.clone())
    }

    pub fn state_len(&self) -> usize {
        self.lock().map(|t| t.state.len()).unwrap_or(0)
    }
}

fn record(t: &mut Tables, a: &DeliveryAudit) -> bool {
    let rec = t.dedupe.entry(a.key.clone()).or_default();
    let now = Value::from(a.received_at.unix_millis());
    rec.entry(seen_attr(a.path)).or_insert(now.clone());
    let bump = |rec: &mut Map<String, Value>, k: &str| {
        let n = rec.get(k).and_then(Value::as_i64).unwrap_or(0) + 1;
        rec.insert(k.to_owned(), Value::from(n));
    };
    bump(rec, &format!("count_{}", a.path));
    bump(rec, "deliveries");
    rec.entry("first_seen").or_insert(now.clone());
    rec.insert("last_seen".into(), now);
    // DynamoStore refreshes the TTL with every recorded delivery.
    rec.insert("expires_at".into(), Value::from(a.expires_at));
    rec.contains_key("applied_at")
}

fn mark(t: &mut Tables, a: &DeliveryAudit, outcome: &str) {
    let rec = t.dedupe.entry(a.key.clone()).or_default();
    rec.insert(
        "applied_at".into(),
        Value::from(a.received_at.unix_millis()),
    );
    rec.insert("outcome".into(), Value::from(outcome));
    rec.insert("expires_at".into(), Value::from(a.expires_at));
}

fn has_seen(t: &Tables, a: &DeliveryAudit) -> bool {
    t.dedupe
        .get(&a.key)
        .is_some_and(|r| r.contains_key(&seen_attr(a.path)))
}

fn is_done(t: &Tables, key: &str) -> bool {
    t.dedupe
        .get(key)
        .is_some_and(|r| r.contains_key("applied_at"))
}

impl EventStore for MemoryStore {
    async fn locate(&self, object_id: &str, sk: &str) -> Result<Option<String>, StoreError> {
        let t = self.lock()?;
        let keys = t
            .state
            .iter()
            .filter(|(_, (_, item))| {
                item.get("object_id").and_then(Value::as_str) == Some(object_id)
            })
            .map(|((pk, sk), _)| (pk.as_str(), sk.as_str()));
        Ok(filed_pk(keys, sk))
    }

    async fn record_delivery(&self, audit: &DeliveryAudit) -> Result<Prior, StoreError> {
        let mut t = self.lock()?;
        Ok(if record(&mut t, audit) {
            Prior::AlreadyDone
        } else {
            Prior::New
        })
    }

    async fn commit(&self, c: &Commit<'_>) -> Result<CommitOutcome, StoreError> {
        let mut t = self.lock()?;
        if is_done(&t, &c.audit.key) {
            // As DynamoStore: only a delivery that adds a path is recorded.
            if !c.delivery_recorded && !has_seen(&t, &c.audit) {
                record(&mut t, &c.audit);
            }
            return Ok(CommitOutcome::Duplicate);
        }
        if !c.delivery_recorded {
            record(&mut t, &c.audit);
        }
        let mut applied = c.writes.is_empty();
        for w in &c.writes {
            let key = (w.write.pk.clone(), w.write.sk.clone());
            if w.write.kind == WriteKind::Marker {
                let unversioned = Version {
                    at: Timestamp::from_unix_millis(i64::MIN),
                    tiebreak: String::new(),
                };
                let entry = t
                    .state
                    .entry(key)
                    .or_insert_with(|| (unversioned, Map::new()));
                entry.1.extend(w.write.fields_json());
                applied = true;
                continue;
            }
            let newer = t.state.get(&key).is_none_or(|(v, _)| *v < w.version);
            if !newer {
                continue;
            }
            applied = true;
            let entry = t
                .state
                .entry(key)
                .or_insert_with(|| (w.version.clone(), Map::new()));
            entry.0 = w.version.clone();
            for (k, v) in w.write.fields.iter() {
                entry.1.insert(k.to_owned(), v.to_json());
            }
            for (k, v) in version_fields(w, &c.audit) {
                entry.1.insert(k.to_owned(), v.to_json());
            }
        }
        let outcome = if applied {
            CommitOutcome::Applied
        } else {
            CommitOutcome::Stale
        };
        mark(&mut t, &c.audit, if applied { "applied" } else { "stale" });
        Ok(outcome)
    }
}
