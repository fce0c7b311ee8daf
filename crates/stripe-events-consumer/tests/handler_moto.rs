//! The consumer handler over moto's DynamoDB (HTTP, production client): fixtures of each
//! family end in the expected billing state, lifecycles converge whatever the delivery order,
//! and SQS batches report exactly their failed records. Thin fixtures are hydrated by an
//! in-memory hydrator serving the matching snapshot objects (the Stripe path itself is
//! tested against localstripe in `thin_localstripe.rs`).

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use stripe_events_consumer::{Consumer, ConsumerConfig, Outcome};
use stripe_events_core::Family;
use stripe_events_store::schema::{OBJECT_INDEX, OBJECT_INDEX_KEY};
use stripe_events_store::{dynamodb_client, DynamoStore};
use stripe_events_testkit::fixtures::{
    assert_item_matches, delivery_fixtures, expectation, family_named, fixture as load,
    fixture_files, invocations, load_path,
};
use stripe_events_testkit::stack::{fresh_tables, local_endpoint, sdk_config_for};
use stripe_events_testkit::stripe::FixtureStripe;

async fn consumer(family: Family, stripe: FixtureStripe) -> Consumer<DynamoStore, FixtureStripe> {
    let endpoint = local_endpoint().unwrap_or_else(|e| panic!("{e}"));
    let client = dynamodb_client(&sdk_config_for(&endpoint).await, None);
    let tables = fresh_tables(&client).await.expect("tables");
    Consumer {
        config: ConsumerConfig::new(family, tables.clone()),
        store: DynamoStore::new(client, tables),
        hydrator: stripe,
    }
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

async fn run(c: &Consumer<DynamoStore, FixtureStripe>, rel: &str) -> Vec<Outcome> {
    c.handle(load(rel), deadline())
        .await
        .records
        .iter()
        .map(|r| r.outcome)
        .collect()
}

async fn item(c: &Consumer<DynamoStore, FixtureStripe>, pk: &str, sk: &str) -> Map<String, Value> {
    c.store
        .state_item(pk, sk)
        .await
        .expect("read state")
        .unwrap_or_else(|| panic!("no state item {pk} / {sk}"))
}

const CUS: &str = "CUSTOMER#cus_NffrFeUfNV2Hib";

#[tokio::test]
async fn subscription_fixtures_land_in_dynamodb() {
    let c = consumer(Family::Subscription, FixtureStripe::from_snapshots()).await;
    assert_eq!(
        run(&c, "partner-snapshot/subscription-created.json").await,
        [Outcome::Applied]
    );
    let sub = item(&c, CUS, "SUBSCRIPTION#sub_1TOA9VLkdIwHu7ixcfCo8bCC").await;
    assert_eq!(sub["status"], "active");
    assert_eq!(sub["customer_id"], "cus_NffrFeUfNV2Hib");
    assert!(
        sub["current_period_end"].as_i64().is_some(),
        "period read from the items: {sub:?}"
    );
    assert!(sub["items"][0]["price_id"]
        .as_str()
        .is_some_and(|p| p.starts_with("price_")));

    // Old API shape (2022-11-15): plan and top-level period.
    assert_eq!(
        run(&c, "old-api/subscription-updated.json").await,
        [Outcome::Applied]
    );
    let old = item(
        &c,
        "CUSTOMER#cus_MzRBKgQWQ4UZ7x",
        "SUBSCRIPTION#sub_1LLjWjLkdIwHu7ixq40uyf5y",
    )
    .await;
    assert_eq!(old["current_period_end"], 1_776_191_276);
    assert_eq!(old["plan_id"], "price_1LGe7BLkdIwHu7ix2z4hslWK");

    // A customer event never changes subscription state; customer.subscription.* is ours.
    assert_eq!(
        run(&c, "partner-snapshot/customer-created.json").await,
        [Outcome::Ignored]
    );
}

#[tokio::test]
async fn payment_and_customer_fixtures_land_in_dynamodb() {
    let pay = consumer(Family::Payment, FixtureStripe::from_snapshots()).await;
    assert_eq!(
        run(&pay, "partner-snapshot/invoice-payment-failed.json").await,
        [Outcome::Applied]
    );
    let invoices = pay.store.partition(CUS).await.expect("query");
    let inv = invoices
        .iter()
        .find(|i| i["object_id"] == "in_1T5WBDLkdIwHu7ixEAHyT4O5")
        .expect("invoice stored");
    assert_eq!(inv["status"], "open");
    assert_eq!(inv["attempt_count"], 1);
    assert!(inv["sk"].as_str().is_some_and(|sk| sk.starts_with("PAY#")));

    let cus = consumer(Family::Customer, FixtureStripe::from_snapshots()).await;
    assert_eq!(
        run(&cus, "partner-snapshot/customer-updated.json").await,
        [Outcome::Applied]
    );
    let profile = item(&cus, CUS, "PROFILE").await;
    assert_eq!(profile["email"], "jenny.rosen@example.com");
    assert!(
        profile.get("deleted").is_none(),
        "only deletions write `deleted`"
    );
    assert_eq!(
        run(&cus, "partner-snapshot/payment-method-detached.json").await,
        [Outcome::Applied]
    );
    let pm = item(&cus, CUS, "PAYMENT_METHOD#pm_1TmQCvLkdIwHu7ixxOP0L7HU").await;
    assert_eq!(
        pm["attached"], false,
        "detached, filed under its former customer"
    );
    // The same Stripe event through the webhook path is a duplicate.
    assert_eq!(
        run(&cus, "webhook/customer-updated.json").await,
        [Outcome::Duplicate]
    );
    assert_eq!(
        run(&cus, "partner-snapshot/subscription-created.json").await,
        [Outcome::Ignored]
    );
}

/// Every permutation of `items`.
fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut p in permutations(&rest) {
            p.insert(0, first.clone());
            out.push(p);
        }
    }
    out
}

