//! `stripe-events state`: the billing state the application reads, read and shaped by the
//! store's library function ([`stripe_events_store::read_customer_state`]); the CLI only prints
//! it, as a table (`main.rs`) or as the JSON below.

use serde_json::{json, Value};

pub use stripe_events_store::{
    customers_of_user, read_customer_state as customer_state, CustomerState,
};

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
