//! End to end with a third-party signer: localstripe delivers its own signed webhook (Stripe's
//! scheme, its own HMAC code) over HTTP to a small local adapter that turns the request into
//! an API Gateway HTTP API (payload 2.0) request and calls the handler, which puts the event on moto's bus, where
//! the rule built from infra/rules routes it to the customer queue.
//! Needs the local stack: `infra/local/stack.sh run -- cargo test -p stripe-events-webhook`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use stripe_events_core::{parse_bytes, PayloadStyle, SourcePath};
use stripe_events_testkit::stack::*;
use stripe_events_testkit::webhook::*;
use stripe_events_webhook::{
    ApiGatewayV2httpRequest, EventBridgeForwarder, Outcome, SecretStore, WebhookHandler,
    WebhookSecrets,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const SECRET: &str = "whsec_test_localstripe_e2e_0a1b2c3d4e5f";

/// A parsed HTTP/1.1 message: lowercase header names, body (Content-Length or chunked).
struct Message {
    start_line: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

async fn read_message(stream: &mut TcpStream, until_eof: bool) -> std::io::Result<Message> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::other(
                "connection closed before the headers ended",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let start_line = lines.next().unwrap_or_default().to_owned();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = buf[head_end + 4..].to_vec();
    if let Some(len) = headers
        .get("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        while body.len() < len {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        body.truncate(len);
    } else if until_eof {
        stream.read_to_end(&mut body).await?;
        if headers
            .get("transfer-encoding")
            .is_some_and(|v| v.contains("chunked"))
        {
            body = dechunk(&body);
        }
    }
    Ok(Message {
        start_line,
        headers,
        body,
    })
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = raw.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&raw[..i]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&raw[i + 2..i + 2 + size]);
        raw = &raw[i + 2 + size + 2..];
    }
    out
}

/// What the adapter saw for one request.
struct Seen {
    outcome: Outcome,
    signature_header_present: bool,
}

/// The adapter: HTTP on 127.0.0.1 → payload 2.0 request (`ApiGatewayV2httpRequest`) → handler
/// → HTTP response.
async fn serve(
    listener: TcpListener,
    handler: Arc<WebhookHandler<EventBridgeForwarder>>,
    seen: mpsc::UnboundedSender<Seen>,
) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let handler = Arc::clone(&handler);
        let seen = seen.clone();
        tokio::spawn(async move {
            let Ok(req) = read_message(&mut stream, false).await else {
                return;
            };
            let mut parts = req.start_line.split(' ');
            let method = parts.next().unwrap_or_default().to_owned();
            let path = parts.next().unwrap_or_default().to_owned();
            let (body, is_b64) = match String::from_utf8(req.body.clone()) {
                Ok(text) => (text, false),
                Err(_) => (
                    base64::engine::general_purpose::STANDARD.encode(&req.body),
                    true,
                ),
            };
            let request = json!({
                "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
                "headers": req.headers,
                "requestContext": {"stage": "$default", "http": {"method": method, "path": path}},
                "body": body, "isBase64Encoded": is_b64,
            });
            // As lambda_runtime reads the invocation: a payload that is not an
            // ApiGatewayV2httpRequest never reaches the handler (API Gateway answers 500).
            let Ok(request) = serde_json::from_value::<ApiGatewayV2httpRequest>(request) else {
                let wire = "HTTP/1.1 500 X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                let _ = stream.write_all(wire.as_bytes()).await;
                return;
            };
            let now = stripe_events_core::Timestamp::now().unix_seconds();
            let outcome = handler.process(&request, now, None).await;
            let response = outcome.response();
            let text = body_of(&response);
            let wire = format!(
                "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                response.status_code,
                text.len(),
                text
            );
            let _ = stream.write_all(wire.as_bytes()).await;
            let _ = stream.shutdown().await;
            let _ = seen.send(Seen {
                outcome,
                signature_header_present: req.headers.contains_key("stripe-signature"),
            });
        });
    }
}