/// The state items that matter, without bookkeeping that legitimately differs per run.
fn comparable(items: Vec<Map<String, Value>>) -> Vec<Map<String, Value>> {
    let mut items: Vec<Map<String, Value>> = items
        .into_iter()
        .map(|mut m| {
            m.remove("updated_at");
            m
        })
        .collect();
    items.sort_by_key(|m| m["sk"].as_str().unwrap_or("").to_owned());
    items
}

async fn lifecycle_converges(family: Family, dir: &str, pk: &str) -> Vec<Map<String, Value>> {
    let events = fixture_files(&format!("sequences/{dir}"));
    let mut reference: Option<Vec<Map<String, Value>>> = None;
    for (n, order) in permutations(&events).into_iter().enumerate() {
        let c = consumer(family, FixtureStripe::default()).await;
        // Every event delivered twice, the duplicate right after or at the end.
        let mut deliveries = order.clone();
        if n % 2 == 0 {
            deliveries.extend(order.iter().rev().cloned());
        } else {
            deliveries = order.iter().flat_map(|p| [p.clone(), p.clone()]).collect();
        }
        let mut applied = 0;
        for path in &deliveries {
            let outcomes: Vec<Outcome> = c
                .handle(load_path(path), deadline())
                .await
                .records
                .iter()
                .map(|r| r.outcome)
                .collect();
            assert!(
                matches!(
                    outcomes[..],
                    [Outcome::Applied | Outcome::Duplicate | Outcome::Stale]
                ),
                "{outcomes:?}"
            );
            applied += usize::from(outcomes[0] == Outcome::Applied);
        }
        assert!(applied >= 1 && applied <= events.len());
        let state = comparable(c.store.partition(pk).await.expect("query"));
        match &reference {
            None => reference = Some(state),
            Some(r) => assert_eq!(&state, r, "order {order:?} diverged"),
        }
    }
    reference.unwrap_or_default()
}

#[tokio::test]
async fn subscription_lifecycle_converges_in_every_order() {
    let first = load("sequences/subscription-lifecycle/01-created-trialing.json");
    let customer = first["detail"]["data"]["object"]["customer"]
        .as_str()
        .expect("customer")
        .to_owned();
    let state = lifecycle_converges(
        Family::Subscription,
        "subscription-lifecycle",
        &format!("CUSTOMER#{customer}"),
    )
    .await;
    assert_eq!(state.len(), 1);
    assert_eq!(state[0]["status"], "canceled");
    assert!(state[0]["ended_at"].as_i64().is_some());
    assert_eq!(state[0]["last_event_type"], "customer.subscription.deleted");
}

#[tokio::test]
async fn invoice_lifecycle_converges_in_every_order() {
    let first = load("sequences/invoice-lifecycle/01-created-draft.json");
    let customer = first["detail"]["data"]["object"]["customer"]
        .as_str()
        .expect("customer")
        .to_owned();
    let state = lifecycle_converges(
        Family::Payment,
        "invoice-lifecycle",
        &format!("CUSTOMER#{customer}"),
    )
    .await;
    assert_eq!(state.len(), 1);
    assert_eq!(state[0]["status"], "paid");
    assert_eq!(state[0]["last_event_type"], "invoice.paid");
}

