//! Billing-day burst, scaled down, with the real thing: the built subscription binary (several
//! processes on one Lambda Runtime API emulator, i.e. several concurrent execution
//! environments) hydrates thin events from localstripe through a local proxy that enforces a
//! Stripe-style rate limit (5 requests/s, sliding one-second window, `429` with
//! `Stripe-Should-Retry: true` beyond it). A retry loop stands in for Lambda's async queue /
//! EventBridge: an invocation that returns an error is delivered again. Shown: every event
//! applied exactly once in DynamoDB, none lost, 429s observed, and a total time close to
//! events / rate (the limiter, not the binary, sets the pace).
//!
//! `burst_small` (40 events, ≈ 8 s) runs in `make test`; `burst_local` (300 events, ≈ 60 s)
//! only through `make burst-local`. Both need the local stack (moto + localstripe).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use burst_sim::limiter::SlidingWindow;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use lambda_runtime_emulator::process::{FunctionCommand, Output};
use lambda_runtime_emulator::{Emulator, Outcome};
use serde_json::{json, Value};
use stripe_events_store::{dynamodb_client, DynamoStore};
use stripe_events_testkit::stack::{fresh_tables, local_endpoint, sdk_config_for};
use stripe_events_testkit::stripe::LocalStripe;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

const RATE: f64 = 5.0;
/// Execution environments (binary processes) and concurrent invokers: unsized on purpose, so
/// the offered load is several times the limit.
const CONCURRENCY: usize = 8;
/// Stand-in for Lambda's 1-2 min wait before retrying a failed async invocation, scaled down.
const REDELIVERY_DELAY: Duration = Duration::from_secs(1);
/// An event still failing after this many deliveries counts as lost (and fails the test).
const MAX_DELIVERIES: u32 = 50;

#[tokio::test]
async fn burst_small() {
    run_burst(40).await;
}

#[tokio::test]
#[ignore = "≈ 60 s: run with `make burst-local`"]
async fn burst_local() {
    run_burst(300).await;
}

