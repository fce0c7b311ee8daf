//! Every request shape the endpoint can see, signed by Stripe's own Python SDK (not by our
//! code), through the handler with a recording forwarder. Needs only the venv
//! (`infra/local/venv.sh`), not the running stack.

use base64::Engine as _;
use serde_json::{json, Value};
use stripe_events_core::Timestamp;
use stripe_events_testkit::events::*;
use stripe_events_testkit::webhook::*;
use stripe_events_webhook::{
    ApiGatewayV2httpRequest, ForwardError, Outcome, SecretStore, WebhookHandler, WebhookSecrets,
};

const SECRET: &str = "whsec_test_Rk3mZq8VYb1c2d3e4f5g6h7i8j9k0lmn";
const OLD_SECRET: &str = "whsec_test_rotated_out_0000000000000000";
const WRONG: &str = "whsec_test_not_ours_999999999999999999999";

struct Case {
    name: &'static str,
    request: ApiGatewayV2httpRequest,
    status: i64,
    reason: &'static str,
    /// Compare our signature verdict with stripe-python's `verify_header` (payload, header).
    sdk_check: Option<(String, Option<String>)>,
}

fn handler(secrets: &str) -> WebhookHandler<FakeForwarder> {
    WebhookHandler::new(
        SecretStore::fixed(WebhookSecrets::parse(secrets).unwrap()),
        300,
        FakeForwarder::default(),
    )
}

