//! The v1 requests the hydrator sends, built by async-stripe's typed request builders
//! (`async-stripe-billing`, `async-stripe-core`, `async-stripe-payment`, one feature per
//! resource): the retrieve of each hydrated object kind and the event list of `backfill`.
//!
//! Only the request is taken from async-stripe ([`StripeRequest::build`]: method, path,
//! query); the response bytes go to the project's borrowed model, never into async-stripe's
//! owned types. Every kind [`v1_path`](stripe_events_core::hydrate::v1_path) knows has a
//! builder, so no v1 path is hand-built any more; the one hand-built request left is the v2
//! thin notification's `related_object.url`, fetched verbatim (it is Stripe's own URL, not a
//! builder case).

use stripe_client_core::{RequestBuilder, StripeRequest};
use stripe_events_core::Timestamp;

/// The object kinds with a typed retrieve (the same list as `v1_path`).
pub const RETRIEVED_KINDS: [&str; 11] = [
    "subscription",
    "subscription_schedule",
    "customer",
    "invoice",
    "invoice_payment",
    "payment_intent",
    "charge",
    "refund",
    "dispute",
    "payment_method",
    "tax_id",
];

/// Stripe's `limit` maximum for list endpoints.
pub const LIST_PAGE_LIMIT: i64 = 100;

/// async-stripe's retrieve request for an object kind and id (`None` for a kind without
/// one). The id goes into the path as given: the caller checks it is a Stripe id.
pub fn retrieve(object_type: &str, id: &str) -> Option<RequestBuilder> {
    use stripe_billing::invoice::RetrieveInvoice;
    use stripe_billing::invoice_payment::RetrieveInvoicePayment;
    use stripe_billing::subscription::RetrieveSubscription;
    use stripe_billing::subscription_schedule::RetrieveSubscriptionSchedule;
    use stripe_billing::tax_id::RetrieveIdTaxId;
    use stripe_core::charge::RetrieveCharge;
    use stripe_core::customer::RetrieveCustomer;
    use stripe_core::dispute::RetrieveDispute;
    use stripe_core::payment_intent::RetrievePaymentIntent;
    use stripe_core::refund::RetrieveRefund;
    use stripe_payment::payment_method::RetrievePaymentMethod;

    Some(match object_type {
        "subscription" => RetrieveSubscription::new(id).build(),
        "subscription_schedule" => RetrieveSubscriptionSchedule::new(id).build(),
        "customer" => RetrieveCustomer::new(id).build(),
        "invoice" => RetrieveInvoice::new(id).build(),
        "invoice_payment" => RetrieveInvoicePayment::new(id).build(),
        "payment_intent" => RetrievePaymentIntent::new(id).build(),
        "charge" => RetrieveCharge::new(id).build(),
        "refund" => RetrieveRefund::new(id).build(),
        "dispute" => RetrieveDispute::new(id).build(),
        "payment_method" => RetrievePaymentMethod::new(id).build(),
        "tax_id" => RetrieveIdTaxId::new(id).build(),
        _ => return None,
    })
}

/// The type filter of one event listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeFilter<'a> {
    /// Every type.
    All,
    /// One type, sent as `type=` (same meaning as a one-element `types`, and localstripe
    /// knows only this form).
    One(&'a str),
    /// Up to 20 types (Stripe's limit), sent as `types[0]=…&types[1]=…`.
    Many(&'a [&'a str]),
}

/// One page of `GET /v1/events`: created at or after `since`, `limit=100`, after the
/// `starting_after` cursor when given (async-stripe's `ListEvent`).
pub fn list_events(
    since: Timestamp,
    types: TypeFilter<'_>,
    starting_after: Option<&str>,
) -> RequestBuilder {
    let mut list = stripe_core::event::ListEvent::new()
        .created(stripe_types::RangeQueryTs::gte(since.unix_seconds()))
        .limit(LIST_PAGE_LIMIT);
    list = match types {
        TypeFilter::All => list,
        TypeFilter::One(one) => list.type_(one),
        TypeFilter::Many(many) => {
            list.types(many.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>())
        }
    };
    if let Some(cursor) = starting_after {
        list = list.starting_after(cursor);
    }
    list.build()
}

/// The request target relative to the API base: `/v1` + the builder's path, then its query
/// when it has one (async-stripe's own clients add the `/v1` prefix the same way).
pub fn v1_target(request: &RequestBuilder) -> String {
    let mut target = format!("/v1{}", request.path);
    if let Some(query) = request.query.as_deref().filter(|q| !q.is_empty()) {
        target.push('?');
        target.push_str(query);
    }
    target
}

/// The v1 retrieve target of an object kind and id, from its typed builder.
pub fn retrieve_target(object_type: &str, id: &str) -> Option<String> {
    retrieve(object_type, id).map(|request| v1_target(&request))
}

#[cfg(test)]
mod tests {
    use super::*;
    use stripe_client_core::StripeMethod;
    use stripe_events_core::hydrate::v1_path;

    #[test]
    fn every_builder_path_equals_v1_path() {
        for kind in RETRIEVED_KINDS {
            let id = format!("{kind}_1Abc");
            let request = retrieve(kind, &id).unwrap_or_else(|| panic!("no builder for {kind}"));
            assert!(matches!(request.method, StripeMethod::Get), "{kind}");
            assert_eq!(request.body, None, "{kind}");
            assert_eq!(
                retrieve_target(kind, &id),
                v1_path(kind, &id),
                "{kind}: builder path and v1_path"
            );
        }
        for unknown in ["product", "price", "event", ""] {
            assert_eq!(retrieve(unknown, "x_1").map(|r| r.path), None, "{unknown}");
            assert_eq!(v1_path(unknown, "x_1"), None, "{unknown}");
        }
    }

    #[test]
    fn event_list_queries() {
        let since = Timestamp::from_unix_seconds(5);
        assert_eq!(
            v1_target(&list_events(since, TypeFilter::All, None)),
            "/v1/events?created[gte]=5&limit=100"
        );
        assert_eq!(
            v1_target(&list_events(
                since,
                TypeFilter::One("customer.created"),
                Some("evt_1")
            )),
            "/v1/events?created[gte]=5&limit=100&starting_after=evt_1&type=customer.created"
        );
        assert_eq!(
            v1_target(&list_events(
                since,
                TypeFilter::Many(&["a.b", "c d", "x&y"]),
                None
            )),
            "/v1/events?created[gte]=5&limit=100&types[0]=a.b&types[1]=c+d&types[2]=x%26y"
        );
    }
}
