//! `table`: the final table from the JSON results, criterion's estimates and the zips.

use std::path::{Path, PathBuf};

use serde_json::Value;

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
            "≤ 4 ms (issue 17)",
            mark(med <= 4.0),
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
        "snapshot 10 KB, new: invocation body in → reply out (`Consumer::answer`, as the Lambdas run it)",
        1,
    ),
    (
        "snapshot_10kb_parse_typed",
        "of which: bytes → Delivery with the typed object",
        1,
    ),
    (
        "snapshot_10kb_parse_typed_sorted_keys",
        "the same with every key sorted (no producer's order: the object's kind is read late)",
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

pub(crate) fn table(
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
    // The figures from before issue 17, kept in the repository.
    let baseline = Path::new(env!("CARGO_MANIFEST_DIR")).join("baseline");
    files.push(baseline.join("coldstart.json"));
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

    // 1b. CPU per warm invocation, its breakdown and the batch wall time, next to the figures
    // kept from before (crates/tools/stripe-events-bench/baseline/).
    cpu_rows(&mut t, results, &baseline);
    profile_rows(&mut t, results, &baseline);
    batch_rows(&mut t, results);

    // 2. Handler cost (criterion, median time per iteration), the new snapshot also against
    // serde_json's floor on the same bytes (target: within 2×).
    let median_ns = |id: &str| {
        read_json(
            &criterion
                .join("handler")
                .join(id)
                .join("new/estimates.json"),
        )
        .and_then(|est| est["median"]["point_estimate"].as_f64())
    };
    let floor_ns = median_ns("snapshot_10kb_parse_ignored");
    for (id, label, events) in HANDLER_CASES {
        let Some(total_ns) = median_ns(id) else {
            t.row(
                ["handler cost", label, "not measured", "", ""],
                handler_command,
            );
            continue;
        };
        let ns = total_ns / events as f64;
        let per_s = 1e9 / ns;
        let mut figure = format!("{:.1} µs/event, {:.0} events/s", ns / 1e3, per_s);
        let (target, met) = if id.starts_with("snapshot_10kb_new") && !id.ends_with("logged") {
            let floor_ratio = floor_ns.map(|f| ns / f);
            if let Some(r) = floor_ratio {
                figure.push_str(&format!(", {r:.1}× the floor"));
            }
            (
                "≥ 80,000 events/s, ≤ 2× the floor",
                mark(per_s >= 80_000.0 && floor_ratio.is_some_and(|r| r <= 2.0)),
            )
        } else {
            ("–", "")
        };
        t.row(
            ["handler cost, one core", label, &figure, target, met],
            handler_command,
        );
    }

    side_by_side_rows(&mut t, results);

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

/// The command `run.sh` runs for interleaved.json (`--node …` only when Node.js is installed).
const SIDE_BY_SIDE_COMMAND: &str = "target/release/examples/interleaved 8000 --node crates/tools/stripe-events-bench/node/side_by_side.mjs --json target/bench/interleaved.json";

/// The 10 KB snapshot timed round by round next to serde_json's floor and, when Node.js was
/// there, next to the Node.js handler doing the same work (interleaved.json).
fn side_by_side_rows(t: &mut Table, results: &Path) {
    let Some(m) = read_json(&results.join("interleaved.json")) else {
        t.row(
            [
                "handler cost, side by side",
                "10 KB snapshot, new",
                "not measured (no interleaved.json)",
                "",
                "",
            ],
            SIDE_BY_SIDE_COMMAND,
        );
        return;
    };
    let us = |v: &Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    let (floor, parse, handler) = (
        us(&m, "floor_us"),
        us(&m, "typed_parse_us"),
        us(&m, "handler_us"),
    );
    let ratio = handler / floor;
    t.row(
        [
            "handler cost, side by side",
            "10 KB snapshot, new: handler / serde_json floor",
            &format!(
                "{ratio:.2}× (handler {handler:.1} µs, floor {floor:.1} µs; typed parse {:.2}×)",
                parse / floor
            ),
            "≤ 2×",
            mark(ratio <= 2.0),
        ],
        SIDE_BY_SIDE_COMMAND,
    );
    let node = &m["node"];
    if node.is_null() {
        t.row(
            [
                "against Node.js",
                "10 KB snapshot, new",
                "not measured (node not installed)",
                "",
                "",
            ],
            SIDE_BY_SIDE_COMMAND,
        );
        return;
    }
    let node_handler = us(node, "handler_us");
    let ratio = node_handler / handler;
    t.row(
        [
            "against Node.js",
            &format!(
                "10 KB snapshot, new: Node.js {} handler / Rust handler",
                node["version"].as_str().unwrap_or("?")
            ),
            &format!(
                "{ratio:.2}× (Node.js {node_handler:.1} µs, Rust {handler:.1} µs; JSON.parse / typed parse {:.2}×)",
                us(node, "json_parse_us") / parse
            ),
            "≥ 3×",
            mark(ratio >= 3.0),
        ],
        SIDE_BY_SIDE_COMMAND,
    );
}

fn rows_of(path: &Path) -> Vec<Value> {
    read_json(path)
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

/// The target of a CPU case against the instant responder (issue 17).
fn cpu_target(function: &str, backend: &str, case: &str) -> Option<f64> {
    if backend != "instant" || function == "webhook" {
        return None;
    }
    if case.starts_with("snapshot, new") {
        Some(0.25)
    } else if case.starts_with("snapshot, duplicate") {
        Some(0.15)
    } else {
        None
    }
}

fn cpu_rows(t: &mut Table, results: &Path, baseline: &Path) {
    let before = rows_of(&baseline.join("cpu.json"));
    let rows = rows_of(&results.join("cpu.json"));
    if rows.is_empty() {
        t.row(
            [
                "CPU per warm invocation",
                "all",
                "not measured (no cpu.json)",
                "",
                "",
            ],
            "",
        );
    }
    for r in rows {
        let get = |v: &Value, k: &str| v[k].as_str().unwrap_or("?").to_owned();
        let (f, b, c) = (get(&r, "function"), get(&r, "backend"), get(&r, "case"));
        let ms = r["cpu_ms"].as_f64().unwrap_or(f64::NAN);
        let prev = before
            .iter()
            .find(|p| get(p, "function") == f && get(p, "backend") == b && get(p, "case") == c)
            .and_then(|p| p["cpu_ms"].as_f64());
        let answers = r["answers"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| format!("{k} ×{v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        let target = cpu_target(&f, &b, &c);
        t.row(
            [
                "CPU per warm invocation (utime+stime, whole process)",
                &format!("{f} vs {b}: {c}"),
                &format!(
                    "{ms:.3} ms (before: {}); wall {:.2} ms; {} invocations: {answers}{}",
                    prev.map_or("–".into(), |p| format!("{p:.3} ms")),
                    r["wall_ms"].as_f64().unwrap_or(f64::NAN),
                    r["invocations"],
                    match r["aws_requests_per_invocation"].as_f64() {
                        Some(a) => format!(
                            "; AWS requests/invocation {a:.2}, Stripe {:.2}",
                            r["stripe_requests_per_invocation"].as_f64().unwrap_or(0.0)
                        ),
                        None => String::new(),
                    }
                ),
                &target.map_or("–".into(), |x| format!("≤ {x} ms")),
                target.map_or("", |x| mark(ms <= x)),
            ],
            r["command"].as_str().unwrap_or(""),
        );
    }
}

fn profile_rows(t: &mut Table, results: &Path, baseline: &Path) {
    let before = rows_of(&baseline.join("profile.json"));
    for r in rows_of(&results.join("profile.json")) {
        let f = r["function"].as_str().unwrap_or("?");
        let c = r["case"].as_str().unwrap_or("?");
        let prev = before
            .iter()
            .find(|p| p["function"] == r["function"] && p["case"] == r["case"]);
        let total = r["instructions"].as_f64().unwrap_or(f64::NAN);
        for part in r["parts"].as_array().cloned().unwrap_or_default() {
            let name = part[0].as_str().unwrap_or("?");
            let n = part[1].as_f64().unwrap_or(f64::NAN);
            let p = prev.and_then(|p| {
                p["parts"]
                    .as_array()?
                    .iter()
                    .find(|q| q[0].as_str() == Some(name))?[1]
                    .as_f64()
            });
            t.row(
                [
                    "instructions per warm invocation (callgrind, instant responder)",
                    &format!("{f}: {c}: {}", name.replace('|', "/")),
                    &format!(
                        "{:.0} k ({:.0} %) (before: {})",
                        n / 1e3,
                        100.0 * n / total,
                        p.map_or("–".into(), |p| format!("{:.0} k", p / 1e3))
                    ),
                    "–",
                    "",
                ],
                r["command"].as_str().unwrap_or(""),
            );
        }
    }
}

fn batch_rows(t: &mut Table, results: &Path) {
    let Some(b) = read_json(&results.join("batch.json")) else {
        return;
    };
    for (upstream, what) in [
        ("moto", "moto (serves one request at a time)"),
        ("instant", "the instant responder (the round trips alone)"),
    ] {
        let r = &b[upstream];
        let num = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
        let one = num("one_event_ms");
        let par = num("batch10_concurrent_ms");
        let seq = num("batch10_sequential_ms");
        t.row(
            [
                "SQS batch of 10 new events, wall time (proxy adding a delay per request)",
                &format!("{what}, +{} ms per request", b["delay_ms"]),
                &format!(
                    "concurrent (10): {par:.1} ms = {:.1}× one event ({one:.1} ms); one at a time: {seq:.1} ms = {:.1}×",
                    par / one,
                    seq / one
                ),
                "≈ 1 round trip",
                mark(par / one < 2.0),
            ],
            b["command"].as_str().unwrap_or(""),
        );
    }
}
