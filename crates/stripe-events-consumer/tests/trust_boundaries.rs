//! What the consumers do at the edges of what they can trust: v2 events that name no object,
//! times from the future, and a DynamoDB that accepts connections but never answers or cuts
//! its answer short. In process: `MemoryStore` for the logic, the production `DynamoStore`
//! client against local TCP servers that misbehave for the waits (no local stack needed).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use stripe_events_consumer::{Consumer, ConsumerConfig, Outcome};
use stripe_events_core::hydrate::{Fetched, HydrateError, Hydrator};
use stripe_events_core::project::customer_pk;
use stripe_events_core::{Delivery, Family};
use stripe_events_store::testkit::sdk_config_for;
use stripe_events_store::{dynamodb_client, DynamoStore, MemoryStore, TableNames};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn fixture(rel: &str) -> Value {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture JSON")
}

/// A Stripe that must not be called: every call is counted and fails.
#[derive(Default)]
struct NoStripe {
    calls: AtomicU32,
}

impl Hydrator for NoStripe {
    async fn fetch(&self, _d: &Delivery, _deadline: Instant) -> Result<Fetched, HydrateError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(HydrateError::Permanent("no Stripe in this test".into()))
    }
}

fn consumer<S>(family: Family, store: S) -> Consumer<S, NoStripe> {
    Consumer {
        config: ConsumerConfig::new(family, TableNames::for_prefix("trust")),
        store,
        hydrator: NoStripe::default(),
    }
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(20)
}

fn sqs_batch(events: &[Value]) -> Value {
    let records: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(i, e)| json!({"messageId": format!("m{i}"), "body": e.to_string()}))
        .collect();
    json!({"Records": records})
}

#[tokio::test]
async fn v2_events_without_an_object_are_ignored_not_failed() {
    let ping = fixture("ignored/v2-event-destination-ping.json");
    let meter = fixture("ignored/thin-meter-error-report-triggered.json");
    for family in Family::CONSUMERS {
        let c = consumer(family, MemoryStore::new());
        for event in [&ping, &meter] {
            let report = c.handle(event.clone(), soon()).await;
            assert_eq!(report.records[0].outcome, Outcome::Ignored, "{family}");
            assert!(report.response().is_ok(), "not retried");
        }
        // In an SQS batch they are acknowledged: not in batchItemFailures, so not in the DLQ.
        let report = c
            .handle(sqs_batch(&[ping.clone(), meter.clone()]), soon())
            .await;
        assert_eq!(
            report.response().expect("an SQS answer"),
            json!({"batchItemFailures": []}),
            "{family}"
        );
        assert_eq!(c.store.state_len(), 0);
        assert_eq!(c.hydrator.calls.load(Ordering::SeqCst), 0);
    }
    // A family's own thin event without its object is still refused, and reaches the DLQ.
    let broken = fixture("invalid/thin-without-related-object.json");
    let c = consumer(Family::Subscription, MemoryStore::new());
    let report = c.handle(sqs_batch(&[broken]), soon()).await;
    assert_eq!(report.records[0].outcome, Outcome::FailedPermanent);
    assert_eq!(
        report.response().expect("an SQS answer"),
        json!({"batchItemFailures": [{"itemIdentifier": "m0"}]})
    );
}

/// The subscription-updated fixture with its event `created` set to `created`.
fn subscription_updated_at(created: Value, event_id: &str) -> Value {
    let mut event = fixture("partner-snapshot/subscription-updated.json");
    event["detail"]["created"] = created;
    event["detail"]["id"] = json!(event_id);
    event
}

#[tokio::test]
async fn an_event_from_the_future_is_refused_and_the_next_real_event_applies() {
    let real = fixture("partner-snapshot/subscription-updated.json");
    let object = &real["detail"]["data"]["object"];
    let pk = customer_pk(object["customer"].as_str().expect("customer id"));
    let sk = format!("SUBSCRIPTION#{}", object["id"].as_str().expect("id"));
    // Year 2126, and the largest integer JSON can carry into an i64.
    for (created, id) in [
        (json!(4_929_000_000_i64), "evt_from_2126"),
        (json!(i64::MAX), "evt_from_i64_max"),
    ] {
        let c = consumer(Family::Subscription, MemoryStore::new());
        let report = c
            .handle(subscription_updated_at(created.clone(), id), soon())
            .await;
        let record = &report.records[0];
        assert_eq!(record.outcome, Outcome::FailedPermanent, "{created}");
        assert!(
            record.detail.as_deref().unwrap_or("").contains("future"),
            "{record:?}"
        );
        assert!(report.response().is_ok(), "acknowledged, not retried");
        assert_eq!(c.store.state_item(&pk, &sk), None, "nothing written");
        assert_eq!(c.store.dedupe_record(&format!("subscription#{id}")), None);

        let report = c.handle(real.clone(), soon()).await;
        assert_eq!(report.records[0].outcome, Outcome::Applied, "{created}");
        let item = c
            .store
            .state_item(&pk, &sk)
            .expect("the real event's state");
        assert_eq!(item["status"], object["status"]);
    }
    // A small skew is a clock difference, not an impossibility.
    let c = consumer(Family::Subscription, MemoryStore::new());
    let near = stripe_events_core::Timestamp::now().unix_seconds() + 60;
    let report = c
        .handle(subscription_updated_at(json!(near), "evt_near"), soon())
        .await;
    assert_eq!(report.records[0].outcome, Outcome::Applied);
}

/// Accepts connections, reads what is sent, never answers.
async fn black_hole() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = vec![0u8; 65536];
            let _ = socket.read(&mut buf).await;
            held.push(socket);
        }
    });
    format!("http://{addr}")
}

/// Answers every request with the start of a 200 response, then closes the connection.
async fn cuts_mid_response() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let _ = socket.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n\
                            Content-Length: 4000\r\n\r\n{\"ItemCollectionMetrics\":";
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

/// The production store over an SDK config without timeouts of its own: only the
/// consumer's deadline can end the wait.
async fn store_at(endpoint: &str) -> DynamoStore {
    let client = dynamodb_client(&sdk_config_for(endpoint).await, None);
    DynamoStore::new(client, TableNames::for_prefix("trust"))
}

#[tokio::test]
async fn a_dynamodb_that_never_answers_fails_transiently_before_the_deadline() {
    let c = consumer(Family::Subscription, store_at(&black_hole().await).await);
    let started = Instant::now();
    let deadline = started + Duration::from_millis(1500);
    let report = c
        .handle(
            fixture("partner-snapshot/subscription-updated.json"),
            deadline,
        )
        .await;
    let took = started.elapsed();
    assert_eq!(report.records[0].outcome, Outcome::FailedTransient);
    assert!(report.response().is_err(), "an error: the platform retries");
    // Bounded by the deadline, not by the TCP connection (generous slack for a loaded CI).
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[tokio::test]
async fn a_response_cut_mid_body_fails_transiently() {
    let c = consumer(
        Family::Subscription,
        store_at(&cuts_mid_response().await).await,
    );
    let report = c
        .handle(
            fixture("partner-snapshot/subscription-updated.json"),
            Instant::now() + Duration::from_secs(20),
        )
        .await;
    assert_eq!(report.records[0].outcome, Outcome::FailedTransient);
    assert!(report.response().is_err());
}
