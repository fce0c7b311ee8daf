//! The billing state the application reads: one Query on the customer's partition
//! (docs/architecture.md#tables), shaped into plain data, with the entitlement derived from the
//! subscription items (`stripe_events_core::entitlement`). `stripe-events state` prints it.

use std::future::Future;

use serde_json::{Map, Value};
use stripe_events_core::entitlement::{entitlement, Entitlement};
use stripe_events_core::vocabulary::{
    attr, customer_pk, PAY_SK_PREFIX, PROFILE_SK, SUBSCRIPTION_SK_PREFIX,
};
use stripe_events_core::Timestamp;

use crate::schema::{USER_INDEX, USER_INDEX_KEY};
use crate::{DynamoStore, MemoryStore, StoreError};

/// One customer's billing state. Items are the stored attributes (`pk`, `sk` included).
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerState {
    pub customer_id: String,
    /// `PROFILE`: email, name, `user_id`, `deleted`, `delinquent`, …
    pub profile: Option<Map<String, Value>>,
    /// `SUBSCRIPTION#…`, in sort-key order.
    pub subscriptions: Vec<Map<String, Value>>,
    /// Derived from `subscriptions` at the time of reading.
    pub entitlement: Entitlement,
    /// Invoices, payment intents, charges, … (`PAY#…`) newest first.
    pub payments: Vec<Map<String, Value>>,
    /// Payment methods, discounts, tax ids, schedules.
    pub other: Vec<Map<String, Value>>,
}

impl CustomerState {
    /// Shapes the items of a customer's partition, entitlement as of `now`.
    pub fn from_items(
        customer_id: &str,
        items: impl IntoIterator<Item = Map<String, Value>>,
        now: Timestamp,
    ) -> CustomerState {
        let mut state = CustomerState {
            customer_id: customer_id.to_owned(),
            profile: None,
            subscriptions: Vec::new(),
            entitlement: entitlement(std::iter::empty(), now.unix_seconds()),
            payments: Vec::new(),
            other: Vec::new(),
        };
        for item in items {
            let key = sort_key(&item);
            if key == PROFILE_SK {
                state.profile = Some(item);
            } else if key.starts_with(SUBSCRIPTION_SK_PREFIX) {
                state.subscriptions.push(item);
            } else if key.starts_with(PAY_SK_PREFIX) {
                state.payments.push(item);
            } else {
                state.other.push(item);
            }
        }
        state.payments.sort_by(|a, b| sort_key(b).cmp(sort_key(a)));
        let subs: Vec<Value> = state
            .subscriptions
            .iter()
            .cloned()
            .map(Value::Object)
            .collect();
        state.entitlement = entitlement(&subs, now.unix_seconds());
        state
    }

    /// No item at all: the store knows nothing of this customer.
    pub fn is_empty(&self) -> bool {
        self.profile.is_none()
            && self.subscriptions.is_empty()
            && self.payments.is_empty()
            && self.other.is_empty()
    }
}

fn sort_key(item: &Map<String, Value>) -> &str {
    item.get(attr::SK).and_then(Value::as_str).unwrap_or("")
}

/// The reads behind [`read_customer_state`]: DynamoDB in production, the in-memory store in
/// tests.
pub trait StateReader: Send + Sync {
    /// Every item of one partition, in sort-key order.
    fn read_partition(
        &self,
        pk: &str,
    ) -> impl Future<Output = Result<Vec<Map<String, Value>>, StoreError>> + Send;

    /// The items whose `user_id` is `user_id` (customer profiles; GSI `by_user_id`).
    fn read_by_user_id(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Vec<Map<String, Value>>, StoreError>> + Send;
}

impl StateReader for DynamoStore {
    async fn read_partition(&self, pk: &str) -> Result<Vec<Map<String, Value>>, StoreError> {
        self.partition(pk).await
    }

