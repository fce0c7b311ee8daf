//! The real forwarder against moto's EventBridge over HTTP: a bus with the six rules built
//! from `infra/rules` (each with its own SQS queue), webhook requests signed by Stripe's
//! Python SDK through the handler, and where each event lands. Also PutEvents failures and
//! the Secrets Manager loader. Needs the local stack:
//! `infra/local/stack.sh run -- cargo test -p stripe-events-webhook`.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use stripe_events_core::rules::{RuleSet, RuleSource};
use stripe_events_core::{parse_bytes, Family, PayloadStyle, SourcePath, Timestamp};
use stripe_events_testkit::events::*;
use stripe_events_testkit::fixtures::repo_root;
use stripe_events_testkit::stack::*;
use stripe_events_testkit::webhook::*;
use stripe_events_webhook::forward::MAX_ENTRY_BYTES;
use stripe_events_webhook::{
    EventBridgeForwarder, Outcome, SecretError, SecretStore, SecretsManagerLoader, WebhookHandler,
    WebhookSecrets,
};

const SECRET: &str = "whsec_test_moto_bus_4f1e2d3c4b5a69788796a5b4";

fn handler_on(eb: aws_sdk_eventbridge::Client, bus: &str) -> WebhookHandler<EventBridgeForwarder> {
    WebhookHandler::new(
        SecretStore::fixed(WebhookSecrets::parse(SECRET).unwrap()),
        300,
        EventBridgeForwarder::new(eb, bus),
    )
}

/// Signs `bodies` with stripe-python and sends each through the handler; returns outcomes.
async fn send_all(h: &WebhookHandler<EventBridgeForwarder>, bodies: &[String]) -> Vec<Outcome> {
    let now = Timestamp::now().unix_seconds();
    let reqs: Vec<SignRequest<'_>> = bodies
        .iter()
        .map(|b| SignRequest {
            payload: b,
            secret: SECRET,
            timestamp: now,
        })
        .collect();
    let signed = stripe_sdk_sign(&reqs);
    let mut out = Vec::new();
    for (body, s) in bodies.iter().zip(signed) {
        let request = function_url_request(body, false, &[("stripe-signature", &s.header)]);
        out.push(
            h.process(
                &request,
                now,
                Some("Root=1-5759e988-bd862e3fe1be46a994272793"),
            )
            .await,
        );
    }
    out
}