#[tokio::test]
async fn every_bad_input_is_rejected_and_good_ones_forwarded() {
    let now = Timestamp::now().unix_seconds();
    let event = snapshot_event(
        "evt_sig_1",
        "invoice.paid",
        json!({"id": "in_1", "object": "invoice", "customer": "cus_1", "amount_paid": 2000}),
    )
    .to_string();
    let thin = thin_event(
        "evt_sig_thin",
        "v1.customer.subscription.updated",
        "subscription",
        "sub_1",
    )
    .to_string();
    let tampered = event.replace("2000", "9000");
    let not_stripe = r#"{"hello":"world"}"#.to_string();
    let envelope = json!({"version": "0", "id": "x", "source": "stripe.webhook",
        "detail-type": "Stripe Webhook Event", "detail": serde_json::from_str::<Value>(&event).unwrap()})
    .to_string();
    let sqs_batch = json!({"Records": [{"messageId": "m1", "body": envelope}]}).to_string();
    let b64 = base64::engine::general_purpose::STANDARD.encode(event.as_bytes());

    // Everything Stripe's SDK signs, in one interpreter run.
    let reqs = [
        SignRequest {
            payload: &event,
            secret: SECRET,
            timestamp: now,
        }, // 0
        SignRequest {
            payload: &event,
            secret: OLD_SECRET,
            timestamp: now,
        }, // 1
        SignRequest {
            payload: &event,
            secret: SECRET,
            timestamp: now - 301,
        }, // 2
        SignRequest {
            payload: &event,
            secret: SECRET,
            timestamp: now + 301,
        }, // 3
        SignRequest {
            payload: &event,
            secret: SECRET,
            timestamp: now - 300,
        }, // 4
        SignRequest {
            payload: &event,
            secret: SECRET,
            timestamp: now + 300,
        }, // 5
        SignRequest {
            payload: &event,
            secret: WRONG,
            timestamp: now,
        }, // 6
        SignRequest {
            payload: "",
            secret: SECRET,
            timestamp: now,
        }, // 7
        SignRequest {
            payload: "not json at all",
            secret: SECRET,
            timestamp: now,
        }, // 8
        SignRequest {
            payload: &b64,
            secret: SECRET,
            timestamp: now,
        }, // 9
        SignRequest {
            payload: &not_stripe,
            secret: SECRET,
            timestamp: now,
        }, // 10
        SignRequest {
            payload: &envelope,
            secret: SECRET,
            timestamp: now,
        }, // 11
        SignRequest {
            payload: &sqs_batch,
            secret: SECRET,
            timestamp: now,
        }, // 12
        SignRequest {
            payload: &thin,
            secret: SECRET,
            timestamp: now,
        }, // 13
        SignRequest {
            payload: "[1,2,3]",
            secret: SECRET,
            timestamp: now,
        }, // 14
    ];
    let s = stripe_sdk_sign(&reqs);
    let sig = |i: usize| s[i].header.clone();
    let req = |body: &str, header: Option<&str>| match header {
        Some(h) => function_url_request(
            body,
            false,
            &[
                ("stripe-signature", h),
                ("content-type", "application/json"),
            ],
        ),
        None => function_url_request(body, false, &[("content-type", "application/json")]),
    };
    let check =
        |payload: &str, header: Option<&str>| Some((payload.to_owned(), header.map(str::to_owned)));

    let rotated_two_v1 = format!("t={now},v1={},v1={}", s[1].v1, s[0].v1);
    let rotated_reverse = format!("t={now},v1={},v1={}", s[0].v1, s[6].v1);
    let v0_only = format!("t={now},v0={}", s[0].v1);
    let v1_and_v0_wrong = format!("t={now},v0={},v1={}", s[0].v1, s[6].v1);
    let duplicate_t = format!("t={now},t={},v1={}", now - 1, s[0].v1);
    // A header sent twice, joined by API Gateway (payload 2.0 joins duplicates with ",").
    let joined = format!("{},{}", sig(0), sig(0));
    let joined_spaced = format!("{}, {}", sig(0), sig(0));
    let joined_roll = format!("{rotated_two_v1},{rotated_two_v1}");
    // Two parts with different t: the first is Stripe's, the second signed by someone else.
    let differing_t = format!("{},t={},v1={}", sig(0), now - 1, s[6].v1);
    // An old captured request with a fresh t added: its MAC is not one of the fresh t.
    let replay_fresh_t = format!("{},t={now}", sig(2));

    let cases = vec![
        Case {
            name: "valid snapshot event",
            request: req(&event, Some(&sig(0))),
            status: 200,
            reason: "forwarded",
            sdk_check: check(&event, Some(&sig(0))),
        },
        Case {
            name: "valid thin v2 event",
            request: req(&thin, Some(&sig(13))),
            status: 200,
            reason: "forwarded",
            sdk_check: check(&thin, Some(&sig(13))),
        },
        Case {
            name: "header name in another case (Stripe-Signature)",
            request: function_url_request(&event, false, &[("Stripe-Signature", &sig(0))]),
            status: 200,
            reason: "forwarded",
            sdk_check: None,
        },
        Case {
            name: "Stripe roll: two v1, first from the old secret, second matches",
            request: req(&event, Some(&rotated_two_v1)),
            status: 200,
            reason: "forwarded",
            sdk_check: check(&event, Some(&rotated_two_v1)),
        },
        Case {
            name: "Stripe roll: two v1, first matches, second foreign",
            request: req(&event, Some(&rotated_reverse)),
            status: 200,
            reason: "forwarded",
            sdk_check: check(&event, Some(&rotated_reverse)),
        },
        // (The SDK compares with its own, later clock, so the boundary cases are not cross-checked.)
        Case {
            name: "timestamp exactly 300 s old",
            request: req(&event, Some(&sig(4))),
            status: 200,
            reason: "forwarded",
            sdk_check: None,
        },
        Case {
            name: "timestamp exactly 300 s ahead",
            request: req(&event, Some(&sig(5))),
            status: 200,
            reason: "forwarded",
            sdk_check: None,
        },
        Case {
            name: "base64 body (isBase64Encoded true), signed over the raw bytes",
            request: function_url_request(&b64, true, &[("stripe-signature", &sig(0))]),
            status: 200,
            reason: "forwarded",
            sdk_check: None,
        },
        // Rejected: signature.
        Case {
            name: "old timestamp (301 s)",
            request: req(&event, Some(&sig(2))),
            status: 400,
            reason: "timestamp_too_old",
            sdk_check: check(&event, Some(&sig(2))),
        },
        Case {
            name: "future timestamp (301 s ahead)",
            request: req(&event, Some(&sig(3))),
            status: 400,
            reason: "timestamp_in_future",
            sdk_check: None,
        },
        Case {
            name: "tampered body",
            request: req(&tampered, Some(&sig(0))),
            status: 400,
            reason: "signature_mismatch",
            sdk_check: check(&tampered, Some(&sig(0))),
        },
        Case {
            name: "wrong secret",
            request: req(&event, Some(&sig(6))),
            status: 400,
            reason: "signature_mismatch",
            sdk_check: check(&event, Some(&sig(6))),
        },
        Case {
            name: "signed only by a secret we rotated out",
            request: req(&event, Some(&sig(1))),
            status: 400,
            reason: "signature_mismatch",
            sdk_check: check(&event, Some(&sig(1))),
        },
        Case {
            name: "missing header",
            request: req(&event, None),
            status: 400,
            reason: "missing_signature_header",
            sdk_check: check(&event, None),
        },
        Case {
            name: "empty header",
            request: req(&event, Some("")),
            status: 400,
            reason: "missing_signature_header",
            sdk_check: None,
        },
        Case {
            name: "garbage header",
            request: req(&event, Some("garbage")),
            status: 400,
            reason: "malformed_signature_header",
            sdk_check: check(&event, Some("garbage")),
        },
        Case {
            name: "header without t",
            request: req(&event, Some(&format!("v1={}", s[0].v1))),
            status: 400,
            reason: "malformed_signature_header",
            sdk_check: None,
        },
        Case {
            name: "non-numeric t",
            request: req(&event, Some(&format!("t=now,v1={}", s[0].v1))),
            status: 400,
            reason: "malformed_signature_header",
            sdk_check: None,
        },
        Case {
            name: "duplicate Stripe-Signature headers joined with ','",
            request: req(&event, Some(&joined)),
            status: 200,
            reason: "forwarded",
            sdk_check: check(&event, Some(&joined)),
        },
        Case {
            name: "duplicate Stripe-Signature headers joined with ', '",
            request: req(&event, Some(&joined_spaced)),
            status: 200,
            reason: "forwarded",
            sdk_check: check(&event, Some(&joined_spaced)),
        },
        Case {
            name: "duplicate headers during a Stripe roll (two v1 each)",
            request: req(&event, Some(&joined_roll)),
            status: 200,
            reason: "forwarded",
            sdk_check: check(&event, Some(&joined_roll)),
        },
        // The SDKs differ on several t (stripe-python takes the first, stripe-node the
        // last); ours checks every v1 against every fresh t, so not cross-checked.
        Case {
            name: "two t values, the v1 is the MAC of one of them",
            request: req(&event, Some(&duplicate_t)),
            status: 200,
            reason: "forwarded",
            sdk_check: None,
        },
        Case {
            name: "two parts with different t, the first Stripe's",
            request: req(&event, Some(&differing_t)),
            status: 200,
            reason: "forwarded",
            sdk_check: None,
        },
        Case {
            name: "old signed header with a fresh t added",
            request: req(&event, Some(&replay_fresh_t)),
            status: 400,
            reason: "signature_mismatch",
            sdk_check: check(&event, Some(&replay_fresh_t)),
        },
        Case {
            name: "v0-only header (correct MAC under v0)",
            request: req(&event, Some(&v0_only)),
            status: 400,
            reason: "no_v1_signature",
            sdk_check: check(&event, Some(&v0_only)),
        },
        Case {
            name: "correct MAC under v0, wrong v1",
            request: req(&event, Some(&v1_and_v0_wrong)),
            status: 400,
            reason: "signature_mismatch",
            sdk_check: check(&event, Some(&v1_and_v0_wrong)),
        },
        Case {
            // Not 64 hex digits: no well-formed signature, so not a mismatch (no reload).
            name: "the whsec secret itself as v1",
            request: req(&event, Some(&format!("t={now},v1={SECRET}"))),
            status: 400,
            reason: "malformed_signature_header",
            sdk_check: None,
        },
        Case {
            name: "base64 body signed over its base64 text",
            request: function_url_request(&b64, true, &[("stripe-signature", &sig(9))]),
            status: 400,
            reason: "signature_mismatch",
            sdk_check: None,
        },
        Case {
            name: "isBase64Encoded true, body not base64",
            request: function_url_request("{not base64}", true, &[("stripe-signature", &sig(0))]),
            status: 400,
            reason: "undecodable_body",
            sdk_check: None,
        },
        Case {
            name: "no body at all, valid header for the event",
            request: v2_request(json!({"rawPath": "/stripe/webhook",
                "requestContext": {"http": {"method": "POST", "path": "/stripe/webhook"}},
                "headers": {"stripe-signature": sig(0)}})),
            status: 400,
            reason: "signature_mismatch",
            sdk_check: None,
        },
        // Rejected: signed, but not one Stripe event.
        Case {
            name: "empty body (signed)",
            request: req("", Some(&sig(7))),
            status: 400,
            reason: "not_json",
            sdk_check: check("", Some(&sig(7))),
        },
        Case {
            name: "non-JSON body (signed)",
            request: req("not json at all", Some(&sig(8))),
            status: 400,
            reason: "not_json",
            sdk_check: check("not json at all", Some(&sig(8))),
        },
        Case {
            name: "JSON array body (signed)",
            request: req("[1,2,3]", Some(&sig(14))),
            status: 400,
            reason: "unrecognised_shape",
            sdk_check: None,
        },
        Case {
            name: "JSON object that is not a Stripe event (signed)",
            request: req(&not_stripe, Some(&sig(10))),
            status: 400,
            reason: "unrecognised_shape",
            sdk_check: None,
        },
        Case {
            name: "EventBridge envelope (signed)",
            request: req(&envelope, Some(&sig(11))),
            status: 400,
            reason: "not_a_bare_stripe_event",
            sdk_check: None,
        },
        Case {
            name: "SQS batch (signed)",
            request: req(&sqs_batch, Some(&sig(12))),
            status: 400,
            reason: "not_a_bare_stripe_event",
            sdk_check: None,
        },
    ];

    let h = handler(SECRET);
    let mut failures = Vec::new();
    let mut table = String::new();
    for case in &cases {
        let outcome = h.process(&case.request, now, None).await;
        let response = outcome.response();
        table.push_str(&format!(
            "{:>3}  {:<28} {}\n",
            response.status_code,
            outcome.reason(),
            case.name
        ));
        if response.status_code != case.status || outcome.reason() != case.reason {
            failures.push(format!(
                "{}: got {} {}, want {} {}",
                case.name,
                response.status_code,
                outcome.reason(),
                case.status,
                case.reason
            ));
        }
        // Never echo anything request-specific; never the secret or a signature.
        let allowed = [
            r#"{"received":true}"#,
            r#"{"error":"invalid signature"}"#,
            r#"{"error":"invalid payload"}"#,
        ];
        assert!(
            allowed.contains(&body_of(&response)),
            "{}: body {}",
            case.name,
            body_of(&response)
        );
        assert_eq!(
            response.headers.get("content-type").map(|v| v.as_bytes()),
            Some(&b"application/json"[..]),
            "{}",
            case.name
        );
        assert!(!response.is_base64_encoded, "{}", case.name);
    }
    println!("status reason                       case\n{table}");
    assert!(
        failures.is_empty(),
        "unexpected outcomes:\n{}",
        failures.join("\n")
    );

    // Exactly the accepted requests were forwarded, each with the body unchanged.
    let entries = h.forwarder().entries.lock().unwrap().clone();
    let accepted = cases.iter().filter(|c| c.status == 200).count();
    assert_eq!(entries.len(), accepted);
    for e in &entries {
        assert_eq!(e.source, "stripe.webhook");
        assert_eq!(e.detail_type, "Stripe Webhook Event");
        assert!(
            e.detail == event || e.detail == thin,
            "detail changed: {}",
            e.detail
        );
    }

    // Our verdict on the signature agrees with stripe-python's verify_header wherever the
    // SDK has the same rules (it does not reject future timestamps, so that case is left out).
    let checked: Vec<&Case> = cases.iter().filter(|c| c.sdk_check.is_some()).collect();
    let verify_reqs: Vec<VerifyRequest<'_>> = checked
        .iter()
        .map(|c| {
            let (payload, header) = c.sdk_check.as_ref().unwrap();
            VerifyRequest {
                payload,
                header: header.as_deref(),
                secrets: &[SECRET],
                tolerance: 300,
            }
        })
        .collect();
    let sdk = stripe_sdk_verify(&verify_reqs);
    for (case, sdk_ok) in checked.iter().zip(sdk) {
        let ours_ok = case.status == 200
            || !matches!(
                h.process(&case.request, now, None).await,
                Outcome::Unauthenticated { .. }
            );
        assert_eq!(
            ours_ok, sdk_ok,
            "{}: ours {ours_ok}, stripe-python {sdk_ok}",
            case.name
        );
    }
}

