//! The dedupe/commit contract against moto's DynamoDB over HTTP, through the production
//! client. Needs the local stack: run through `make test` (which starts moto and sets
//! `AWS_ENDPOINT_URL`).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};
use stripe_events_core::project::{project, Projection};
use stripe_events_core::vocabulary::AuditPath;
use stripe_events_core::{Family, Timestamp, Version};
use stripe_events_store::{
    dynamodb_client, Commit, CommitOutcome, DeliveryAudit, DynamoStore, EventStore, MemoryStore,
    Prior, RequestCounter, StoreError, VersionedWrite,
};
use stripe_events_testkit::stack::{fresh_tables, local_endpoint, sdk_config_for};

fn endpoint() -> String {
    local_endpoint().unwrap_or_else(|e| panic!("{e}"))
}

/// A store on fresh, uniquely named tables, with a request counter on its client.
async fn fresh_store() -> (DynamoStore, RequestCounter) {
    let sdk = sdk_config_for(&endpoint()).await;
    let counter = RequestCounter::new();
    let client = dynamodb_client(&sdk, Some(counter.clone()));
    let tables = fresh_tables(&client).await.expect("create tables in moto");
    counter.reset();
    (DynamoStore::new(client, tables), counter)
}

fn subscription(id: &str, status: &str) -> Value {
    json!({"id": id, "object": "subscription", "customer": "cus_NffrFeUfNV2Hib", "status": status,
           "items": {"data": [{"id": "si_1", "price": {"id": "price_1", "product": "prod_1"},
                                "quantity": 1, "current_period_start": 1_700_000_000,
                                "current_period_end": 1_702_592_000}]}})
}

struct Ev {
    event_id: &'static str,
    key: &'static str,
    event_type: &'static str,
    created: i64,
    path: AuditPath,
    object: Value,
}

fn audit(ev: &Ev) -> DeliveryAudit {
    let now = Timestamp::now();
    DeliveryAudit {
        key: format!("subscription#{}", ev.key),
        consumer: Family::Subscription,
        event_id: ev.event_id.into(),
        event_type: ev.event_type.into(),
        object_id: ev.object["id"].as_str().unwrap_or_default().into(),
        event_created: Timestamp::from_unix_seconds(ev.created),
        path: ev.path,
        received_at: now,
        expires_at: now.unix_seconds() + 30 * 86_400,
    }
}

fn commit_of(ev: &Ev, delivery_recorded: bool) -> Commit<'static> {
    let Projection::Items(items) = project(ev.event_type, &ev.object, None).unwrap() else {
        panic!("projection stores subscriptions")
    };
    let version = Version::of_event(
        Timestamp::from_unix_seconds(ev.created),
        ev.event_type,
        &ev.object,
        ev.event_id,
    );
    Commit {
        audit: audit(ev),
        writes: items
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

/// `commit_of` with the delivery's arrival fixed, so the audit's times can be asserted.
fn commit_at(ev: &Ev, received_ms: i64) -> Commit<'static> {
    let mut c = commit_of(ev, false);
    c.audit.received_at = Timestamp::from_unix_millis(received_ms);
    c.audit.expires_at = received_ms / 1000 + 30 * 86_400;
    c
}

const KEY: &str = "subscription#evt_1NG8Du2eZvKYlo2CUI79vXWy";
const T0: i64 = 1_700_000_105_000;

fn only(op: &str) -> BTreeMap<String, u64> {
    BTreeMap::from([(op.to_owned(), 1)])
}

fn updated(status: &'static str, created: i64, path: AuditPath) -> Ev {
    Ev {
        event_id: "evt_1NG8Du2eZvKYlo2CUI79vXWy",
        key: "evt_1NG8Du2eZvKYlo2CUI79vXWy",
        event_type: "customer.subscription.updated",
        created,
        path,
        object: subscription("sub_1MowQVLkdIwHu7ixeRlqHVzs", status),
    }
}

