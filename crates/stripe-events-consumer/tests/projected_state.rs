//! Every fixture through `Consumer::handle` on the in-memory store, in process: each delivery
//! writes exactly the state items its `.expect.json` holds under `state` (computed by
//! `fixtures/generate.py` from the raw Stripe object, not by the Rust projection), and nothing
//! when `state` is null. Thin deliveries are hydrated by an in-memory Stripe serving the
//! newest snapshot of each object (`stripe_events_testkit::stripe::FixtureStripe`); which attributes are not compared
//! and why: `stripe_events_testkit::fixtures::EXCLUDED`. `handler_moto.rs` checks the same expectations in DynamoDB.

use std::time::{Duration, Instant};

use stripe_events_consumer::{Consumer, ConsumerConfig, Outcome};
use stripe_events_core::Family;
use stripe_events_store::{MemoryStore, TableNames};
use stripe_events_testkit::fixtures::{
    assert_item_matches, delivery_fixtures, expectation, invocations, load_path,
};
use stripe_events_testkit::stripe::FixtureStripe;

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

#[tokio::test]
async fn every_fixture_writes_its_expected_state_in_memory() {
    let stripe = FixtureStripe::from_snapshots();
    let (mut applied, mut compared, mut nothing) = (0, 0, 0);
    for path in delivery_fixtures() {
        let expect = expectation(&path);
        let deliveries = expect["deliveries"].as_array().expect("deliveries");
        let runs = invocations(&load_path(&path));
        assert_eq!(runs.len(), deliveries.len(), "{}", path.display());
        for (i, (invocation, want)) in runs.iter().zip(deliveries).enumerate() {
            let name = format!("{} #{i}", path.display());
            // Each delivery into fresh tables, by each consumer.
            for family in [Family::Subscription, Family::Payment, Family::Customer] {
                let c = Consumer {
                    config: ConsumerConfig::new(family, TableNames::for_prefix("memory")),
                    store: MemoryStore::new(),
                    hydrator: stripe.fresh(),
                };
                let report = c.handle(invocation.clone(), deadline()).await;
                let [record] = report.records.as_slice() else {
                    panic!("{name}: one record, got {report:?}");
                };
                let outcome = record.outcome;
                let name = format!("{name} ({family})");
                if want.get("error").is_some() {
                    assert_eq!(outcome, Outcome::FailedPermanent, "{name}");
                } else if want["family"] != family.as_str() {
                    assert_eq!(outcome, Outcome::Ignored, "{name}");
                } else if let Some(items) = want["state"].as_array() {
                    assert_eq!(outcome, Outcome::Applied, "{name}: {record:?}");
                    assert_eq!(c.store.state_len(), items.len(), "{name}: items written");
                    let hydrated = want["style"] != "snapshot";
                    for item in items {
                        let (pk, sk) = (item["pk"].as_str(), item["sk"].as_str());
                        let (pk, sk) = (pk.expect("pk"), sk.expect("sk"));
                        let got = c
                            .store
                            .state_item(pk, sk)
                            .unwrap_or_else(|| panic!("{name}: no item {pk} / {sk}"));
                        compared += assert_item_matches(&name, &got, item, hydrated);
                    }
                    applied += 1;
                    continue;
                } else {
                    // Writes nothing: a thin event whose object Stripe does not have (404).
                    assert_eq!(outcome, Outcome::FailedPermanent, "{name}: {record:?}");
                    nothing += 1;
                }
                assert_eq!(c.store.state_len(), 0, "{name}: nothing written");
            }
        }
    }
    assert!(applied >= 80, "only {applied} deliveries compared");
    assert!(
        compared >= 10 * applied,
        "only {compared} attributes compared"
    );
    assert!(nothing >= 1, "the 404 case is not exercised");
}
