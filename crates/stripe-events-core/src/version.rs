//! The ordering guard's version: which of two writes to the same state item is newer.
//!
//! A state item records the version it was written from. A write applies only when the item
//! does not exist or its stored version is strictly lower. Versions compare as
//! `(at, tiebreak)`:
//! - `at`, to the second: snapshot events use the event's `created`; objects fetched from the
//!   API use the fetch time (the fetched object is the latest state at that instant).
//! - `tiebreak` decides within that second (Stripe's `created` has one-second resolution, so
//!   `invoice.created`, `invoice.finalized` and `invoice.paid` often share it): first the
//!   kind (`*.created` < other < `*.deleted`; for a fetched object, deleted or not), then how
//!   far the object has progressed in its lifecycle (draft < open < paid, …), then the
//!   milliseconds, then the event id. A snapshot's `created` second says nothing about where
//!   in that second its change fell, so a fetch in the same second is not newer for its
//!   milliseconds alone: the lifecycle decides first (a fetch at :00.400 that saw `active`
//!   does not outrank the `customer.subscription.deleted` of that second). Two fetches in
//!   one second with the same rank are ordered by their milliseconds; with different ranks
//!   the lifecycle decides, as between two snapshots, so a move backwards within one second
//!   (a payment intent from `processing` back to `requires_payment_method`) loses. No single
//!   order can put the milliseconds first between fetches and the lifecycle first between a
//!   fetch and a snapshot: the three would not be transitive.
//! - **Equal versions** (same `at` and `tiebreak`) can only come from the same event: the
//!   write is not applied (the stored state already reflects it).
//! - **Ties** ([`Version::ties_with`]): the same second, kind and lifecycle rank, so that only
//!   milliseconds or event ids would decide. The store leaves such a write undecided and the
//!   consumer fetches the object from Stripe instead (docs/architecture.md, Ordering).
//!
//! Because the order is total and does not depend on arrival, every delivery order of the
//! same events ends in the same state.

use serde_json::Value;

use crate::model::{Kind, StripeObject};
use crate::timestamp::Timestamp;

/// What the tiebreak reads of an object: its kind, status, `deleted` and, for invoices,
/// `attempt_count`. The typed model is what the handler passes; JSON is for tests and tools.
pub trait Lifecycle {
    fn object_type(&self) -> &str;
    fn status(&self) -> &str;
    fn is_deleted(&self) -> bool;
    fn attempt_count(&self) -> u64;
    /// A charge's refunds: `(amount_refunded, refunded)`.
    fn refunds(&self) -> (i64, bool);
}

impl Lifecycle for StripeObject<'_> {
    fn object_type(&self) -> &str {
        StripeObject::object_type(self).unwrap_or("")
    }
    fn status(&self) -> &str {
        StripeObject::status(self).unwrap_or("")
    }
    fn is_deleted(&self) -> bool {
        self.deleted() == Some(true)
    }
    fn attempt_count(&self) -> u64 {
        StripeObject::attempt_count(self).unwrap_or(0)
    }
    fn refunds(&self) -> (i64, bool) {
        match &self.kind {
            Kind::Charge(c) => (
                c.amount_refunded.get().unwrap_or(0),
                c.refunded.get() == Some(true),
            ),
            _ => (0, false),
        }
    }
}

impl Lifecycle for Value {
    fn object_type(&self) -> &str {
        self.get("object").and_then(Value::as_str).unwrap_or("")
    }
    fn status(&self) -> &str {
        self.get("status").and_then(Value::as_str).unwrap_or("")
    }
    fn is_deleted(&self) -> bool {
        self.get("deleted").and_then(Value::as_bool) == Some(true)
    }
    fn attempt_count(&self) -> u64 {
        self.get("attempt_count")
            .and_then(Value::as_u64)
            .unwrap_or(0)
    }
    fn refunds(&self) -> (i64, bool) {
        (
            self.get("amount_refunded")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            self.get("refunded").and_then(Value::as_bool) == Some(true),
        )
    }
}

