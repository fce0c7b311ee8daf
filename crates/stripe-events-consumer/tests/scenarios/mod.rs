//! Lifecycle scenarios written once, generic over the store: `scenarios_memory.rs` runs them
//! on `MemoryStore` in process (no local stack), `scenarios_moto.rs` on `DynamoStore` against
//! moto. Each drives the subscription consumer through `Consumer::handle` with whole
//! invocations (partner snapshot and thin EventBridge events, webhook-forwarded events) and
//! asserts what a user sees: the outcome of every delivery, the customer's billing state as the
//! application reads it (`read_customer_state`), and the migration audit of the event.
#![allow(dead_code)] // each test binary runs its own store's half

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use stripe_events_consumer::{Consumer, ConsumerConfig, Outcome};
use stripe_events_core::vocabulary::{attr, dedupe_key, AuditPath};
use stripe_events_core::{Family, Timestamp};
use stripe_events_store::{
    read_customer_state, CustomerState, DynamoStore, EventStore, MemoryStore, StateReader,
    TableNames,
};

use stripe_events_testkit::fixtures::fixture;
use stripe_events_testkit::stripe::FixtureStripe;

/// A store the scenarios can run on: it commits, and the application and the audit can read it.
pub trait ScenarioStore: EventStore + StateReader + Sized {
    /// The dedupe/audit record of `key` (`{consumer}#{event id}`).
    fn audit_record(&self, key: &str) -> impl Future<Output = Option<Map<String, Value>>>;
}

impl ScenarioStore for MemoryStore {
    async fn audit_record(&self, key: &str) -> Option<Map<String, Value>> {
        self.dedupe_record(key)
    }
}

impl ScenarioStore for DynamoStore {
    async fn audit_record(&self, key: &str) -> Option<Map<String, Value>> {
        self.dedupe_record(key)
            .await
            .unwrap_or_else(|e| panic!("reading the dedupe record {key}: {e}"))
    }
}

pub const CUS: &str = "cus_SCENARIO1";
pub const SUB: &str = "sub_SCENARIO1";
/// The events' `created` (seconds), in the past so no event is refused as from the future.
const T: i64 = 1_770_000_000;
/// A period end far ahead: an active subscription entitles.
const FAR: i64 = 4_000_000_000;

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(20)
}

static ENVELOPES: AtomicU32 = AtomicU32::new(0);

/// A fresh EventBridge envelope id per delivery, as EventBridge gives.
fn envelope_id() -> String {
    let n = ENVELOPES.fetch_add(1, Ordering::SeqCst);
    format!(
        "5c0f4a5e-0000-4000-8000-{:06}{n:06}",
        std::process::id() % 1_000_000
    )
}

/// One Stripe snapshot event about the subscription.
#[derive(Debug, Clone)]
pub struct SubEvent {
    pub id: &'static str,
    pub event_type: &'static str,
    pub created: i64,
    pub status: &'static str,
}

impl SubEvent {
    fn object(&self) -> Value {
        let mut o = json!({
            "id": SUB, "object": "subscription", "customer": CUS, "status": self.status,
            "cancel_at_period_end": false, "created": T, "metadata": {},
            "items": {"object": "list", "data": [{
                "id": "si_SCENARIO1", "object": "subscription_item", "quantity": 1,
                "price": {"id": "price_SCENARIO1", "object": "price", "product": "prod_SCENARIO1"},
                "current_period_start": T, "current_period_end": FAR}]},
        });
        if self.status == "canceled" {
            o["ended_at"] = json!(self.created);
            o["canceled_at"] = json!(self.created);
        }
        o
    }

    /// The bare Stripe event (`data.object` holds the snapshot).
    fn stripe_event(&self) -> Value {
        json!({
            "id": self.id, "object": "event", "api_version": "2025-09-30.clover",
            "created": self.created, "livemode": false, "pending_webhooks": 1,
            "data": {"object": self.object()}, "type": self.event_type,
        })
    }

    /// As the partner event source puts it on the partner bus.
    pub fn partner(&self) -> Value {
        envelope(
            self.event_type,
            "aws.partner/stripe.com/ed_test_scenarios_snapshot",
            self.created,
            self.stripe_event(),
        )
    }

    /// As the webhook Lambda forwards it onto the custom bus.
    pub fn webhook(&self) -> Value {
        envelope(
            "Stripe Webhook Event",
            "stripe.webhook",
            self.created,
            self.stripe_event(),
        )
    }

