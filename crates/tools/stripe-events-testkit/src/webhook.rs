//! Webhook test helpers: Stripe's Python SDK as the independent signer and second verifier, a
//! Function URL request, a recording fake forwarder, and a moto bus built from `infra/rules`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use serde_json::{json, Value};
use stripe_events_core::rules::{RuleSet, RuleSource};
use stripe_events_core::Family;
use stripe_events_webhook::{
    ApiGatewayV2httpRequest, ApiGatewayV2httpResponse, BusEntry, ForwardError, Forwarder,
};

use crate::fixtures::repo_root;
use crate::stack::unique;

// ---------------------------------------------------------------------------------------
// Stripe's Python SDK (stripe==16.1.0 in .venv) as the signer and second verifier.

fn python() -> PathBuf {
    let p = repo_root().join(".venv/bin/python");
    assert!(
        p.exists(),
        "{} not found: run infra/local/venv.sh (it installs Stripe's Python SDK, which signs the test requests)",
        p.display()
    );
    p
}

/// What to sign: `payload` as the SDK receives it (a str), under `secret`, at `timestamp`.
pub struct SignRequest<'a> {
    pub payload: &'a str,
    pub secret: &'a str,
    pub timestamp: i64,
}

/// The SDK's answer for one request.
#[derive(Debug, Clone)]
pub struct Signed {
    /// `stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)`.
    pub header: String,
    /// `stripe.WebhookSignature._compute_signature(f"{t}.{payload}", secret)`.
    pub v1: String,
}

const PY_SIGN: &str = r#"
import json, sys
import stripe
reqs = json.load(sys.stdin)
out = []
for r in reqs:
    header = stripe.WebhookSignature.generate_signature_header(r["payload"], r["secret"], r["timestamp"])
    v1 = stripe.WebhookSignature._compute_signature("%d.%s" % (r["timestamp"], r["payload"]), r["secret"])
    out.append({"header": header, "v1": v1})
json.dump(out, sys.stdout)
"#;

const PY_VERIFY: &str = r#"
import json, sys, time
import stripe
reqs = json.load(sys.stdin)
out = []
for r in reqs:
    ok = False
    for secret in r["secrets"]:
        try:
            stripe.WebhookSignature.verify_header(r["payload"], r["header"], secret, r["tolerance"])
            ok = True
        except stripe.SignatureVerificationError:
            pass
    out.append(ok)
json.dump(out, sys.stdout)
"#;

fn run_python(script: &str, input: &Value) -> Value {
    let mut child = Command::new(python())
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the venv's python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("write to python");
    let out = child.wait_with_output().expect("python finished");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python printed JSON")
}

/// Signs every request with Stripe's Python SDK (one interpreter for the batch).
pub fn stripe_sdk_sign(requests: &[SignRequest<'_>]) -> Vec<Signed> {
    let input: Vec<Value> = requests
        .iter()
        .map(|r| json!({"payload": r.payload, "secret": r.secret, "timestamp": r.timestamp}))
        .collect();
    let out = run_python(PY_SIGN, &Value::Array(input));
    out.as_array()
        .expect("a list")
        .iter()
        .map(|v| Signed {
            header: v["header"].as_str().expect("header").to_owned(),
            v1: v["v1"].as_str().expect("v1").to_owned(),
        })
        .collect()
}

/// What `stripe.WebhookSignature.verify_header` says (accepted under any of `secrets`).
pub struct VerifyRequest<'a> {
    pub payload: &'a str,
    pub header: Option<&'a str>,
    pub secrets: &'a [&'a str],
    pub tolerance: i64,
}

