//! The hydrator over HTTP against localstripe (2017 API shape), started by the project's
//! script: `infra/local/stack.sh run -- cargo test -p stripe-events-stripe`. Without
//! `STRIPE_API_BASE`/`STRIPE_API_KEY` these tests fail with that hint.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use stripe_events_core::delivery::PayloadStyle;
use stripe_events_core::hydrate::{HydrateError, Hydrator};
use stripe_events_core::project::{project, Projection, StateWrite};
use stripe_events_core::Timestamp;
use stripe_events_stripe::StripeHydrator;
use stripe_events_testkit::events::*;
use stripe_events_testkit::stack::*;
use stripe_events_testkit::stripe::*;

fn localstripe_hydrator() -> (LocalStripe, StripeHydrator) {
    let ls = local_stripe();
    let h = hydrator(&ls.base, &ls.key, fast_policy());
    (ls, h)
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

fn one_write(base_type: &str, object: &Value) -> StateWrite<'static> {
    match project(base_type, object, None).unwrap() {
        Projection::Items(mut items) => {
            assert_eq!(items.len(), 1);
            items.remove(0)
        }
        other => panic!("{base_type}: {other:?}"),
    }
}

/// The 2017 shape: `plan` and the current period at the top level of the subscription.
fn assert_subscription_write(w: &StateWrite, customer: &Value, plan: &Value, sub: &Value) {
    let cus = customer["id"].as_str().unwrap();
    assert_eq!(w.pk, format!("CUSTOMER#{cus}"));
    assert_eq!(
        w.sk,
        format!("SUBSCRIPTION#{}", sub["id"].as_str().unwrap())
    );
    assert_eq!(w.fields_json()["status"], "active");
    assert_eq!(w.fields_json()["customer_id"], cus);
    assert_eq!(w.fields_json()["plan_id"], plan["id"]);
    assert!(sub["current_period_start"].is_i64(), "{sub}");
    assert_eq!(
        w.fields_json()["current_period_start"],
        sub["current_period_start"]
    );
    assert_eq!(
        w.fields_json()["current_period_end"],
        sub["current_period_end"]
    );
    assert_eq!(w.fields_json()["items"][0]["plan_id"], plan["id"]);
    assert_eq!(w.fields_json()["items"][0]["quantity"], 1);
}

#[tokio::test]
async fn thin_v2_subscription_is_fetched_once_and_projects() {
    let (ls, h) = localstripe_hydrator();
    let (customer, plan, sub) = local_subscription(&ls, "user_v2").await;
    let id = sub["id"].as_str().unwrap();
    let d = delivery(thin_v2(
        "v1.customer.subscription.created",
        "subscription",
        id,
        Some(&format!("/v1/subscriptions/{id}")),
        None,
    ));
    assert_eq!(d.style, PayloadStyle::ThinV2);
    let before = Timestamp::now();
    let fetched = h.fetch(&d, soon()).await.unwrap();
    assert!(fetched.fetched_at >= before && fetched.fetched_at <= Timestamp::now());
    assert_eq!(h.calls(), 1, "exactly one Stripe call per thin event");
    assert_eq!(fetched.json()["id"], id);
    let w = one_write(d.base_type(), &fetched.json());
    assert_subscription_write(&w, &customer, &plan, &sub);
}

#[tokio::test]
async fn thin_reference_subscription_and_customer_are_fetched_by_type_and_id() {
    let (ls, h) = localstripe_hydrator();
    let (customer, plan, sub) = local_subscription(&ls, "user_note").await;

    let d = delivery(thin_reference(
        "customer.subscription.updated",
        "subscription",
        sub["id"].as_str().unwrap(),
    ));
    assert_eq!(d.style, PayloadStyle::ThinReference);
    let fetched = h.fetch(&d, soon()).await.unwrap();
    assert_eq!(h.calls(), 1);
    assert_subscription_write(
        &one_write(d.base_type(), &fetched.json()),
        &customer,
        &plan,
        &sub,
    );

    let d = delivery(thin_reference(
        "customer.updated",
        "customer",
        customer["id"].as_str().unwrap(),
    ));
    let fetched = h.fetch(&d, soon()).await.unwrap();
    assert_eq!(h.calls(), 2);
    let w = one_write(d.base_type(), &fetched.json());
    assert_eq!(w.sk, "PROFILE");
    assert_eq!(w.fields_json()["email"], "hydrate@example.com");
    assert_eq!(w.fields_json()["user_id"], "user_note");
}