    /// The thin (v2) notification of the same change, with its own id, naming this event as
    /// its `snapshot_event`.
    pub fn thin(&self, thin_id: &str) -> Value {
        let typ = format!("v1.{}", self.event_type);
        let detail = json!({
            "id": thin_id, "object": "v2.core.event", "type": typ,
            "created": Timestamp::from_unix_seconds(self.created).to_rfc3339(),
            "livemode": false, "context": null,
            "related_object": {"id": SUB, "type": "subscription", "url": format!("/v1/subscriptions/{SUB}")},
            "snapshot_event": self.id,
        });
        envelope(
            &typ,
            "aws.partner/stripe.com/ed_test_scenarios_thin",
            self.created,
            detail,
        )
    }

    /// The dedupe/audit key of this event for the subscription consumer.
    pub fn key(&self) -> String {
        dedupe_key(Family::Subscription, self.id)
    }
}

fn envelope(detail_type: &str, source: &str, created: i64, detail: Value) -> Value {
    json!({
        "version": "0", "id": envelope_id(), "detail-type": detail_type, "source": source,
        "account": "123456789012", "time": Timestamp::from_unix_seconds(created).to_rfc3339(),
        "region": "us-east-2", "resources": [], "detail": detail,
    })
}

pub fn created(at: i64) -> SubEvent {
    SubEvent {
        id: "evt_SCN_created",
        event_type: "customer.subscription.created",
        created: at,
        status: "trialing",
    }
}

pub fn updated(at: i64) -> SubEvent {
    SubEvent {
        id: "evt_SCN_updated",
        event_type: "customer.subscription.updated",
        created: at,
        status: "active",
    }
}

pub fn deleted(at: i64) -> SubEvent {
    SubEvent {
        id: "evt_SCN_deleted",
        event_type: "customer.subscription.deleted",
        created: at,
        status: "canceled",
    }
}

/// The subscription consumer on `store`, fetching thin events' objects from `stripe`.
fn consumer<S: ScenarioStore>(store: S, stripe: FixtureStripe) -> Consumer<S, FixtureStripe> {
    Consumer {
        config: ConsumerConfig::new(Family::Subscription, TableNames::for_prefix("scenarios")),
        store,
        hydrator: stripe,
    }
}

/// Stripe as it is now: the subscription in the state of `now`.
fn stripe_serving(now: &SubEvent) -> FixtureStripe {
    FixtureStripe::serving([(SUB.to_owned(), now.object())])
}

/// Delivers one invocation; its one record's outcome.
async fn deliver<S: ScenarioStore>(c: &Consumer<S, FixtureStripe>, invocation: Value) -> Outcome {
    let report = c.handle(invocation, deadline()).await;
    let [record] = report.records.as_slice() else {
        panic!("one record per invocation: {report:?}");
    };
    record.outcome
}

async fn state<S: ScenarioStore>(store: &S) -> CustomerState {
    read_customer_state(store, CUS)
        .await
        .unwrap_or_else(|e| panic!("reading the customer's state: {e}"))
}

/// The one subscription of the customer, without the commit clock (`updated_at`).
fn only_subscription(s: &CustomerState) -> Map<String, Value> {
    let [sub] = s.subscriptions.as_slice() else {
        panic!("one subscription: {s:#?}");
    };
    let mut sub = sub.clone();
    sub.remove(attr::UPDATED_AT);
    sub
}

/// Every order of `items`.
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