#[tokio::test]
async fn customer_lifecycle_converges_in_every_order() {
    let first = load("sequences/customer-lifecycle/01-created.json");
    let customer = first["detail"]["data"]["object"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let state = lifecycle_converges(
        Family::Customer,
        "customer-lifecycle",
        &format!("CUSTOMER#{customer}"),
    )
    .await;
    assert_eq!(state.len(), 1);
    let profile = &state[0];
    assert_eq!(
        profile["deleted"], true,
        "deleted customers keep their final state"
    );
    assert_eq!(
        profile["user_id"], "user_42",
        "the profile survives the deletion stub"
    );
    assert!(profile["email"].as_str().is_some());
}

#[tokio::test]
async fn sqs_batch_reports_exactly_the_poisoned_and_the_transient_record() {
    let thin = load("partner-thin/subscription-created.json");
    let snapshot = load("partner-snapshot/subscription-updated.json");
    let stripe = FixtureStripe {
        unavailable: vec![thin["detail"]["related_object"]["id"]
            .as_str()
            .expect("id")
            .to_owned()],
        ..FixtureStripe::from_snapshots()
    };
    let c = consumer(Family::Subscription, stripe).await;
    let batch = json!({"Records": [
        {"messageId": "m-good", "body": snapshot.to_string(), "eventSource": "aws:sqs"},
        {"messageId": "m-poison", "body": "{\"detail\": ", "eventSource": "aws:sqs"},
        {"messageId": "m-transient", "body": thin.to_string(), "eventSource": "aws:sqs"},
    ]});
    let report = c.handle(batch, deadline()).await;
    let outcomes: Vec<Outcome> = report.records.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::Applied,
            Outcome::FailedPermanent,
            Outcome::FailedTransient
        ]
    );
    let response = report.response().expect("SQS batches always answer");
    assert_eq!(
        response,
        json!({"batchItemFailures": [{"itemIdentifier": "m-poison"}, {"itemIdentifier": "m-transient"}]})
    );
    // The transient record left nothing marked done: its retry hydrates and applies.
    let c2 = Consumer {
        hydrator: FixtureStripe::from_snapshots(),
        ..c
    };
    let retry = c2
        .handle(
            json!({"Records": [{"messageId": "m-transient", "body": thin.to_string()}]}),
            deadline(),
        )
        .await;
    assert_eq!(retry.records[0].outcome, Outcome::Applied);
    assert_eq!(
        c2.hydrator.calls.load(Ordering::SeqCst),
        1,
        "one Stripe call per thin event"
    );
}

#[tokio::test]
async fn eventbridge_transient_failure_is_an_error_for_retry() {
    let thin = load("partner-thin/subscription-created.json");
    let stripe = FixtureStripe {
        unavailable: vec![thin["detail"]["related_object"]["id"]
            .as_str()
            .expect("id")
            .to_owned()],
        ..FixtureStripe::from_snapshots()
    };
    let c = consumer(Family::Subscription, stripe).await;
    let report = c.handle(thin, deadline()).await;
    assert!(
        report.response().is_err(),
        "EventBridge/Lambda must retry: {report:?}"
    );
    let bad = c.handle(json!({"hello": "world"}), deadline()).await;
    assert_eq!(bad.records[0].outcome, Outcome::FailedPermanent);
    assert!(
        bad.response().is_ok(),
        "a permanent failure is acknowledged"
    );
}

/// The Stripe object of a snapshot fixture (EventBridge event or bare Stripe event).
fn snapshot_object(event: &Value) -> Option<&Map<String, Value>> {
    let detail = event.get("detail").unwrap_or(event);
    detail["data"]["object"].as_object()
}

type MotoConsumer = Consumer<DynamoStore, FixtureStripe>;

