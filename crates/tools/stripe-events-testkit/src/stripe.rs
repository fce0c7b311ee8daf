//! Stripe stand-ins: [`FixtureStripe`] (in memory, the fixtures' objects), [`FakeStripe`] (a
//! scripted HTTP server on 127.0.0.1), [`LocalStripe`] (a client of the local stack's
//! localstripe), and a real [`StripeHydrator`] with retries fast enough for tests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use stripe_events_core::hydrate::{Fetched, HydrateError, Hydrator};
use stripe_events_core::{Delivery, Timestamp};
use stripe_events_stripe::{ApiKey, RetryPolicy, StripeConfig, StripeHydrator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::fixtures::{fixture_files, load_path};

/// A [`Hydrator`] serving objects from memory by id: the snapshot fixtures' objects
/// ([`FixtureStripe::from_snapshots`]) or given ones ([`FixtureStripe::serving`]). Each object
/// is kept as JSON bytes and parsed by the pipeline per fetch, like a Stripe response body; the
/// network is what it leaves out. Fails transiently for ids listed in `unavailable`; counts
/// calls.
#[derive(Default)]
pub struct FixtureStripe {
    pub objects: Arc<HashMap<String, Vec<u8>>>,
    pub unavailable: Vec<String>,
    pub calls: AtomicU32,
    /// The instant every answer is given at (else now): pins a fetch's version.
    pub answers_at: Option<Timestamp>,
}

impl FixtureStripe {
    /// Stripe serves an object as it is now: the newest snapshot of each id in
    /// `partner-snapshot/` and `old-api/` (the rule `fixtures/generate.py` hydrates by).
    pub fn from_snapshots() -> Self {
        let mut objects = HashMap::new();
        let mut newest: HashMap<String, i64> = HashMap::new();
        for dir in ["partner-snapshot", "old-api"] {
            for path in fixture_files(dir) {
                let ev = load_path(&path);
                let object = &ev["detail"]["data"]["object"];
                let created = ev["detail"]["created"].as_i64().unwrap_or(0);
                if let Some(id) = object["id"].as_str() {
                    let newer = newest.get(id).is_none_or(|&seen| created > seen);
                    if newer {
                        newest.insert(id.to_owned(), created);
                        objects.insert(id.to_owned(), object.to_string().into_bytes());
                    }
                }
            }
        }
        FixtureStripe {
            objects: Arc::new(objects),
            ..Default::default()
        }
    }

    /// Serves exactly `objects` (id → object).
    pub fn serving(objects: impl IntoIterator<Item = (String, Value)>) -> Self {
        FixtureStripe {
            objects: Arc::new(
                objects
                    .into_iter()
                    .map(|(id, object)| (id, object.to_string().into_bytes()))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    /// The same objects, no call counted yet.
    pub fn fresh(&self) -> Self {
        FixtureStripe {
            objects: Arc::clone(&self.objects),
            unavailable: self.unavailable.clone(),
            calls: AtomicU32::new(0),
            answers_at: self.answers_at,
        }
    }

    /// Fetches so far.
    pub fn calls(&self) -> u64 {
        u64::from(self.calls.load(Ordering::SeqCst))
    }
}

impl Hydrator for FixtureStripe {
    async fn fetch(&self, d: &Delivery<'_>, _deadline: Instant) -> Result<Fetched, HydrateError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.unavailable.iter().any(|id| id == d.object_id()) {
            return Err(HydrateError::Transient("HTTP 503 from Stripe".into()));
        }
        match self.objects.get(d.object_id()) {
            Some(body) => Ok(Fetched {
                body: body.clone(),
                fetched_at: self.answers_at.unwrap_or_else(Timestamp::now),
            }),
            None => Err(HydrateError::NotFound(d.object_id().to_owned())),
        }
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
/// reply repeats), or by what each request holds ([`FakeStripe::responding`]), and recording
/// each request. One request per connection.
pub struct FakeStripe {
    pub base: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeStripe {
    pub async fn start(script: Vec<Reply>) -> Self {
        assert!(!script.is_empty());
        let next = AtomicUsize::new(0);
        Self::responding(move |_| {
            let i = next.fetch_add(1, Ordering::SeqCst).min(script.len() - 1);
            script[i].clone()
        })
        .await
    }

    /// Answers each request with `respond(request)`, e.g. by its `Authorization` header.
    pub async fn responding(respond: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let respond = Arc::new(respond);
        let recorded = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let respond = Arc::clone(&respond);
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
                    let request = Recorded {
                        method,
                        target,
                        headers,
                    };
                    let reply = respond(&request);
                    recorded.lock().unwrap().push(request);
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

/// A client creating objects in localstripe (form-encoded POSTs, like Stripe's v1 API), from
/// `STRIPE_API_BASE` and `STRIPE_API_KEY` as `infra/local/stack.sh` exports them.
pub struct LocalStripe {
    pub base: String,
    pub key: String,
    http: Client<HttpConnector, Full<Bytes>>,
}

/// Objects created by [`LocalStripe::subscription`].
pub struct LocalSubscription {
    pub customer: Value,
    pub plan: Value,
    pub subscription: Value,
}

impl LocalStripe {
    pub fn from_env() -> Result<Self, String> {
        let var = |k: &str| {
            std::env::var(k).map_err(|_| format!("{k} is not set: run under infra/local/stack.sh"))
        };
        Ok(LocalStripe {
            base: var("STRIPE_API_BASE")?.trim_end_matches('/').to_owned(),
            key: var("STRIPE_API_KEY")?,
            http: Client::builder(TokioExecutor::new()).build_http(),
        })
    }

    /// POSTs `form` to `path`; a non-2xx answer is an error with its body.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Result<Value, String> {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let request = hyper::Request::post(format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {}", self.key))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("POST {path}: {e}"))?;
        let response = self
            .http
            .request(request)
            .await
            .map_err(|e| format!("POST {path}: {e}"))?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("POST {path}: {e}"))?
            .to_bytes();
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|e| format!("POST {path}: not JSON ({e})"))?;
        if !status.is_success() {
            return Err(format!("POST {path}: {status} {value}"));
        }
        Ok(value)
    }

    /// A customer (`email`, `metadata.user_id`), a product, a free monthly plan and an active
    /// subscription to it (localstripe's 2017 shape: top-level `plan` and period).
    pub async fn subscription(
        &self,
        email: &str,
        user_id: &str,
    ) -> Result<LocalSubscription, String> {
        let customer = self
            .post(
                "/v1/customers",
                &[("email", email), ("metadata[user_id]", user_id)],
            )
            .await?;
        let product = self
            .post("/v1/products", &[("name", "Pro"), ("type", "service")])
            .await?;
        let plan = self
            .post(
                "/v1/plans",
                &[
                    ("amount", "0"),
                    ("currency", "usd"),
                    ("interval", "month"),
                    ("product", id_of(&product)?),
                ],
            )
            .await?;
        let subscription = self
            .post(
                "/v1/subscriptions",
                &[
                    ("customer", id_of(&customer)?),
                    ("items[0][plan]", id_of(&plan)?),
                ],
            )
            .await?;
        Ok(LocalSubscription {
            customer,
            plan,
            subscription,
        })
    }
}

fn id_of(object: &Value) -> Result<&str, String> {
    object["id"]
        .as_str()
        .ok_or_else(|| format!("localstripe answered without an id: {object}"))
}

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

/// Percent-encodes a form value (RFC 3986 unreserved characters pass), as the hydrator does.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn form_encoding() {
        assert_eq!(
            encode("customer.subscription.created"),
            "customer.subscription.created"
        );
        assert_eq!(encode("a b&c[]"), "a%20b%26c%5B%5D");
    }
}