#[tokio::test]
async fn our_own_rotation_accepts_any_configured_secret() {
    let now = Timestamp::now().unix_seconds();
    let event = snapshot_event(
        "evt_rot",
        "customer.created",
        json!({"id": "cus_1", "object": "customer", "email": "a@b.c"}),
    )
    .to_string();
    let s = stripe_sdk_sign(&[
        SignRequest {
            payload: &event,
            secret: SECRET,
            timestamp: now,
        },
        SignRequest {
            payload: &event,
            secret: OLD_SECRET,
            timestamp: now,
        },
        SignRequest {
            payload: &event,
            secret: WRONG,
            timestamp: now,
        },
    ]);
    let h = handler(&format!("{OLD_SECRET}\n{SECRET}"));
    for (header, want) in [
        (&s[0].header, 200),
        (&s[1].header, 200),
        (&s[2].header, 400),
    ] {
        let r = h
            .handle(&function_url_request(
                &event,
                false,
                &[("stripe-signature", header)],
            ))
            .await;
        assert_eq!(r.status_code, want);
    }
    let h = handler(&format!("{SECRET}, {OLD_SECRET}"));
    let r = h
        .handle(&function_url_request(
            &event,
            false,
            &[("stripe-signature", &s[1].header)],
        ))
        .await;
    assert_eq!(r.status_code, 200);
}