/// Checks one delivery of the consumer's own family (see the test below); returns how many
/// stored fields were compared with the raw object, `None` when it was not applied.
async fn check_own_delivery(
    c: &MotoConsumer,
    fixture: (&Path, &Value),
    deliveries: &[Value],
    outcomes: &[Outcome],
    i: usize,
) -> Option<usize> {
    let (path, event) = fixture;
    let (want, outcome) = (&deliveries[i], outcomes[i]);
    let name = format!("{} #{i}", path.display());
    let object_id = want["object_id"].as_str().expect("object_id");
    if want["style"] != "snapshot" && !c.hydrator.objects.contains_key(object_id) {
        // A thin event about an object no fixture holds: Stripe says 404, unless its
        // snapshot twin was applied (no fetch then).
        assert!(
            matches!(outcome, Outcome::FailedPermanent | Outcome::Duplicate),
            "{name}: {outcome:?}"
        );
        return None;
    }
    assert!(
        matches!(
            outcome,
            Outcome::Applied | Outcome::Duplicate | Outcome::Stale
        ),
        "{name}: {outcome:?}"
    );
    if outcome != Outcome::Applied {
        return None;
    }
    let items = c
        .store
        .by_index(OBJECT_INDEX, OBJECT_INDEX_KEY, object_id)
        .await
        .expect("query by object id");
    let [item] = items.as_slice() else {
        panic!("{name}: one item for {object_id}, found {items:?}");
    };
    // A later record of the same batch about the same object may have replaced it.
    let replaced_later = (i + 1..deliveries.len()).any(|j| {
        deliveries[j]["object_id"] == want["object_id"] && outcomes[j] == Outcome::Applied
    });
    if replaced_later {
        return Some(0);
    }
    assert_eq!(item["last_event_id"], want["event_id"], "{name}");
    let Some(object) = snapshot_object(event).filter(|_| want["style"] == "snapshot") else {
        return Some(0);
    };
    let mut compared = 0;
    for (field, value) in object {
        let scalar = value.is_string() || value.is_number() || value.is_boolean();
        if let (true, Some(stored)) = (scalar, item.get(field)) {
            assert_eq!(stored, value, "{name}: field {field}");
            compared += 1;
        }
    }
    Some(compared)
}

/// Every fixture through each consumer, on fresh tables per consumer. Expected values come
/// from the fixture files (`.expect.json` and the raw object), not from the projection code:
/// - a delivery of another family (or none) is ignored; an unreadable record fails
///   permanently;
/// - one of this family ends applied, duplicate (its twin came by the other path) or stale
///   (a newer fixture of the object came first); a thin one about an object no fixture holds
///   ends failed_permanent (404) or duplicate (its snapshot came first);
/// - an applied one's item, found by object id through the GSI, is the only one for the
///   object, carries this event's id and, for a snapshot, the object's own top-level scalars
///   wherever the item has a field of the same name.
#[tokio::test]
async fn every_fixture_of_a_family_lands_in_dynamodb() {
    let dirs = [
        "partner-snapshot",
        "partner-thin",
        "note-thin",
        "webhook",
        "sqs",
        "old-api",
        "bare",
        "ignored",
    ];
    let fixtures: Vec<PathBuf> = dirs.iter().flat_map(|d| fixture_files(d)).collect();
    for family in [Family::Subscription, Family::Payment, Family::Customer] {
        let c = consumer(family, FixtureStripe::from_snapshots()).await;
        let (mut applied, mut compared) = (0, 0);
        for path in &fixtures {
            let event = load_path(path);
            let expect = load_path(&path.with_extension("expect.json"));
            let deliveries = expect["deliveries"].as_array().expect("deliveries");
            let report = c.handle(event.clone(), deadline()).await;
            let outcomes: Vec<Outcome> = report.records.iter().map(|r| r.outcome).collect();
            assert_eq!(outcomes.len(), deliveries.len(), "{}", path.display());
            for (i, want) in deliveries.iter().enumerate() {
                let name = format!("{} #{i}", path.display());
                if want.get("error").is_some() {
                    assert_eq!(outcomes[i], Outcome::FailedPermanent, "{name}");
                    continue;
                }
                assert_eq!(
                    report.records[i].event_id.as_deref(),
                    want["event_id"].as_str(),
                    "{name}"
                );
                if want["family"] != family.to_string() {
                    assert_eq!(outcomes[i], Outcome::Ignored, "{name}");
                    continue;
                }
                let checked =
                    check_own_delivery(&c, (path, &event), deliveries, &outcomes, i).await;
                if let Some(fields) = checked {
                    applied += 1;
                    compared += fields;
                }
            }
        }
        assert!(applied >= 8, "{family}: only {applied} deliveries applied");
        assert!(
            compared >= 3 * applied / 2,
            "{family}: only {compared} fields compared"
        );
    }
}