/// created → updated → deleted, delivered in each of the 6 orders, each order on a fresh store:
/// a delivery applies exactly when it is newer than everything delivered before it (else it is
/// `stale`), and every order ends in the same state: the subscription canceled by the
/// deletion, no entitlement. With `same_second`, all three carry the same `created` and the
/// lifecycle tiebreak (`*.created` < updates < `*.deleted`) decides.
pub async fn lifecycle_in_every_order<S, F, Fut>(fresh: F, same_second: bool)
where
    S: ScenarioStore,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    let at = |offset: i64| if same_second { T } else { T + offset };
    // In lifecycle order, so the index is the rank.
    let events = [created(at(0)), updated(at(60)), deleted(at(120))];
    let mut reference: Option<Map<String, Value>> = None;
    for order in permutations(&[0usize, 1, 2]) {
        let c = consumer(fresh().await, FixtureStripe::default());
        let mut newest: Option<usize> = None;
        for &i in &order {
            let want = if newest.is_none_or(|n| i > n) {
                newest = Some(i);
                Outcome::Applied
            } else {
                Outcome::Stale
            };
            let got = deliver(&c, events[i].partner()).await;
            assert_eq!(
                got, want,
                "order {order:?}: {} (same second: {same_second})",
                events[i].event_type
            );
        }
        let s = state(&c.store).await;
        let sub = only_subscription(&s);
        assert_eq!(sub[attr::STATUS], "canceled", "order {order:?}: {sub:?}");
        assert_eq!(sub[attr::LAST_EVENT_TYPE], "customer.subscription.deleted");
        assert_eq!(sub[attr::LAST_EVENT_ID], "evt_SCN_deleted");
        assert!(
            !s.entitlement.entitled,
            "order {order:?}: {:?}",
            s.entitlement
        );
        // A stale delivery is done too: redelivered, every event is a duplicate.
        for ev in &events {
            assert_eq!(deliver(&c, ev.partner()).await, Outcome::Duplicate);
        }
        assert_eq!(only_subscription(&state(&c.store).await), sub);
        match &reference {
            None => reference = Some(sub),
            Some(r) => assert_eq!(&sub, r, "order {order:?} ended elsewhere"),
        }
    }
}

/// One event by both paths, in both orders, with a retry of each: applied once, then
/// duplicates that leave the state as it was; the audit records each path's first arrival
/// once (what `stripe-events audit` reads as `both`).
pub async fn duplicates_by_both_paths<S, F, Fut>(fresh: F)
where
    S: ScenarioStore,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    let ev = updated(T + 60);
    for partner_first in [true, false] {
        let c = consumer(fresh().await, FixtureStripe::default());
        let (first, second) = if partner_first {
            (ev.partner(), ev.webhook())
        } else {
            (ev.webhook(), ev.partner())
        };
        assert_eq!(deliver(&c, first.clone()).await, Outcome::Applied);
        let applied = only_subscription(&state(&c.store).await);
        assert_eq!(applied[attr::STATUS], "active");
        for again in [second.clone(), first, second] {
            assert_eq!(deliver(&c, again).await, Outcome::Duplicate);
        }
        let s = state(&c.store).await;
        assert_eq!(only_subscription(&s), applied, "duplicates changed nothing");
        assert!(s.entitlement.entitled, "{:?}", s.entitlement);
        let rec = c.store.audit_record(&ev.key()).await.expect("audit record");
        for path in [AuditPath::Webhook, AuditPath::PartnerSnapshot] {
            assert!(rec.contains_key(path.seen_attr()), "{path}: {rec:?}");
            assert_eq!(rec[path.count_attr()], 1, "{path}: retries add nothing");
        }
        assert_eq!(rec[attr::DELIVERIES], 2);
        assert_eq!(rec[attr::OUTCOME], "applied");
        assert_eq!(rec[attr::EVENT_IDS], json!([ev.id]));
    }
}

/// A snapshot event and its thin twin (`snapshot_event` names it) are one change: whichever
/// arrives first applies, the other is a duplicate; Stripe is called only when the thin one
/// comes first, and both orders end in the same state.
pub async fn thin_and_snapshot_of_one_change<S, F, Fut>(fresh: F)
where
    S: ScenarioStore,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    let ev = updated(T + 60);
    let thin_id = "evt_SCN_updated_thin";
    let mut states = Vec::new();
    for thin_first in [false, true] {
        let c = consumer(fresh().await, stripe_serving(&ev));
        let (first, second) = if thin_first {
            (ev.thin(thin_id), ev.partner())
        } else {
            (ev.partner(), ev.thin(thin_id))
        };
        assert_eq!(
            deliver(&c, first).await,
            Outcome::Applied,
            "thin first: {thin_first}"
        );
        assert_eq!(
            deliver(&c, second).await,
            Outcome::Duplicate,
            "thin first: {thin_first}"
        );
        assert_eq!(
            c.hydrator.calls.load(Ordering::SeqCst),
            u32::from(thin_first),
            "a thin event after its snapshot costs no Stripe call"
        );
        let s = state(&c.store).await;
        let mut sub = only_subscription(&s);
        assert_eq!(sub[attr::STATUS], "active");
        assert!(s.entitlement.entitled);
        let rec = c.store.audit_record(&ev.key()).await.expect("audit record");
        for path in [AuditPath::PartnerThin, AuditPath::PartnerSnapshot] {
            assert!(rec.contains_key(path.seen_attr()), "{path}: {rec:?}");
        }
        let mut ids: Vec<Value> = rec[attr::EVENT_IDS].as_array().cloned().unwrap_or_default();
        ids.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        assert_eq!(ids, [json!(ev.id), json!(thin_id)]);
        // What differs by design: which delivery wrote it, and a fetched object's version
        // is the fetch time.
        for k in [attr::LAST_EVENT_ID, attr::VERSION, attr::VERSION_TIEBREAK] {
            sub.remove(k);
        }
        states.push(sub);
    }
    assert_eq!(states[0], states[1], "both orders end in the same state");
}

