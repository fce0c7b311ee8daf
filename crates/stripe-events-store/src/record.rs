//! What one delivery writes, as one list of attribute updates both stores apply:
//! [`crate::DynamoStore`] turns it into an update expression, [`crate::MemoryStore`] applies it
//! to its items. So the dedupe/audit record and the state items carry the same attributes in
//! both (checked against moto by `tests/store_parity.rs`).

use aws_sdk_dynamodb::types::AttributeValue;
use stripe_events_core::project::{Attr, WriteKind};
use stripe_events_core::vocabulary::attr;

use crate::attr::{attr_value, n, s};
use crate::{DeliveryAudit, VersionedWrite};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// `SET name = value`.
    Set,
    /// `SET name = if_not_exists(name, value)`.
    SetIfAbsent,
    /// `ADD name value`: a number added, or a string set united.
    Add,
    /// `REMOVE name` (the value is not used).
    Remove,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AttrUpdate<'a> {
    pub name: &'a str,
    pub op: Op,
    pub value: AttributeValue,
}

fn up(name: &str, op: Op, value: AttributeValue) -> AttrUpdate<'_> {
    AttrUpdate { name, op, value }
}

/// The dedupe record's updates: the audit of this delivery (when `record_delivery`) and the
/// done mark (when `done` names the record's outcome, `applied` or `stale`).
pub(crate) fn dedupe_updates(
    a: &DeliveryAudit,
    record_delivery: bool,
    done: Option<&str>,
) -> Vec<AttrUpdate<'static>> {
    let now = n(a.received_at.unix_millis());
    let mut out = vec![
        up(attr::CONSUMER, Op::Set, s(a.consumer.as_str())),
        up(attr::EVENT_TYPE, Op::SetIfAbsent, s(&a.event_type)),
        up(attr::OBJECT_ID, Op::SetIfAbsent, s(&a.object_id)),
        up(
            attr::EVENT_CREATED,
            Op::SetIfAbsent,
            n(a.event_created.unix_millis()),
        ),
        up(attr::FIRST_SEEN, Op::SetIfAbsent, now.clone()),
        up(attr::LAST_SEEN, Op::Set, now.clone()),
        up(attr::EXPIRES_AT, Op::Set, n(a.expires_at)),
    ];
    if record_delivery {
        out.extend([
            up(a.path.seen_attr(), Op::SetIfAbsent, now.clone()),
            up(a.path.count_attr(), Op::Add, n(1)),
            up(attr::DELIVERIES, Op::Add, n(1)),
            up(
                attr::EVENT_IDS,
                Op::Add,
                AttributeValue::Ss(vec![a.event_id.clone()]),
            ),
        ]);
        // This delivery starts over: only its own failure marks the path failed again.
        out.extend(failure_cleared(a));
    }
    if let Some(outcome) = done {
        out.push(up(attr::APPLIED_AT, Op::Set, now));
        out.push(up(attr::OUTCOME, Op::Set, s(outcome)));
    }
    out
}

/// The dedupe record's update when a delivery by a path succeeds (`failed_<path>` removed).
pub(crate) fn failure_cleared(a: &DeliveryAudit) -> Vec<AttrUpdate<'static>> {
    vec![up(
        a.path.failed_attr(),
        Op::Remove,
        AttributeValue::Null(true),
    )]
}

/// The dedupe record's update when a recorded delivery then failed (`failed_<path>`).
pub(crate) fn failure_updates(a: &DeliveryAudit) -> Vec<AttrUpdate<'static>> {
    vec![up(
        a.path.failed_attr(),
        Op::Set,
        n(a.received_at.unix_millis()),
    )]
}

/// A state item's updates: the projection's fields, and for a versioned write the version it
/// was written from and the event that wrote it. (The item's key is set by the write's key.)
pub(crate) fn state_updates<'w>(
    w: &'w VersionedWrite<'_>,
    a: &'w DeliveryAudit,
) -> Vec<AttrUpdate<'w>> {
    let mut out: Vec<AttrUpdate<'w>> = w
        .write
        .fields
        .iter()
        .map(|(k, v)| match v {
            Attr::Removed => up(k, Op::Remove, AttributeValue::Null(true)),
            v => up(k, Op::Set, attr_value(v)),
        })
        .collect();
    if w.write.kind == WriteKind::Versioned {
        out.extend([
            up(attr::VERSION, Op::Set, n(w.version.at.unix_millis())),
            up(attr::VERSION_TIEBREAK, Op::Set, s(&w.version.tiebreak)),
            up(attr::LAST_EVENT_ID, Op::Set, s(&a.event_id)),
            up(attr::LAST_EVENT_TYPE, Op::Set, s(&a.event_type)),
            up(attr::UPDATED_AT, Op::Set, n(a.received_at.unix_millis())),
        ]);
    }
    out
}
