//! `profile`: where a warm invocation's instructions go, by callgrind on the binary (it
//! counts instructions, so runs repeat to the instruction), against the instant responder.
//!
//! Two runs per case: a reference run of `base` invocations and a measured run of
//! `base + invocations`; the difference divided by `invocations` is the cost of one warm
//! invocation (init and the first calls cancel out). Each part is the inclusive cost of the
//! functions that mark it (see [`PARTS`]); "Runtime API loop and the rest" is the total minus
//! the parts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lambda_runtime_emulator::process::FunctionCommand;
use lambda_runtime_emulator::Emulator;
use serde_json::{json, Value};

use crate::cpu::{command, emulator_config, invoke_many, setup, Backend};

pub struct ProfileRun {
    pub invocations: u64,
    pub base: u64,
    pub work: PathBuf,
    /// Reads callgrind files already in `work` instead of running again.
    pub reuse: bool,
    pub label: String,
    pub command: String,
}

/// The largest per-invocation inclusive cost among symbols that contain `pattern` (the
/// first level of a recursion only: callgrind names deeper levels `…'2`).
fn max_of(symbols: &BTreeMap<String, f64>, pattern: &str) -> f64 {
    symbols
        .iter()
        .filter(|(k, _)| k.contains(pattern) && !k.ends_with(|c: char| c.is_ascii_digit()))
        .map(|(_, v)| *v)
        .fold(0.0, f64::max)
}

/// The sum of the per-invocation inclusive costs of symbols that contain `pattern`
/// (distinct functions of one kind, e.g. every operation's serializer).
fn sum_of(symbols: &BTreeMap<String, f64>, pattern: &str) -> f64 {
    symbols
        .iter()
        .filter(|(k, _)| k.contains(pattern) && !k.ends_with(|c: char| c.is_ascii_digit()))
        .map(|(_, v)| *v)
        .sum()
}

/// The breakdown of one warm invocation: (part, instructions), parts indented under the part
/// they belong to. Inclusive costs of marking functions: the handler's future (the consumer's
/// record stream, or the webhook's `process_until`), the SDK orchestrator (timeout future
/// around `invoke`), SigV4 signing, the operations' request serializers and response
/// deserializers, lambda_runtime's payload deserializer, the tracing layers, the EMF line.
pub fn parts(total: f64, s: &BTreeMap<String, f64>) -> Vec<(String, f64)> {
    let sdk = max_of(
        s,
        "<aws_smithy_runtime::client::timeout::MaybeTimeoutFuture<InnerFuture> as core::future::future::Future>::poll",
    );
    // The consumer's pipeline (detect → dedupe → hydrate → project → commit), or the
    // webhook's steps (inlined into its main: verification, reading, route, entries) and
    // its PutEvents.
    let consumer = max_of(
        s,
        "stripe_events_consumer::Consumer<S,H>::process::{{closure}}",
    );
    let handler = if consumer > 0.0 {
        consumer
    } else {
        max_of(s, "webhook::signature::verify")
            + max_of(s, "webhook::handler::read_event")
            + sum_of(s, "webhook::http::")
            + max_of(s, "webhook::forward::entry_for")
            + sdk
    };
    let sign = max_of(
        s,
        "aws_smithy_runtime::client::orchestrator::auth::sign_request",
    );
    let ser = sum_of(s, "RequestSerializer as aws_smithy_runtime_api::client::ser_de::SerializeRequest>::serialize_input");
    let de = sum_of(s, "ResponseDeserializer as aws_smithy_runtime_api::client::ser_de::DeserializeResponse>::deserialize_nonstreaming");
    // Consumers: the typed parse of the invocation body (`runtime::HandleBody`, before
    // lambda_runtime deserializes anything), and lambda_runtime's read of the small reply.
    // The webhook: lambda_runtime's read of the API Gateway request; its own parse of the
    // Stripe event is part of its `read_event`.
    let typed_parse = if consumer > 0.0 {
        max_of(s, "stripe_events_core::parse::parse_bytes")
    } else {
        0.0
    };
    let parse = max_of(s, "lambda_runtime::deserializer::deserialize") + typed_parse;
    let logging = sum_of(
        s,
        "<tracing_subscriber::layer::layered::Layered<L,S> as tracing_core::subscriber::Subscriber>::",
    );
    // Building the line (its write to stdout is in the rest); the webhook's caller of
    // `MetricSet::line` is inlined.
    let emf = max_of(s, "stripe_events_consumer::outcome::emf_line")
        .max(max_of(s, "stripe_events_lambda::emf::MetricSet::line"));
    let hyper_io = max_of(
        s,
        "hyper::proto::h1::dispatch::Dispatcher<D,Bs,I,T>::poll_catch",
    );
    vec![
        ("whole invocation".into(), total),
        (
            "Runtime API loop (lambda_runtime: next/response, context, response JSON; tokio) and the rest".into(),
            total - parse - handler - logging - emf,
        ),
        ("  of which HTTP connection tasks (hyper, Runtime API and AWS)".into(), hyper_io),
        ("parse: bytes → payload (consumers: the typed parse; lambda_runtime's payload read)".into(), parse),
        ("handler (consumer: detect … commit; webhook: verify, read, forward)".into(), handler),
        ("  AWS SDK call(s), whole orchestrator".into(), sdk),
        ("    SigV4 signing (callgrind: portable SHA-256, SHA-NI hidden)".into(), sign),
        ("    request serialization (JSON)".into(), ser),
        ("    response deserialization".into(), de),
        ("    the rest (interceptors, config bag, endpoint, identity, retry, timeouts, HTTP)".into(), sdk - sign - ser - de),
        ("  handler's own work (projection, store request building, Stripe fetch)".into(), handler - sdk),
        ("logging (tracing layers: the event line, spans)".into(), logging),
        ("EMF metrics line (build)".into(), emf),
    ]
}