/// A form POST to localstripe; returns (status, body).
async fn localstripe_post(path: &str, form: &str) -> (u16, Value) {
    let base = require_env("STRIPE_API_BASE");
    let key = require_env("STRIPE_API_KEY");
    let authority = base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut stream = TcpStream::connect(&authority)
        .await
        .expect("connect to localstripe");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
        form.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let response = read_message(&mut stream, true)
        .await
        .expect("localstripe response");
    let status = response
        .start_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn localstripe_signed_webhook_reaches_the_customer_queue() {
    let sdk = sdk_config().await;
    let eb = aws_sdk_eventbridge::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let bus = create_bus_with_rules(&eb, &sqs).await;
    let handler = Arc::new(WebhookHandler::new(
        SecretStore::fixed(WebhookSecrets::parse(SECRET).unwrap()),
        300,
        EventBridgeForwarder::new(eb, &bus.name),
    ));

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(serve(listener, Arc::clone(&handler), tx));

    // localstripe signs with its own code: t=<event.created>,v1=HMAC(secret, "t.body").
    let hook_id = unique("wh_e2e");
    let (status, _) = localstripe_post(
        &format!("/_config/webhooks/{hook_id}"),
        &format!("url=http%3A%2F%2F127.0.0.1%3A{port}%2Fstripe%2Fwebhook&secret={SECRET}"),
    )
    .await;
    assert_eq!(status, 200, "register the webhook in localstripe");

    let email = format!("{}@example.com", unique("e2e"));
    let (status, customer) = localstripe_post(
        "/v1/customers",
        &format!("email={}&description=e2e", email.replace('@', "%40")),
    )
    .await;
    assert_eq!(status, 200, "create customer: {customer}");
    let customer_id = customer["id"].as_str().expect("customer id").to_owned();

    // The delivery (localstripe waits 1 s before sending).
    let seen = tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("localstripe delivered a webhook within 20 s")
        .expect("adapter running");
    assert!(seen.signature_header_present);
    let Outcome::Forwarded {
        event_id,
        event_type,
        ..
    } = &seen.outcome
    else {
        panic!(
            "localstripe's webhook was not forwarded: {:?}",
            seen.outcome
        );
    };
    assert_eq!(event_type, "customer.created");
    assert_eq!(seen.outcome.response().status_code, 200);

    // On the bus: only the customer queue holds it.
    let landed = drain_all(&sqs, &bus, 0).await;
    for (rule, messages) in &landed {
        if rule == "webhook-customer" {
            assert_eq!(messages.len(), 1, "{rule}: {messages:?}");
        } else {
            assert!(messages.is_empty(), "{rule} got {messages:?}");
        }
    }
    let m = &landed["webhook-customer"][0];
    assert_eq!(m["source"], "stripe.webhook");
    assert_eq!(m["detail"]["id"], event_id.as_str());
    assert_eq!(m["detail"]["data"]["object"]["id"], customer_id.as_str());
    assert_eq!(m["detail"]["data"]["object"]["email"], email.as_str());
    let forwarded = m.to_string();
    let d = parse_bytes(forwarded.as_bytes())
        .unwrap()
        .into_single()
        .expect("one event")
        .unwrap();
    assert_eq!(d.path.source, SourcePath::Webhook);
    assert_eq!(d.style, PayloadStyle::Snapshot);

    // A localstripe webhook signed with a secret we do not hold is refused (400), and
    // localstripe's delivery does not reach the bus.
    let other = unique("wh_e2e_wrong");
    let (status, _) = localstripe_post(
        &format!("/_config/webhooks/{other}"),
        &format!(
            "url=http%3A%2F%2F127.0.0.1%3A{port}%2Fstripe%2Fwebhook&secret=whsec_not_ours_123"
        ),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = localstripe_post("/v1/customers", "email=second%40example.com").await;
    assert_eq!(status, 200);
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let seen = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("both webhooks delivered")
            .expect("adapter running");
        statuses.push((seen.outcome.response().status_code, seen.outcome.reason()));
    }
    statuses.sort();
    assert_eq!(
        statuses,
        vec![(200, "forwarded"), (400, "signature_mismatch")]
    );
    let landed = drain_all(&sqs, &bus, 0).await;
    assert_eq!(landed["webhook-customer"].len(), 1);
    assert_eq!(landed.values().map(Vec::len).sum::<usize>(), 1);
}