/// An older event arriving after a newer one changes nothing and is marked done as stale;
/// its redelivery (by the other path) is a duplicate.
pub async fn stale_older_event<S, F, Fut>(fresh: F)
where
    S: ScenarioStore,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    let c = consumer(fresh().await, FixtureStripe::default());
    let newer = SubEvent {
        id: "evt_SCN_past_due",
        status: "past_due",
        ..updated(T + 120)
    };
    let older = updated(T + 60);
    assert_eq!(deliver(&c, newer.partner()).await, Outcome::Applied);
    let before = only_subscription(&state(&c.store).await);
    assert_eq!(deliver(&c, older.partner()).await, Outcome::Stale);
    assert_eq!(deliver(&c, older.webhook()).await, Outcome::Duplicate);
    let after = only_subscription(&state(&c.store).await);
    assert_eq!(after, before, "the older event changed nothing");
    assert_eq!(after[attr::STATUS], "past_due");
    assert_eq!(after[attr::LAST_EVENT_ID], "evt_SCN_past_due");
    let rec = c
        .store
        .audit_record(&older.key())
        .await
        .expect("audit record");
    assert_eq!(rec[attr::OUTCOME], "stale");
    assert!(rec.contains_key(AuditPath::Webhook.seen_attr()), "{rec:?}");
}

/// Eight copies of an applied event arriving at once by a path not yet in its audit (the
/// webhook after the partner snapshot): all `duplicate`, and the new path is recorded once,
/// not once per copy that saw it missing.
pub async fn concurrent_duplicates_by_a_new_path<S, F, Fut>(fresh: F)
where
    S: ScenarioStore,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    let c = consumer(fresh().await, FixtureStripe::default());
    let event = updated(T + 60);
    assert_eq!(deliver(&c, event.partner()).await, Outcome::Applied);
    let copies = (0..8).map(|_| deliver(&c, event.webhook()));
    for outcome in futures_util::future::join_all(copies).await {
        assert_eq!(outcome, Outcome::Duplicate);
    }
    let rec = c
        .store
        .audit_record(&event.key())
        .await
        .expect("audit record");
    assert_eq!(rec[AuditPath::Webhook.count_attr()], 1, "{rec:?}");
    assert_eq!(rec[AuditPath::PartnerSnapshot.count_attr()], 1, "{rec:?}");
    assert_eq!(rec[attr::DELIVERIES], 2, "{rec:?}");
    assert_eq!(rec[attr::OUTCOME], "applied");
}

/// A thin update whose fetch, at :00.400 of a second, saw the subscription active, and the
/// deletion of that same second (its snapshot's `created` is the second): in either order the
/// subscription ends canceled. The fetch's milliseconds do not make it newer than a change
/// whose `created` names only the second.
pub async fn fetch_and_deletion_in_one_second<S, F, Fut>(fresh: F)
where
    S: ScenarioStore,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    let second = T + 600;
    let update = updated(second);
    let deletion = deleted(second);
    for deletion_first in [false, true] {
        let mut stripe = stripe_serving(&update);
        stripe.answers_at = Some(Timestamp::from_unix_millis(second * 1000 + 400));
        let c = consumer(fresh().await, stripe);
        let thin = update.thin("evt_SCN_thin_update");
        let outcomes = if deletion_first {
            let d = deliver(&c, deletion.partner()).await;
            (deliver(&c, thin).await, d)
        } else {
            let t = deliver(&c, thin).await;
            (t, deliver(&c, deletion.partner()).await)
        };
        let want = if deletion_first {
            (Outcome::Stale, Outcome::Applied)
        } else {
            (Outcome::Applied, Outcome::Applied)
        };
        assert_eq!(outcomes, want, "deletion first: {deletion_first}");
        let sub = only_subscription(&state(&c.store).await);
        assert_eq!(
            sub[attr::STATUS],
            "canceled",
            "deletion first: {deletion_first}"
        );
        assert_eq!(sub[attr::LAST_EVENT_ID], deletion.id);
    }
}

