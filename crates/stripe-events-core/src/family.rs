//! Which Lambda owns an event type (docs/architecture.md). This is the one place that decides; the
//! EventBridge rule files in `infra/rules/` are tested to agree with it.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Subscription,
    Payment,
    Customer,
    /// Not routed to any Lambda.
    None,
}

impl Family {
    pub const CONSUMERS: [Family; 3] = [Family::Subscription, Family::Payment, Family::Customer];

    pub fn as_str(self) -> &'static str {
        match self {
            Family::Subscription => "subscription",
            Family::Payment => "payment",
            Family::Customer => "customer",
            Family::None => "none",
        }
    }

    pub fn from_name(name: &str) -> Option<Family> {
        match name {
            "subscription" => Some(Family::Subscription),
            "payment" => Some(Family::Payment),
            "customer" => Some(Family::Customer),
            "none" => Some(Family::None),
            _ => None,
        }
    }

    /// Classifies a Stripe event type. Thin v2 types carry a `v1.` prefix, which is ignored.
    pub fn of_event_type(event_type: &str) -> Family {
        let t = base_event_type(event_type);
        const SUBSCRIPTION: [&str; 2] = ["customer.subscription.", "subscription_schedule."];
        const PAYMENT: [&str; 5] = [
            "invoice.",
            "invoice_payment.",
            "payment_intent.",
            "charge.",
            "refund.",
        ];
        const CUSTOMER_EXACT: [&str; 3] =
            ["customer.created", "customer.updated", "customer.deleted"];
        const CUSTOMER_PREFIX: [&str; 3] =
            ["customer.discount.", "customer.tax_id.", "payment_method."];
        if SUBSCRIPTION.iter().any(|p| t.starts_with(p)) {
            Family::Subscription
        } else if PAYMENT.iter().any(|p| t.starts_with(p)) {
            Family::Payment
        } else if CUSTOMER_EXACT.contains(&t) || CUSTOMER_PREFIX.iter().any(|p| t.starts_with(p)) {
            Family::Customer
        } else {
            Family::None
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Event types (base, without `v1.`) whose object has no id: an upcoming invoice is a preview,
/// never stored. A thin one names no `related_object`; in either style it is `ignored`.
pub const OBJECTLESS_EVENT_TYPES: [&str; 1] = ["invoice.upcoming"];

/// Whether events of this type (with or without `v1.`) are about an object without an id.
pub fn is_objectless(event_type: &str) -> bool {
    OBJECTLESS_EVENT_TYPES.contains(&base_event_type(event_type))
}

/// The v1 event type without the thin `v1.` prefix.
pub fn base_event_type(event_type: &str) -> &str {
    event_type.strip_prefix("v1.").unwrap_or(event_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_follow_the_design_table() {
        let cases = [
            ("customer.subscription.created", Family::Subscription),
            ("v1.customer.subscription.deleted", Family::Subscription),
            ("subscription_schedule.canceled", Family::Subscription),
            ("invoice.paid", Family::Payment),
            ("invoice_payment.paid", Family::Payment),
            ("invoiceitem.created", Family::None),
            ("charge.dispute.created", Family::Payment),
            ("charge.refund.updated", Family::Payment),
            ("refund.created", Family::Payment),
            ("v1.payment_intent.succeeded", Family::Payment),
            ("customer.created", Family::Customer),
            ("v1.customer.deleted", Family::Customer),
            ("customer.discount.created", Family::Customer),
            ("customer.tax_id.updated", Family::Customer),
            ("payment_method.attached", Family::Customer),
            ("customer.source.created", Family::None),
            ("customer.createdx", Family::None),
            ("product.created", Family::None),
            ("v2.core.account.created", Family::None),
            ("", Family::None),
        ];
        for (t, f) in cases {
            assert_eq!(Family::of_event_type(t), f, "{t}");
        }
    }
}