#[tokio::test]
async fn each_family_lands_in_exactly_its_queue() {
    let sdk = sdk_config().await;
    let eb = aws_sdk_eventbridge::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let bus = create_bus_with_rules(&eb, &sqs).await;
    let h = handler_on(eb, &bus.name);

    let big_memo = "m".repeat(MAX_ENTRY_BYTES);
    let events: Vec<(&str, Family, Value)> = vec![
        (
            "evt_wh_sub",
            Family::Subscription,
            snapshot_event(
                "evt_wh_sub",
                "customer.subscription.created",
                json!({"id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "active"}),
            ),
        ),
        (
            "evt_wh_pay",
            Family::Payment,
            snapshot_event(
                "evt_wh_pay",
                "invoice.paid",
                json!({"id": "in_1", "object": "invoice", "customer": "cus_1", "amount_paid": 500}),
            ),
        ),
        (
            "evt_wh_cus",
            Family::Customer,
            snapshot_event(
                "evt_wh_cus",
                "customer.created",
                json!({"id": "cus_1", "object": "customer", "email": "a@example.com"}),
            ),
        ),
        (
            "evt_wh_none",
            Family::None,
            snapshot_event(
                "evt_wh_none",
                "product.created",
                json!({"id": "prod_1", "object": "product", "name": "Pro"}),
            ),
        ),
        (
            "evt_wh_thin",
            Family::Subscription,
            thin_event(
                "evt_wh_thin",
                "v1.customer.subscription.updated",
                "subscription",
                "sub_1",
            ),
        ),
        (
            "evt_wh_big",
            Family::Payment,
            snapshot_event(
                "evt_wh_big",
                "invoice.updated",
                json!({"id": "in_big", "object": "invoice", "customer": "cus_1", "memo": big_memo}),
            ),
        ),
    ];
    let bodies: Vec<String> = events.iter().map(|(_, _, e)| e.to_string()).collect();
    let outcomes = send_all(&h, &bodies).await;
    for ((id, _, _), o) in events.iter().zip(&outcomes) {
        assert_eq!(o.response().status_code, 200, "{id}: {o:?}");
        let Outcome::Forwarded {
            eventbridge_id,
            forwarded,
            ..
        } = o
        else {
            unreachable!()
        };
        assert!(eventbridge_id.is_some(), "{id}: moto returned no EventId");
        let want = if *id == "evt_wh_big" {
            "reference"
        } else {
            "event"
        };
        assert_eq!(forwarded.as_str(), want, "{id}");
    }

    // Where did everything land?
    let landed = drain_all(&sqs, &bus, 0).await;
    let rules = RuleSet::load(&repo_root().join("infra/rules")).unwrap();
    let mut got: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (rule, messages) in &landed {
        for m in messages {
            // moto's routing agrees with the project's evaluator on every delivered event.
            let matched: Vec<String> = rules
                .matching(m)
                .unwrap()
                .iter()
                .map(|r| r.name.clone())
                .collect();
            assert_eq!(matched, vec![rule.clone()], "moto delivered to {rule}: {m}");
            assert_eq!(m["source"], "stripe.webhook");
            assert_eq!(m["detail-type"], "Stripe Webhook Event");
            got.entry(rule.clone())
                .or_default()
                .push(m["detail"]["id"].as_str().unwrap().to_owned());
        }
    }
    let mut want: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (id, family, _) in &events {
        if *family != Family::None {
            want.entry(format!("webhook-{}", family.as_str()))
                .or_default()
                .push(id.to_string());
        }
    }
    for ids in got.values_mut().chain(want.values_mut()) {
        ids.sort();
    }
    assert_eq!(
        got, want,
        "queue contents (partner-* rules never match a webhook event)"
    );
    let partner_msgs: usize = bus
        .rules
        .iter()
        .filter(|r| r.source == RuleSource::Partner)
        .map(|r| landed[&r.rule].len())
        .sum();
    assert_eq!(partner_msgs, 0);

    // Details are the webhook bodies unchanged, except the oversized one, which arrives as
    // the legacy thin reference; consumers read every one of them as a webhook delivery.
    for messages in landed.values() {
        for m in messages {
            let id = m["detail"]["id"].as_str().unwrap();
            let (_, _, original) = events.iter().find(|(i, _, _)| *i == id).unwrap();
            let batch = json!({"Records": [{"messageId": "m", "body": m.to_string()}]}).to_string();
            let invocation = parse_bytes(batch.as_bytes()).unwrap();
            let d = invocation.records[0].delivery().unwrap();
            assert_eq!(d.path.source, SourcePath::Webhook);
            if id == "evt_wh_big" {
                assert_eq!(d.style, PayloadStyle::ThinReference);
                assert_eq!(
                    m["detail"],
                    json!({"id": "evt_wh_big", "object": "event", "type": "invoice.updated",
                           "created": original["created"], "livemode": false,
                           "api_version": "2024-09-30.acacia",
                           "data": {"object": {"id": "in_big", "object": "invoice"}}})
                );
            } else {
                assert_eq!(&m["detail"], original);
            }
        }
    }
}

#[tokio::test]
async fn put_events_to_a_missing_bus_answers_500() {
    let sdk = sdk_config().await;
    let eb = aws_sdk_eventbridge::Client::new(&sdk);
    // moto answers ResourceNotFoundException ("Event bus … does not exist") for the call.
    let h = handler_on(eb, &unique("no-such-bus"));
    let body = snapshot_event(
        "evt_nobus",
        "invoice.paid",
        json!({"id": "in_1", "object": "invoice", "total": 1}),
    )
    .to_string();
    let outcomes = send_all(&h, &[body]).await;
    assert_eq!(outcomes[0].response().status_code, 500);
    assert_eq!(outcomes[0].reason(), "put_events_failed");
    let Outcome::NotForwarded { error, .. } = &outcomes[0] else {
        unreachable!()
    };
    assert!(error.contains("ResourceNotFound"), "{error}");
}

/// A signed-to-be `invoice.paid` snapshot body.
fn invoice_paid(event_id: &str) -> String {
    snapshot_event(
        event_id,
        "invoice.paid",
        json!({"id": "in_1", "object": "invoice", "total": 1}),
    )
    .to_string()
}

#[tokio::test]
async fn put_events_to_a_closed_port_answers_500() {
    // A port nothing listens on (bound, then released).
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let sdk = sdk_config_at(&format!("http://127.0.0.1:{port}")).await;
    let h = handler_on(aws_sdk_eventbridge::Client::new(&sdk), "any-bus");
    let body = invoice_paid("evt_closed");
    let outcomes = send_all(&h, &[body]).await;
    assert_eq!(outcomes[0].response().status_code, 500);
    assert_eq!(outcomes[0].reason(), "put_events_failed");
    let Outcome::NotForwarded { error, .. } = &outcomes[0] else {
        unreachable!()
    };
    assert!(error.contains("dispatch failure"), "{error}");
}

/// An EventBridge stand-in answering every PutEvents with HTTP 200 and `body`.
async fn put_events_answering(body: &'static str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let _ = socket.read(&mut buf).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_put_events_answer_that_confirms_nothing_answers_500() {
    for answer in [
        r#"{"FailedEntryCount":0,"Entries":[]}"#,
        r#"{}"#,
        r#"{"FailedEntryCount":0,"Entries":[{}]}"#,
        // An empty id names no event on the bus.
        r#"{"FailedEntryCount":0,"Entries":[{"EventId":""}]}"#,
        r#"{"FailedEntryCount":0,"Entries":[{"EventId":"a"},{"EventId":"b"}]}"#,
    ] {
        let sdk = sdk_config_at(&put_events_answering(answer).await).await;
        let h = handler_on(aws_sdk_eventbridge::Client::new(&sdk), "any-bus");
        let outcomes = send_all(&h, &[invoice_paid("evt_unconfirmed")]).await;
        assert_eq!(outcomes[0].response().status_code, 500, "{answer}");
        assert_eq!(outcomes[0].reason(), "put_events_unconfirmed", "{answer}");
    }
    // The answer EventBridge gives is a forward.
    let sdk = sdk_config_at(
        &put_events_answering(r#"{"FailedEntryCount":0,"Entries":[{"EventId":"e-1"}]}"#).await,
    )
    .await;
    let h = handler_on(aws_sdk_eventbridge::Client::new(&sdk), "any-bus");
    let outcomes = send_all(&h, &[invoice_paid("evt_confirmed")]).await;
    assert_eq!(outcomes[0].response().status_code, 200);
}

#[tokio::test]
async fn secrets_manager_holds_several_secrets() {
    let sdk = sdk_config().await;
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let name = unique("wh-secret");
    let arn = sm
        .create_secret()
        .name(&name)
        .secret_string(format!("whsec_test_next_111111111111\n{SECRET}\n"))
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let loader = SecretsManagerLoader::new(sm.clone(), &arn);
    let secrets = loader.load_now().await.unwrap();
    assert_eq!(secrets.len(), 2);

    // A handler on these secrets accepts a request signed with the second one.
    let eb = aws_sdk_eventbridge::Client::new(&sdk);
    let bus = unique("wh-sm-bus");
    eb.create_event_bus().name(&bus).send().await.unwrap();
    let h = WebhookHandler::new(
        SecretStore::fixed(secrets),
        300,
        EventBridgeForwarder::new(eb, &bus),
    );
    let body = snapshot_event(
        "evt_sm",
        "customer.updated",
        json!({"id": "cus_1", "object": "customer", "email": "x@y.z"}),
    )
    .to_string();
    let now = Timestamp::now().unix_seconds();
    let s = stripe_sdk_sign(&[SignRequest {
        payload: &body,
        secret: SECRET,
        timestamp: now,
    }]);
    let r = h
        .handle(&function_url_request(
            &body,
            false,
            &[("stripe-signature", &s[0].header)],
        ))
        .await;
    assert_eq!(r.status_code, 200);

    // A binary secret, a missing one, and a mistyped value are clear errors without values.
    let bin = sm
        .create_secret()
        .name(unique("wh-secret-bin"))
        .secret_binary(aws_sdk_secretsmanager::primitives::Blob::new(
            b"whsec_x".to_vec(),
        ))
        .send()
        .await
        .unwrap();
    let e = SecretsManagerLoader::new(sm.clone(), bin.arn().unwrap())
        .load_now()
        .await
        .unwrap_err();
    assert_eq!(e, SecretError::NotAString);
    let e = SecretsManagerLoader::new(
        sm.clone(),
        "arn:aws:secretsmanager:us-east-2:123456789012:secret:nope",
    )
    .load_now()
    .await
    .unwrap_err();
    assert!(matches!(e, SecretError::Fetch(_)), "{e:?}");
    let bad = sm
        .create_secret()
        .name(unique("wh-secret-bad"))
        .secret_string("sk_test_not_a_webhook_secret")
        .send()
        .await
        .unwrap();
    let e = SecretsManagerLoader::new(sm, bad.arn().unwrap())
        .load_now()
        .await
        .unwrap_err();
    assert_eq!(e, SecretError::NotWebhookSecret { position: 1 });
    assert!(!e.to_string().contains("not_a_webhook"));
}
