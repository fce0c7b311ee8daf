//! `stripe-events-bench`: the measuring half of `make bench` (driven by `run.sh`), one module
//! per subcommand:
//!
//! - `coldstart` ([`coldstart`]): spawns packaged `bootstrap` binaries against the Runtime API
//!   emulator: exec → first `GET …/invocation/next` over many starts, then one process
//!   serving N invocations (store: moto) and its peak RSS (`VmHWM`).
//! - `cpu` ([`cpu`]): CPU per warm invocation (`utime + stime`) of each binary, per case,
//!   against moto and against an instant local responder ([`responder`]).
//! - `profile` ([`profile`]): where those instructions go (callgrind on the binary): Runtime
//!   API loop, parse, handler, AWS SDK (build, sign, send, parse), logging, EMF.
//! - `roundtrips` ([`roundtrips`]): DynamoDB requests (SDK interceptor) and Stripe calls per
//!   event against moto and localstripe, with the production clients.
//! - `batch` ([`batch`]): the wall time of an SQS batch of 10 new events against moto behind
//!   a proxy adding a fixed delay per request, records concurrent vs one at a time.
//! - `table` ([`table`]): the final table from the JSON results, criterion's estimates and
//!   the zips.
//!
//! Harness code: a broken environment (no moto, a fixture missing) panics with the reason.

mod batch;
mod coldstart;
mod cpu;
mod profile;
mod responder;
mod roundtrips;
mod sys;
mod table;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use serde_json::Value;

#[derive(Parser)]
#[command(about = "stripe-events benchmarks (see crates/tools/stripe-events-bench/run.sh)")]
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
    /// CPU per warm invocation of each binary and case, against moto and/or the instant
    /// responder (needs moto for `--backend moto`).
    Cpu {
        /// NAME=PATH of a bootstrap binary; NAME is subscription|payment|customer|webhook.
        #[arg(long = "function", required = true)]
        functions: Vec<String>,
        /// moto, instant (default: both).
        #[arg(long = "backend")]
        backends: Vec<String>,
        /// Measured invocations per case (after `--warmup` unmeasured ones).
        #[arg(long, default_value_t = 1000)]
        invocations: u64,
        #[arg(long, default_value_t = 50)]
        warmup: u64,
        #[arg(long)]
        out: PathBuf,
        /// A label for this run's rows in the table (e.g. "before").
        #[arg(long, default_value = "")]
        label: String,
        #[arg(long, default_value = "")]
        command: String,
    },
    /// Instructions per warm invocation by part (callgrind on a binary with symbols, against
    /// the instant responder).
    Profile {
        /// NAME=PATH of a binary with symbols (target/release/<fn>).
        #[arg(long = "function", required = true)]
        functions: Vec<String>,
        /// Invocations per case in the measured run, beyond the `--base` of the reference run.
        #[arg(long, default_value_t = 200)]
        invocations: u64,
        #[arg(long, default_value_t = 20)]
        base: u64,
        /// Where callgrind's files go.
        #[arg(long)]
        work: PathBuf,
        /// Reads the callgrind files already in `--work` instead of running again.
        #[arg(long)]
        reuse: bool,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value = "")]
        label: String,
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
    /// Wall time of an SQS batch of 10 new events against moto behind a delaying proxy.
    Batch {
        /// Added to every request to moto.
        #[arg(long, default_value_t = 10)]
        delay_ms: u64,
        #[arg(long, default_value_t = 5)]
        repeats: u32,
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

fn pairs(args: &[String], what: &str) -> Vec<(String, String)> {
    args.iter()
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .unwrap_or_else(|| panic!("--{what} {kv}: expected NAME=VALUE"));
            (k.to_owned(), v.to_owned())
        })
        .collect()
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
            let extra = pairs(&env, "env");
            let mut results = Vec::new();
            for (name, path) in pairs(&functions, "function") {
                let run = coldstart::Run {
                    starts,
                    warmup,
                    invocations,
                    extra: &extra,
                    label: &label,
                    command: &command,
                };
                results.push(coldstart::coldstart(&name, Path::new(&path), &run).await);
            }
            write_json(&out, &Value::from(results));
        }
        Cmd::Cpu {
            functions,
            backends,
            invocations,
            warmup,
            out,
            label,
            command,
        } => {
            let backends = if backends.is_empty() {
                vec![cpu::Backend::Moto, cpu::Backend::Instant]
            } else {
                backends.iter().map(|b| cpu::Backend::parse(b)).collect()
            };
            let run = cpu::CpuRun {
                functions: pairs(&functions, "function")
                    .into_iter()
                    .map(|(n, p)| (n, PathBuf::from(p)))
                    .collect(),
                backends,
                invocations,
                warmup,
                label,
                command,
            };
            write_json(&out, &Value::from(cpu::cpu(&run).await));
        }
        Cmd::Profile {
            functions,
            invocations,
            base,
            work,
            reuse,
            out,
            label,
            command,
        } => {
            let run = profile::ProfileRun {
                invocations,
                base,
                work,
                reuse,
                label,
                command,
            };
            let mut rows = Vec::new();
            for (name, path) in pairs(&functions, "function") {
                rows.extend(profile::profile(&name, Path::new(&path), &run).await);
            }
            write_json(&out, &Value::from(rows));
        }
        Cmd::Roundtrips { out, command } => {
            let rows = roundtrips::roundtrips(&command).await;
            write_json(&out, &Value::from(rows));
        }
        Cmd::Batch {
            delay_ms,
            repeats,
            out,
            command,
        } => {
            let v = batch::batch(
                std::time::Duration::from_millis(delay_ms),
                repeats,
                &command,
            )
            .await;
            write_json(&out, &v);
        }
        Cmd::Table {
            results,
            criterion,
            packages,
            handler_command,
            size_command,
        } => print!(
            "{}",
            table::table(
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