async fn sub_state(store: &DynamoStore) -> Option<serde_json::Map<String, Value>> {
    store
        .state_item(
            "CUSTOMER#cus_NffrFeUfNV2Hib",
            "SUBSCRIPTION#sub_1MowQVLkdIwHu7ixeRlqHVzs",
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn twenty_concurrent_deliveries_change_state_once() {
    let (store, _) = fresh_store().await;
    let store = Arc::new(store);
    let ev = Arc::new(updated("active", 1_700_000_100, AuditPath::PartnerSnapshot));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (store, ev) = (store.clone(), ev.clone());
            tokio::spawn(async move { store.commit(&commit_of(&ev, false)).await })
        })
        .collect();
    let mut applied = 0;
    let mut duplicates = 0;
    for t in tasks {
        match t.await.unwrap().unwrap() {
            CommitOutcome::Applied => applied += 1,
            CommitOutcome::Duplicate => duplicates += 1,
            CommitOutcome::Stale | CommitOutcome::Tied => panic!("nothing newer exists"),
        }
    }
    assert_eq!((applied, duplicates), (1, 19));
    let rec = store
        .dedupe_record("subscription#evt_1NG8Du2eZvKYlo2CUI79vXWy")
        .await
        .unwrap()
        .unwrap();
    // The 19 duplicates came by a path already recorded: they add nothing to the audit.
    assert_eq!(rec["deliveries"], 1, "{rec:?}");
    assert_eq!(rec["count_partner_snapshot"], 1);
    assert!(rec.contains_key("seen_partner_snapshot"), "{rec:?}");
    assert_eq!(rec["outcome"], "applied");
    let state = sub_state(&store).await.unwrap();
    assert_eq!(state["status"], "active");
    assert_eq!(state["last_event_id"], "evt_1NG8Du2eZvKYlo2CUI79vXWy");
}

#[tokio::test]
async fn snapshot_then_thin_applies_once_and_audits_both_paths() {
    let (store, counter) = fresh_store().await;
    let snap = updated("active", 1_700_000_100, AuditPath::PartnerSnapshot);
    assert_eq!(
        store.commit(&commit_of(&snap, false)).await.unwrap(),
        CommitOutcome::Applied
    );
    assert_eq!(counter.snapshot().get("TransactWriteItems"), Some(&1));
    assert_eq!(
        counter.total(),
        1,
        "a new snapshot event costs one round trip"
    );

    // The thin notification of the same change names the snapshot in `snapshot_event`, so it
    // shares the key; the check before hydration finds it done in one call.
    counter.reset();
    let thin = Ev {
        event_id: "evt_test_65R9Ijk8pTNBhX",
        path: AuditPath::PartnerThin,
        ..updated("active", 1_700_000_100, AuditPath::Direct)
    };
    assert_eq!(
        store.record_delivery(&audit(&thin)).await.unwrap(),
        Prior::AlreadyDone
    );
    assert_eq!(counter.total(), 1, "a thin duplicate costs one round trip");

    let rec = store
        .dedupe_record("subscription#evt_1NG8Du2eZvKYlo2CUI79vXWy")
        .await
        .unwrap()
        .unwrap();
    assert!(
        rec.contains_key("seen_partner_snapshot") && rec.contains_key("seen_partner_thin"),
        "{rec:?}"
    );
    let ids = rec["event_ids"].as_array().unwrap();
    assert_eq!(
        ids.len(),
        2,
        "both Stripe ids of the change are kept: {ids:?}"
    );
}

#[tokio::test]
async fn webhook_then_partner_applies_once_and_audits_both_paths() {
    let (store, counter) = fresh_store().await;
    let hook = updated("active", 1_700_000_100, AuditPath::Webhook);
    assert_eq!(
        store.commit(&commit_of(&hook, false)).await.unwrap(),
        CommitOutcome::Applied
    );
    counter.reset();
    let partner = updated("past_due", 1_700_000_100, AuditPath::PartnerSnapshot);
    assert_eq!(
        store.commit(&commit_of(&partner, false)).await.unwrap(),
        CommitOutcome::Duplicate
    );
    // The cancelled transaction recognises it; one update records the second path.
    assert_eq!(counter.snapshot().get("TransactWriteItems"), Some(&1));
    assert_eq!(counter.snapshot().get("UpdateItem"), Some(&1));
    let rec = store
        .dedupe_record("subscription#evt_1NG8Du2eZvKYlo2CUI79vXWy")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec["count_webhook"], 1);
    assert_eq!(rec["count_partner_snapshot"], 1);
    assert_eq!(
        sub_state(&store).await.unwrap()["status"],
        "active",
        "the duplicate changed nothing"
    );
}

