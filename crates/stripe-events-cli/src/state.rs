//! The billing state the application reads: one Query on the customer's partition
//! (docs/architecture.md#tables), with the entitlement derived from the subscription items.

use serde_json::{json, Map, Value};
use stripe_events_core::entitlement::{entitlement, Entitlement};
use stripe_events_core::project::customer_pk;
use stripe_events_core::Timestamp;
use stripe_events_store::schema::{USER_INDEX, USER_INDEX_KEY};
use stripe_events_store::{DynamoStore, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub struct CustomerState {
    pub customer_id: String,
    pub profile: Option<Map<String, Value>>,
    pub subscriptions: Vec<Map<String, Value>>,
    pub entitlement: Entitlement,
    /// Invoices, payment intents, charges, … newest first.
    pub payments: Vec<Map<String, Value>>,
    /// Payment methods, discounts, tax ids, schedules.
    pub other: Vec<Map<String, Value>>,
}

pub async fn customer_state(
    store: &DynamoStore,
    customer_id: &str,
) -> Result<CustomerState, StoreError> {
    let items = store.partition(&customer_pk(customer_id)).await?;
    let sk = |m: &Map<String, Value>| m.get("sk").and_then(Value::as_str).unwrap_or("").to_owned();
    let mut state = CustomerState {
        customer_id: customer_id.to_owned(),
        profile: None,
        subscriptions: Vec::new(),
        entitlement: entitlement(std::iter::empty(), 0),
        payments: Vec::new(),
        other: Vec::new(),
    };
    for item in items {
        let key = sk(&item);
        if key == "PROFILE" {
            state.profile = Some(item);
        } else if key.starts_with("SUBSCRIPTION#") {
            state.subscriptions.push(item);
        } else if key.starts_with("PAY#") {
            state.payments.push(item);
        } else {
            state.other.push(item);
        }
    }
    state.payments.sort_by_key(|m| std::cmp::Reverse(sk(m)));
    let subs: Vec<Value> = state
        .subscriptions
        .iter()
        .cloned()
        .map(Value::Object)
        .collect();
    state.entitlement = entitlement(&subs, Timestamp::now().unix_seconds());
    Ok(state)
}

/// The customer ids whose profile carries `metadata.user_id == user_id` (GSI).
pub async fn customers_of_user(
    store: &DynamoStore,
    user_id: &str,
) -> Result<Vec<String>, StoreError> {
    let items = store.by_index(USER_INDEX, USER_INDEX_KEY, user_id).await?;
    Ok(items
        .iter()
        .filter_map(|m| {
            m.get("customer_id")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect())
}

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
