//! `stripe-events state`: the billing state the application reads, read and shaped by the
//! store's library function ([`stripe_events_store::read_customer_state`]); the CLI only prints
//! it, as a table (`main.rs`) or as the JSON below.

use serde_json::{json, Value};

pub use stripe_events_store::{
    customers_of_user, read_customer_state as customer_state, CustomerState,
};

/// `state --json`: one customer as one object (`state --user … --json` prints an array of
/// these, one per customer with that user id):
///
/// - `customer_id`: the Stripe customer id;
/// - `profile`: the stored profile item (`email`, `name`, `user_id`, `deleted`, `delinquent`,
///   … as stored, `pk`/`sk` included), or `null` before the first customer event;
/// - `entitlement`: `entitled` (bool), `subscription_id`, `status` (that subscription's) and
///   `until` (unix seconds), derived from the subscriptions when read;
/// - `subscriptions`: the stored subscription items, in sort-key order;
/// - `payments`: invoices, payment intents, charges, … newest first;
/// - `other`: payment methods, discounts, tax ids, schedules.
pub fn to_json(s: &CustomerState) -> Value {
    json!({
        "customer_id": s.customer_id,
        "profile": s.profile,
        "entitlement": {
            "entitled": s.entitlement.entitled,
            "subscription_id": s.entitlement.subscription_id,
            "status": s.entitlement.status,
            "until": s.entitlement.until,
        },
        "subscriptions": s.subscriptions,
        "payments": s.payments,
        "other": s.other,
    })
}