/// Each delivery that writes state stores in DynamoDB exactly the items its `.expect.json`
/// holds under `state` (computed by `fixtures/generate.py` from the raw Stripe object, not by
/// the projection code): through its family's consumer, into fresh tables, read back with
/// DynamoDB's numbers, maps, lists and nulls. Every attribute is compared except those
/// `stripe_events_testkit::fixtures::EXCLUDED` names (the commit clock, the ordering tiebreak, and a fetched object's
/// version). SQS batches are delivered one record at a time. `projected_state.rs` checks the
/// same on the in-memory store, and the deliveries that write nothing.
#[tokio::test]
async fn every_fixture_writes_its_expected_state_in_dynamodb() {
    let stripe = FixtureStripe::from_snapshots();
    let (mut applied, mut compared) = (0, 0);
    for path in delivery_fixtures() {
        let expect = expectation(&path);
        let deliveries = expect["deliveries"].as_array().expect("deliveries");
        let runs = invocations(&load_path(&path));
        assert_eq!(runs.len(), deliveries.len(), "{}", path.display());
        for (i, (invocation, want)) in runs.iter().zip(deliveries).enumerate() {
            let Some(items) = want["state"].as_array() else {
                continue;
            };
            let name = format!("{} #{i}", path.display());
            let family = family_named(want["family"].as_str().unwrap_or("")).expect("a family");
            let c = consumer(family, stripe.fresh()).await;
            let report = c.handle(invocation.clone(), deadline()).await;
            let outcomes: Vec<Outcome> = report.records.iter().map(|r| r.outcome).collect();
            assert_eq!(outcomes, [Outcome::Applied], "{name}: {report:?}");
            let object_id = want["object_id"].as_str().expect("object_id");
            let stored = c
                .store
                .by_index(OBJECT_INDEX, OBJECT_INDEX_KEY, object_id)
                .await
                .expect("query by object id");
            assert_eq!(stored.len(), items.len(), "{name}: {stored:?}");
            let hydrated = want["style"] != "snapshot";
            for wanted in items {
                let (pk, sk) = (wanted["pk"].as_str(), wanted["sk"].as_str());
                let got = item(&c, pk.expect("pk"), sk.expect("sk")).await;
                compared += assert_item_matches(&name, &got, wanted, hydrated);
            }
            applied += 1;
        }
    }
    assert!(applied >= 80, "only {applied} deliveries compared");
    assert!(
        compared >= 10 * applied,
        "only {compared} attributes compared"
    );
}

const PM: &str = "pm_1TmQCvLkdIwHu7ixxOP0L7HU";

/// A thin detach names no customer, and Stripe returns the method as it is now (`customer:
/// null`): the write goes where the method is already filed, not to a second item.
#[tokio::test]
async fn a_thin_detach_updates_the_method_where_its_customer_filed_it() {
    let attached = load("partner-snapshot/payment-method-attached.json");
    let mut detached_now = attached["detail"]["data"]["object"].clone();
    detached_now["customer"] = Value::Null;
    let stripe = || FixtureStripe::serving([(PM.to_owned(), detached_now.clone())]);
    let sk = format!("PAYMENT_METHOD#{PM}");

    let c = consumer(Family::Customer, stripe()).await;
    assert_eq!(
        run(&c, "partner-snapshot/payment-method-attached.json").await,
        [Outcome::Applied]
    );
    assert_eq!(item(&c, CUS, &sk).await["attached"], true);
    assert_eq!(
        run(&c, "note-thin/payment-method-detached.json").await,
        [Outcome::Applied]
    );
    let pm = item(&c, CUS, &sk).await;
    assert_eq!(pm["attached"], false);
    assert_eq!(
        pm["customer_id"], "cus_NffrFeUfNV2Hib",
        "the former owner is kept"
    );
    let items = c
        .store
        .by_index(OBJECT_INDEX, OBJECT_INDEX_KEY, PM)
        .await
        .expect("query");
    assert_eq!(items.len(), 1, "no second item: {items:?}");

    // Never seen attached: stored on its own, under its unfiled partition.
    let fresh = consumer(Family::Customer, stripe()).await;
    assert_eq!(
        run(&fresh, "note-thin/payment-method-detached.json").await,
        [Outcome::Applied]
    );
    assert_eq!(
        item(&fresh, &format!("UNFILED#{PM}"), &sk).await["attached"],
        false
    );
}
