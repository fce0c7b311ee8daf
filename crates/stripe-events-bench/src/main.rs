//! `stripe-events-bench`: the measuring half of `make bench` (driven by `run.sh`).
//!
//! - `coldstart`: spawns packaged `bootstrap` binaries against the Runtime API emulator:
//!   exec → first `GET …/invocation/next` over many starts, then one process serving N
//!   invocations (store: moto) and its peak RSS (`VmHWM`).
//! - `roundtrips`: DynamoDB requests (SDK interceptor) and Stripe calls per event against
//!   moto and localstripe, with the production clients.
//! - `table`: the final table from the JSON results, criterion's estimates and the zips.
//!
//! Harness code: a broken environment (no moto, a fixture missing) panics with the reason.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use hmac::{Hmac, KeyInit, Mac};
use lambda_runtime_emulator::process::{FunctionCommand, Output};
use lambda_runtime_emulator::{Emulator, EmulatorConfig, Outcome as Answer};
use serde_json::{json, Value};
use sha2::Sha256;
use stripe_events_bench::{fixture, median, quantile, uniquify};
use stripe_events_consumer::{Consumer, ConsumerConfig};
use stripe_events_core::Family;
use stripe_events_store::testkit::{fresh_tables, local_endpoint, sdk_config_for};
use stripe_events_store::{dynamodb_client, DynamoStore, RequestCounter, TableNames};
use stripe_events_stripe::testkit::LocalStripe;
use stripe_events_stripe::StripeHydrator;

#[derive(Parser)]
#[command(about = "stripe-events benchmarks (see crates/stripe-events-bench/run.sh)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Cold start and peak RSS of packaged binaries (needs moto: run under stack.sh).
    Coldstart {
        /// NAME=PATH of a bootstrap binary; NAME is subscription|payment|customer|webhook.
        #[arg(long = "function", required = true)]
        functions: Vec<String>,
        /// Measured starts per function (after `--warmup` unmeasured ones).
        #[arg(long, default_value_t = 21)]
        starts: usize,
        #[arg(long, default_value_t = 1)]
        warmup: usize,
        /// Invocations served by one process before reading its peak RSS.
        #[arg(long, default_value_t = 1000)]
        invocations: u64,
        #[arg(long)]
        out: PathBuf,
        /// Extra environment for every function (KEY=VALUE), e.g. a variant to compare.
        #[arg(long = "env")]
        env: Vec<String>,
        /// A label for this run's rows in the table (e.g. the variant).
        #[arg(long, default_value = "")]
        label: String,
        /// The command line to print next to the figures.
        #[arg(long, default_value = "")]
        command: String,
    },
    /// DynamoDB and Stripe round trips per event (needs moto and localstripe).
    Roundtrips {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value = "")]
        command: String,
    },
    /// Prints the table from the results.
    Table {
        /// Folder with coldstart.json and roundtrips.json.
        #[arg(long)]
        results: PathBuf,
        /// criterion's output folder (target/criterion).
        #[arg(long)]
        criterion: PathBuf,
        /// target/lambda (the zips).
        #[arg(long)]
        packages: PathBuf,
        /// The criterion command line.
        #[arg(long, default_value = "")]
        handler_command: String,
        #[arg(long, default_value = "")]
        size_command: String,
    },
}

#[tokio::main]
async fn main() {
    match Cli::parse().cmd {
        Cmd::Coldstart {
            functions,
            starts,
            warmup,
            invocations,
            out,
            env,
            label,
            command,
        } => {
            let extra: Vec<(String, String)> = env
                .iter()
                .map(|kv| {
                    let (k, v) = kv
                        .split_once('=')
                        .unwrap_or_else(|| panic!("--env {kv}: expected KEY=VALUE"));
                    (k.to_owned(), v.to_owned())
                })
                .collect();
            let mut results = Vec::new();
            for f in &functions {
                let (name, path) = f
                    .split_once('=')
                    .unwrap_or_else(|| panic!("--function {f}: expected NAME=PATH"));
                let run = Run {
                    starts,
                    warmup,
                    invocations,
                    extra: &extra,
                    label: &label,
                    command: &command,
                };
                results.push(coldstart(name, Path::new(path), &run).await);
            }
            write_json(&out, &Value::from(results));
        }
        Cmd::Roundtrips { out, command } => {
            let rows = roundtrips(&command).await;
            write_json(&out, &Value::from(rows));
        }
        Cmd::Table {
            results,
            criterion,
            packages,
            handler_command,
            size_command,
        } => print!(
            "{}",
            table(
                &results,
                &criterion,
                &packages,
                &handler_command,
                &size_command
            )
        ),
    }
}