#[tokio::test]
async fn older_event_after_newer_leaves_newer_state() {
    let (store, counter) = fresh_store().await;
    let newer = updated("active", 1_700_000_200, AuditPath::PartnerSnapshot);
    assert_eq!(
        store.commit(&commit_of(&newer, false)).await.unwrap(),
        CommitOutcome::Applied
    );
    let older = Ev {
        event_id: "evt_1NG8CreatedOlder",
        key: "evt_1NG8CreatedOlder",
        event_type: "customer.subscription.created",
        created: 1_700_000_100,
        path: AuditPath::PartnerSnapshot,
        object: subscription("sub_1MowQVLkdIwHu7ixeRlqHVzs", "incomplete"),
    };
    counter.reset();
    assert_eq!(
        store.commit(&commit_of(&older, false)).await.unwrap(),
        CommitOutcome::Stale
    );
    assert_eq!(counter.total(), 2, "stale: refused transaction + done mark");
    assert_eq!(sub_state(&store).await.unwrap()["status"], "active");
    let rec = store
        .dedupe_record("subscription#evt_1NG8CreatedOlder")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec["outcome"], "stale");
    // Redelivered by the same path: a plain duplicate, recognised by the cancelled transaction
    // alone, and the audit is left as it was.
    counter.reset();
    assert_eq!(
        store.commit(&commit_of(&older, false)).await.unwrap(),
        CommitOutcome::Duplicate
    );
    assert_eq!(counter.snapshot(), only("TransactWriteItems"));
    let after = store
        .dedupe_record("subscription#evt_1NG8CreatedOlder")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after, rec);
}

#[tokio::test]
async fn snapshot_duplicate_by_the_same_path_costs_one_round_trip_and_changes_nothing() {
    let (store, counter) = fresh_store().await;
    let hook = updated("active", 1_700_000_100, AuditPath::Webhook);
    assert_eq!(
        store.commit(&commit_at(&hook, T0)).await.unwrap(),
        CommitOutcome::Applied
    );
    let record = store.dedupe_record(KEY).await.unwrap().unwrap();
    let state = sub_state(&store).await.unwrap();

    // The webhook retries the same event (e.g. our 2xx was lost).
    counter.reset();
    assert_eq!(
        store.commit(&commit_at(&hook, T0 + 2_000)).await.unwrap(),
        CommitOutcome::Duplicate
    );
    assert_eq!(
        counter.snapshot(),
        only("TransactWriteItems"),
        "the cancelled transaction's old image already shows seen_webhook"
    );
    assert_eq!(store.dedupe_record(KEY).await.unwrap().unwrap(), record);
    assert_eq!(
        sub_state(&store).await.unwrap(),
        state,
        "applied exactly once"
    );
}

#[tokio::test]
async fn snapshot_duplicate_by_a_new_path_records_the_path_and_its_time() {
    let (store, counter) = fresh_store().await;
    let hook = updated("active", 1_700_000_100, AuditPath::Webhook);
    assert_eq!(
        store.commit(&commit_at(&hook, T0)).await.unwrap(),
        CommitOutcome::Applied
    );
    let state = sub_state(&store).await.unwrap();

    counter.reset();
    let partner = updated("active", 1_700_000_100, AuditPath::PartnerSnapshot);
    assert_eq!(
        store
            .commit(&commit_at(&partner, T0 + 1_500))
            .await
            .unwrap(),
        CommitOutcome::Duplicate
    );
    assert_eq!(
        counter.snapshot(),
        BTreeMap::from([
            ("TransactWriteItems".to_owned(), 1),
            ("UpdateItem".to_owned(), 1)
        ]),
        "a new path costs the audit UpdateItem"
    );
    let rec = store.dedupe_record(KEY).await.unwrap().unwrap();
    // What `stripe-events audit` reads: both paths, and the partner's lag behind the webhook.
    assert_eq!(rec["seen_webhook"], T0);
    assert_eq!(rec["seen_partner_snapshot"], T0 + 1_500);
    assert_eq!(rec["first_seen"], T0);
    assert_eq!(rec["last_seen"], T0 + 1_500);
    assert_eq!(
        (
            rec["count_webhook"].clone(),
            rec["count_partner_snapshot"].clone()
        ),
        (json!(1), json!(1))
    );
    assert_eq!(rec["deliveries"], 2);
    assert_eq!(rec["outcome"], "applied");
    assert_eq!(rec["applied_at"], T0);
    assert_eq!(sub_state(&store).await.unwrap(), state);

    // The partner path retries: now a path already recorded.
    counter.reset();
    assert_eq!(
        store
            .commit(&commit_at(&partner, T0 + 9_000))
            .await
            .unwrap(),
        CommitOutcome::Duplicate
    );
    assert_eq!(counter.snapshot(), only("TransactWriteItems"));
    assert_eq!(store.dedupe_record(KEY).await.unwrap().unwrap(), rec);
}

