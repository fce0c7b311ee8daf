//! `coldstart`: exec → first `next` of packaged binaries over many starts, then one process
//! serving N invocations (store: moto) and its peak RSS.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use lambda_runtime_emulator::process::{FunctionCommand, Output};
use lambda_runtime_emulator::{Emulator, EmulatorConfig, Outcome as Answer};
use serde_json::{json, Value};
use sha2::Sha256;
use stripe_events_bench::{median, quantile, uniquify, wire_bytes, wire_string};
use stripe_events_store::dynamodb_client;
use stripe_events_testkit::fixtures::fixture;
use stripe_events_testkit::stack::{fresh_tables, local_endpoint, sdk_config_for};

use crate::sys::{loadavg, wait_for_idle_cpu};

pub(crate) const WEBHOOK_SECRET: &str = "whsec_bench_0123456789abcdef";

/// What a function needs besides the Lambda variables, and how to make its N-th event.
struct Subject {
    env: Vec<(String, String)>,
    remove: Vec<&'static str>,
    event: Box<dyn Fn(u64) -> Vec<u8>>,
    /// The answer a healthy invocation gives, as a short label.
    classify: fn(&Value) -> String,
}

pub(crate) fn consumer_event(name: &str) -> &'static str {
    match name {
        "subscription" => "partner-snapshot/subscription-created.json",
        "payment" => "partner-snapshot/invoice-paid.json",
        "customer" => "partner-snapshot/customer-updated.json",
        other => panic!("unknown consumer {other}"),
    }
}

async fn subject(name: &str) -> Subject {
    let endpoint = local_endpoint().unwrap_or_else(|e| panic!("{e}"));
    let sdk = sdk_config_for(&endpoint).await;
    if name == "webhook" {
        let bus = format!("bench-{}-bus-{}", std::process::id(), crate::sys::unique());
        aws_sdk_eventbridge::Client::new(&sdk)
            .create_event_bus()
            .name(&bus)
            .send()
            .await
            .expect("create the webhook's bus in moto");
        let template = fixture("partner-snapshot/customer-updated.json")["detail"].clone();
        return Subject {
            env: vec![
                ("EVENT_BUS_NAME".into(), bus),
                ("STRIPE_WEBHOOK_SECRET".into(), WEBHOOK_SECRET.into()),
            ],
            remove: vec!["STRIPE_WEBHOOK_SECRET_ARN"],
            event: Box::new(move |n| {
                let mut event = template.clone();
                uniquify(&mut event, n);
                signed_request(&wire_string(&event))
            }),
            classify: classify_webhook,
        };
    }
    let client = dynamodb_client(&sdk, None);
    let tables = fresh_tables(&client).await.expect("fresh tables in moto");
    let template = fixture(consumer_event(name));
    Subject {
        env: vec![
            ("BILLING_TABLE".into(), tables.billing),
            ("DEDUPE_TABLE".into(), tables.dedupe),
            // A dummy key, and the default (unreachable here) API base: init must not call
            // Stripe; snapshot events never do.
            ("STRIPE_API_KEY".into(), "sk_test_bench_dummy".into()),
        ],
        remove: vec![
            "STRIPE_API_BASE",
            "STRIPE_API_KEY_SECRET_ARN",
            "TABLE_PREFIX",
            "REVALIDATE_TYPES",
        ],
        event: Box::new(move |n| {
            let mut event = template.clone();
            uniquify(&mut event, n);
            wire_bytes(&event)
        }),
        classify: classify_consumer,
    }
}

/// A Function URL (payload 2.0) POST with a valid `Stripe-Signature` for now.
pub(crate) fn signed_request(body: &str) -> Vec<u8> {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(WEBHOOK_SECRET.as_bytes()).expect("HMAC key");
    mac.update(format!("{t}.{body}").as_bytes());
    let sig = hex::encode(mac.finalize().into_bytes());
    serde_json::to_vec(&json!({
        "version": "2.0", "routeKey": "POST /stripe/webhook", "rawPath": "/stripe/webhook", "rawQueryString": "",
        "headers": {"content-type": "application/json", "stripe-signature": format!("t={t},v1={sig}")},
        "requestContext": {"http": {"method": "POST", "path": "/stripe/webhook"}},
        "body": body, "isBase64Encoded": false
    }))
    .expect("serialise")
}

/// How to measure (the `coldstart` options).
pub(crate) struct Run<'a> {
    pub starts: usize,
    pub warmup: usize,
    pub invocations: u64,
    pub extra: &'a [(String, String)],
    pub label: &'a str,
    pub command: &'a str,
}

fn command_for(
    path: &Path,
    emulator: &Emulator,
    name: &str,
    s: &Subject,
    extra: &[(String, String)],
) -> FunctionCommand {
    let mut cmd = FunctionCommand::new(path, emulator, &format!("ai-nexus-dev-stripe-{name}"))
        .output(Output::Null)
        .env("AWS_REGION", "us-east-2")
        .env("RUST_LOG", "info");
    for (k, v) in &s.env {
        cmd = cmd.env(k, v);
    }
    for k in &s.remove {
        cmd = cmd.env_remove(k);
    }
    for (k, v) in extra {
        cmd = cmd.env(k, v);
    }
    cmd
}

