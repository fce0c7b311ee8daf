//! `cpu`: CPU per warm invocation of a Lambda binary, the whole invocation (Runtime API
//! loop, parse, handler, AWS SDK, logging, EMF): `utime + stime` of the process
//! (`/proc/PID/stat`) over N invocations per case, through the Runtime API emulator, against
//! moto or the instant responder ([`crate::responder::instant_aws`]), thin events hydrated
//! from [`crate::responder::stripe_objects`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lambda_runtime_emulator::process::{FunctionCommand, Output};
use lambda_runtime_emulator::{Emulator, EmulatorConfig};
use serde_json::{json, Value};
use stripe_events_bench::{uniquify, wire_bytes, wire_string};
use stripe_events_store::dynamodb_client;
use stripe_events_testkit::fixtures::fixture;
use stripe_events_testkit::stack::{fresh_tables, local_endpoint, sdk_config_for};

use crate::coldstart::{
    classify_answer, classify_consumer, classify_webhook, consumer_event, signed_request,
    WEBHOOK_SECRET,
};
use crate::responder::{instant_aws, stripe_objects, Server};
use crate::sys::{clock_ticks_per_second, process_cpu, wait_for_idle_cpu};

/// Where the AWS calls go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Moto,
    Instant,
}

impl Backend {
    pub fn parse(s: &str) -> Backend {
        match s {
            "moto" => Backend::Moto,
            "instant" => Backend::Instant,
            other => panic!("--backend {other}: expected moto or instant"),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Moto => "moto",
            Backend::Instant => "instant",
        }
    }
}

/// One kind of invocation, and how to make its N-th payload.
pub struct Case {
    pub name: &'static str,
    pub event: Box<dyn Fn(u64) -> Vec<u8> + Send + Sync>,
}

/// A function wired to a backend: its environment, cases and the servers it talks to
/// (kept alive as long as this is).
pub struct Setup {
    pub env: Vec<(String, String)>,
    pub remove: Vec<&'static str>,
    pub cases: Vec<Case>,
    pub classify: fn(&Value) -> String,
    /// The instant AWS responder (backend `instant`) and the Stripe responder (consumers).
    pub aws: Option<Server>,
    pub stripe: Option<Server>,
}

/// The thin v2 fixture of a consumer's family.
fn thin_fixture(name: &str) -> &'static str {
    match name {
        "subscription" => "partner-thin/subscription-created.json",
        "payment" => "partner-thin/invoice-paid.json",
        "customer" => "partner-thin/customer-updated.json",
        other => panic!("unknown consumer {other}"),
    }
}

/// A new thin event (no `snapshot_event`) about a new object, both numbered `n`.
fn thin_event(template: &Value, n: u64) -> Vec<u8> {
    let mut event = template.clone();
    let d = &mut event["detail"];
    d["id"] = Value::from(format!("evt_test_bench_thin_{n}"));
    if let Some(o) = d.as_object_mut() {
        o.remove("snapshot_event");
    }
    let kind = d["related_object"]["type"]
        .as_str()
        .expect("related_object.type")
        .to_owned();
    let id = format!(
        "{}x{n}",
        d["related_object"]["id"]
            .as_str()
            .expect("related_object.id")
    );
    d["related_object"]["url"] = Value::from(format!("/v1/{kind}s/{id}"));
    d["related_object"]["id"] = Value::from(id);
    wire_bytes(&event)
}

/// The duplicate case's one event (the numbers [`cpu`] gives new events start above it);
/// `uniquify` moves `created` by the number in seconds, so numbers stay well under the
/// consumers' refusal of events from more than an hour ahead.
const DUPLICATE_N: u64 = 99_999;