/// Two changes of one second at the same lifecycle rank: only their random ids (or a fetch's
/// milliseconds against a snapshot's whole second) would order them, which is not the order
/// in which they happened. Whichever arrives second makes the consumer ask Stripe, and the
/// subscription ends as Stripe has it in every order (without that, the later change was
/// lost whenever its id sorted first).
pub async fn changes_tied_in_one_second<S, F, Fut>(fresh: F)
where
    S: ScenarioStore,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    let second = T + 900;
    // `later` happened last (Stripe serves it), and its id sorts first.
    let later = SubEvent {
        id: "evt_SCN_a_later",
        event_type: "customer.subscription.updated",
        created: second,
        status: "past_due",
    };
    let earlier = SubEvent {
        id: "evt_SCN_z_earlier",
        event_type: "customer.subscription.updated",
        created: second,
        status: "active",
    };
    for later_first in [false, true] {
        let c = consumer(fresh().await, stripe_serving(&later));
        let (first, second_delivery) = if later_first {
            (&later, &earlier)
        } else {
            (&earlier, &later)
        };
        assert_eq!(deliver(&c, first.partner()).await, Outcome::Applied);
        assert_eq!(c.hydrator.calls(), 0, "a first snapshot needs no fetch");
        let report = c.handle(second_delivery.webhook(), deadline()).await;
        assert_eq!(
            report.records[0].outcome,
            Outcome::Applied,
            "later first: {later_first}"
        );
        let detail = report.records[0].detail.as_deref().unwrap_or_default();
        assert!(detail.contains("tied"), "{detail}");
        assert_eq!(c.hydrator.calls(), 1, "the tie asked Stripe once");
        let sub = only_subscription(&state(&c.store).await);
        assert_eq!(sub[attr::STATUS], "past_due", "later first: {later_first}");
        // Both events are done: their twins are duplicates.
        for ev in [&later, &earlier] {
            let rec = c.store.audit_record(&ev.key()).await.expect("record");
            assert_eq!(rec[attr::OUTCOME], "applied", "{}", ev.id);
        }
    }

    // A thin fetch at :00.400 saw the earlier state; the later change's snapshot (created
    // :00) arrives next. Its thin twin then is a duplicate and the earlier snapshot stale:
    // the later change must not be lost.
    let mut early_stripe = stripe_serving(&earlier);
    early_stripe.answers_at = Some(Timestamp::from_unix_millis(second * 1000 + 400));
    let c = consumer(fresh().await, early_stripe);
    assert_eq!(
        deliver(&c, earlier.thin("evt_SCN_thin_earlier")).await,
        Outcome::Applied
    );
    let c = Consumer {
        hydrator: stripe_serving(&later),
        ..c
    };
    assert_eq!(deliver(&c, later.webhook()).await, Outcome::Applied);
    assert_eq!(
        deliver(&c, later.thin("evt_SCN_thin_later")).await,
        Outcome::Duplicate
    );
    assert_eq!(deliver(&c, earlier.partner()).await, Outcome::Duplicate);
    let sub = only_subscription(&state(&c.store).await);
    assert_eq!(sub[attr::STATUS], "past_due");
}

/// A thin `v1.<deleted_type>` naming `object` (`{id, type, url}`), Stripe's answer to its
/// fetch a 404: the object is gone.
fn thin_deletion(deleted_type: &str, object_type: &str, id: &str, url: &str, at: i64) -> Value {
    let typ = format!("v1.{deleted_type}");
    let detail = json!({
        "id": format!("evt_SCN_thin_{id}"), "object": "v2.core.event", "type": typ,
        "created": Timestamp::from_unix_seconds(at).to_rfc3339(),
        "livemode": false, "context": null,
        "related_object": {"id": id, "type": object_type, "url": url},
    });
    envelope(
        &typ,
        "aws.partner/stripe.com/ed_test_scenarios_thin",
        at,
        detail,
    )
}