fn write_json(path: &Path, v: &Value) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    }
    let text = serde_json::to_string_pretty(v).expect("serialise results");
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    eprintln!("bench: wrote {}", path.display());
}

// ---------------------------------------------------------------------------------------
// Cold start and RSS

const WEBHOOK_SECRET: &str = "whsec_bench_0123456789abcdef";

/// What a function needs besides the Lambda variables, and how to make its N-th event.
struct Subject {
    env: Vec<(String, String)>,
    remove: Vec<&'static str>,
    event: Box<dyn Fn(u64) -> Vec<u8>>,
    /// The answer a healthy invocation gives, as a short label.
    classify: fn(&Value) -> String,
}

fn consumer_event(name: &str) -> &'static str {
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
        let bus = format!("bench-{}-bus", std::process::id());
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
                signed_request(&event.to_string())
            }),
            classify: |v| format!("http_{}", v["statusCode"]),
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
            serde_json::to_vec(&event).expect("serialise")
        }),
        classify: |v| {
            v["outcomes"]
                .as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, n)| format!("{k}:{n}"))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_else(|| v.to_string())
        },
    }
}

/// A Function URL (payload 2.0) POST with a valid `Stripe-Signature` for now.
fn signed_request(body: &str) -> Vec<u8> {
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

/// The 1-minute load average: the machine is shared, so the figures say how busy it was.
fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Busy and total jiffies of all CPUs (`/proc/stat`).
fn cpu_jiffies() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = cpu
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4)?;
    Some((total - idle, total))
}

/// The machine is shared (other builds): waits, up to `max`, until the CPUs were at least
/// `want` idle over half a second, so cold starts are not measured under someone's
/// compile. Returns the idle fraction seen last.
async fn wait_for_idle_cpu(want: f64, max: Duration) -> f64 {
    let until = Instant::now() + max;
    loop {
        let (Some(a), ()) = (
            cpu_jiffies(),
            tokio::time::sleep(Duration::from_millis(500)).await,
        ) else {
            return f64::NAN;
        };
        let Some(b) = cpu_jiffies() else {
            return f64::NAN;
        };
        let total = (b.1 - a.1).max(1) as f64;
        let idle = 1.0 - (b.0 - a.0) as f64 / total;
        if idle >= want || Instant::now() >= until {
            if idle < want {
                eprintln!(
                    "bench: CPUs only {:.0}% idle after waiting {max:?}; measuring anyway",
                    idle * 100.0
                );
            }
            return idle;
        }
    }
}

/// How to measure (the `coldstart` options).
struct Run<'a> {
    starts: usize,
    warmup: usize,
    invocations: u64,
    extra: &'a [(String, String)],
    label: &'a str,
    command: &'a str,
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

async fn coldstart(name: &str, path: &Path, run: &Run<'_>) -> Value {
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
        let label = match &r.outcome {
            Answer::Response(body) => serde_json::from_slice::<Value>(body)
                .map(|v| (s.classify)(&v))
                .unwrap_or_else(|_| "unparsable".into()),
            Answer::Error(e) => format!("error:{}", e.error_type.clone().unwrap_or_default()),
        };
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

// ---------------------------------------------------------------------------------------
// Round trips

type LiveConsumer = Consumer<DynamoStore, Arc<StripeHydrator>>;

fn live_consumer(
    family: Family,
    client: &aws_sdk_dynamodb::Client,
    tables: &TableNames,
    hydrator: &Arc<StripeHydrator>,
) -> LiveConsumer {
    Consumer {
        config: ConsumerConfig::new(family, tables.clone()),
        store: DynamoStore::new(client.clone(), tables.clone()),
        hydrator: Arc::clone(hydrator),
    }
}

/// One event through the production handler; what it cost.
struct Probe<'a> {
    counter: &'a RequestCounter,
    hydrator: &'a StripeHydrator,
    command: &'a str,
}