/// A Stripe-style limiter in front of localstripe.
struct LimitingProxy {
    addr: SocketAddr,
    admitted: Arc<AtomicU64>,
    rejected: Arc<AtomicU64>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for LimitingProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn limiting_proxy(upstream: String, rate: f64) -> LimitingProxy {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind the proxy");
    let addr = listener.local_addr().expect("proxy address");
    let admitted = Arc::new(AtomicU64::new(0));
    let rejected = Arc::new(AtomicU64::new(0));
    let window = Arc::new(Mutex::new(SlidingWindow::per_second(rate)));
    let started = Instant::now();
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let (a, r) = (Arc::clone(&admitted), Arc::clone(&rejected));
    let server = tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (window, client, upstream, a, r) = (
                Arc::clone(&window),
                client.clone(),
                upstream.clone(),
                Arc::clone(&a),
                Arc::clone(&r),
            );
            connections.spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let (window, client, upstream, a, r) = (
                        Arc::clone(&window),
                        client.clone(),
                        upstream.clone(),
                        Arc::clone(&a),
                        Arc::clone(&r),
                    );
                    async move {
                        let now = started.elapsed().as_micros() as u64;
                        let admit = window.lock().expect("limiter lock").try_admit(now);
                        if !admit {
                            r.fetch_add(1, Ordering::Relaxed);
                            return Ok::<_, Infallible>(too_many_requests());
                        }
                        a.fetch_add(1, Ordering::Relaxed);
                        Ok(forward(&client, &upstream, req).await)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    LimitingProxy {
        addr,
        admitted,
        rejected,
        server,
    }
}

/// Stripe's rate-limit answer.
fn too_many_requests() -> Response<Full<Bytes>> {
    let body = json!({"error": {
        "type": "invalid_request_error",
        "code": "rate_limit",
        "message": "Too many requests hit the API too quickly.",
    }});
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    resp.headers_mut()
        .insert("stripe-should-retry", "true".parse().expect("header"));
    resp.headers_mut()
        .insert("content-type", "application/json".parse().expect("header"));
    resp
}

async fn forward(
    client: &Client<HttpConnector, Full<Bytes>>,
    upstream: &str,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let mut out = Request::builder()
        .method(req.method().clone())
        .uri(format!("{upstream}{path}"));
    for name in [
        "authorization",
        "stripe-version",
        "stripe-context",
        "accept",
    ] {
        if let Some(v) = req.headers().get(name) {
            out = out.header(name, v.clone());
        }
    }
    let failed = |e: String| {
        let mut resp = Response::new(Full::new(Bytes::from(e)));
        *resp.status_mut() = StatusCode::BAD_GATEWAY;
        resp
    };
    let Ok(out) = out.body(Full::new(Bytes::new())) else {
        return failed("cannot build the upstream request".into());
    };
    match client.request(out).await {
        Ok(resp) => {
            let status = resp.status();
            let ct = resp.headers().get("content-type").cloned();
            match resp.into_body().collect().await {
                Ok(body) => {
                    let mut r = Response::new(Full::new(body.to_bytes()));
                    *r.status_mut() = status;
                    if let Some(ct) = ct {
                        r.headers_mut().insert("content-type", ct);
                    }
                    r
                }
                Err(e) => failed(format!("upstream body: {e}")),
            }
        }
        Err(e) => failed(format!("upstream: {e}")),
    }
}

/// A partner-delivered v2 thin notification for a subscription.
fn thin_event(event_id: &str, sub_id: &str) -> Vec<u8> {
    json!({
        "version": "0",
        "id": format!("burst-{event_id}"),
        "detail-type": "v1.customer.subscription.updated",
        "source": "aws.partner/stripe.com/ed_test_61BurstLocalThinDestination00000000",
        "account": "313476888312",
        "time": "2026-06-01T00:00:00Z",
        "region": "us-east-2",
        "resources": [],
        "detail": {
            "id": event_id,
            "object": "v2.core.event",
            "type": "v1.customer.subscription.updated",
            "created": "2026-06-01T00:00:00.000Z",
            "livemode": false,
            "context": null,
            "related_object": {
                "id": sub_id,
                "type": "subscription",
                "url": format!("/v1/subscriptions/{sub_id}"),
            },
        },
    })
    .to_string()
    .into_bytes()
}

struct Seeded {
    /// (event id, customer id, subscription id)
    events: Vec<(String, String, String)>,
}

/// `n` subscriptions in localstripe over a few customers, one thin event each.
async fn seed(n: usize) -> Seeded {
    let stripe = Arc::new(LocalStripe::from_env().unwrap_or_else(|e| panic!("{e}")));
    let product = stripe
        .post("/v1/products", &[("name", "Burst"), ("type", "service")])
        .await
        .expect("product");
    let plan = stripe
        .post(
            "/v1/plans",
            &[
                ("amount", "0"),
                ("currency", "usd"),
                ("interval", "month"),
                ("product", product["id"].as_str().expect("product id")),
            ],
        )
        .await
        .expect("plan");
    let plan_id = plan["id"].as_str().expect("plan id").to_owned();
    let mut customers = Vec::new();
    for i in 0..n.div_ceil(20) {
        let email = format!("burst{i}@example.com");
        let c = stripe
            .post("/v1/customers", &[("email", email.as_str())])
            .await
            .expect("customer");
        customers.push(c["id"].as_str().expect("customer id").to_owned());
    }
    let run = format!("{:x}", std::process::id());
    let mut events: Vec<Option<(String, String, String)>> = vec![None; n];
    let mut tasks = JoinSet::new();
    for i in 0..n {
        let (stripe, plan_id) = (Arc::clone(&stripe), plan_id.clone());
        let customer = customers[i % customers.len()].clone();
        let event_id = format!("evt_test_65burst{run}x{i:05}");
        tasks.spawn(async move {
            let sub = stripe
                .post(
                    "/v1/subscriptions",
                    &[
                        ("customer", customer.as_str()),
                        ("items[0][plan]", plan_id.as_str()),
                    ],
                )
                .await
                .expect("subscription");
            let sub_id = sub["id"].as_str().expect("subscription id").to_owned();
            (i, (event_id, customer, sub_id))
        });
        while tasks.len() >= 16 || (i + 1 == n && !tasks.is_empty()) {
            let Some(done) = tasks.join_next().await else {
                break;
            };
            let (i, e) = done.expect("seed task");
            events[i] = Some(e);
        }
    }
    Seeded {
        events: events.into_iter().flatten().collect(),
    }
}

async fn run_burst(n: usize) {
    let seeded = seed_all(n).await;
    let endpoint = local_endpoint().unwrap_or_else(|e| panic!("{e}"));
    let client = dynamodb_client(&sdk_config_for(&endpoint).await, None);
    let tables = fresh_tables(&client).await.expect("fresh tables in moto");
    let localstripe = std::env::var("STRIPE_API_BASE").expect("STRIPE_API_BASE (local stack)");
    let stripe_key = std::env::var("STRIPE_API_KEY").expect("STRIPE_API_KEY (local stack)");
    let proxy = limiting_proxy(localstripe.trim_end_matches('/').to_owned(), RATE).await;

    let emulator = Arc::new(Emulator::start().await.expect("runtime API emulator"));
    let command = FunctionCommand::new(
        env!("CARGO_BIN_EXE_subscription"),
        &emulator,
        "ai-nexus-dev-stripe-subscription",
    )
    .env("BILLING_TABLE", &tables.billing)
    .env("DEDUPE_TABLE", &tables.dedupe)
    .env("STRIPE_API_KEY", &stripe_key)
    .env("STRIPE_API_BASE", format!("http://{}", proxy.addr))
    .env("AWS_REGION", "us-east-2")
    .env("RUST_LOG", "warn")
    .env_remove("TABLE_PREFIX")
    .env_remove("STRIPE_API_KEY_SECRET_ARN")
    .output(Output::Null);
    let mut processes = Vec::new();
    for _ in 0..CONCURRENCY {
        processes.push(command.spawn().expect("spawn the binary"));
    }
    emulator
        .wait_first_next(Duration::from_secs(30))
        .await
        .expect("the binaries start");
    // Let every process reach its first `next`.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let payloads: Arc<Vec<Vec<u8>>> = Arc::new(
        seeded
            .events
            .iter()
            .map(|(evt, _, sub)| thin_event(evt, sub))
            .collect(),
    );
    let queue: Arc<Mutex<VecDeque<usize>>> = Arc::new(Mutex::new((0..n).collect()));
    let deliveries: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let applied: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let duplicates = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let lost = Arc::new(AtomicU64::new(0));
    let unresolved = Arc::new(AtomicUsize::new(n));

    let started = Instant::now();
    let mut invokers = JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (emulator, payloads, queue, deliveries, applied) = (
            Arc::clone(&emulator),
            Arc::clone(&payloads),
            Arc::clone(&queue),
            Arc::clone(&deliveries),
            Arc::clone(&applied),
        );
        let (duplicates, errors, lost, unresolved) = (
            Arc::clone(&duplicates),
            Arc::clone(&errors),
            Arc::clone(&lost),
            Arc::clone(&unresolved),
        );
        invokers.spawn(async move {
            while unresolved.load(Ordering::SeqCst) > 0 {
                let next = queue.lock().expect("queue lock").pop_front();
                let Some(i) = next else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let n_delivery = deliveries[i].fetch_add(1, Ordering::SeqCst) + 1;
                let result = emulator
                    .invoke(payloads[i].clone(), Duration::from_secs(60))
                    .await
                    .expect("an answer from the function");
                match result.outcome {
                    Outcome::Response(body) => {
                        let v: Value = serde_json::from_slice(&body).expect("JSON response");
                        if v == json!({"outcomes": {"applied": 1}}) {
                            applied[i].fetch_add(1, Ordering::SeqCst);
                        } else if v == json!({"outcomes": {"duplicate": 1}}) {
                            duplicates.fetch_add(1, Ordering::SeqCst);
                        } else {
                            panic!("event {i}: unexpected answer {v}");
                        }
                        unresolved.fetch_sub(1, Ordering::SeqCst);
                    }
                    Outcome::Error(_) => {
                        errors.fetch_add(1, Ordering::SeqCst);
                        if u32::try_from(n_delivery).unwrap_or(u32::MAX) >= MAX_DELIVERIES {
                            lost.fetch_add(1, Ordering::SeqCst);
                            unresolved.fetch_sub(1, Ordering::SeqCst);
                            continue;
                        }
                        let queue = Arc::clone(&queue);
                        tokio::spawn(async move {
                            tokio::time::sleep(REDELIVERY_DELAY).await;
                            queue.lock().expect("queue lock").push_back(i);
                        });
                    }
                }
            }
        });
    }
    while let Some(done) = invokers.join_next().await {
        done.expect("invoker");
    }
    let elapsed = started.elapsed().as_secs_f64();
    for mut p in processes {
        let _ = p.kill().await;
    }

