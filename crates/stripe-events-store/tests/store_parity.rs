//! MemoryStore against DynamoStore on moto: the same sequence of deliveries and commits
//! (new events, duplicates by the same and by a new path, a thin check then its commit, a stale
//! event, an event without state writes, a deletion marker, an unfiled item) through both,
//! with the same outcomes, and afterwards every dedupe/audit record and every state item equal
//! attribute by attribute. The deliveries' clocks are fixed, so nothing is left out of the
//! comparison (`event_ids` is a set: compared sorted). Needs the local stack: run through
//! `make test` or `infra/local/stack.sh run -- cargo test -p stripe-events-store --test
//! store_parity`.

use serde_json::{json, Map, Value};
use stripe_events_core::project::{project, Projection};
use stripe_events_core::vocabulary::{
    attr, customer_pk, dedupe_key, payment_method_sk, subscription_sk, unfiled_pk, AuditPath,
};
use stripe_events_core::{Family, Timestamp, Version};
use stripe_events_store::{
    customers_of_user, dynamodb_client, read_customer_state, Commit, CommitOutcome, CustomerState,
    DeliveryAudit, DynamoStore, EventStore, MemoryStore, Prior, VersionedWrite,
};
use stripe_events_testkit::stack::{fresh_tables, local_endpoint, sdk_config_for};

const CUS: &str = "cus_PARITY1";
const CUS2: &str = "cus_PARITY2";
const CUS3: &str = "cus_PARITY3";
const SUB: &str = "sub_PARITY1";
const PM: &str = "pm_PARITY1";
/// Seconds: the events' `created`.
const T: i64 = 1_900_000_000;
/// Milliseconds: the deliveries' arrival.
const AT: i64 = 1_900_000_500_000;

/// One event as one delivery of it sees it.
#[derive(Clone)]
struct Event {
    consumer: Family,
    /// The dedupe key (the snapshot id; a thin event's `snapshot_event`).
    key: &'static str,
    /// This delivery's own id.
    id: &'static str,
    event_type: &'static str,
    created: i64,
    object: Value,
}

fn audit(ev: &Event, path: AuditPath, at_ms: i64) -> DeliveryAudit {
    DeliveryAudit {
        key: dedupe_key(ev.consumer, ev.key),
        consumer: ev.consumer,
        event_id: ev.id.to_owned(),
        event_type: ev.event_type.to_owned(),
        object_id: ev.object["id"].as_str().unwrap_or_default().to_owned(),
        event_created: Timestamp::from_unix_seconds(ev.created),
        path,
        received_at: Timestamp::from_unix_millis(at_ms),
        expires_at: at_ms / 1000 + 30 * 86_400,
    }
}

fn commit(ev: &Event, path: AuditPath, at_ms: i64, delivery_recorded: bool) -> Commit<'static> {
    let writes = match project(ev.event_type, &ev.object, None) {
        Ok(Projection::Items(items)) => items,
        Ok(Projection::Ignored(why)) => panic!("{}: projection ignored it: {why}", ev.id),
        Err(e) => panic!("{}: {e}", ev.id),
    };
    let version = Version::of_event(
        Timestamp::from_unix_seconds(ev.created),
        ev.event_type,
        &ev.object,
        ev.id,
    );
    Commit {
        audit: audit(ev, path, at_ms),
        writes: writes
            .into_iter()
            .map(|write| VersionedWrite {
                write,
                version: version.clone(),
            })
            .collect(),
        delivery_recorded,
        settle_ties: false,
    }
}

fn subscription(status: &str, period_end: i64) -> Value {
    json!({"id": SUB, "object": "subscription", "customer": CUS, "status": status,
           "cancel_at_period_end": false, "metadata": {"plan": "pro"},
           "items": {"data": [{"id": "si_P1", "price": {"id": "price_P1", "product": "prod_P1"},
                                "quantity": 2, "current_period_start": T,
                                "current_period_end": period_end}]}})
}

fn sub_event(
    key: &'static str,
    id: &'static str,
    typ: &'static str,
    created: i64,
    status: &str,
) -> Event {
    Event {
        consumer: Family::Subscription,
        key,
        id,
        event_type: typ,
        created,
        object: subscription(status, T + 30 * 86_400),
    }
}