#[tokio::test]
async fn duplicates_of_an_event_without_state_writes_follow_the_same_rule() {
    let (store, counter) = fresh_store().await;
    let bare = |path, at| Commit {
        writes: Vec::new(),
        ..commit_at(
            &Ev {
                path,
                ..updated("active", 1_700_000_100, AuditPath::Direct)
            },
            at,
        )
    };
    assert_eq!(
        store.commit(&bare(AuditPath::Webhook, T0)).await.unwrap(),
        CommitOutcome::Applied
    );
    let rec = store.dedupe_record(KEY).await.unwrap().unwrap();

    // Same path: the refused done mark's old image says so; nothing more.
    counter.reset();
    assert_eq!(
        store
            .commit(&bare(AuditPath::Webhook, T0 + 1_000))
            .await
            .unwrap(),
        CommitOutcome::Duplicate
    );
    assert_eq!(counter.snapshot(), only("UpdateItem"));
    assert_eq!(store.dedupe_record(KEY).await.unwrap().unwrap(), rec);

    // New path: recorded.
    counter.reset();
    assert_eq!(
        store
            .commit(&bare(AuditPath::PartnerSnapshot, T0 + 1_500))
            .await
            .unwrap(),
        CommitOutcome::Duplicate
    );
    assert_eq!(counter.total(), 2);
    let rec = store.dedupe_record(KEY).await.unwrap().unwrap();
    assert_eq!(rec["seen_partner_snapshot"], T0 + 1_500);
    assert_eq!(rec["seen_webhook"], T0);
}

/// The same deliveries through both stores: same outcomes, and the in-memory record equals
/// DynamoDB's on every attribute it keeps.
#[tokio::test]
async fn memory_store_decides_and_records_duplicates_like_dynamodb() {
    let (dynamo, _) = fresh_store().await;
    let memory = MemoryStore::new();
    let steps: [(AuditPath, i64, CommitOutcome); 4] = [
        (AuditPath::Webhook, T0, CommitOutcome::Applied),
        (AuditPath::Webhook, T0 + 1_000, CommitOutcome::Duplicate),
        (
            AuditPath::PartnerSnapshot,
            T0 + 1_500,
            CommitOutcome::Duplicate,
        ),
        (
            AuditPath::PartnerSnapshot,
            T0 + 3_000,
            CommitOutcome::Duplicate,
        ),
    ];
    for (path, at, want) in steps {
        let c = commit_at(&updated("active", 1_700_000_100, path), at);
        assert_eq!(dynamo.commit(&c).await.unwrap(), want, "{path} at {at}");
        assert_eq!(memory.commit(&c).await.unwrap(), want, "{path} at {at}");
        let d = dynamo.dedupe_record(KEY).await.unwrap().unwrap();
        let m = memory.dedupe_record(KEY).unwrap();
        for (k, v) in &m {
            assert_eq!(
                d.get(k),
                Some(v),
                "{k} after {path} at {at}: {d:?} vs {m:?}"
            );
        }
        let audit_keys = |r: &serde_json::Map<String, Value>| -> Vec<String> {
            let mut keys: Vec<String> = r
                .keys()
                .filter(|k| k.starts_with("seen_") || k.starts_with("count_"))
                .cloned()
                .collect();
            keys.sort();
            keys
        };
        assert_eq!(audit_keys(&d), audit_keys(&m), "after {path} at {at}");
        let (ds, ms) = (
            sub_state(&dynamo).await.unwrap(),
            memory
                .state_item(
                    "CUSTOMER#cus_NffrFeUfNV2Hib",
                    "SUBSCRIPTION#sub_1MowQVLkdIwHu7ixeRlqHVzs",
                )
                .unwrap(),
        );
        for (k, v) in &ms {
            assert_eq!(ds.get(k), Some(v), "state {k} after {path} at {at}");
        }
    }
    let m = memory.dedupe_record(KEY).unwrap();
    assert_eq!(m["seen_webhook"], T0);
    assert_eq!(m["seen_partner_snapshot"], T0 + 1_500);
    assert_eq!(
        m["count_webhook"], 1,
        "the webhook retry added nothing: {m:?}"
    );
    assert_eq!(m["count_partner_snapshot"], 1, "{m:?}");
    assert_eq!(m["deliveries"], 2);
    assert_eq!(m["last_seen"], T0 + 1_500);
}