/// A tax id's and an invoice's deletion known only from a 404 (a thin `*.deleted` whose
/// object Stripe no longer serves): the stub names no owner, so the deletion is set on the
/// item already stored in the customer's partition, with no item written anywhere else; for
/// an object never stored, nothing is written. A snapshot `invoice.deleted` marks the draft it
/// carries as deleted.
pub async fn deletion_known_only_from_a_404<S, F, Fut>(fresh: F)
where
    S: ScenarioStore,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    let cases = [
        (
            Family::Customer,
            "customer-tax-id-created",
            "customer.tax_id.deleted",
            "tax_id",
            "tax_ids",
        ),
        (
            Family::Payment,
            "invoice-created",
            "invoice.deleted",
            "invoice",
            "invoices",
        ),
    ];
    for (family, created_fixture, deleted_type, object_type, collection) in cases {
        let c = Consumer {
            config: ConsumerConfig::new(family, TableNames::for_prefix("scenarios")),
            store: fresh().await,
            hydrator: FixtureStripe::default(),
        };
        let created = fixture(&format!("partner-snapshot/{created_fixture}.json"));
        let object = &created["detail"]["data"]["object"];
        let id = object["id"].as_str().expect("id");
        let customer = object["customer"].as_str().expect("customer");
        let at = created["detail"]["created"].as_i64().expect("created");
        let url = |id: &str| format!("/v1/{collection}/{id}");
        let gone = format!("{id}_never_stored");
        let never = thin_deletion(deleted_type, object_type, &gone, &url(&gone), at + 60);
        let report = c.handle(never, deadline()).await;
        assert_eq!(report.records[0].outcome, Outcome::Applied, "{object_type}");
        // Not silent: the event's log line says nothing was marked.
        let detail = report.records[0].detail.as_deref().unwrap_or_default();
        assert!(detail.contains("nothing to mark"), "{detail}");
        assert!(detail.contains("gone from Stripe"), "{detail}");
        assert_eq!(deliver(&c, created.clone()).await, Outcome::Applied);
        let deletion = thin_deletion(deleted_type, object_type, id, &url(id), at + 60);
        assert_eq!(
            deliver(&c, deletion).await,
            Outcome::Applied,
            "{object_type}"
        );

        let state = read_customer_state(&c.store, customer)
            .await
            .expect("state");
        let items: Vec<&Map<String, Value>> = state.payments.iter().chain(&state.other).collect();
        let [item] = items.as_slice() else {
            panic!("one item in the customer's partition: {items:#?}")
        };
        assert_eq!(item["object_id"], id);
        assert_eq!(item["deleted"], true, "{object_type}: {item:#?}");
        // The last full state is kept under the marker.
        assert_eq!(item[attr::LAST_EVENT_ID], created["detail"]["id"]);
        assert_eq!(item["customer_id"], customer);
        // No orphan: nothing under the object's own or unfiled partitions, for either id.
        for object_id in [id, gone.as_str()] {
            for pk in [
                stripe_events_core::vocabulary::unfiled_pk(object_id),
                stripe_events_core::vocabulary::object_pk(object_type, object_id),
            ] {
                let orphans = c.store.read_partition(&pk).await.expect("partition");
                assert!(orphans.is_empty(), "{pk}: {orphans:#?}");
            }
        }
    }
    // A snapshot `invoice.deleted` carries the draft as it was: it reads as deleted.
    let c = Consumer {
        config: ConsumerConfig::new(Family::Payment, TableNames::for_prefix("scenarios")),
        store: fresh().await,
        hydrator: FixtureStripe::default(),
    };
    let mut deleted = fixture("partner-snapshot/invoice-created.json");
    deleted["detail-type"] = json!("invoice.deleted");
    deleted["detail"]["type"] = json!("invoice.deleted");
    deleted["detail"]["id"] = json!("evt_SCN_invoice_deleted");
    let customer = deleted["detail"]["data"]["object"]["customer"]
        .as_str()
        .expect("customer")
        .to_owned();
    assert_eq!(deliver(&c, deleted).await, Outcome::Applied);
    let state = read_customer_state(&c.store, &customer)
        .await
        .expect("state");
    let [invoice] = state.payments.as_slice() else {
        panic!("one invoice: {:#?}", state.payments)
    };
    assert_eq!(invoice["deleted"], true);
}