pub(crate) async fn coldstart(name: &str, path: &Path, run: &Run<'_>) -> Value {
    let Run {
        starts,
        warmup,
        invocations,
        extra,
        label,
        command,
    } = *run;
    let s = subject(name).await;
    let config = EmulatorConfig {
        function_arn: format!(
            "arn:aws:lambda:us-east-2:123456789012:function:ai-nexus-dev-stripe-{name}"
        ),
        ..Default::default()
    };
    let idle_before = wait_for_idle_cpu(0.85, Duration::from_secs(120)).await;
    let load_before = loadavg();
    let mut init_ms = Vec::new();
    let mut init_hwm_kib = Vec::new();
    for i in 0..warmup + starts {
        let emulator = Emulator::start_with(config.clone())
            .await
            .expect("emulator");
        let mut p = command_for(path, &emulator, name, &s, extra)
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let ready = p
            .wait_ready(&emulator, Duration::from_secs(10))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let hwm = p.memory_kib().map(|(hwm, _)| hwm).unwrap_or(0);
        p.kill().await.expect("kill");
        if i >= warmup {
            init_ms.push((ready - p.spawned_at()).as_secs_f64() * 1e3);
            init_hwm_kib.push(hwm as f64);
        }
    }
    eprintln!(
        "bench: {name}: init median {:.2} ms over {} starts (min {:.2}, max {:.2})",
        median(&init_ms),
        init_ms.len(),
        quantile(&init_ms, 0.0),
        quantile(&init_ms, 1.0)
    );

    let mut result = json!({
        "function": name,
        "label": label,
        "env": extra.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        "binary": path.display().to_string(),
        "starts": init_ms.len(),
        "init_ms": init_ms,
        "init_median_ms": median(&init_ms),
        "init_p90_ms": quantile(&init_ms, 0.9),
        "init_min_ms": quantile(&init_ms, 0.0),
        "init_max_ms": quantile(&init_ms, 1.0),
        "init_hwm_median_kib": median(&init_hwm_kib),
        "cpu_idle_before": idle_before,
        "loadavg_before": load_before,
        "loadavg_after_starts": loadavg(),
        "invocations": invocations,
        "command": command,
    });
    if invocations == 0 {
        return result;
    }

    // One process serving `invocations` new events, one at a time.
    let emulator = Emulator::start_with(config).await.expect("emulator");
    let mut p = command_for(path, &emulator, name, &s, extra)
        .spawn()
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    p.wait_ready(&emulator, Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut handler_ms = Vec::with_capacity(invocations as usize);
    let mut answers: BTreeMap<String, u64> = BTreeMap::new();
    let started = Instant::now();
    for n in 1..=invocations {
        let r = emulator
            .invoke((s.event)(n), Duration::from_secs(30))
            .await
            .unwrap_or_else(|e| panic!("{name} invocation {n}: {e}"));
        handler_ms.push(r.handler_time().as_secs_f64() * 1e3);
        let label = classify_answer(&r.outcome, s.classify);
        *answers.entry(label).or_default() += 1;
    }
    let wall = started.elapsed();
    let (hwm, rss) = p.memory_kib().expect("read /proc status");
    p.kill().await.expect("kill");
    eprintln!(
        "bench: {name}: {invocations} invocations in {:.1} s, VmHWM {hwm} KiB, answers {answers:?}",
        wall.as_secs_f64()
    );
    for (k, v) in [
        ("answers", json!(answers)),
        ("wall_s", json!(wall.as_secs_f64())),
        ("handler_p50_ms", json!(quantile(&handler_ms, 0.5))),
        ("handler_p99_ms", json!(quantile(&handler_ms, 0.99))),
        ("vm_hwm_kib", json!(hwm)),
        ("vm_rss_kib", json!(rss)),
    ] {
        result[k] = v;
    }
    result
}

/// A webhook answer as a short label: `http_<status>`.
pub(crate) fn classify_webhook(v: &Value) -> String {
    format!("http_{}", v["statusCode"])
}

/// A consumer answer as a short label: its outcome counts (`applied:1`).
pub(crate) fn classify_consumer(v: &Value) -> String {
    v["outcomes"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, n)| format!("{k}:{n}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_else(|| v.to_string())
}

/// An emulator answer as a short label.
pub(crate) fn classify_answer(outcome: &Answer, classify: fn(&Value) -> String) -> String {
    match outcome {
        Answer::Response(body) => serde_json::from_slice::<Value>(body)
            .map(|v| classify(&v))
            .unwrap_or_else(|_| "unparsable".into()),
        Answer::Error(e) => format!("error:{}", e.error_type.clone().unwrap_or_default()),
    }
}