#[tokio::test]
async fn equal_second_ties_resolve_the_same_in_both_orders() {
    for reversed in [false, true] {
        let (store, _) = fresh_store().await;
        let mut evs = vec![
            Ev {
                event_id: "evt_b_created",
                key: "evt_b_created",
                event_type: "customer.subscription.created",
                created: 1_700_000_100,
                path: AuditPath::Webhook,
                object: subscription("sub_1MowQVLkdIwHu7ixeRlqHVzs", "incomplete"),
            },
            Ev {
                event_id: "evt_a_updated",
                key: "evt_a_updated",
                event_type: "customer.subscription.updated",
                created: 1_700_000_100,
                path: AuditPath::Webhook,
                object: subscription("sub_1MowQVLkdIwHu7ixeRlqHVzs", "active"),
            },
        ];
        if reversed {
            evs.reverse();
        }
        for ev in &evs {
            store.commit(&commit_of(ev, false)).await.unwrap();
        }
        assert_eq!(
            sub_state(&store).await.unwrap()["status"],
            "active",
            "reversed={reversed}"
        );
    }
}

#[tokio::test]
async fn rejected_state_write_leaves_no_done_mark_and_the_retry_applies() {
    let (store, _) = fresh_store().await;
    let ev = updated("active", 1_700_000_100, AuditPath::PartnerSnapshot);
    let mut poisoned = commit_of(&ev, false);
    // DynamoDB rejects items over 400 KB: the whole transaction, done mark included, fails.
    poisoned.writes[0]
        .write
        .fields
        .insert("padding".into(), Value::String("x".repeat(420_000)));
    let err = store.commit(&poisoned).await.unwrap_err();
    assert!(!err.is_transient(), "an oversized item is permanent: {err}");
    assert!(store
        .dedupe_record("subscription#evt_1NG8Du2eZvKYlo2CUI79vXWy")
        .await
        .unwrap()
        .is_none());
    assert!(sub_state(&store).await.is_none());
    assert_eq!(
        store.commit(&commit_of(&ev, false)).await.unwrap(),
        CommitOutcome::Applied
    );
    assert_eq!(sub_state(&store).await.unwrap()["status"], "active");
}

#[tokio::test]
async fn unreachable_dynamodb_is_transient_and_marks_nothing() {
    let (store, _) = fresh_store().await;
    // Same tables, but a client pointed at a port nobody listens on.
    let dead = sdk_config_for("http://127.0.0.1:9").await;
    let dead_store = DynamoStore::new(dynamodb_client(&dead, None), store.tables().clone());
    let ev = updated("active", 1_700_000_100, AuditPath::Webhook);
    let err = dead_store.commit(&commit_of(&ev, false)).await.unwrap_err();
    assert!(matches!(err, StoreError::Transient(_)), "{err}");
    let err = dead_store.record_delivery(&audit(&ev)).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(store
        .dedupe_record("subscription#evt_1NG8Du2eZvKYlo2CUI79vXWy")
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store.commit(&commit_of(&ev, false)).await.unwrap(),
        CommitOutcome::Applied
    );
}

#[tokio::test]
async fn response_lost_after_commit_is_retried_into_a_duplicate() {
    let (store, _) = fresh_store().await;
    // A proxy that forwards each request to moto and drops the connection before replying:
    // the transaction commits, the Lambda sees a connection error.
    let upstream = endpoint().trim_start_matches("http://").to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 1 << 20];
                let Ok(n) = client.read(&mut buf).await else {
                    return;
                };
                if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                    let _ = server.write_all(&buf[..n]).await;
                    let _ = server.read(&mut buf).await;
                }
                drop(client);
            });
        }
    });
    let flaky = sdk_config_for(&format!("http://127.0.0.1:{port}")).await;
    let flaky_store = DynamoStore::new(dynamodb_client(&flaky, None), store.tables().clone());
    let ev = updated("active", 1_700_000_100, AuditPath::PartnerSnapshot);
    let err = flaky_store
        .commit(&commit_of(&ev, false))
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    // The platform retries the event: it is applied exactly once, nothing lost.
    let retry = store.commit(&commit_of(&ev, false)).await.unwrap();
    assert_eq!(retry, CommitOutcome::Duplicate);
    assert_eq!(sub_state(&store).await.unwrap()["status"], "active");
}

#[tokio::test]
async fn every_dedupe_record_has_a_ttl() {
    let (store, _) = fresh_store().await;
    let ev = updated("active", 1_700_000_100, AuditPath::Webhook);
    store.commit(&commit_of(&ev, false)).await.unwrap();
    let rec = store
        .dedupe_record("subscription#evt_1NG8Du2eZvKYlo2CUI79vXWy")
        .await
        .unwrap()
        .unwrap();
    let ttl = rec["expires_at"].as_i64().unwrap();
    let expected = Timestamp::now().unix_seconds() + 30 * 86_400;
    assert!((ttl - expected).abs() < 120, "ttl {ttl} vs {expected}");
}
