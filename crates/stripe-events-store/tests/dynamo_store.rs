//! The dedupe/commit contract against moto's DynamoDB over HTTP, through the production
//! client. Needs the local stack: run through `make test` (which starts moto and sets
//! `AWS_ENDPOINT_URL`).

use std::sync::Arc;

use serde_json::{json, Value};
use stripe_events_core::project::{project, Projection};
use stripe_events_core::{Family, Timestamp, Version};
use stripe_events_store::testkit::{fresh_tables, local_endpoint, sdk_config_for};
use stripe_events_store::{
    dynamodb_client, Commit, CommitOutcome, DeliveryAudit, DynamoStore, EventStore, Prior,
    RequestCounter, StoreError, VersionedWrite,
};

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
    path: &'static str,
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

fn commit_of(ev: &Ev, delivery_recorded: bool) -> Commit {
    let Projection::Items(items) = project(ev.event_type, &ev.object, None).unwrap() else {
        panic!("projection stores subscriptions")
    };
    let version = Version::new(
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
    }
}

fn updated(status: &'static str, created: i64, path: &'static str) -> Ev {
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
    let ev = Arc::new(updated("active", 1_700_000_100, "partner_snapshot"));
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
            CommitOutcome::Stale => panic!("nothing newer exists"),
        }
    }
    assert_eq!((applied, duplicates), (1, 19));
    let rec = store
        .dedupe_record("subscription#evt_1NG8Du2eZvKYlo2CUI79vXWy")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        rec["deliveries"], 20,
        "every delivery is in the audit: {rec:?}"
    );
    assert_eq!(rec["count_partner_snapshot"], 20);
    assert_eq!(rec["outcome"], "applied");
    let state = sub_state(&store).await.unwrap();
    assert_eq!(state["status"], "active");
    assert_eq!(state["last_event_id"], "evt_1NG8Du2eZvKYlo2CUI79vXWy");
}

#[tokio::test]
async fn snapshot_then_thin_applies_once_and_audits_both_paths() {
    let (store, counter) = fresh_store().await;
    let snap = updated("active", 1_700_000_100, "partner_snapshot");
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
        path: "partner_thin",
        ..updated("active", 1_700_000_100, "")
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
    let hook = updated("active", 1_700_000_100, "webhook");
    assert_eq!(
        store.commit(&commit_of(&hook, false)).await.unwrap(),
        CommitOutcome::Applied
    );
    counter.reset();
    let partner = updated("past_due", 1_700_000_100, "partner_snapshot");
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
    let newer = updated("active", 1_700_000_200, "partner_snapshot");
    assert_eq!(
        store.commit(&commit_of(&newer, false)).await.unwrap(),
        CommitOutcome::Applied
    );
    let older = Ev {
        event_id: "evt_1NG8CreatedOlder",
        key: "evt_1NG8CreatedOlder",
        event_type: "customer.subscription.created",
        created: 1_700_000_100,
        path: "partner_snapshot",
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
    // Redelivered: now a plain duplicate.
    assert_eq!(
        store.commit(&commit_of(&older, false)).await.unwrap(),
        CommitOutcome::Duplicate
    );
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
                path: "webhook",
                object: subscription("sub_1MowQVLkdIwHu7ixeRlqHVzs", "incomplete"),
            },
            Ev {
                event_id: "evt_a_updated",
                key: "evt_a_updated",
                event_type: "customer.subscription.updated",
                created: 1_700_000_100,
                path: "webhook",
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
    let ev = updated("active", 1_700_000_100, "partner_snapshot");
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
    let ev = updated("active", 1_700_000_100, "webhook");
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
    let ev = updated("active", 1_700_000_100, "partner_snapshot");
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
    let ev = updated("active", 1_700_000_100, "webhook");
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
