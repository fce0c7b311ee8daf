//! The object must be the one the event names. A `customer.subscription.updated` carrying a
//! customer, a thin event whose `related_object.url` points at another object, or an API
//! answer about another id would otherwise be stored as if it were what the event announced.

use crate::delivery::{Delivery, ObjectRef, PayloadStyle};
use crate::hydrate::{is_v1_path, v1_collection};
use crate::model::StripeObject;

/// The Stripe object kind an event type (without `v1.`) is about, for the types the families
/// store. `None` for types no family stores.
pub fn object_kind_of(base_type: &str) -> Option<&'static str> {
    // Longest prefixes first: `charge.dispute.` before `charge.`, `invoice_payment.` is not
    // an `invoice.` event.
    const PREFIXES: [(&str, &str); 12] = [
        ("customer.subscription.", "subscription"),
        ("subscription_schedule.", "subscription_schedule"),
        ("invoice_payment.", "invoice_payment"),
        ("invoice.", "invoice"),
        ("payment_intent.", "payment_intent"),
        ("charge.dispute.", "dispute"),
        ("charge.refund.", "refund"),
        ("charge.", "charge"),
        ("refund.", "refund"),
        ("customer.discount.", "discount"),
        ("customer.tax_id.", "tax_id"),
        ("payment_method.", "payment_method"),
    ];
    if matches!(
        base_type,
        "customer.created" | "customer.updated" | "customer.deleted"
    ) {
        return Some("customer");
    }
    PREFIXES
        .iter()
        .find(|(prefix, _)| base_type.starts_with(prefix))
        .map(|(_, kind)| *kind)
}

/// Why an object is not the one the event names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("event {event_type} is about a {expected}, but names a {found}")]
    WrongKind {
        event_type: String,
        expected: &'static str,
        found: String,
    },
    #[error("related_object.url {url:?} is not the API path of {object_type} {id}")]
    WrongUrl {
        url: String,
        object_type: String,
        id: String,
    },
    #[error("Stripe answered with {found_type} {found_id} for {object_type} {id}")]
    WrongObject {
        object_type: String,
        id: String,
        found_type: String,
        found_id: String,
    },
}

/// Checks what the delivery itself says: the event type's object kind equals the object it
/// names (`data.object.object`, or `related_object.type`), and a thin v2 `related_object.url`
/// is the canonical path of that type and id.
pub fn check_delivery(d: &Delivery<'_>) -> Result<(), IdentityError> {
    let (Some(expected), Some(object)) = (object_kind_of(d.base_type()), &d.object) else {
        return Ok(());
    };
    if object.object_type != expected {
        return Err(IdentityError::WrongKind {
            event_type: d.event_type.clone(),
            expected,
            found: object.object_type.clone(),
        });
    }
    if d.style == PayloadStyle::ThinV2 {
        // Kinds without a canonical retrieve path (a customer's discount) are left to the
        // fetched-object check.
        let has_canonical = v1_collection(&object.object_type).is_some();
        if let Some(url) = object.url.as_ref().filter(|_| has_canonical) {
            if !is_v1_path(url, &object.object_type, &object.id) {
                return Err(IdentityError::WrongUrl {
                    url: url.clone(),
                    object_type: object.object_type.clone(),
                    id: object.id.clone(),
                });
            }
        }
    }
    Ok(())
}