pub async fn setup(name: &str, backend: Backend) -> Setup {
    let mut aws_server = None;
    let mut env: Vec<(String, String)> = Vec::new();
    let (tables, bus) = match backend {
        Backend::Moto => {
            let endpoint = local_endpoint().unwrap_or_else(|e| panic!("{e}"));
            let sdk = sdk_config_for(&endpoint).await;
            env.push(("AWS_ENDPOINT_URL".into(), endpoint));
            if name == "webhook" {
                let bus = format!(
                    "bench-{}-cpu-bus-{}",
                    std::process::id(),
                    crate::sys::unique()
                );
                aws_sdk_eventbridge::Client::new(&sdk)
                    .create_event_bus()
                    .name(&bus)
                    .send()
                    .await
                    .expect("create the webhook's bus in moto");
                (None, bus)
            } else {
                let client = dynamodb_client(&sdk, None);
                let tables = fresh_tables(&client).await.expect("fresh tables in moto");
                (Some((tables.billing, tables.dedupe)), String::new())
            }
        }
        Backend::Instant => {
            let aws = instant_aws().await;
            env.push(("AWS_ENDPOINT_URL".into(), aws.url()));
            aws_server = Some(aws);
            (
                Some(("bench-billing".to_owned(), "bench-dedupe".to_owned())),
                "bench-bus".to_owned(),
            )
        }
    };
    for (k, v) in [
        ("AWS_REGION", "us-east-2"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ] {
        env.push((k.into(), v.into()));
    }
    if name == "webhook" {
        env.push(("EVENT_BUS_NAME".into(), bus));
        env.push(("STRIPE_WEBHOOK_SECRET".into(), WEBHOOK_SECRET.into()));
        let template = fixture("partner-snapshot/customer-updated.json")["detail"].clone();
        return Setup {
            env,
            remove: vec!["STRIPE_WEBHOOK_SECRET_ARN"],
            cases: vec![Case {
                name: "new event, signed, forwarded (PutEvents)",
                event: Box::new(move |n| {
                    let mut event = template.clone();
                    uniquify(&mut event, n);
                    signed_request(&wire_string(&event))
                }),
            }],
            classify: classify_webhook,
            aws: aws_server,
            stripe: None,
        };
    }
    let (billing, dedupe) = tables.expect("tables");
    let stripe = stripe_objects().await;
    env.push(("BILLING_TABLE".into(), billing));
    env.push(("DEDUPE_TABLE".into(), dedupe));
    env.push(("STRIPE_API_BASE".into(), stripe.url()));
    env.push(("STRIPE_API_KEY".into(), "sk_test_bench_dummy".into()));
    let snapshot = fixture(consumer_event(name));
    let duplicate = snapshot.clone();
    let thin = fixture(thin_fixture(name));
    Setup {
        env,
        remove: vec![
            "STRIPE_API_KEY_SECRET_ARN",
            "TABLE_PREFIX",
            "REVALIDATE_TYPES",
        ],
        cases: vec![
            Case {
                name: "snapshot, new",
                event: Box::new(move |n| {
                    let mut event = snapshot.clone();
                    uniquify(&mut event, n);
                    wire_bytes(&event)
                }),
            },
            Case {
                name: "snapshot, duplicate (same path)",
                event: Box::new(move |_| {
                    let mut event = duplicate.clone();
                    uniquify(&mut event, DUPLICATE_N);
                    wire_bytes(&event)
                }),
            },
            Case {
                name: "thin v2, new (hydrated from a local Stripe responder)",
                event: Box::new(move |n| thin_event(&thin, n)),
            },
        ],
        classify: classify_consumer,
        aws: aws_server,
        stripe: Some(stripe),
    }
}

/// The function's command with the Lambda environment and the setup's.
pub fn command(program: &Path, emulator: &Emulator, name: &str, s: &Setup) -> FunctionCommand {
    let mut cmd = FunctionCommand::new(program, emulator, &format!("ai-nexus-dev-stripe-{name}"))
        .output(Output::Null)
        .env("RUST_LOG", "info")
        .env_remove("AWS_LAMBDA_LOG_LEVEL");
    for (k, v) in &s.env {
        cmd = cmd.env(k, v);
    }
    for k in &s.remove {
        cmd = cmd.env_remove(k);
    }
    cmd
}

pub fn emulator_config(name: &str) -> EmulatorConfig {
    EmulatorConfig {
        function_arn: format!(
            "arn:aws:lambda:us-east-2:123456789012:function:ai-nexus-dev-stripe-{name}"
        ),
        ..Default::default()
    }
}

/// Runs `count` invocations of a case (numbers from `first`), one after another; the
/// answers by label.
pub async fn invoke_many(
    emulator: &Emulator,
    case: &Case,
    first: u64,
    count: u64,
    classify: fn(&Value) -> String,
    timeout: Duration,
) -> BTreeMap<String, u64> {
    let mut answers = BTreeMap::new();
    for n in first..first + count {
        let r = emulator
            .invoke((case.event)(n), timeout)
            .await
            .unwrap_or_else(|e| panic!("{} invocation {n}: {e}", case.name));
        *answers
            .entry(classify_answer(&r.outcome, classify))
            .or_insert(0u64) += 1;
    }
    answers
}

pub struct CpuRun {
    pub functions: Vec<(String, PathBuf)>,
    pub backends: Vec<Backend>,
    pub invocations: u64,
    pub warmup: u64,
    pub label: String,
    pub command: String,
}

pub async fn cpu(run: &CpuRun) -> Vec<Value> {
    let tick_ms = 1e3 / clock_ticks_per_second() as f64;
    let mut rows = Vec::new();
    for (name, path) in &run.functions {
        for &backend in &run.backends {
            let s = setup(name, backend).await;
            let emulator = Emulator::start_with(emulator_config(name))
                .await
                .expect("emulator");
            let mut p = command(path, &emulator, name, &s)
                .spawn()
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            p.wait_ready_or_explain(&emulator, Duration::from_secs(10))
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let pid = p.id().expect("pid");
            for (i, case) in s.cases.iter().enumerate() {
                let base = (i as u64 + 1) * 100_000;
                invoke_many(
                    &emulator,
                    case,
                    base,
                    run.warmup,
                    s.classify,
                    Duration::from_secs(30),
                )
                .await;
                wait_for_idle_cpu(0.6, Duration::from_secs(5)).await;
                let count = |s: &Option<Server>| s.as_ref().map(Server::requests);
                let (aws0, stripe0) = (count(&s.aws), count(&s.stripe));
                let (ticks0, ns0) = process_cpu(pid).expect("/proc/PID/stat");
                let started = Instant::now();
                let answers = invoke_many(
                    &emulator,
                    case,
                    base + run.warmup,
                    run.invocations,
                    s.classify,
                    Duration::from_secs(30),
                )
                .await;
                let wall = started.elapsed();
                let (ticks1, ns1) = process_cpu(pid).expect("/proc/PID/stat");
                let n = run.invocations as f64;
                let per =
                    |a: Option<u64>, b: Option<u64>| a.zip(b).map(|(a, b)| (b - a) as f64 / n);
                let aws_calls = per(aws0, count(&s.aws));
                let stripe_calls = per(stripe0, count(&s.stripe));
                let cpu_ms = (ticks1 - ticks0) as f64 * tick_ms / n;
                let sched_ms = (ns1.saturating_sub(ns0)) as f64 / 1e6 / n;
                eprintln!(
                    "bench: cpu: {name} vs {}: {}: {cpu_ms:.3} ms CPU/invocation (schedstat {sched_ms:.3}), wall {:.3} ms, answers {answers:?}",
                    backend.as_str(),
                    case.name,
                    wall.as_secs_f64() * 1e3 / n
                );
                rows.push(json!({
                    "function": name,
                    "backend": backend.as_str(),
                    "case": case.name,
                    "label": run.label,
                    "binary": path.display().to_string(),
                    "invocations": run.invocations,
                    "cpu_ms": cpu_ms,
                    "cpu_ms_schedstat": sched_ms,
                    "ticks": ticks1 - ticks0,
                    "wall_ms": wall.as_secs_f64() * 1e3 / n,
                    "answers": answers,
                    "aws_requests_per_invocation": aws_calls,
                    "stripe_requests_per_invocation": stripe_calls,
                    "command": run.command,
                }));
            }
            p.kill().await.expect("kill");
        }
    }
    rows
}
