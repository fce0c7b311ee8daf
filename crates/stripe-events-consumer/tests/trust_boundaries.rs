//! What the consumers do at the edges of what they can trust: v2 events that name no object,
//! times from the future, and a DynamoDB that accepts connections but never answers or cuts
//! its answer short. In process: `MemoryStore` for the logic, the production `DynamoStore`
//! client against local TCP servers that misbehave for the waits (no local stack needed).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use stripe_events_consumer::runtime::Reply;
use stripe_events_consumer::{Consumer, ConsumerConfig, Outcome};
use stripe_events_core::hydrate::{Fetched, HydrateError, Hydrator};
use stripe_events_core::project::customer_pk;
use stripe_events_core::{Delivery, Family};
use stripe_events_store::{
    dynamodb_client, Commit, CommitOutcome, DeliveryAudit, DynamoStore, EventStore, MemoryStore,
    Prior, StoreError, TableNames,
};
use stripe_events_testkit::fixtures::fixture;
use stripe_events_testkit::stack::{black_hole, sdk_config_for};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A Stripe that must not be called: every call is counted and fails.
#[derive(Default)]
struct NoStripe {
    calls: AtomicU32,
}

impl Hydrator for NoStripe {
    async fn fetch(&self, _d: &Delivery<'_>, _deadline: Instant) -> Result<Fetched, HydrateError> {
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
async fn a_thin_upcoming_invoice_names_no_object_and_is_ignored() {
    let upcoming = json!({"id": "evt_thin_upcoming", "object": "v2.core.event",
                          "type": "v1.invoice.upcoming", "created": "2026-03-07T18:27:56.000Z",
                          "livemode": false, "context": null});
    let c = consumer(Family::Payment, MemoryStore::new());
    let report = c.handle(upcoming.clone(), soon()).await;
    assert_eq!(report.records[0].outcome, Outcome::Ignored);
    let report = c.handle(sqs_batch(&[upcoming]), soon()).await;
    assert_eq!(
        report.response().expect("an SQS answer"),
        json!({"batchItemFailures": []})
    );
    assert_eq!(c.hydrator.calls.load(Ordering::SeqCst), 0);
    // Another payment event without its object is still unusable.
    let paid = json!({"id": "evt_thin_paid", "object": "v2.core.event",
                      "type": "v1.invoice.paid", "created": "2026-03-07T18:27:56.000Z"});
    let report = c.handle(paid, soon()).await;
    assert_eq!(report.records[0].outcome, Outcome::FailedPermanent);
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

/// A local server writing `response` to every request, then closing the connection.
async fn answers_every_request_with(response: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let response = response.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let _ = socket.read(&mut buf).await;
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

/// Answers every request with the start of a 200 response, then closes the connection.
async fn cuts_mid_response() -> String {
    answers_every_request_with(
        "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n\
         Content-Length: 4000\r\n\r\n{\"ItemCollectionMetrics\":"
            .to_owned(),
    )
    .await
}

/// Answers every request as DynamoDB cancels a transaction, with the given reason for its
/// second item (the state write; the first is the dedupe record).
async fn cancels_with(reason: &str) -> String {
    let body = format!(
        r#"{{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","message":"Transaction cancelled, please refer cancellation reasons for specific reasons [None, {reason}]","CancellationReasons":[{{"Code":"None"}},{{"Code":"{reason}","Message":"from the test"}}]}}"#
    );
    answers_every_request_with(format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ))
    .await
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

/// Serves one fixed body for every fetch.
struct Answers(Vec<u8>);

impl Answers {
    fn json(object: Value) -> Self {
        Answers(object.to_string().into_bytes())
    }
}

impl Hydrator for Answers {
    async fn fetch(&self, _d: &Delivery<'_>, _deadline: Instant) -> Result<Fetched, HydrateError> {
        Ok(Fetched {
            body: self.0.clone(),
            fetched_at: stripe_events_core::Timestamp::now(),
        })
    }
}

fn thin_subscription(related: Value) -> Value {
    json!({"id": "evt_thin_mismatch", "object": "v2.core.event",
           "type": "v1.customer.subscription.updated", "created": "2026-03-07T18:27:56.000Z",
           "livemode": false, "context": null, "related_object": related})
}

#[tokio::test]
async fn an_object_that_is_not_the_one_the_event_names_is_never_written() {
    let subscription =
        fixture("partner-snapshot/subscription-updated.json")["detail"]["data"]["object"].clone();
    let customer =
        fixture("partner-snapshot/customer-updated.json")["detail"]["data"]["object"].clone();
    let sub_id = subscription["id"].as_str().expect("id").to_owned();
    let reference = json!({"id": sub_id, "type": "subscription",
                           "url": format!("/v1/subscriptions/{sub_id}")});
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "snapshot subscription event carrying a customer",
            {
                let mut e = fixture("partner-snapshot/subscription-updated.json");
                e["detail"]["data"]["object"] = customer.clone();
                e
            },
            subscription.clone(),
        ),
        (
            "thin subscription event whose url points at a customer",
            thin_subscription(json!({"id": sub_id, "type": "subscription",
                                     "url": "/v1/customers/cus_NffrFeUfNV2Hib"})),
            customer.clone(),
        ),
        (
            "thin subscription event naming a customer",
            thin_subscription(json!({"id": "cus_NffrFeUfNV2Hib", "type": "customer",
                                     "url": "/v1/customers/cus_NffrFeUfNV2Hib"})),
            customer.clone(),
        ),
        (
            "Stripe answers with another subscription",
            thin_subscription(reference.clone()),
            {
                let mut other = subscription.clone();
                other["id"] = json!("sub_someone_else");
                other
            },
        ),
        (
            "Stripe answers with a customer",
            thin_subscription(reference.clone()),
            customer.clone(),
        ),
    ];
    for (name, event, served) in cases {
        let c = Consumer {
            config: ConsumerConfig::new(Family::Subscription, TableNames::for_prefix("trust")),
            store: MemoryStore::new(),
            hydrator: Answers::json(served),
        };
        let report = c.handle(event, soon()).await;
        assert_eq!(
            report.records[0].outcome,
            Outcome::FailedPermanent,
            "{name}"
        );
        assert_eq!(c.store.state_len(), 0, "{name}: nothing written");
    }
    // The matching answer is applied, so the checks above are what refused the others.
    let c = Consumer {
        config: ConsumerConfig::new(Family::Subscription, TableNames::for_prefix("trust")),
        store: MemoryStore::new(),
        hydrator: Answers::json(subscription),
    };
    let report = c.handle(thin_subscription(reference), soon()).await;
    assert_eq!(report.records[0].outcome, Outcome::Applied);
}

#[tokio::test]
async fn payloads_serde_rejects_are_acknowledged_not_runtime_errors() {
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let inputs: [(&str, Vec<u8>); 5] = [
        (
            "NaN",
            br#"{"detail": NaN, "source": "stripe.webhook"}"#.to_vec(),
        ),
        (
            "1e400",
            br#"{"source": "stripe.webhook", "detail": {"created": 1e400}}"#.to_vec(),
        ),
        ("nesting over 128", deep.into_bytes()),
        (
            "invalid UTF-8",
            b"{\"source\": \"stripe.\xff\xfe\", \"detail\": {}}".to_vec(),
        ),
        (
            "truncated",
            br#"{"source": "stripe.webhook", "detail": {"id""#.to_vec(),
        ),
    ];
    let c = consumer(Family::Payment, MemoryStore::new());
    for (name, bytes) in inputs {
        // What the Lambdas run on the invocation body, before lambda_runtime deserializes
        // anything (`runtime::HandleBody`); the runtime then reads only the reply.
        let reply = c.answer(&bytes, soon()).await.reply;
        let read_back: Reply = serde_json::from_slice(&reply.to_body())
            .unwrap_or_else(|e| panic!("{name}: the runtime could not read the reply: {e}"));
        assert_eq!(read_back, reply, "{name}");
        let Reply::Answer(answer) = reply else {
            panic!("{name}: acknowledged, not retried: {reply:?}")
        };
        assert_eq!(
            answer["outcomes"]["failed_permanent"], 1,
            "{name}: {answer}"
        );
        assert_eq!(
            answer["outcomes"].as_object().map(|o| o.len()),
            Some(1),
            "{name}"
        );
    }
}

/// A `MemoryStore` whose commits take a while, recording how many run at once.
struct SlowStore {
    inner: MemoryStore,
    in_flight: AtomicU32,
    most_at_once: AtomicU32,
}

impl EventStore for SlowStore {
    async fn record_delivery(&self, audit: &DeliveryAudit) -> Result<Prior, StoreError> {
        self.inner.record_delivery(audit).await
    }

    async fn record_failure(&self, audit: &DeliveryAudit) -> Result<(), StoreError> {
        self.inner.record_failure(audit).await
    }

    async fn commit(&self, commit: &Commit<'_>) -> Result<CommitOutcome, StoreError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_at_once.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let outcome = self.inner.commit(commit).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        outcome
    }

    async fn locate(
        &self,
        object_id: &str,
        sk: Option<&str>,
    ) -> Result<Option<(String, String)>, StoreError> {
        self.inner.locate(object_id, sk).await
    }
}

#[tokio::test]
async fn the_records_of_an_sqs_batch_are_processed_concurrently_in_order() {
    let batch = fixture("sqs/batch-10.json");
    let slow = || SlowStore {
        inner: MemoryStore::new(),
        in_flight: AtomicU32::new(0),
        most_at_once: AtomicU32::new(0),
    };
    let mut c = consumer(Family::Subscription, slow());
    let report = c.handle(batch.clone(), soon()).await;
    let records = batch["Records"].as_array().expect("records");
    assert_eq!(report.records.len(), records.len());
    // Reports stay in batch order whatever order the records finished in.
    for (report, record) in report.records.iter().zip(records) {
        assert_eq!(
            report.sqs_message_id.as_ref(),
            record["messageId"].as_str().map(String::from).as_ref()
        );
    }
    let applied = report
        .records
        .iter()
        .filter(|r| r.outcome == Outcome::Applied)
        .count();
    assert!(applied >= 2, "{:?}", report.counts());
    // Every record that commits does so alongside the others, not after them.
    let most = c.store.most_at_once.load(Ordering::SeqCst);
    assert!(most > 1, "at most {most} commit at once");

    // Bounded: one at a time when so configured.
    c.store = slow();
    c.config.record_concurrency = 1;
    c.handle(batch, soon()).await;
    assert_eq!(c.store.most_at_once.load(Ordering::SeqCst), 1);
}

/// A subscription consumer on the in-memory store, fed raw bytes (a `Value` cannot hold a
/// key twice), with Stripe answering `served`.
async fn answer_raw(family: Family, input: &str, served: &str) -> (Outcome, MemoryStore) {
    let c = Consumer {
        config: ConsumerConfig::new(family, TableNames::for_prefix("trust")),
        store: MemoryStore::new(),
        hydrator: Answers(served.as_bytes().to_vec()),
    };
    let report = c.handle(input.as_bytes(), soon()).await;
    (report.records[0].outcome, c.store)
}

#[tokio::test]
async fn an_object_with_two_object_keys_is_refused_whichever_comes_first() {
    let customer_then_subscription = r#"{"id":"cus_victim","object":"customer","email":"attacker@example.com","metadata":{"user_id":"user_evil"},"object":"subscription"}"#;
    let subscription_then_customer = r#"{"id":"sub_victim","object":"subscription","status":"active","customer":"cus_1","object":"customer"}"#;
    let bare = |type_: &str, object: &str| {
        format!(
            r#"{{"id":"evt_two_objects","object":"event","type":"{type_}","created":1773167276,"data":{{"object":{object}}}}}"#
        )
    };
    let partner = |type_: &str, object: &str| {
        format!(
            r#"{{"id":"env_1","detail-type":"{type_}","source":"aws.partner/stripe.com/ed_test_1","detail":{}}}"#,
            bare(type_, object)
        )
    };
    let cases = [
        (
            Family::Subscription,
            bare("customer.subscription.updated", customer_then_subscription),
        ),
        (
            Family::Subscription,
            partner("customer.subscription.updated", customer_then_subscription),
        ),
        (
            Family::Customer,
            bare("customer.updated", subscription_then_customer),
        ),
        (
            Family::Customer,
            partner("customer.updated", subscription_then_customer),
        ),
        // The key read twice is refused too, not only `object`.
        (
            Family::Subscription,
            bare(
                "customer.subscription.updated",
                r#"{"id":"sub_1","id":"sub_2","object":"subscription","status":"active","customer":"cus_1"}"#,
            ),
        ),
    ];
    for (family, input) in cases {
        let (outcome, store) = answer_raw(family, &input, "{}").await;
        assert_eq!(outcome, Outcome::FailedPermanent, "{input}");
        assert_eq!(store.state_len(), 0, "nothing written: {input}");
    }
    // A fetched object with two `object` keys is refused as well.
    let thin = thin_subscription(json!({"id": "sub_victim", "type": "subscription",
                                        "url": "/v1/subscriptions/sub_victim"}));
    let (outcome, store) = answer_raw(
        Family::Subscription,
        &thin.to_string(),
        subscription_then_customer,
    )
    .await;
    assert_eq!(outcome, Outcome::FailedPermanent);
    assert_eq!(store.state_len(), 0);
    // An answer that is not a JSON object (a middlebox's `"OK"`, a list) may differ next
    // time: transient, not permanent.
    for not_an_object in [r#""OK""#, "[]", "null"] {
        let (outcome, store) =
            answer_raw(Family::Subscription, &thin.to_string(), not_an_object).await;
        assert_eq!(outcome, Outcome::FailedTransient, "{not_an_object}");
        assert_eq!(store.state_len(), 0);
    }
    // The same object with one `object` key applies: the duplicate is what was refused.
    let one_key =
        r#"{"id":"sub_victim","object":"subscription","status":"active","customer":"cus_1"}"#;
    let (outcome, _) = answer_raw(Family::Subscription, &thin.to_string(), one_key).await;
    assert_eq!(outcome, Outcome::Applied);
}

#[tokio::test]
async fn thin_fields_of_the_wrong_type_are_refused_and_an_empty_snapshot_event_is_none() {
    let sub = "/v1/subscriptions/sub_victim";
    let served =
        r#"{"id":"sub_victim","object":"subscription","status":"active","customer":"cus_1"}"#;
    let thin_with = |extra: Value| {
        let mut e =
            thin_subscription(json!({"id": "sub_victim", "type": "subscription", "url": sub}));
        for (k, v) in extra.as_object().expect("fields") {
            e[k] = v.clone();
        }
        e
    };
    for bad in [
        json!({"related_object": {"id": "sub_victim", "type": "subscription", "url": 5}}),
        json!({"related_object": {"id": "sub_victim", "type": "subscription", "url": {}}}),
        json!({"context": 7}),
        json!({"snapshot_event": ["evt_1"]}),
    ] {
        let (outcome, store) = answer_raw(
            Family::Subscription,
            &thin_with(bad.clone()).to_string(),
            served,
        )
        .await;
        assert_eq!(outcome, Outcome::FailedPermanent, "{bad}");
        assert_eq!(store.state_len(), 0, "{bad}");
    }
    // Two different thin events with an empty `snapshot_event` are two events, not one.
    let c = Consumer {
        config: ConsumerConfig::new(Family::Subscription, TableNames::for_prefix("trust")),
        store: MemoryStore::new(),
        hydrator: Answers(served.as_bytes().to_vec()),
    };
    let mut first = thin_with(json!({"snapshot_event": ""}));
    first["id"] = json!("evt_thin_a");
    let mut second = first.clone();
    second["id"] = json!("evt_thin_b");
    second["created"] = json!("2026-03-07T18:27:57.000Z");
    for event in [first, second] {
        let report = c.handle(event, soon()).await;
        assert_eq!(report.records[0].outcome, Outcome::Applied);
    }
}

#[tokio::test]
async fn an_sqs_batch_is_never_acknowledged_for_a_record_it_cannot_name() {
    let good = fixture("partner-snapshot/subscription-updated.json").to_string();
    let c = consumer(Family::Subscription, MemoryStore::new());
    let batches = [
        // A record without a message id (or with one that is not a string).
        json!({"Records": [{"messageId": "m0", "body": good}, {"body": "{not json"}]}),
        json!({"Records": [{"messageId": "m0", "body": good}, {"messageId": 7, "body": good}]}),
        json!({"Records": [{"messageId": "m0", "body": good}, 5]}),
        json!({"Records": "not a list"}),
    ];
    for batch in batches {
        let answer = c
            .handle(batch.clone(), soon())
            .await
            .response()
            .expect("answered");
        let failures = answer["batchItemFailures"]
            .as_array()
            .expect("a batch answer");
        // Lambda fails the whole batch on an empty itemIdentifier: nothing is deleted.
        assert!(
            failures.contains(&json!({"itemIdentifier": ""})),
            "{batch}: {answer}"
        );
    }
    // A batch that cannot be read at all is still answered as a batch that failed whole.
    for bytes in [
        format!(
            r#"{{"Records": [{{"messageId": "m0", "body": {}}}"#,
            serde_json::to_string(&good).expect("json")
        ),
        r#"{"Records": [{"messageId": "m0", "body": "\ud800"}]}"#.to_owned(),
    ] {
        let answer = c
            .handle(bytes.as_bytes(), soon())
            .await
            .response()
            .expect("answered");
        assert_eq!(
            answer,
            json!({"batchItemFailures": [{"itemIdentifier": ""}]}),
            "{bytes}"
        );
    }
    // Records that can be named are listed by their ids only.
    let answer = c
        .handle(
            json!({"Records": [{"messageId": "m1", "body": "{not json"}]}),
            soon(),
        )
        .await
        .response()
        .expect("answered");
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": "m1"}]})
    );
}

#[tokio::test]
async fn an_envelope_with_a_bad_source_is_refused_and_named_by_its_ids() {
    let mut e = fixture("partner-snapshot/subscription-updated.json");
    let event_id = e["detail"]["id"].as_str().expect("id").to_owned();
    let c = consumer(Family::Subscription, MemoryStore::new());
    let event_type = e["detail"]["type"].as_str().expect("type").to_owned();
    for source in [
        json!(5),
        json!(["aws.partner/stripe.com/ed_1"]),
        json!("aws.partner/stripe.com/"),
        json!("my.app"),
    ] {
        e["source"] = source.clone();
        let report = c.handle(e.clone(), soon()).await;
        assert_eq!(
            report.records[0].outcome,
            Outcome::FailedPermanent,
            "{source}"
        );
        assert_eq!(
            report.records[0].event_id.as_deref(),
            Some(event_id.as_str()),
            "{source}"
        );
        // The log line and the report name the event's type too.
        assert_eq!(
            report.records[0].event_type.as_deref(),
            Some(event_type.as_str()),
            "{source}"
        );
    }
    // A known source with a bad event: its type and path are named.
    let mut bad = fixture("partner-snapshot/subscription-updated.json");
    bad["detail"]["created"] = json!("yesterday");
    let report = c.handle(bad, soon()).await;
    assert_eq!(report.records[0].outcome, Outcome::FailedPermanent);
    assert_eq!(
        report.records[0].event_type.as_deref(),
        Some(event_type.as_str())
    );
    assert_eq!(c.store.state_len(), 0);
    // Without `source`, the ids are still reported.
    e.as_object_mut().expect("object").remove("source");
    let report = c.handle(e, soon()).await;
    assert_eq!(report.records[0].outcome, Outcome::FailedPermanent);
    assert_eq!(
        report.records[0].event_id.as_deref(),
        Some(event_id.as_str())
    );
}

#[tokio::test]
async fn a_transaction_dynamodb_refuses_as_invalid_is_not_retried_but_throttling_is() {
    for (reason, expected) in [
        ("ValidationError", Outcome::FailedPermanent),
        ("ThrottlingError", Outcome::FailedTransient),
    ] {
        let c = consumer(
            Family::Subscription,
            store_at(&cancels_with(reason).await).await,
        );
        let report = c
            .handle(
                fixture("partner-snapshot/subscription-updated.json"),
                soon(),
            )
            .await;
        assert_eq!(report.records[0].outcome, expected, "{reason}");
        assert_eq!(
            report.response().is_err(),
            expected == Outcome::FailedTransient
        );
    }
}

#[tokio::test]
async fn a_deployment_for_one_mode_never_applies_events_of_the_other() {
    let test_event = fixture("partner-snapshot/subscription-updated.json");
    assert_eq!(test_event["detail"]["livemode"], false);
    let mut live_event = test_event.clone();
    live_event["detail"]["livemode"] = json!(true);
    live_event["detail"]["id"] = json!("evt_live_mode_1");

    let mut live = consumer(Family::Subscription, MemoryStore::new());
    live.config.livemode = Some(true);
    let report = live.handle(test_event.clone(), soon()).await;
    assert_eq!(report.records[0].outcome, Outcome::FailedPermanent);
    let detail = report.records[0].detail.as_deref().unwrap_or_default();
    assert!(detail.contains("test-mode event"), "{detail}");
    assert_eq!(live.store.state_len(), 0, "nothing written");
    let report = live.handle(live_event.clone(), soon()).await;
    assert_eq!(report.records[0].outcome, Outcome::Applied);

    // Not set: both modes apply, as before.
    let any = consumer(Family::Subscription, MemoryStore::new());
    for event in [test_event, live_event] {
        let report = any.handle(event, soon()).await;
        assert_eq!(report.records[0].outcome, Outcome::Applied);
    }
}