impl Probe<'_> {
    async fn run(
        &self,
        case: &str,
        target: (&str, &str),
        consumer: &LiveConsumer,
        payload: Value,
    ) -> Value {
        self.counter.reset();
        let stripe_before = self.hydrator.calls();
        let report = consumer
            .handle(payload, Instant::now() + Duration::from_secs(20))
            .await;
        let ops = self.counter.snapshot();
        let stripe = self.hydrator.calls() - stripe_before;
        let outcome = report
            .records
            .iter()
            .map(|r| match &r.detail {
                Some(d) if r.outcome.as_str().starts_with("failed") => {
                    format!("{} ({d})", r.outcome)
                }
                _ => r.outcome.to_string(),
            })
            .collect::<Vec<_>>()
            .join(",");
        let dynamodb: u64 = ops.values().sum();
        eprintln!("bench: {case}: {outcome}, DynamoDB {ops:?}, Stripe {stripe}");
        json!({
            "case": case,
            "consumer": consumer.config.consumer.as_str(),
            "outcome": outcome,
            "dynamodb": dynamodb,
            "dynamodb_ops": ops,
            "stripe": stripe,
            "target_dynamodb": target.0,
            "target_stripe": target.1,
            "command": self.command,
        })
    }
}

async fn roundtrips(command: &str) -> Vec<Value> {
    let endpoint = local_endpoint().unwrap_or_else(|e| panic!("{e}"));
    let sdk = sdk_config_for(&endpoint).await;
    let counter = RequestCounter::new();
    let client = dynamodb_client(&sdk, Some(counter.clone()));
    let tables = fresh_tables(&client).await.expect("fresh tables in moto");
    let hydrator = Arc::new(
        StripeHydrator::from_env()
            .await
            .expect("Stripe settings (STRIPE_API_BASE, STRIPE_API_KEY from stack.sh)"),
    );
    let subs = live_consumer(Family::Subscription, &client, &tables, &hydrator);
    let pays = live_consumer(Family::Payment, &client, &tables, &hydrator);
    let cuss = live_consumer(Family::Customer, &client, &tables, &hydrator);
    let probe = Probe {
        counter: &counter,
        hydrator: &hydrator,
        command,
    };

    // Objects the thin events point to, in localstripe (free plan: no card needed).
    let local = LocalStripe::from_env().unwrap_or_else(|e| panic!("{e}"));
    let created = local
        .subscription("bench@example.com", "bench_user")
        .await
        .unwrap_or_else(|e| panic!("localstripe: {e}"));
    let cus_id = created.customer["id"]
        .as_str()
        .expect("customer id")
        .to_owned();
    let sub = created.subscription;
    let sub_id = sub["id"].as_str().expect("subscription id").to_owned();
    let tag = std::process::id();

    let mut rows = Vec::new();
    let one = ("1", "0");
    let at_most_one = ("≤ 1", "0");
    // A delivery by a path the audit has not seen yet: the cancelled transaction, then the
    // UpdateItem recording the path (stripe-events-store, lib.rs).
    let new_path = ("2", "0");

    let mut snap = fixture("partner-snapshot/subscription-created.json");
    uniquify(&mut snap, 1);
    rows.push(
        probe
            .run("snapshot 5.6 KB, new", one, &subs, snap.clone())
            .await,
    );
    rows.push(
        probe
            .run(
                "snapshot, duplicate (same path)",
                at_most_one,
                &subs,
                snap.clone(),
            )
            .await,
    );
    let mut webhook = fixture("webhook/subscription-created.json");
    uniquify(&mut webhook, 1);
    rows.push(
        probe
            .run(
                "snapshot, duplicate by a new path (same event via webhook)",
                new_path,
                &subs,
                webhook,
            )
            .await,
    );
    let mut stale = snap.clone();
    let created = stale["detail"]["created"].as_i64().expect("created");
    stale["detail"]["id"] = Value::from(format!("evt_bench_stale_{tag}"));
    stale["detail"]["created"] = Value::from(created - 60);
    rows.push(
        probe
            .run(
                "snapshot, stale (older than stored)",
                ("–", "0"),
                &subs,
                stale,
            )
            .await,
    );
    let mut large = fixture("partner-snapshot/subscription-large.json");
    uniquify(&mut large, 1);
    rows.push(
        probe
            .run("snapshot 10 KB (6 items), new", one, &subs, large)
            .await,
    );
    let mut invoice = fixture("partner-snapshot/invoice-paid.json");
    uniquify(&mut invoice, 1);
    rows.push(
        probe
            .run("snapshot invoice.paid, new", one, &pays, invoice)
            .await,
    );

    // Thin v2 pointing at localstripe's subscription; no snapshot_event: keyed by its own id.
    let mut thin = fixture("partner-thin/subscription-created.json");
    {
        let d = &mut thin["detail"];
        d["id"] = Value::from(format!("evt_test_bench_thin_{tag}"));
        if let Some(o) = d.as_object_mut() {
            o.remove("snapshot_event");
        }
        d["related_object"]["id"] = Value::from(sub_id.clone());
        d["related_object"]["url"] = Value::from(format!("/v1/subscriptions/{sub_id}"));
    }
    rows.push(
        probe
            .run("thin v2, new", ("–", "1"), &subs, thin.clone())
            .await,
    );
    rows.push(
        probe
            .run("thin v2, duplicate", at_most_one, &subs, thin)
            .await,
    );
    // A thin event whose snapshot_event was applied above (both destinations enabled).
    let mut thin_after_snap = fixture("partner-thin/subscription-created.json");
    uniquify(&mut thin_after_snap, 1);
    rows.push(
        probe
            .run(
                "thin v2 after its snapshot (snapshot_event done)",
                at_most_one,
                &subs,
                thin_after_snap,
            )
            .await,
    );
    // The legacy thin reference: data.object {id, object} → GET /v1/customers/{id}.
    let mut note = fixture("note-thin/customer-updated.json");
    note["detail"]["id"] = Value::from(format!("evt_bench_note_{tag}"));
    note["detail"]["data"]["object"]["id"] = Value::from(cus_id.clone());
    rows.push(
        probe
            .run("thin (note shape), new", ("–", "1"), &cuss, note.clone())
            .await,
    );
    rows.push(
        probe
            .run("thin (note shape), duplicate", at_most_one, &cuss, note)
            .await,
    );
    rows
}