/// Checks an object fetched from the API: its `object` and `id` equal the reference.
pub fn check_fetched(reference: &ObjectRef, fetched: &StripeObject) -> Result<(), IdentityError> {
    let found_type = fetched.object_type().unwrap_or("");
    let found_id = fetched.id().unwrap_or("");
    if found_type == reference.object_type && found_id == reference.id {
        return Ok(());
    }
    Err(IdentityError::WrongObject {
        object_type: reference.object_type.clone(),
        id: reference.id.clone(),
        found_type: found_type.to_owned(),
        found_id: found_id.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::Family;
    use crate::parse::{parse_bytes, Record};
    use serde_json::{json, Value};

    fn delivery(v: Value) -> Delivery<'static> {
        let bytes: &'static [u8] = Box::leak(v.to_string().into_bytes().into_boxed_slice());
        match parse_bytes(bytes).expect("parses").records.remove(0) {
            Record::Read(d) => d.expect("a delivery"),
            Record::Sqs { .. } => panic!("not an SQS batch"),
        }
    }

    fn object(v: Value) -> StripeObject<'static> {
        let bytes: &'static [u8] = Box::leak(v.to_string().into_bytes().into_boxed_slice());
        serde_json::from_slice(bytes).expect("an object")
    }

    #[test]
    fn every_stored_family_type_has_an_object_kind() {
        for t in [
            "customer.subscription.updated",
            "subscription_schedule.created",
            "invoice.paid",
            "invoice_payment.paid",
            "payment_intent.succeeded",
            "charge.succeeded",
            "charge.refund.updated",
            "charge.dispute.created",
            "refund.created",
            "customer.created",
            "customer.discount.deleted",
            "customer.tax_id.created",
            "payment_method.attached",
        ] {
            assert!(object_kind_of(t).is_some(), "{t}");
            assert_ne!(Family::of_event_type(t), Family::None, "{t}");
        }
        assert_eq!(object_kind_of("charge.dispute.closed"), Some("dispute"));
        assert_eq!(
            object_kind_of("invoice_payment.paid"),
            Some("invoice_payment")
        );
        assert_eq!(object_kind_of("customer.source.created"), None);
        assert_eq!(object_kind_of("product.created"), None);
    }

    #[test]
    fn a_snapshot_must_carry_the_kind_its_type_names() {
        let ev = |object: Value| {
            json!({"id": "evt_1", "object": "event", "type": "customer.subscription.updated",
                   "created": 1_700_000_000, "data": {"object": object}})
        };
        let ok = delivery(ev(
            json!({"id": "sub_1", "object": "subscription", "status": "active"}),
        ));
        assert_eq!(check_delivery(&ok), Ok(()));
        let wrong = delivery(ev(
            json!({"id": "cus_1", "object": "customer", "email": "a@b.c"}),
        ));
        assert!(matches!(
            check_delivery(&wrong),
            Err(IdentityError::WrongKind {
                expected: "subscription",
                ..
            })
        ));
    }

    #[test]
    fn a_thin_reference_must_agree_with_its_type_and_url() {
        let thin = |typ: &str, url: &str| {
            delivery(json!({"id": "evt_t", "object": "v2.core.event",
                "type": "v1.customer.subscription.updated", "created": "2026-03-07T18:27:56Z",
                "related_object": {"id": "sub_1", "type": typ, "url": url}}))
        };
        assert_eq!(
            check_delivery(&thin("subscription", "/v1/subscriptions/sub_1")),
            Ok(())
        );
        assert!(matches!(
            check_delivery(&thin("customer", "/v1/customers/sub_1")),
            Err(IdentityError::WrongKind { .. })
        ));
        assert!(matches!(
            check_delivery(&thin("subscription", "/v1/customers/cus_9")),
            Err(IdentityError::WrongUrl { .. })
        ));
        assert!(matches!(
            check_delivery(&thin("subscription", "/v1/subscriptions/sub_2")),
            Err(IdentityError::WrongUrl { .. })
        ));
    }

    #[test]
    fn a_fetched_object_must_be_the_referenced_one() {
        let r = ObjectRef {
            object_type: "subscription".into(),
            id: "sub_1".into(),
            url: None,
        };
        assert_eq!(
            check_fetched(
                &r,
                &object(json!({"id": "sub_1", "object": "subscription"}))
            ),
            Ok(())
        );
        assert!(check_fetched(
            &r,
            &object(json!({"id": "sub_2", "object": "subscription"}))
        )
        .is_err());
        assert!(check_fetched(&r, &object(json!({"id": "sub_1", "object": "customer"}))).is_err());
        assert!(check_fetched(&r, &object(json!({"error": {"message": "x"}}))).is_err());
    }
}
