//! The 10 KB snapshot's three figures measured side by side, one of each per round on the
//! same fresh payload (so a noisy machine slows all three alike): serde_json's `IgnoredAny`
//! floor, the typed parse, and the whole handler (`Consumer::answer`, a new event). Prints the
//! median of each and the handler's ratio to the floor.
//!
//! `interleaved N --node node/side_by_side.mjs` also runs that Node.js handler, doing the same
//! work on the same bytes, as a child process: one Node round right after each Rust round, so
//! both are timed within microseconds of each other. `--template-out PATH` writes the payload's
//! bytes (before the per-round id) to PATH; `--json PATH` the medians, for `make bench`'s table.
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stripe_events_bench::{bench_consumer, quantile, uniquify, wire_bytes};
use stripe_events_core::Family;
// Linked for its global allocator: the one the Lambdas run with.
use stripe_events_lambda as _;
use stripe_events_testkit::fixtures::fixture;

/// A temporary file, removed however `main` ends.
struct TempFile(String);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The value after `flag` on the command line.
fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a String> {
    let i = args.iter().position(|a| a == flag)?;
    args.get(i + 1)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let rounds: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(5_000);
    let consumer = bench_consumer(Family::Subscription);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let template = fixture("partner-snapshot/subscription-large.json");
    let template_out = flag_value(&args, "--template-out");
    let template_path = template_out.cloned().unwrap_or_else(|| {
        let p = std::env::temp_dir().join(format!("interleaved-{}.json", std::process::id()));
        p.to_string_lossy().into_owned()
    });
    let node_script = flag_value(&args, "--node");
    // Without `--template-out`, the file Node reads is ours to remove.
    let _temp = template_out
        .is_none()
        .then(|| TempFile(template_path.clone()));
    if template_out.is_some() || node_script.is_some() {
        std::fs::write(&template_path, wire_bytes(&template))?;
    }
    // Node warms its JIT on rounds of its own (an eighth of `rounds`) before the first line.
    let mut node = match node_script {
        Some(script) => {
            let mut child = Command::new("node")
                .args([script, &template_path, &rounds.to_string(), "--serve"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .map_err(|e| format!("cannot run node (is Node.js installed?): {e}"))?;
            let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
                return Err("node started without its pipes".into());
            };
            Some((child, stdin, BufReader::new(stdout)))
        }
        None => None,
    };
    let (mut floor, mut typed, mut handler) = (vec![], vec![], vec![]);
    let (mut node_parse, mut node_handler) = (vec![], vec![]);
    let time = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        f();
        t.elapsed().as_secs_f64() * 1e6
    };
    for i in 1..=rounds {
        let mut v = template.clone();
        uniquify(&mut v, i);
        let p = wire_bytes(&v);
        floor.push(time(&mut || {
            std::hint::black_box(serde_json::from_slice::<serde::de::IgnoredAny>(&p).ok());
        }));
        typed.push(time(&mut || {
            let inv = stripe_events_core::parse_bytes(&p);
            std::hint::black_box(inv.map(|i| i.records[0].delivery().is_ok()).ok());
        }));
        handler.push(time(&mut || {
            let deadline = Instant::now() + Duration::from_secs(10);
            let answer = rt.block_on(consumer.answer(&p, deadline));
            std::hint::black_box(answer.reply.to_body());
        }));
        if let Some((_, stdin, stdout)) = node.as_mut() {
            writeln!(stdin, "{i}")?;
            let mut line = String::new();
            stdout.read_line(&mut line)?;
            let mut times = line.split_whitespace().map(|t| t.parse::<f64>());
            match (times.next(), times.next()) {
                (Some(Ok(p)), Some(Ok(h))) => {
                    node_parse.push(p);
                    node_handler.push(h);
                }
                _ => return Err(format!("node answered {line:?}").into()),
            }
        }
    }
    let (f, t, h) = (
        quantile(&floor, 0.5),
        quantile(&typed, 0.5),
        quantile(&handler, 0.5),
    );
    println!("median µs: floor {f:.2}  typed parse {t:.2}  handler {h:.2}  handler/floor {:.2}  parse/floor {:.2}", h / f, t / f);
    let mut node_medians = serde_json::Value::Null;
    if let Some((mut child, stdin, _)) = node {
        drop(stdin);
        let _ = child.wait();
        let (np, nh) = (quantile(&node_parse, 0.5), quantile(&node_handler, 0.5));
        println!("node median µs: JSON.parse {np:.2}  handler {nh:.2}  node/Rust handler {:.2}  JSON.parse/typed parse {:.2}", nh / h, np / t);
        let version = Command::new("node")
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        node_medians = serde_json::json!({
            "version": version,
            "json_parse_us": np,
            "handler_us": nh,
        });
    }
    if let Some(path) = flag_value(&args, "--json") {
        let medians = serde_json::json!({
            "rounds": rounds,
            "floor_us": f,
            "typed_parse_us": t,
            "handler_us": h,
            "node": node_medians,
        });
        std::fs::write(path, medians.to_string())?;
    }
    Ok(())
}