    let admitted = proxy.admitted.load(Ordering::SeqCst);
    let rejected = proxy.rejected.load(Ordering::SeqCst);
    let errors = errors.load(Ordering::SeqCst);
    let lost = lost.load(Ordering::SeqCst);
    let duplicates = duplicates.load(Ordering::SeqCst);
    let max_deliveries = deliveries
        .iter()
        .map(|d| d.load(Ordering::SeqCst))
        .max()
        .unwrap_or(0);
    let ideal = n as f64 / RATE;
    println!(
        "burst: {n} thin events, {CONCURRENCY} concurrent invokers, Stripe limited to {RATE}/s: \
         {elapsed:.1} s (events / rate = {ideal:.1} s); Stripe requests {} ({admitted} admitted, \
         {rejected} answered 429); invocations {}, of them {errors} errors re-delivered \
         (at most {max_deliveries} deliveries of one event); applied {}, duplicates {duplicates}, \
         lost {lost}",
        admitted + rejected,
        deliveries
            .iter()
            .map(|d| d.load(Ordering::SeqCst))
            .sum::<u64>(),
        applied
            .iter()
            .map(|a| a.load(Ordering::SeqCst))
            .sum::<u64>(),
    );

    assert_eq!(lost, 0, "no event lost");
    for (i, a) in applied.iter().enumerate() {
        assert_eq!(
            a.load(Ordering::SeqCst),
            1,
            "event {i} applied exactly once"
        );
    }
    assert_eq!(duplicates, 0);
    assert!(rejected > 0, "the burst met 429s");
    assert!(errors > 0, "some invocations ran out of hydrator retries");
    assert_eq!(admitted, n as u64, "one admitted Stripe GET per event");
    // A sliding one-second window admits `RATE` at once, then `RATE` per second.
    let floor = (n as f64 - RATE) / RATE;
    assert!(
        elapsed >= floor,
        "{elapsed:.1} s < {floor:.1} s: the limiter leaked"
    );
    assert!(
        elapsed <= 1.5 * ideal + 5.0,
        "{elapsed:.1} s: far slower than events / rate ({ideal:.1} s)"
    );

    // DynamoDB: each subscription carries its event; each event has one dedupe record.
    let store = DynamoStore::new(client, tables);
    for (evt, customer, sub) in &seeded.events {
        let item = store
            .state_item(
                &format!("CUSTOMER#{customer}"),
                &format!("SUBSCRIPTION#{sub}"),
            )
            .await
            .expect("read state")
            .unwrap_or_else(|| panic!("{sub} written"));
        assert_eq!(item["last_event_id"], json!(evt), "{sub}");
    }
    let records = store.dedupe_records().await.expect("scan dedupe");
    assert_eq!(
        records.len(),
        n,
        "fresh tables: one dedupe record per event"
    );
    for (evt, _, _) in &seeded.events {
        let mine = records
            .iter()
            .filter(|r| {
                r.values()
                    .any(|v| v.as_str().is_some_and(|s| s.contains(evt.as_str())))
            })
            .count();
        assert_eq!(mine, 1, "{evt}: one dedupe record");
    }
}

async fn seed_all(n: usize) -> Seeded {
    let seeded = seed(n).await;
    assert_eq!(seeded.events.len(), n, "every subscription created");
    seeded
}