// ---------------------------------------------------------------------------------------
// Table

fn read_json(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "yes"
    } else {
        "**no**"
    }
}

/// Rows of `| measure | subject | figure | target | met | how |` and the legend of commands.
struct Table {
    rows: Vec<[String; 6]>,
    commands: Vec<String>,
}

impl Table {
    /// The key of a command line in the legend (added once).
    fn key(&mut self, command: &str) -> String {
        let command = if command.is_empty() {
            "(not recorded)"
        } else {
            command
        };
        let i = match self.commands.iter().position(|c| c == command) {
            Some(i) => i,
            None => {
                self.commands.push(command.to_owned());
                self.commands.len() - 1
            }
        };
        format!("[{}]", i + 1)
    }

    fn row(&mut self, cells: [&str; 5], command: &str) {
        let key = self.key(command);
        let [a, b, c, d, e] = cells.map(str::to_owned);
        self.rows.push([a, b, c, d, e, key]);
    }
}

fn mib(kib: f64) -> f64 {
    kib / 1024.0
}

fn cold_rows(t: &mut Table, f: &Value) {
    let name = f["function"].as_str().unwrap_or("?");
    let subject = match (f["label"].as_str(), f["env"].as_array()) {
        (Some(label), _) if !label.is_empty() => format!("{name} ({label})"),
        (_, Some(env)) if !env.is_empty() => format!(
            "{name} (env {})",
            env.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        ),
        _ => name.to_owned(),
    };
    let cmd = f["command"].as_str().unwrap_or("");
    let num = |k: &str| f[k].as_f64().unwrap_or(f64::NAN);
    let med = num("init_median_ms");
    t.row(
        [
            "cold start: exec → first `next`",
            &subject,
            &format!(
                "{med:.2} ms median of {} (p90 {:.2}, min {:.2}, max {:.2}; CPUs {:.0}% idle before, load avg {:.2}→{:.2})",
                f["starts"],
                num("init_p90_ms"),
                num("init_min_ms"),
                num("init_max_ms"),
                num("cpu_idle_before") * 100.0,
                num("loadavg_before"),
                num("loadavg_after_starts")
            ),
            "≤ 15 ms",
            mark(med <= 15.0),
        ],
        cmd,
    );
    t.row(
        [
            "RSS at first `next` (VmHWM, median)",
            &subject,
            &format!("{:.1} MiB", mib(num("init_hwm_median_kib"))),
            "–",
            "",
        ],
        cmd,
    );
    if f.get("vm_hwm_kib").is_none() {
        return;
    }
    let hwm = mib(num("vm_hwm_kib"));
    let answers = f["answers"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| format!("{k} ×{v}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    t.row(
        [
            "peak RSS after N invocations (VmHWM)",
            &subject,
            &format!(
                "{hwm:.1} MiB after {} (answers: {answers}; VmRSS {:.1} MiB)",
                f["invocations"],
                mib(num("vm_rss_kib"))
            ),
            "≤ 20 MiB",
            mark(hwm <= 20.0),
        ],
        cmd,
    );
    t.row(
        [
            "warm invocation, `next` → answer (moto)",
            &subject,
            &format!(
                "p50 {:.2} ms, p99 {:.2} ms over {} in {:.1} s",
                num("handler_p50_ms"),
                num("handler_p99_ms"),
                f["invocations"],
                num("wall_s")
            ),
            "–",
            "",
        ],
        cmd,
    );
}

const HANDLER_CASES: [(&str, &str, u64); 11] = [
    (
        "snapshot_10kb_new",
        "snapshot 10 KB, new: JSON bytes in (runtime's pruned parse + handler)",
        1,
    ),
    (
        "snapshot_10kb_new_from_value",
        "snapshot 10 KB, new: `Consumer::handle(Value)` only",
        1,
    ),
    (
        "snapshot_10kb_parse_pruned",
        "of which: bytes → PrunedPayload (lambda_runtime's step)",
        1,
    ),
    (
        "snapshot_10kb_parse_ignored",
        "floor: bytes → serde::de::IgnoredAny (JSON validated, nothing kept)",
        1,
    ),
    (
        "snapshot_10kb_parse_full_value",
        "for comparison: bytes → full serde_json::Value",
        1,
    ),
    ("snapshot_10kb_duplicate", "snapshot 10 KB, duplicate", 1),
    (
        "snapshot_10kb_new_logged",
        "snapshot 10 KB, new, with the JSON log line",
        1,
    ),
    ("thin_new", "thin v2, new (in-memory hydrator)", 1),
    ("thin_duplicate", "thin v2, duplicate", 1),
    ("sqs_batch10_new", "SQS batch of 10, new ids", 10),
    ("sqs_batch10_duplicate", "SQS batch of 10, duplicate", 10),
];

fn table(
    results: &Path,
    criterion: &Path,
    packages: &Path,
    handler_command: &str,
    size_command: &str,
) -> String {
    let mut t = Table {
        rows: Vec::new(),
        commands: Vec::new(),
    };

    // 1. Cold start and memory: coldstart.json, then variants (coldstart-*.json).
    let mut files: Vec<PathBuf> = std::fs::read_dir(results)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    let name = p.file_name().unwrap_or_default().to_string_lossy();
                    name.starts_with("coldstart") && name.ends_with(".json")
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort_by_key(|p| (p.file_name() != Some("coldstart.json".as_ref()), p.clone()));
    if files.is_empty() {
        t.row(
            [
                "cold start / RSS",
                "all",
                "not measured (no coldstart.json)",
                "",
                "",
            ],
            "",
        );
    }
    for file in files {
        for f in read_json(&file)
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
        {
            cold_rows(&mut t, &f);
        }
    }

    // 2. Handler cost (criterion, median time per iteration).
    for (id, label, events) in HANDLER_CASES {
        let path = criterion
            .join("handler")
            .join(id)
            .join("new/estimates.json");
        let Some(est) = read_json(&path) else {
            t.row(
                ["handler cost", label, "not measured", "", ""],
                handler_command,
            );
            continue;
        };
        let ns = est["median"]["point_estimate"].as_f64().unwrap_or(f64::NAN) / events as f64;
        let per_s = 1e9 / ns;
        let (target, met) = if id.starts_with("snapshot_10kb_new") && !id.ends_with("logged") {
            ("≥ 50,000 events/s", mark(per_s >= 50_000.0))
        } else {
            ("–", "")
        };
        t.row(
            [
                "handler cost, one core",
                label,
                &format!("{:.1} µs/event, {:.0} events/s", ns / 1e3, per_s),
                target,
                met,
            ],
            handler_command,
        );
    }

    // 3. Round trips.
    match read_json(&results.join("roundtrips.json")).and_then(|v| v.as_array().cloned()) {
        Some(rows) => {
            for r in rows {
                let ops = r["dynamodb_ops"]
                    .as_object()
                    .map(|o| {
                        o.iter()
                            .map(|(k, v)| format!("{k} {v}"))
                            .collect::<Vec<_>>()
                            .join(" + ")
                    })
                    .unwrap_or_default();
                let d = r["dynamodb"].as_u64().unwrap_or(u64::MAX);
                let s = r["stripe"].as_u64().unwrap_or(u64::MAX);
                let td = r["target_dynamodb"].as_str().unwrap_or("–");
                let ts = r["target_stripe"].as_str().unwrap_or("–");
                let ok_d = match td {
                    "1" => d == 1,
                    "≤ 1" => d <= 1,
                    "2" => d == 2,
                    _ => true,
                };
                let ok_s = ts.parse::<u64>().map(|want| s == want).unwrap_or(true);
                let met = mark(ok_d && ok_s).to_owned();
                t.row(
                    [
                        "round trips per event (moto, localstripe)",
                        &format!(
                            "{} → {}",
                            r["case"].as_str().unwrap_or("?"),
                            r["outcome"].as_str().unwrap_or("?")
                        ),
                        &format!("DynamoDB {d} ({ops}), Stripe {s}"),
                        &format!("DynamoDB {td}, Stripe {ts}"),
                        &met,
                    ],
                    r["command"].as_str().unwrap_or(""),
                );
            }
        }
        None => t.row(
            [
                "round trips",
                "all",
                "not measured (no roundtrips.json)",
                "",
                "",
            ],
            "",
        ),
    }

    // 4. Package sizes.
    let mut zips: Vec<(String, u64)> = std::fs::read_dir(packages)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let zip = e.path().join("bootstrap.zip");
                    let size = std::fs::metadata(&zip).ok()?.len();
                    Some((e.file_name().to_string_lossy().into_owned(), size))
                })
                .collect()
        })
        .unwrap_or_default();
    zips.sort();
    for (name, size) in zips {
        let mb = size as f64 / 1e6;
        t.row(
            [
                "package size (bootstrap.zip)",
                &name,
                &format!("{mb:.2} MB ({size} bytes)"),
                "≤ 6 MB",
                mark(mb <= 6.0),
            ],
            size_command,
        );
    }

    let mut out = String::new();
    out.push_str("| measure | subject | figure | target | met | how |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for r in &t.rows {
        out.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    out.push('\n');
    for (i, c) in t.commands.iter().enumerate() {
        out.push_str(&format!("[{}] `{c}`\n", i + 1));
    }
    out
}