pub fn stripe_sdk_verify(requests: &[VerifyRequest<'_>]) -> Vec<bool> {
    let input: Vec<Value> = requests
        .iter()
        .map(|r| json!({"payload": r.payload, "header": r.header, "secrets": r.secrets, "tolerance": r.tolerance}))
        .collect();
    let out = run_python(PY_VERIFY, &Value::Array(input));
    out.as_array()
        .expect("a list")
        .iter()
        .map(|v| v.as_bool().expect("bool"))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Requests and a fake forwarder.

/// An API Gateway HTTP API (payload 2.0) request as Lambda delivers it, as JSON: `POST
/// /stripe/webhook` on the `$default` stage.
pub fn http_api_json(body: &str, base64: bool, headers: &[(&str, &str)]) -> Value {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    json!({
        "version": "2.0",
        "routeKey": "POST /stripe/webhook",
        "rawPath": "/stripe/webhook",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {"stage": "$default",
                           "http": {"method": "POST", "path": "/stripe/webhook"}},
        "body": body,
        "isBase64Encoded": base64,
    })
}

/// JSON of the payload 2.0 shape read the way lambda_runtime reads it.
pub fn v2_request(json: Value) -> ApiGatewayV2httpRequest {
    serde_json::from_value(json).expect("a payload 2.0 request")
}

/// [`http_api_json`] as the handler's request type.
pub fn function_url_request(
    body: &str,
    base64: bool,
    headers: &[(&str, &str)],
) -> ApiGatewayV2httpRequest {
    v2_request(http_api_json(body, base64, headers))
}

/// The response's text body (all of the webhook's responses have one).
pub fn body_of(response: &ApiGatewayV2httpResponse) -> &str {
    stripe_events_webhook::http::body_text(response).expect("a text body")
}

/// Records entries; fails every put with `fail` when set.
#[derive(Default)]
pub struct FakeForwarder {
    pub entries: Mutex<Vec<BusEntry>>,
    pub fail: Option<ForwardError>,
}

impl Forwarder for FakeForwarder {
    async fn put(&self, entry: &BusEntry) -> Result<Option<String>, ForwardError> {
        if let Some(e) = &self.fail {
            return Err(e.clone());
        }
        let mut entries = self.entries.lock().expect("lock");
        entries.push(entry.clone());
        Ok(Some(format!("fake-{}", entries.len())))
    }
}

// ---------------------------------------------------------------------------------------
// A moto bus with the rules of infra/rules (the local stack, started by infra/local/stack.sh).

/// One rule from infra/rules on the test bus, with its own queue as the target.
pub struct RuleQueue {
    /// `webhook-payment`, `partner-customer`, …
    pub rule: String,
    pub source: RuleSource,
    pub family: Family,
    pub queue_url: String,
}

pub struct TestBus {
    pub name: String,
    pub rules: Vec<RuleQueue>,
}

/// A custom bus with the six rules built from `infra/rules` (Terraform's merge of source and
/// family files), each targeting its own SQS queue.
pub async fn create_bus_with_rules(
    eb: &aws_sdk_eventbridge::Client,
    sqs: &aws_sdk_sqs::Client,
) -> TestBus {
    let name = unique("wh-bus");
    eb.create_event_bus()
        .name(&name)
        .send()
        .await
        .expect("create bus in moto");
    let rules = RuleSet::load(&repo_root().join("infra/rules")).expect("load infra/rules");
    assert_eq!(rules.rules.len(), 6);
    let mut out = Vec::new();
    for rule in &rules.rules {
        let rule_name = format!("{name}-{}", rule.name);
        let queue_url = sqs
            .create_queue()
            .queue_name(&rule_name)
            .send()
            .await
            .expect("create queue")
            .queue_url()
            .expect("queue url")
            .to_owned();
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("queue attributes");
        let queue_arn = attrs
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .expect("QueueArn")
            .to_owned();
        eb.put_rule()
            .name(&rule_name)
            .event_bus_name(&name)
            .event_pattern(rule.pattern.to_string())
            .send()
            .await
            .expect("put rule");
        eb.put_targets()
            .rule(&rule_name)
            .event_bus_name(&name)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("queue")
                    .arn(queue_arn)
                    .build()
                    .expect("target"),
            )
            .send()
            .await
            .expect("put targets");
        out.push(RuleQueue {
            rule: rule.name.clone(),
            source: rule.source,
            family: rule.family,
            queue_url,
        });
    }
    TestBus { name, rules: out }
}

/// Drains a queue: every message body (parsed), deleting them. Waits up to `first_wait_s`
/// for the first message, then stops at the first empty receive.
pub async fn drain(sqs: &aws_sdk_sqs::Client, queue_url: &str, first_wait_s: i32) -> Vec<Value> {
    let mut bodies = Vec::new();
    let mut wait = first_wait_s;
    loop {
        let out = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait)
            .send()
            .await
            .expect("receive");
        let messages = out.messages();
        if messages.is_empty() {
            return bodies;
        }
        for m in messages {
            bodies.push(serde_json::from_str(m.body().expect("body")).expect("JSON body"));
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(m.receipt_handle().expect("receipt"))
                .send()
                .await
                .expect("delete");
        }
        wait = 0;
    }
}

/// Everything on the bus's queues: rule name → message bodies (EventBridge events). moto
/// routes to SQS inside the PutEvents call, so once the handler has answered 200 the
/// messages are there: `first_wait_s` 0 is enough.
pub async fn drain_all(
    sqs: &aws_sdk_sqs::Client,
    bus: &TestBus,
    first_wait_s: i32,
) -> BTreeMap<String, Vec<Value>> {
    let mut out = BTreeMap::new();
    for rq in &bus.rules {
        out.insert(
            rq.rule.clone(),
            drain(sqs, &rq.queue_url, first_wait_s).await,
        );
    }
    out
}