    async fn read_by_user_id(&self, user_id: &str) -> Result<Vec<Map<String, Value>>, StoreError> {
        self.by_index(USER_INDEX, USER_INDEX_KEY, user_id).await
    }
}

impl StateReader for MemoryStore {
    async fn read_partition(&self, pk: &str) -> Result<Vec<Map<String, Value>>, StoreError> {
        Ok(self.partition(pk))
    }

    async fn read_by_user_id(&self, user_id: &str) -> Result<Vec<Map<String, Value>>, StoreError> {
        Ok(self
            .state_items()
            .into_iter()
            .filter(|m| m.get(USER_INDEX_KEY).and_then(Value::as_str) == Some(user_id))
            .collect())
    }
}

/// Reads one customer's billing state: one Query on `CUSTOMER#<customer_id>`, entitlement as
/// of now. A customer the store knows nothing of reads as an empty state
/// ([`CustomerState::is_empty`]).
///
/// ```no_run
/// use stripe_events_store::{dynamodb_client, read_customer_state, DynamoStore, TableNames};
///
/// # async fn example() -> Result<(), stripe_events_store::StoreError> {
/// let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
/// let store = DynamoStore::new(
///     dynamodb_client(&sdk, None),
///     TableNames::for_prefix("ai-nexus-dev"),
/// );
/// let state = read_customer_state(&store, "cus_NffrFeUfNV2Hib").await?;
/// if state.entitlement.entitled {
///     println!("entitled until {:?}", state.entitlement.until);
/// }
/// for payment in &state.payments {
///     println!("{} {}", payment["object_id"], payment["status"]);
/// }
/// # Ok(())
/// # }
/// ```
pub async fn read_customer_state<R: StateReader + ?Sized>(
    store: &R,
    customer_id: &str,
) -> Result<CustomerState, StoreError> {
    let items = store.read_partition(&customer_pk(customer_id)).await?;
    Ok(CustomerState::from_items(
        customer_id,
        items,
        Timestamp::now(),
    ))
}

/// The customer ids whose profile carries `metadata.user_id == user_id` (GSI `by_user_id`),
/// deleted customers left out (a deleted profile keeps its last attributes under the marker,
/// `user_id` included, but bills no one).
pub async fn customers_of_user<R: StateReader + ?Sized>(
    store: &R,
    user_id: &str,
) -> Result<Vec<String>, StoreError> {
    let items = store.read_by_user_id(user_id).await?;
    Ok(items
        .iter()
        .filter(|m| m.get(attr::DELETED).and_then(Value::as_bool) != Some(true))
        .filter_map(|m| {
            m.get(attr::CUSTOMER_ID)
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn items_are_shaped_by_sort_key_and_payments_read_newest_first() {
        let now = Timestamp::from_unix_seconds(1_700_000_000);
        let items = [
            json!({"sk": "PAY#0000000100#invoice#in_old", "status": "paid"}),
            json!({"sk": "PAY#0000000200#invoice#in_new", "status": "open"}),
            json!({"sk": "PAYMENT_METHOD#pm_1", "attached": true}),
            json!({"sk": "PROFILE", "email": "a@example.com"}),
            json!({"sk": "SUBSCRIPTION#sub_1", "object_id": "sub_1", "status": "active",
                   "current_period_end": 1_700_100_000}),
        ]
        .map(item);
        let s = CustomerState::from_items("cus_1", items, now);
        assert_eq!(s.customer_id, "cus_1");
        assert_eq!(
            s.profile.as_ref().map(|p| p["email"].clone()),
            Some(json!("a@example.com"))
        );
        assert_eq!(s.subscriptions.len(), 1);
        let pay: Vec<&Value> = s.payments.iter().map(|p| &p["sk"]).collect();
        assert_eq!(
            pay,
            [
                "PAY#0000000200#invoice#in_new",
                "PAY#0000000100#invoice#in_old"
            ]
        );
        assert_eq!(s.other.len(), 1);
        assert!(s.entitlement.entitled, "{:?}", s.entitlement);
        assert!(!s.is_empty());
        assert!(CustomerState::from_items("cus_2", [], now).is_empty());
    }
}
