//! The Stripe event types the three families handle, generated from the classifier the Lambdas
//! use ([`Family::of_event_type`]) over Stripe's list of event types
//! (`fixtures/event-types.txt`), and the API version snapshot destinations are pinned to.

use stripe_events_core::Family;

/// Every Stripe v1 event type (one per line), as listed by Stripe's API reference.
const ALL_TYPES: &str = include_str!("../../../../fixtures/event-types.txt");

/// The API version the projections are tested with: the shape of the current fixtures
/// (`fixtures/README.md`). Snapshot destinations render their objects in it.
pub const PINNED_API_VERSION: &str = "2025-09-30.clover";

/// Every Stripe v1 event type.
pub fn all_types() -> Vec<&'static str> {
    let mut out: Vec<&str> = ALL_TYPES
        .lines()
        .map(str::trim)
        .filter(|t| !t.is_empty() && !t.starts_with('#'))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The v1 types some family handles, sorted.
pub fn handled_types() -> Vec<&'static str> {
    all_types()
        .into_iter()
        .filter(|t| Family::of_event_type(t) != Family::None)
        .collect()
}

/// The v1 types one family handles, sorted.
pub fn family_types(family: Family) -> Vec<&'static str> {
    all_types()
        .into_iter()
        .filter(|t| Family::of_event_type(t) == family && family != Family::None)
        .collect()
}

/// Every type a thin destination can send (`v1.<type>` and `v2.*`), one per line.
const THIN_TYPES: &str = include_str!("../../../../fixtures/thin-and-v2-event-types.txt");

/// The name of a v1 type on a thin destination (`v1.` prefix).
pub fn thin_name(v1_type: &str) -> String {
    format!("v1.{v1_type}")
}

/// The handled v1 types Stripe also sends thin, as a thin destination names them. Some have
/// no thin form (`customer.discount.*`): a thin destination cannot enable them, so they reach
/// the pipeline only as snapshots (a snapshot destination or the webhook).
pub fn thin_handled_types() -> Vec<String> {
    let thin: std::collections::HashSet<&str> = THIN_TYPES
        .lines()
        .map(str::trim)
        .filter(|t| !t.is_empty() && !t.starts_with('#'))
        .collect();
    handled_types()
        .into_iter()
        .map(thin_name)
        .filter(|t| thin.contains(t.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handled_types_are_exactly_the_classifier_families() {
        let handled = handled_types();
        assert!(handled.contains(&"invoice.paid"));
        assert!(handled.contains(&"customer.subscription.updated"));
        assert!(handled.contains(&"payment_method.detached"));
        assert!(!handled.contains(&"product.created"));
        assert!(!handled.contains(&"customer.source.created"));
        let sum: usize = Family::CONSUMERS
            .iter()
            .map(|f| family_types(*f).len())
            .sum();
        assert_eq!(sum, handled.len());
        assert_eq!(thin_name("invoice.paid"), "v1.invoice.paid");
    }

    #[test]
    fn a_thin_destination_enables_only_types_stripe_sends_thin() {
        let thin = thin_handled_types();
        assert!(thin.contains(&"v1.invoice.paid".to_owned()));
        assert!(thin.contains(&"v1.customer.tax_id.deleted".to_owned()));
        // Stripe has no thin `customer.discount.*`.
        assert!(!thin.iter().any(|t| t.starts_with("v1.customer.discount.")));
        assert!(handled_types().contains(&"customer.discount.created"));
        assert_eq!(thin.len(), handled_types().len() - 3, "{thin:?}");
    }

    #[test]
    fn pinned_version_is_the_fixtures_current_shape() {
        let fixture = include_str!("../../../../fixtures/partner-snapshot/invoice-paid.json");
        assert!(
            fixture.contains(&format!("\"api_version\": \"{PINNED_API_VERSION}\""))
                || fixture.contains(&format!("\"api_version\":\"{PINNED_API_VERSION}\"")),
            "fixtures moved on from {PINNED_API_VERSION}"
        );
    }
}