#[tokio::test]
async fn snapshot_revalidation_fetches_the_current_object() {
    let (ls, h) = localstripe_hydrator();
    let (customer, _, _) = local_subscription(&ls, "user_snap").await;
    let mut stale = customer.clone();
    stale["email"] = json!("old@example.com");
    let d = delivery(snapshot("customer.updated", stale));
    assert_eq!(d.style, PayloadStyle::Snapshot);
    let fetched = h.fetch(&d, soon()).await.unwrap();
    assert_eq!(fetched.json()["email"], "hydrate@example.com");
    assert_eq!(h.calls(), 1);
}

#[tokio::test]
async fn unknown_ids_are_not_found() {
    let (_, h) = localstripe_hydrator();
    let d = delivery(thin_v2(
        "v1.customer.subscription.updated",
        "subscription",
        "sub_doesnotexist",
        Some("/v1/subscriptions/sub_doesnotexist"),
        None,
    ));
    let err = h.fetch(&d, soon()).await.unwrap_err();
    assert!(matches!(err, HydrateError::NotFound(_)), "{err:?}");
    let d = delivery(thin_reference(
        "customer.updated",
        "customer",
        "cus_doesnotexist",
    ));
    let err = h.fetch(&d, soon()).await.unwrap_err();
    assert!(matches!(err, HydrateError::NotFound(_)), "{err:?}");
    assert_eq!(h.calls(), 2, "404 is not retried");
}

#[tokio::test]
async fn unknown_object_type_is_permanent() {
    let (_, h) = localstripe_hydrator();
    let d = delivery(thin_reference("widget.updated", "widget", "wid_1"));
    let err = h.fetch(&d, soon()).await.unwrap_err();
    assert!(matches!(err, HydrateError::Permanent(_)), "{err:?}");
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn a_rejected_key_is_transient() {
    let ls = local_stripe();
    // localstripe accepts any `sk_…` key and rejects anything else with 401.
    let h = hydrator(&ls.base, "rk_test_not_accepted", fast_policy());
    let d = delivery(thin_reference("customer.updated", "customer", "cus_any"));
    let err = h.fetch(&d, soon()).await.unwrap_err();
    assert!(
        matches!(&err, HydrateError::Transient(m) if m.contains("401")),
        "{err:?}"
    );
    assert_eq!(h.calls(), 1);
}

#[tokio::test]
async fn localstripe_stopped_is_transient() {
    // Same setup, but the base points at a closed port.
    let h = hydrator(
        &closed_port_base(),
        &require_env("STRIPE_API_KEY"),
        fast_policy(),
    );
    let d = delivery(thin_reference("customer.updated", "customer", "cus_any"));
    let err = h.fetch(&d, soon()).await.unwrap_err();
    assert!(matches!(err, HydrateError::Transient(_)), "{err:?}");
}

#[tokio::test]
async fn list_events_finds_events_since_a_time() {
    let (ls, h) = localstripe_hydrator();
    let customer = ls
        .post("/v1/customers", &[("email", "backfill@example.com")])
        .await
        .unwrap();
    let created = customer["created"].as_i64().unwrap();
    let since = Timestamp::from_unix_seconds(created);

    let events = h
        .list_events(since, &["customer.created".to_owned()])
        .await
        .unwrap();
    assert!(events.iter().all(|e| e["type"] == "customer.created"));
    assert!(events
        .iter()
        .all(|e| e["created"].as_i64().unwrap() >= created));
    assert!(
        events
            .iter()
            .any(|e| e["data"]["object"]["id"] == customer["id"]),
        "the customer.created event of {} is listed",
        customer["id"]
    );
    let created_at: Vec<i64> = events
        .iter()
        .map(|e| e["created"].as_i64().unwrap())
        .collect();
    assert!(created_at.windows(2).all(|w| w[0] <= w[1]), "oldest first");

    let all = h.list_events(since, &[]).await.unwrap();
    assert!(all
        .iter()
        .any(|e| e["data"]["object"]["id"] == customer["id"]));
    let none = h
        .list_events(Timestamp::from_unix_seconds(created + 3600), &[])
        .await
        .unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn list_events_follows_pagination_past_100() {
    let (ls, h) = localstripe_hydrator();
    let start = Timestamp::now();
    let mut ids = Vec::new();
    for _ in 0..105 {
        let c = ls
            .post("/v1/customers", &[("email", "many@example.com")])
            .await
            .unwrap();
        ids.push(c["id"].clone());
    }
    let since = Timestamp::from_unix_seconds(start.unix_seconds());
    let events = h
        .list_events(since, &["customer.created".to_owned()])
        .await
        .unwrap();
    for id in &ids {
        assert!(
            events.iter().any(|e| &e["data"]["object"]["id"] == id),
            "{id} missing"
        );
    }
    assert!(h.calls() >= 2, "more than one page");
}