/// The tiebreak's leading kind (one digit) and lifecycle rank (two): its ordering rank.
const RANK_LEN: usize = 3;
/// A snapshot version's milliseconds in its tiebreak (its `created` has whole seconds).
const SNAPSHOT_MILLIS: &str = "000";

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub at: Timestamp,
    pub tiebreak: String,
}

impl Version {
    /// The version of the object an event carries (its snapshot), as of the event's `created`.
    pub fn of_event(
        created: Timestamp,
        event_type: &str,
        object: &(impl Lifecycle + ?Sized),
        event_id: &str,
    ) -> Version {
        let kind = if event_type.ends_with(".created") {
            0
        } else if event_type.ends_with(".deleted") {
            2
        } else {
            1
        };
        Version::build(created, kind, object, event_id)
    }

    /// The version of an object fetched from the API at `fetched_at` for the event
    /// `event_id`: the state at that instant, whatever the event's type, so its kind is the
    /// state's (deleted or not).
    pub fn of_fetch(
        fetched_at: Timestamp,
        object: &(impl Lifecycle + ?Sized),
        event_id: &str,
    ) -> Version {
        let kind = if object.is_deleted() { 2 } else { 1 };
        Version::build(fetched_at, kind, object, event_id)
    }

    /// Whether this version and `stored` (an item's `version` ms and `version_tiebreak`) fall
    /// in the same second at the same kind and lifecycle rank, so that only milliseconds or
    /// event ids order them, and at least one is a snapshot. Such an order is not the truth:
    /// a snapshot's `created` says nothing about where in its second the change fell, and two
    /// updates in one second are ordered by their random ids. (Two fetches are ordered by
    /// when Stripe answered, which is.) The consumer asks Stripe instead of calling either
    /// stale.
    pub fn ties_with(&self, stored_at_ms: i64, stored_tiebreak: &str) -> bool {
        self.at.unix_millis() == stored_at_ms
            && self.tiebreak != stored_tiebreak
            && self
                .tie_prefix()
                .is_some_and(|p| stored_tiebreak.starts_with(&p))
    }

    /// The start of a same-second stored tiebreak this version ties with: its kind and
    /// lifecycle rank, and for a fetch also a snapshot's milliseconds (always `000`): two
    /// fetches are ordered by theirs, when Stripe answered, which is a true order.
    pub fn tie_prefix(&self) -> Option<String> {
        let rank = self.tiebreak.get(..RANK_LEN)?;
        let fetched = self
            .tiebreak
            .get(RANK_LEN..RANK_LEN + SNAPSHOT_MILLIS.len())
            .is_some_and(|ms| ms != SNAPSHOT_MILLIS);
        Some(if fetched {
            format!("{rank}{SNAPSHOT_MILLIS}")
        } else {
            rank.to_owned()
        })
    }

    fn build(
        t: Timestamp,
        kind: u8,
        object: &(impl Lifecycle + ?Sized),
        event_id: &str,
    ) -> Version {
        let ms = t.unix_millis();
        let progress = lifecycle_progress(object);
        let millis = ms.rem_euclid(1000);
        Version {
            at: Timestamp::from_unix_millis(ms - millis),
            tiebreak: format!("{kind}{progress:02}{millis:03}{event_id}"),
        }
    }
}