#[tokio::test]
async fn forwarding_failures_answer_500() {
    let now = Timestamp::now().unix_seconds();
    let event = snapshot_event(
        "evt_fail",
        "invoice.paid",
        json!({"id": "in_1", "object": "invoice", "total": 1}),
    )
    .to_string();
    let s = stripe_sdk_sign(&[SignRequest {
        payload: &event,
        secret: SECRET,
        timestamp: now,
    }]);
    let request = function_url_request(&event, false, &[("stripe-signature", &s[0].header)]);
    for (fail, reason) in [
        (
            ForwardError::Call("dispatch failure".into()),
            "put_events_failed",
        ),
        (
            ForwardError::EntryFailed {
                code: "InternalFailure".into(),
                message: "x".into(),
            },
            "put_events_entry_failed",
        ),
    ] {
        let h = WebhookHandler::new(
            SecretStore::fixed(WebhookSecrets::parse(SECRET).unwrap()),
            300,
            FakeForwarder {
                fail: Some(fail),
                ..Default::default()
            },
        );
        let outcome = h.process(&request, now, None).await;
        assert_eq!(outcome.response().status_code, 500);
        assert_eq!(outcome.reason(), reason);
        assert_eq!(
            body_of(&outcome.response()),
            r#"{"error":"internal error"}"#
        );
    }
}