/// What one step does, and what both stores must answer.
enum Step {
    Commit(Commit<'static>, CommitOutcome),
    Record(DeliveryAudit, Prior),
    /// A recorded delivery that then failed.
    Fail(DeliveryAudit),
}

fn steps() -> Vec<Step> {
    use CommitOutcome::{Applied, Duplicate, Stale, Tied};
    use Step::{Commit as C, Fail as F, Record as R};
    let created = sub_event(
        "evt_P_created",
        "evt_P_created",
        "customer.subscription.created",
        T,
        "trialing",
    );
    let updated = sub_event(
        "evt_P_updated",
        "evt_P_updated",
        "customer.subscription.updated",
        T + 100,
        "past_due",
    );
    let updated_thin = sub_event(
        "evt_P_updated",
        "evt_P_updated_thin",
        "customer.subscription.updated",
        T + 100,
        "past_due",
    );
    let older = sub_event(
        "evt_P_older",
        "evt_P_older",
        "customer.subscription.updated",
        T + 50,
        "active",
    );
    // The same second and rank as `updated`: only the ids would order them.
    let tied = sub_event(
        "evt_P_tied",
        "evt_P_tied",
        "customer.subscription.updated",
        T + 100,
        "active",
    );
    let mut settled = commit(&tied, AuditPath::Webhook, AT + 7_500, false);
    settled.settle_ties = true;
    let failed_thin = sub_event(
        "evt_P_failed",
        "evt_P_failed_thin",
        "customer.subscription.updated",
        T + 150,
        "active",
    );
    // A partner snapshot recorded, then failed (its tie's fetch); the webhook applies it; the
    // partner retry is a duplicate by a path already seen: it clears the failure.
    let retried = sub_event(
        "evt_P_retried",
        "evt_P_retried",
        "customer.subscription.updated",
        T + 10,
        "active",
    );
    let mut no_writes = commit(&created, AuditPath::Direct, AT, false);
    no_writes.writes.clear();
    no_writes.audit.key = dedupe_key(Family::Subscription, "evt_P_nothing");
    no_writes.audit.event_id = "evt_P_nothing".into();
    let customer = Event {
        consumer: Family::Customer,
        key: "evt_P_cus",
        id: "evt_P_cus",
        event_type: "customer.created",
        created: T,
        object: json!({"id": CUS, "object": "customer", "email": "parity@example.com",
                       "name": "Parity", "delinquent": false, "metadata": {"user_id": "user_parity"}}),
    };
    let deleted = Event {
        consumer: Family::Customer,
        key: "evt_P_cus_deleted",
        id: "evt_P_cus_deleted",
        event_type: "customer.deleted",
        created: T + 200,
        object: json!({"id": CUS, "object": "customer", "deleted": true}),
    };
    // A customer whose user_id is later dropped: the attribute is removed (a GSI key).
    let with_user = Event {
        consumer: Family::Customer,
        key: "evt_P_cus2",
        id: "evt_P_cus2",
        event_type: "customer.created",
        created: T + 300,
        object: json!({"id": CUS2, "object": "customer", "email": "two@example.com",
                       "name": "Two", "metadata": {"user_id": "user_gone"}}),
    };
    let without_user = Event {
        key: "evt_P_cus2_updated",
        id: "evt_P_cus2_updated",
        event_type: "customer.updated",
        created: T + 400,
        object: json!({"id": CUS2, "object": "customer", "email": "two@example.com",
                       "name": "Two", "metadata": {}}),
        ..with_user.clone()
    };
    let live = Event {
        key: "evt_P_cus3",
        id: "evt_P_cus3",
        object: json!({"id": CUS3, "object": "customer", "email": "three@example.com",
                       "name": "Three", "metadata": {"user_id": "user_parity"}}),
        ..with_user.clone()
    };
    let detached = Event {
        consumer: Family::Customer,
        key: "evt_P_pm",
        id: "evt_P_pm",
        event_type: "payment_method.detached",
        created: T + 10,
        object: json!({"id": PM, "object": "payment_method", "customer": null, "type": "card",
                       "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2031}}),
    };
    let invoice = Event {
        consumer: Family::Payment,
        key: "evt_P_inv",
        id: "evt_P_inv",
        event_type: "invoice.paid",
        created: T + 20,
        object: json!({"id": "in_P1", "object": "invoice", "customer": CUS, "status": "paid",
                       "amount_due": 1200, "amount_paid": 1200, "currency": "eur", "created": T + 5,
                       "subscription": SUB}),
    };
    vec![
        // A new snapshot, then its webhook twin (a new path, recorded) and a webhook retry
        // (the same path: nothing more recorded).
        C(
            commit(&created, AuditPath::PartnerSnapshot, AT, false),
            Applied,
        ),
        C(
            commit(&created, AuditPath::Webhook, AT + 1_000, false),
            Duplicate,
        ),
        C(
            commit(&created, AuditPath::Webhook, AT + 2_000, false),
            Duplicate,
        ),
        // A thin event: checked before the (here imagined) Stripe call, then committed; its
        // snapshot twin afterwards is a duplicate that adds its path and its id.
        R(
            audit(&updated_thin, AuditPath::PartnerThin, AT + 3_000),
            Prior::New,
        ),
        C(
            commit(&updated_thin, AuditPath::PartnerThin, AT + 3_000, true),
            Applied,
        ),
        C(
            commit(&updated, AuditPath::PartnerSnapshot, AT + 4_000, false),
            Duplicate,
        ),
        // An older event arriving late: marked done as stale, state untouched; its
        // redelivery is done already.
        C(commit(&older, AuditPath::Webhook, AT + 5_000, false), Stale),
        R(
            audit(&older, AuditPath::PartnerSnapshot, AT + 6_000),
            Prior::AlreadyDone,
        ),
        C(
            commit(&older, AuditPath::Webhook, AT + 7_000, false),
            Duplicate,
        ),
        // A tie writes nothing and leaves the event undone; settled, the tiebreak decides.
        C(commit(&tied, AuditPath::Webhook, AT + 7_200, false), Tied),
        C(settled, Stale),
        // A thin delivery recorded, then failed (its fetch): the path is marked failed.
        R(
            audit(&failed_thin, AuditPath::PartnerThin, AT + 7_700),
            Prior::New,
        ),
        F(audit(&failed_thin, AuditPath::PartnerThin, AT + 7_800)),
        R(
            audit(&retried, AuditPath::PartnerSnapshot, AT + 7_810),
            Prior::New,
        ),
        F(audit(&retried, AuditPath::PartnerSnapshot, AT + 7_820)),
        C(
            commit(&retried, AuditPath::Webhook, AT + 7_830, false),
            Stale,
        ),
        C(
            commit(&retried, AuditPath::PartnerSnapshot, AT + 7_840, false),
            Duplicate,
        ),
        // Nothing to write: still marked done.
        C(no_writes, Applied),
        // Another consumer: a profile, its deletion stub (a marker keeping the profile), an
        // unfiled payment method; and a payment item.
        C(
            commit(&customer, AuditPath::PartnerSnapshot, AT + 8_000, false),
            Applied,
        ),
        C(
            commit(&deleted, AuditPath::Webhook, AT + 9_000, false),
            Applied,
        ),
        C(
            commit(&detached, AuditPath::Direct, AT + 10_000, false),
            Applied,
        ),
        C(
            commit(&invoice, AuditPath::PartnerSnapshot, AT + 11_000, false),
            Applied,
        ),
        C(
            commit(&with_user, AuditPath::PartnerSnapshot, AT + 12_000, false),
            Applied,
        ),
        C(
            commit(
                &without_user,
                AuditPath::PartnerSnapshot,
                AT + 13_000,
                false,
            ),
            Applied,
        ),
        C(
            commit(&live, AuditPath::PartnerSnapshot, AT + 14_000, false),
            Applied,
        ),
    ]
}

/// `event_ids` is a string set: its order is DynamoDB's business.
fn normalised(mut m: Map<String, Value>) -> Map<String, Value> {
    if let Some(Value::Array(ids)) = m.get_mut(attr::EVENT_IDS) {
        ids.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    }
    m
}

fn key_of(m: &Map<String, Value>) -> (String, String) {
    let text = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    (text(attr::PK), text(attr::SK))
}

fn sorted(items: Vec<Map<String, Value>>) -> Vec<Map<String, Value>> {
    let mut items: Vec<Map<String, Value>> = items.into_iter().map(normalised).collect();
    items.sort_by_key(key_of);
    items
}

/// Every attribute that differs, is missing in one or is extra in the other.
fn differences(
    what: &str,
    dynamo: &[Map<String, Value>],
    memory: &[Map<String, Value>],
) -> Vec<String> {
    let mut out = Vec::new();
    let keys = |items: &[Map<String, Value>]| items.iter().map(key_of).collect::<Vec<_>>();
    if keys(dynamo) != keys(memory) {
        out.push(format!(
            "{what}: DynamoDB holds {:?}, memory {:?}",
            keys(dynamo),
            keys(memory)
        ));
        return out;
    }
    for (d, m) in dynamo.iter().zip(memory) {
        let names: std::collections::BTreeSet<&String> = d.keys().chain(m.keys()).collect();
        for name in names {
            if d.get(name) != m.get(name) {
                out.push(format!(
                    "{what} {:?} `{name}`: DynamoDB {:?}, memory {:?}",
                    key_of(d),
                    d.get(name),
                    m.get(name)
                ));
            }
        }
    }
    out
}

#[tokio::test]
async fn memory_store_writes_what_dynamodb_writes() {
    let endpoint = local_endpoint().unwrap_or_else(|e| panic!("{e}"));
    let client = dynamodb_client(&sdk_config_for(&endpoint).await, None);
    let tables = fresh_tables(&client).await.expect("create tables in moto");
    let dynamo = DynamoStore::new(client, tables);
    let memory = MemoryStore::new();

    for (i, step) in steps().into_iter().enumerate() {
        match step {
            Step::Commit(c, want) => {
                let d = dynamo.commit(&c).await.expect("DynamoDB commit");
                let m = memory.commit(&c).await.expect("memory commit");
                assert_eq!(
                    (d, m),
                    (want, want),
                    "step {i}: {} by {}",
                    c.audit.event_id,
                    c.audit.path
                );
            }
            Step::Fail(a) => {
                dynamo.record_failure(&a).await.expect("DynamoDB failure");
                memory.record_failure(&a).await.expect("memory failure");
            }
            Step::Record(a, want) => {
                let d = dynamo.record_delivery(&a).await.expect("DynamoDB record");
                let m = memory.record_delivery(&a).await.expect("memory record");
                assert_eq!(
                    (d, m),
                    (want, want),
                    "step {i}: {} by {}",
                    a.event_id,
                    a.path
                );
            }
        }
    }

    let (d_records, m_records) = (
        sorted(dynamo.dedupe_records().await.expect("scan records")),
        sorted(memory.dedupe_records()),
    );
    let (d_items, m_items) = (
        sorted(dynamo.state_items().await.expect("scan items")),
        sorted(memory.state_items()),
    );
    let mut diffs = differences("record", &d_records, &m_records);
    diffs.extend(differences("item", &d_items, &m_items));
    assert!(
        diffs.is_empty(),
        "MemoryStore differs from DynamoStore:\n  {}",
        diffs.join("\n  ")
    );

    // What was compared is what the contract says (so an empty or partial run cannot pass).
    assert_eq!(
        d_records.len(),
        14,
        "one record per event key: {d_records:#?}"
    );
    let rec = |key: &str| {
        d_records
            .iter()
            .find(|r| r[attr::PK] == dedupe_key(Family::Subscription, key).as_str())
            .cloned()
            .unwrap_or_else(|| panic!("no record {key}"))
    };
    let created = rec("evt_P_created");
    assert_eq!(created[attr::CONSUMER], "subscription");
    assert_eq!(created[attr::EVENT_TYPE], "customer.subscription.created");
    assert_eq!(created[AuditPath::PartnerSnapshot.seen_attr()], AT);
    assert_eq!(created[AuditPath::Webhook.seen_attr()], AT + 1_000);
    assert_eq!(
        created[AuditPath::Webhook.count_attr()],
        1,
        "the retry added nothing"
    );
    assert_eq!(created[attr::DELIVERIES], 2);
    assert_eq!(created[attr::OUTCOME], "applied");
    let updated = rec("evt_P_updated");
    assert_eq!(
        updated[attr::EVENT_IDS],
        json!(["evt_P_updated", "evt_P_updated_thin"])
    );
    assert_eq!(rec("evt_P_older")[attr::OUTCOME], "stale");
    assert_eq!(
        rec("evt_P_tied")[attr::OUTCOME],
        "stale",
        "settled by the tiebreak"
    );
    let failed = rec("evt_P_failed");
    assert_eq!(failed[AuditPath::PartnerThin.failed_attr()], AT + 7_800);
    assert!(!failed.contains_key(attr::APPLIED_AT), "{failed:?}");
    let retried = rec("evt_P_retried");
    assert!(
        !retried.contains_key(AuditPath::PartnerSnapshot.failed_attr()),
        "the path's later delivery cleared it: {retried:?}"
    );

    assert_eq!(
        d_items.len(),
        6,
        "subscription, three profiles, payment method, invoice: {d_items:#?}"
    );
    let sub = d_items
        .iter()
        .find(|m| m[attr::OBJECT_ID] == SUB)
        .expect("subscription item");
    assert_eq!(
        sub[attr::STATUS],
        "past_due",
        "the stale event changed nothing"
    );
    assert_eq!(sub[attr::LAST_EVENT_ID], "evt_P_updated_thin");
    let (d_state, m_state) = (
        read_customer_state(&dynamo, CUS).await.expect("read"),
        read_customer_state(&memory, CUS).await.expect("read"),
    );
    assert_eq!(d_state, m_state);
    let profile = d_state
        .profile
        .as_ref()
        .expect("the profile survives its deletion stub");
    assert_eq!(profile["deleted"], true);
    assert_eq!(profile["email"], "parity@example.com");
    assert_eq!(d_state.payments.len(), 1);
    assert!(
        d_state.entitlement.entitled,
        "past_due still entitles: {:?}",
        d_state.entitlement
    );
    assert_eq!(
        customers_of_user(&dynamo, "user_parity")
            .await
            .expect("GSI"),
        customers_of_user(&memory, "user_parity")
            .await
            .expect("scan")
    );
    // CUS was deleted: only the live customer of the user is listed.
    assert_eq!(
        customers_of_user(&memory, "user_parity")
            .await
            .expect("scan"),
        [CUS3]
    );
    // A user_id the customer no longer has is gone from the item and from by_user_id.
    for store_items in [
        read_customer_state(&dynamo, CUS2).await.expect("read"),
        read_customer_state(&memory, CUS2).await.expect("read"),
    ] {
        let profile = store_items.profile.expect("profile");
        assert!(!profile.contains_key("user_id"), "{profile:?}");
    }
    assert!(customers_of_user(&dynamo, "user_gone")
        .await
        .expect("GSI")
        .is_empty());
    assert!(customers_of_user(&memory, "user_gone")
        .await
        .expect("scan")
        .is_empty());
    // An unfiled item is found by neither store (it is nobody's yet).
    let sk = payment_method_sk(PM);
    assert_eq!(dynamo.locate(PM, Some(&sk)).await.expect("GSI"), None);
    assert_eq!(memory.locate(PM, Some(&sk)).await.expect("scan"), None);
    assert!(m_items
        .iter()
        .any(|m| key_of(m) == (unfiled_pk(PM), sk.clone())));
    // A filed item is found with its sort key, or by its id alone (the sort key found).
    let filed = Some((customer_pk(CUS), subscription_sk(SUB)));
    for sk in [Some(subscription_sk(SUB)), None] {
        assert_eq!(dynamo.locate(SUB, sk.as_deref()).await.expect("GSI"), filed);
        assert_eq!(
            memory.locate(SUB, sk.as_deref()).await.expect("scan"),
            filed
        );
    }
    assert_eq!(
        dynamo.locate(SUB, Some("SUB#other")).await.expect("GSI"),
        None
    );
    let empty: CustomerState = read_customer_state(&memory, "cus_nobody")
        .await
        .expect("read");
    assert!(empty.is_empty());
}

/// Within one second at one rank: two fetches are ordered by their milliseconds (when Stripe
/// answered), while a snapshot of that second ties with either (its `created` has no
/// milliseconds), on both stores alike.
#[tokio::test]
async fn fetches_order_by_milliseconds_and_a_snapshot_of_their_second_ties() {
    let endpoint = local_endpoint().unwrap_or_else(|e| panic!("{e}"));
    let client = dynamodb_client(&sdk_config_for(&endpoint).await, None);
    let tables = fresh_tables(&client).await.expect("create tables in moto");
    let dynamo = DynamoStore::new(client, tables);
    let memory = MemoryStore::new();
    let second = T + 5_000;
    let fetched = |key: &'static str, ms: i64| {
        let ev = sub_event(key, key, "customer.subscription.updated", second, "active");
        let mut c = commit(&ev, AuditPath::PartnerThin, AT, true);
        let at = Timestamp::from_unix_millis(second * 1000 + ms);
        for w in &mut c.writes {
            w.version = Version::of_fetch(at, &ev.object, ev.id);
        }
        c
    };
    let snapshot = sub_event(
        "evt_F_snap",
        "evt_F_snap",
        "customer.subscription.updated",
        second,
        "past_due",
    );
    let steps = [
        (fetched("evt_F_first", 400), CommitOutcome::Applied),
        (fetched("evt_F_later", 700), CommitOutcome::Applied),
        (fetched("evt_F_earlier", 100), CommitOutcome::Stale),
        (
            commit(&snapshot, AuditPath::Webhook, AT, false),
            CommitOutcome::Tied,
        ),
    ];
    for (c, want) in steps {
        let d = dynamo.commit(&c).await.expect("DynamoDB commit");
        let m = memory.commit(&c).await.expect("memory commit");
        assert_eq!((d, m), (want, want), "{}", c.audit.event_id);
    }
    for items in [
        dynamo.state_items().await.expect("scan"),
        memory.state_items(),
    ] {
        let sub = items
            .iter()
            .find(|m| m[attr::OBJECT_ID] == SUB)
            .expect("subscription");
        assert_eq!(sub[attr::LAST_EVENT_ID], "evt_F_later");
    }
}