/// A thin delivery recorded and then failed is said so in its audit record
/// (`failed_partner_thin`), so the migration audit does not count the partner path as
/// delivering the event the webhook applied; the path's next delivery that succeeds clears it.
pub async fn a_failed_partner_delivery_is_in_the_audit<S, F, Fut>(fresh: F)
where
    S: ScenarioStore,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    let ev = updated(T + 60);
    let failed = AuditPath::PartnerThin.failed_attr();
    // Stripe answers 404 for the object (a key of another account, say): permanent.
    let c = consumer(fresh().await, FixtureStripe::default());
    assert_eq!(
        deliver(&c, ev.thin("evt_SCN_thin_404")).await,
        Outcome::FailedPermanent
    );
    let rec = c.store.audit_record(&ev.key()).await.expect("audit record");
    assert!(
        rec.contains_key(AuditPath::PartnerThin.seen_attr()),
        "{rec:?}"
    );
    assert!(rec.contains_key(failed), "{rec:?}");
    // The webhook applies it: the partner path's failure stays on the record.
    assert_eq!(deliver(&c, ev.webhook()).await, Outcome::Applied);
    let rec = c.store.audit_record(&ev.key()).await.expect("audit record");
    assert!(rec.contains_key(failed), "{rec:?}");
    assert!(rec.contains_key(AuditPath::Webhook.seen_attr()), "{rec:?}");

    // Stripe unavailable: transient, retried by the platform; the retry that succeeds
    // clears the failure.
    let mut down = stripe_serving(&ev);
    down.unavailable.push(SUB.to_owned());
    let c = consumer(fresh().await, down);
    assert_eq!(
        deliver(&c, ev.thin("evt_SCN_thin_503")).await,
        Outcome::FailedTransient
    );
    let rec = c.store.audit_record(&ev.key()).await.expect("audit record");
    assert!(rec.contains_key(failed), "{rec:?}");
    let c = Consumer {
        hydrator: stripe_serving(&ev),
        ..c
    };
    assert_eq!(
        deliver(&c, ev.thin("evt_SCN_thin_503")).await,
        Outcome::Applied
    );
    let rec = c.store.audit_record(&ev.key()).await.expect("audit record");
    assert!(!rec.contains_key(failed), "{rec:?}");
    assert_eq!(rec[attr::OUTCOME], "applied");
}

/// One `#[tokio::test]` per scenario, each on stores from `$fresh` (an `async fn() -> S`):
/// what `scenarios_memory.rs` and `scenarios_moto.rs` run.
macro_rules! scenario_tests {
    ($fresh:ident) => {
        #[tokio::test]
        async fn lifecycle_converges_in_every_order() {
            scenarios::lifecycle_in_every_order($fresh, false).await;
        }

        #[tokio::test]
        async fn lifecycle_in_one_second_converges_in_every_order() {
            scenarios::lifecycle_in_every_order($fresh, true).await;
        }

        #[tokio::test]
        async fn duplicates_by_both_paths_apply_once() {
            scenarios::duplicates_by_both_paths($fresh).await;
        }

        #[tokio::test]
        async fn thin_and_snapshot_of_one_change_apply_once() {
            scenarios::thin_and_snapshot_of_one_change($fresh).await;
        }

        #[tokio::test]
        async fn stale_older_event_changes_nothing() {
            scenarios::stale_older_event($fresh).await;
        }

        #[tokio::test]
        async fn concurrent_duplicates_by_a_new_path_are_recorded_once() {
            scenarios::concurrent_duplicates_by_a_new_path($fresh).await;
        }

        #[tokio::test]
        async fn a_fetch_does_not_outrank_the_deletion_of_its_second() {
            scenarios::fetch_and_deletion_in_one_second($fresh).await;
        }

        #[tokio::test]
        async fn deletion_known_only_from_a_404_marks_the_stored_item() {
            scenarios::deletion_known_only_from_a_404($fresh).await;
        }

        #[tokio::test]
        async fn changes_tied_in_one_second_end_as_stripe_has_them() {
            scenarios::changes_tied_in_one_second($fresh).await;
        }

        #[tokio::test]
        async fn a_failed_partner_delivery_is_said_so_in_the_audit() {
            scenarios::a_failed_partner_delivery_is_in_the_audit($fresh).await;
        }
    };
}
pub(crate) use scenario_tests;
