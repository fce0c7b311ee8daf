//! Shared test helpers: event builders and a scripted fake Stripe HTTP server (the
//! localstripe client is `stripe_events_stripe::testkit`).
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use stripe_events_core::delivery::Delivery;
use stripe_events_core::parse::{parse_bytes, Record};
use stripe_events_stripe::{ApiKey, RetryPolicy, StripeConfig, StripeHydrator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub const PARTNER_SOURCE: &str =
    "aws.partner/stripe.com/ed_test_61RM8nQ4bWvK2rTsH16RM8lgBsSQ7kYpZcXeJtDm3A2c";

/// Reads a variable the local stack exports; a clear failure (never a silent pass) without it.
pub fn require_env(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v,
        _ => panic!(
            "{name} is not set: these tests need the local stack. Run them with \
             `infra/local/stack.sh run -- cargo test -p stripe-events-stripe`"
        ),
    }
}

/// Retries fast enough for tests.
pub fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        attempt_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(1),
        list_page_budget: Duration::from_secs(10),
    }
}

pub fn hydrator(base: &str, key: &str, policy: RetryPolicy) -> StripeHydrator {
    let mut config = StripeConfig::new(base, ApiKey::new(key).unwrap()).unwrap();
    config.retry = policy;
    StripeHydrator::new(config).unwrap()
}

/// The one delivery in an invocation payload.
/// The one delivery in an invocation payload (its bytes leaked: a delivery borrows them).
pub fn delivery(payload: Value) -> Delivery<'static> {
    let bytes: &'static [u8] = Box::leak(payload.to_string().into_bytes().into_boxed_slice());
    let mut invocation = parse_bytes(bytes).expect("payload parses");
    assert_eq!(invocation.records.len(), 1);
    match invocation.records.remove(0) {
        Record::Read(d) => d.expect("record parses"),
        Record::Sqs { .. } => panic!("not an SQS batch"),
    }
}

/// A partner-delivered v2 thin notification (`related_object`, ISO `created`).
pub fn thin_v2(
    event_type: &str,
    object_type: &str,
    id: &str,
    url: Option<&str>,
    context: Option<&str>,
) -> Value {
    let mut related = json!({"id": id, "type": object_type});
    if let Some(url) = url {
        related["url"] = json!(url);
    }
    json!({
        "version": "0",
        "id": "6429c1c6-4aee-422a-b01f-e42680c5d9b8",
        "detail-type": event_type,
        "source": PARTNER_SOURCE,
        "account": "313476888312",
        "time": "2026-03-27T18:27:56Z",
        "region": "us-east-2",
        "resources": [],
        "detail": {
            "id": format!("evt_test_thin_{id}"),
            "object": "v2.core.event",
            "type": event_type,
            "created": "2026-03-27T18:27:56.000Z",
            "livemode": false,
            "context": context,
            "related_object": related,
            "snapshot_event": format!("evt_snap_{id}")
        }
    })
}

/// The legacy thin reference: `data.object` is only `{id, object}`, with the literal
/// `detail-type: "Stripe Event"`.
pub fn thin_reference(event_type: &str, object_type: &str, id: &str) -> Value {
    json!({
        "version": "0",
        "id": "57e62b5e-cb38-4805-8535-60c085986a0f",
        "detail-type": "Stripe Event",
        "source": PARTNER_SOURCE,
        "account": "313476888312",
        "time": "2026-03-17T18:27:57Z",
        "region": "us-east-2",
        "resources": [],
        "detail": {
            "id": format!("evt_note_{id}"),
            "type": event_type,
            "data": {"object": {"id": id, "object": object_type}},
            "created": 1_773_772_077,
            "livemode": false
        }
    })
}

/// A bare snapshot event carrying `object` in full.
pub fn snapshot(event_type: &str, object: Value) -> Value {
    json!({
        "id": "evt_snapshot_1",
        "object": "event",
        "type": event_type,
        "created": 1_773_772_077,
        "livemode": false,
        "api_version": "2017-08-15",
        "data": {"object": object}
    })
}

/// One scripted HTTP response.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    pub fn stripe_error(status: u16, error_type: &str, message: &str) -> Self {
        Reply::json(
            status,
            json!({"error": {"type": error_type, "message": message}}),
        )
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// What the fake server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A tiny HTTP/1.1 server on 127.0.0.1 answering requests in order from a script (the last
/// reply repeats) and recording each request. One request per connection.
pub struct FakeStripe {
    pub base: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeStripe {
    pub async fn start(script: Vec<Reply>) -> Self {
        assert!(!script.is_empty());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(script);
        let next = Arc::new(AtomicUsize::new(0));
        let recorded = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let script = Arc::clone(&script);
                let next = Arc::clone(&next);
                let recorded = Arc::clone(&recorded);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).into_owned();
                    let mut lines = head.split("\r\n");
                    let request_line = lines.next().unwrap_or_default();
                    let mut parts = request_line.split(' ');
                    let method = parts.next().unwrap_or_default().to_owned();
                    let target = parts.next().unwrap_or_default().to_owned();
                    let headers = lines
                        .take_while(|l| !l.is_empty())
                        .filter_map(|l| l.split_once(':'))
                        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                        .collect();
                    recorded.lock().unwrap().push(Recorded {
                        method,
                        target,
                        headers,
                    });
                    let i = next.fetch_add(1, Ordering::SeqCst).min(script.len() - 1);
                    let reply = &script[i];
                    tokio::time::sleep(reply.delay).await;
                    let mut response = format!(
                        "HTTP/1.1 {} Scripted\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                        reply.status,
                        reply.body.len()
                    );
                    for (k, v) in &reply.headers {
                        response.push_str(&format!("{k}: {v}\r\n"));
                    }
                    response.push_str("\r\n");
                    response.push_str(&reply.body);
                    let _ = socket.write_all(response.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        FakeStripe {
            base,
            requests,
            task,
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for FakeStripe {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A 127.0.0.1 port with nothing listening.
pub fn closed_port_base() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

pub use stripe_events_stripe::testkit::LocalStripe;

/// localstripe from the stack's environment, or a panic saying how to run the test.
pub fn local_stripe() -> LocalStripe {
    LocalStripe::from_env().unwrap_or_else(|e| panic!("{e}"))
}

/// `(customer, plan, subscription)` created in localstripe for a test.
pub async fn local_subscription(ls: &LocalStripe, user_id: &str) -> (Value, Value, Value) {
    let created = ls
        .subscription("hydrate@example.com", user_id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (created.customer, created.plan, created.subscription)
}