/// A warm container picks up a secret added to Secrets Manager during a rotation: the first
/// request that matches none of the loaded secrets reloads them (rate-limited) and retries.
#[tokio::test]
async fn a_mismatch_reloads_the_secrets_once() {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;
    use std::time::Duration;
    use stripe_events_webhook::secrets::LoadFuture;
    use stripe_events_webhook::SecretLoader;

    struct Loader(Arc<AtomicU32>);
    impl SecretLoader for Loader {
        fn load(&self) -> LoadFuture<'_> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { WebhookSecrets::parse(&format!("{OLD_SECRET},{SECRET}")) })
        }
    }

    let now = Timestamp::now().unix_seconds();
    let event = snapshot_event(
        "evt_reload",
        "customer.updated",
        json!({"id": "cus_1", "object": "customer", "email": "r@x.y"}),
    )
    .to_string();
    let s = stripe_sdk_sign(&[
        SignRequest {
            payload: &event,
            secret: SECRET,
            timestamp: now,
        },
        SignRequest {
            payload: &event,
            secret: WRONG,
            timestamp: now,
        },
    ]);
    let loads = Arc::new(AtomicU32::new(0));
    let h = WebhookHandler::new(
        SecretStore::reloadable(
            WebhookSecrets::parse(OLD_SECRET).unwrap(),
            Box::new(Loader(loads.clone())),
            Duration::ZERO,
        ),
        300,
        FakeForwarder::default(),
    );
    let request =
        |header: &str| function_url_request(&event, false, &[("stripe-signature", header)]);
    assert_eq!(h.handle(&request(&s[0].header)).await.status_code, 200);
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    // Now loaded: no further reload for a request signed with the new secret.
    assert_eq!(h.handle(&request(&s[0].header)).await.status_code, 200);
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    // A foreign signature still fails after its (allowed) reload.
    assert_eq!(h.handle(&request(&s[1].header)).await.status_code, 400);
    assert_eq!(loads.load(Ordering::SeqCst), 2);
}