/// `callgrind_annotate --inclusive=yes`: (program total, inclusive Ir by symbol).
fn annotate(file: &Path) -> (u64, BTreeMap<String, u64>) {
    let out = std::process::Command::new("callgrind_annotate")
        .arg("--inclusive=yes")
        .arg("--threshold=100")
        .arg("--show-percs=no")
        .arg("--auto=no")
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("callgrind_annotate: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut total = 0;
    let mut by_symbol = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        let Some((count, rest)) = line.split_once(' ') else {
            continue;
        };
        let Ok(n) = count.replace(',', "").parse::<u64>() else {
            continue;
        };
        let rest = rest.trim();
        if rest.starts_with("PROGRAM TOTALS") {
            total = n;
            continue;
        }
        // "file:symbol [object]"
        let symbol = rest.split_once(':').map_or(rest, |(_, s)| s);
        let symbol = symbol.rsplit_once(" [").map_or(symbol, |(s, _)| s);
        let e = by_symbol.entry(symbol.to_owned()).or_insert(0);
        *e = (*e).max(n);
    }
    (total, by_symbol)
}

async fn callgrind_run(
    name: &str,
    binary: &Path,
    case: usize,
    count: u64,
    out: &Path,
) -> (u64, BTreeMap<String, u64>) {
    let s = setup(name, Backend::Instant).await;
    let emulator = Emulator::start_with(emulator_config(name))
        .await
        .expect("emulator");
    let valgrind = command(Path::new("valgrind"), &emulator, name, &s)
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(binary);
    let mut p = spawn(valgrind);
    p.wait_ready_or_explain(&emulator, Duration::from_secs(120))
        .await
        .unwrap_or_else(|e| panic!("{name} under valgrind: {e}"));
    let answers = invoke_many(
        &emulator,
        &s.cases[case],
        1,
        count,
        s.classify,
        Duration::from_secs(60),
    )
    .await;
    eprintln!(
        "bench: profile: {name}: {count} × {}: {answers:?}",
        s.cases[case].name
    );
    p.terminate(Duration::from_secs(120))
        .await
        .expect("terminate valgrind");
    annotate(out)
}

fn spawn(cmd: FunctionCommand) -> lambda_runtime_emulator::process::FunctionProcess {
    cmd.spawn().unwrap_or_else(|e| panic!("valgrind: {e}"))
}

pub async fn profile(name: &str, binary: &Path, run: &ProfileRun) -> Vec<Value> {
    std::fs::create_dir_all(&run.work).expect("work folder");
    let cases = setup(name, Backend::Instant).await.cases.len();
    let mut rows = Vec::new();
    for case in 0..cases {
        let file = |n: u64| run.work.join(format!("callgrind.{name}.{case}.{n}"));
        let big = run.base + run.invocations;
        let (small_file, big_file) = (file(run.base), file(big));
        let ((t0, a), (t1, b)) = if run.reuse && small_file.exists() && big_file.exists() {
            (annotate(&small_file), annotate(&big_file))
        } else {
            (
                callgrind_run(name, binary, case, run.base, &small_file).await,
                callgrind_run(name, binary, case, big, &big_file).await,
            )
        };
        let per = |x: u64, y: u64| y.saturating_sub(x) as f64 / run.invocations as f64;
        let total = per(t0, t1);
        let all: BTreeMap<String, f64> = b
            .iter()
            .map(|(k, v)| (k.clone(), per(a.get(k).copied().unwrap_or(0), *v)))
            .collect();
        let breakdown = parts(total, &all);
        let mut symbols: Vec<(String, f64)> = all.into_iter().collect();
        symbols.sort_by(|x, y| y.1.total_cmp(&x.1));
        symbols.truncate(300);
        let case_name = setup(name, Backend::Instant).await.cases[case].name;
        eprintln!("bench: profile: {name}: {case_name}: {total:.0} instructions/invocation");
        for (part, n) in &breakdown {
            eprintln!("bench: profile:   {n:>10.0}  {part}");
        }
        rows.push(json!({
            "function": name,
            "case": case_name,
            "label": run.label,
            "instructions": total,
            "parts": breakdown,
            "symbols": symbols,
            "command": run.command,
        }));
    }
    rows
}