/// How far an object is in its lifecycle, for same-second ties. Statuses that can go back and
/// forth (a subscription's active ↔ past_due) share a rank.
fn lifecycle_progress(object: &(impl Lifecycle + ?Sized)) -> u8 {
    let object_type = object.object_type();
    let status = object.status();
    if object.is_deleted() {
        return 90;
    }
    match (object_type, status) {
        ("invoice", "draft") => 10,
        ("invoice", "open") => 20 + object.attempt_count().min(50) as u8,
        ("invoice", "paid" | "void" | "uncollectible") => 80,
        ("subscription", "incomplete") => 10,
        ("subscription", "trialing") => 20,
        ("subscription", "active" | "past_due" | "unpaid" | "paused") => 30,
        ("subscription", "canceled" | "incomplete_expired") => 80,
        ("payment_intent", "requires_payment_method") => 10,
        ("payment_intent", "requires_confirmation") => 20,
        ("payment_intent", "requires_action") => 30,
        ("payment_intent", "processing") => 40,
        ("payment_intent", "requires_capture") => 50,
        ("payment_intent", "succeeded" | "canceled") => 80,
        ("charge", "pending") => 10,
        // A refund leaves a charge `succeeded`: a refunded one is further along.
        ("charge", "succeeded") => match object.refunds() {
            (_, true) => 88,
            (amount, false) if amount > 0 => 84,
            _ => 80,
        },
        ("charge", "failed") => 80,
        ("subscription_schedule", "not_started") => 10,
        ("subscription_schedule", "completed" | "released") => 80,
        // An inquiry (warning_*) may close or become a chargeback; a chargeback ends won/lost.
        ("dispute", "warning_needs_response") => 20,
        ("dispute", "warning_under_review") => 30,
        ("dispute", "needs_response") => 40,
        ("dispute", "warning_closed") => 80,
        ("invoice_payment", "paid") => 80,
        (_, "pending") => 10,
        (_, "succeeded" | "failed" | "canceled" | "won" | "lost") => 80,
        _ => 50,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn same_second_ties_follow_the_lifecycle() {
        let t = Timestamp::from_unix_seconds(1_700_000_000);
        let draft = json!({"object": "invoice", "status": "draft"});
        let open = json!({"object": "invoice", "status": "open", "attempt_count": 1});
        let paid = json!({"object": "invoice", "status": "paid"});
        let created = Version::of_event(t, "invoice.created", &draft, "evt_z");
        let failed = Version::of_event(t, "invoice.payment_failed", &open, "evt_a");
        let paid = Version::of_event(t, "invoice.paid", &paid, "evt_b");
        assert!(created < failed && failed < paid);
        let later = Version::of_event(
            Timestamp::from_unix_seconds(1_700_000_001),
            "invoice.created",
            &draft,
            "evt_0",
        );
        assert!(paid < later, "a later second always wins");
        let same = Version::of_event(
            t,
            "invoice.paid",
            &json!({"object": "invoice", "status": "paid"}),
            "evt_b",
        );
        assert_eq!(paid, same, "the same event gives the same version");
    }

    #[test]
    fn terminal_statuses_outrank_live_ones_in_their_second() {
        let t = Timestamp::from_unix_seconds(1_700_000_000);
        let v = |object: &str, status: &str| {
            Version::of_event(
                t,
                &format!("{object}.updated"),
                &json!({"object": object, "status": status}),
                "evt_same",
            )
        };
        for (object, before, after) in [
            ("subscription_schedule", "not_started", "active"),
            ("subscription_schedule", "active", "released"),
            ("subscription_schedule", "active", "completed"),
            ("dispute", "warning_needs_response", "warning_under_review"),
            ("dispute", "warning_under_review", "warning_closed"),
            ("dispute", "warning_needs_response", "needs_response"),
            ("dispute", "needs_response", "under_review"),
            ("dispute", "under_review", "won"),
            ("invoice_payment", "open", "paid"),
        ] {
            assert!(
                v(object, before) < v(object, after),
                "{object}: {before} < {after}"
            );
        }
    }

    #[test]
    fn only_milliseconds_or_ids_within_one_rank_and_second_are_a_tie() {
        let s = 1_700_000_000_i64;
        let at = |ms: i64| Timestamp::from_unix_millis(s * 1000 + ms);
        let customer = json!({"object": "customer"});
        let a = Version::of_event(at(0), "customer.updated", &customer, "evt_b");
        let b = Version::of_event(at(0), "customer.updated", &customer, "evt_a");
        let stored = |v: &Version| (v.at.unix_millis(), v.tiebreak.clone());
        let (b_at, b_tie) = stored(&b);
        assert!(a.ties_with(b_at, &b_tie), "two updates of one second");
        let fetched = Version::of_fetch(at(400), &customer, "evt_thin");
        assert!(a.ties_with(fetched.at.unix_millis(), &fetched.tiebreak));
        assert!(fetched.ties_with(a.at.unix_millis(), &a.tiebreak));
        // Two fetches: their milliseconds are when Stripe answered, a true order.
        let later_fetch = Version::of_fetch(at(700), &customer, "evt_thin2");
        assert!(!later_fetch.ties_with(fetched.at.unix_millis(), &fetched.tiebreak));
        assert!(
            !a.ties_with(a.at.unix_millis(), &a.tiebreak),
            "the same version"
        );
        let next_second = Version::of_event(at(1000), "customer.updated", &customer, "evt_c");
        assert!(!a.ties_with(next_second.at.unix_millis(), &next_second.tiebreak));
        let created = Version::of_event(at(0), "customer.created", &customer, "evt_d");
        assert!(
            !a.ties_with(created.at.unix_millis(), &created.tiebreak),
            "kinds order"
        );
        let paid = json!({"object": "invoice", "status": "paid"});
        let open = json!({"object": "invoice", "status": "open", "attempt_count": 1});
        let paid = Version::of_event(at(0), "invoice.paid", &paid, "evt_e");
        let open = Version::of_event(at(0), "invoice.updated", &open, "evt_f");
        assert!(
            !open.ties_with(paid.at.unix_millis(), &paid.tiebreak),
            "the lifecycle orders"
        );
        assert!(!a.ties_with(b_at, ""), "no stored tiebreak");
    }

    #[test]
    fn a_fetch_is_not_newer_than_a_snapshot_of_its_second_for_its_milliseconds_alone() {
        let s = 1_700_000_000_i64;
        let at = |ms: i64| Timestamp::from_unix_millis(s * 1000 + ms);
        let sub = |status: &str| json!({"object": "subscription", "status": status});
        // A thin update fetched at :00.400 saw the subscription active; it was canceled
        // later in that second: the deletion's snapshot (created :00) is the newer.
        let fetched = Version::of_fetch(at(400), &sub("active"), "evt_thin");
        let deleted = Version::of_event(
            at(0),
            "customer.subscription.deleted",
            &sub("canceled"),
            "evt_d",
        );
        assert!(fetched < deleted);
        // A fetch that saw the invoice paid outranks the finalization of its second, even for
        // the thin `invoice.created` it was fetched for.
        let invoice = |status: &str| json!({"object": "invoice", "status": status});
        let paid = Version::of_fetch(at(400), &invoice("paid"), "evt_created");
        let finalized = Version::of_event(at(0), "invoice.finalized", &invoice("open"), "evt_z");
        assert!(finalized < paid);
        // Same rank: the later fetch of the second is the newer, whatever the event ids.
        let early = Version::of_fetch(at(100), &sub("active"), "evt_z");
        let late = Version::of_fetch(at(900), &sub("past_due"), "evt_a");
        assert!(early < late);
        // A fetch of a deleted object ranks as a deletion.
        let gone = Version::of_fetch(at(0), &json!({"object": "customer", "deleted": true}), "e");
        let updated = Version::of_event(
            at(0),
            "customer.updated",
            &json!({"object": "customer"}),
            "e",
        );
        assert!(updated < gone);
        // The second is `at`; the next second always wins.
        assert_eq!(late.at, at(0));
        assert!(
            late < Version::of_event(
                at(1000),
                "customer.subscription.created",
                &sub("trialing"),
                "e"
            )
        );
    }

    #[test]
    fn a_refund_in_the_same_second_outranks_the_charge_it_refunds() {
        let t = Timestamp::from_unix_seconds(1_700_000_000);
        let charge = |refunded: i64, full: bool| {
            json!({"object": "charge", "status": "succeeded",
                   "amount": 1000, "amount_refunded": refunded, "refunded": full})
        };
        // Event ids chosen so that the id alone would order them the wrong way.
        let succeeded = Version::of_event(t, "charge.succeeded", &charge(0, false), "evt_z");
        let partly = Version::of_event(t, "charge.refunded", &charge(400, false), "evt_m");
        let fully = Version::of_event(t, "charge.refunded", &charge(1000, true), "evt_a");
        assert!(succeeded < partly && partly < fully);
        // The typed model reads the same fields.
        let text = charge(1000, true).to_string();
        let typed: StripeObject = serde_json::from_str(&text).expect("a charge");
        assert_eq!(
            Version::of_event(t, "charge.refunded", &typed, "evt_a"),
            fully
        );
    }
}
