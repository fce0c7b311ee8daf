//! Hydration: fetching the object a thin event refers to. The Stripe implementation lives in
//! `stripe-events-stripe`; the handler depends only on this trait.

use std::future::Future;
use std::time::Instant;

use thiserror::Error;

use crate::delivery::Delivery;
use crate::timestamp::Timestamp;

/// The object as fetched, and when: the fetch time is its version (it is the latest state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The response body as received: read into the typed model by the caller, borrowing
    /// from it.
    pub body: Vec<u8>,
    pub fetched_at: Timestamp,
}

impl Fetched {
    /// The body as a JSON tree, for tools and tests (the handler reads the typed model).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HydrateError {
    /// 429, 5xx, timeouts, connection errors, and 401/403 (a bad key must be fixed, not
    /// drop events): retried by the platform.
    #[error("Stripe API transient failure: {0}")]
    Transient(String),
    /// 404: the object does not exist (deleted, or the wrong account/mode).
    #[error("Stripe object not found: {0}")]
    NotFound(String),
    /// Anything retrying cannot fix (an object type we cannot map to an API path, a 400).
    #[error("cannot hydrate: {0}")]
    Permanent(String),
}

pub trait Hydrator: Send + Sync {
    /// Fetches the current object `delivery.object` refers to, giving up with a transient
    /// error once `deadline` (the Lambda's remaining time, minus a margin) is near.
    fn fetch(
        &self,
        delivery: &Delivery<'_>,
        deadline: Instant,
    ) -> impl Future<Output = Result<Fetched, HydrateError>> + Send;
}

/// The v1 API collection of an object type (`subscription` → `subscriptions`). `None` for
/// types with no retrieve endpoint we use.
pub fn v1_collection(object_type: &str) -> Option<&'static str> {
    Some(match object_type {
        "subscription" => "subscriptions",
        "subscription_schedule" => "subscription_schedules",
        "customer" => "customers",
        "invoice" => "invoices",
        "invoice_payment" => "invoice_payments",
        "payment_intent" => "payment_intents",
        "charge" => "charges",
        "refund" => "refunds",
        "dispute" => "disputes",
        "payment_method" => "payment_methods",
        "tax_id" => "tax_ids",
        _ => return None,
    })
}

/// The v1 API path of an object the legacy thin reference names by type and id. `None` for types
/// with no retrieve endpoint we use.
pub fn v1_path(object_type: &str, id: &str) -> Option<String> {
    v1_collection(object_type).map(|collection| format!("/v1/{collection}/{id}"))
}

/// True when `path` is `/v1/{collection}/{id}` for this object type, or for a tax id the path
/// under its customer (`/v1/customers/{customer}/tax_ids/{id}`, the older API path, equally
/// served): compared in place, without building the path (every thin v2 event is checked).
pub fn is_v1_path(path: &str, object_type: &str, id: &str) -> bool {
    let Some(rest) = path.strip_prefix("/v1/") else {
        return false;
    };
    let is_in = |rest: &str, collection: &str| {
        rest.strip_prefix(collection)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|rest| rest == id)
    };
    v1_collection(object_type).is_some_and(|collection| is_in(rest, collection))
        || (object_type == "tax_id"
            && rest
                .strip_prefix("customers/")
                .and_then(|rest| rest.split_once('/'))
                .is_some_and(|(customer, rest)| !customer.is_empty() && is_in(rest, "tax_ids")))
}

/// A shared hydrator (several handlers in one process, e.g. the operator CLI).
impl<T: Hydrator> Hydrator for std::sync::Arc<T> {
    fn fetch(
        &self,
        delivery: &Delivery<'_>,
        deadline: Instant,
    ) -> impl Future<Output = Result<Fetched, HydrateError>> + Send {
        (**self).fetch(delivery, deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_canonical_only_for_its_own_type_and_id() {
        assert!(is_v1_path(
            "/v1/subscriptions/sub_1",
            "subscription",
            "sub_1"
        ));
        for (path, ty, id) in [
            ("/v1/customers/sub_1", "subscription", "sub_1"),
            ("/v1/subscriptions/sub_2", "subscription", "sub_1"),
            ("/v1/subscriptions/sub_1/", "subscription", "sub_1"),
            ("/v1/subscriptionssub_1", "subscription", "sub_1"),
            ("/v2/subscriptions/sub_1", "subscription", "sub_1"),
            ("v1/subscriptions/sub_1", "subscription", "sub_1"),
            ("/v1/discounts/di_1", "discount", "di_1"),
            ("/v1/customers/cus_1/tax_ids/txi_2", "tax_id", "txi_1"),
            ("/v1/customers//tax_ids/txi_1", "tax_id", "txi_1"),
            ("/v1/customers/cus_1/x/tax_ids/txi_1", "tax_id", "txi_1"),
            ("/v1/customers/cus_1/tax_ids/cus_1", "customer", "cus_1"),
        ] {
            assert!(!is_v1_path(path, ty, id), "{path} for {ty} {id}");
        }
        assert!(is_v1_path(
            "/v1/customers/cus_1/tax_ids/txi_1",
            "tax_id",
            "txi_1"
        ));
        for ty in ["subscription", "customer", "invoice_payment", "tax_id"] {
            let path = v1_path(ty, "x_1").unwrap_or_default();
            assert!(is_v1_path(&path, ty, "x_1"), "{path}");
        }
    }
}
