//! Arbitrary bytes and arbitrary JSON never panic the parser; every failure is a typed error.

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use stripe_events_core::parse_bytes;

/// Parses like a handler: the invocation, then every record's delivery.
fn parse_all(bytes: &[u8]) {
    if let Ok(inv) = parse_bytes(bytes) {
        for r in &inv.records {
            let _ = r.delivery();
        }
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        // Strings biased towards the keys and values the parser looks at.
        prop_oneof![
            Just("stripe.webhook".to_owned()),
            Just("aws.partner/stripe.com/ed_test_1".to_owned()),
            Just("v2.core.event".to_owned()),
            Just("event".to_owned()),
            Just("2026-03-07T18:27:56.000Z".to_owned()),
            ".{0,12}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        let keys = prop_oneof![
            Just("Records".to_owned()),
            Just("body".to_owned()),
            Just("messageId".to_owned()),
            Just("source".to_owned()),
            Just("detail".to_owned()),
            Just("detail-type".to_owned()),
            Just("id".to_owned()),
            Just("type".to_owned()),
            Just("object".to_owned()),
            Just("data".to_owned()),
            Just("created".to_owned()),
            Just("related_object".to_owned()),
            Just("snapshot_event".to_owned()),
            Just("livemode".to_owned()),
            "[a-z_]{1,8}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(keys, inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        parse_all(&bytes);
    }

    #[test]
    fn arbitrary_json_never_panics(v in arb_json()) {
        let text = v.to_string();
        parse_all(text.as_bytes());
        // The same value as an SQS body, and as an EventBridge detail.
        parse_all(json!({"Records": [{"messageId": "m", "body": text}]}).to_string().as_bytes());
        parse_all(json!({"source": "stripe.webhook", "detail": v}).to_string().as_bytes());
    }
}
