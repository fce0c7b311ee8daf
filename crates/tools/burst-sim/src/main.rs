//! `make simulate-burst`: a first-of-the-month burst through the model, with the numbers
//! Terraform deploys (infra/variables.tf), then the same burst with the consumers unreserved
//! and with Stripe faster or slower than the sizing assumed.
//!
//! Options: `--events N` (100000), `--spread-secs S` (300), `--thin-fraction F` (0.5),
//! `--seed N`, `--variables PATH` (infra/variables.tf).

use std::path::PathBuf;
use std::process::ExitCode;

use burst_sim::tfvars::Defaults;
use burst_sim::{default_variables_path, simulate, Report, Scenario, TerraformInputs};

struct Args {
    events: Option<usize>,
    spread_secs: Option<f64>,
    thin_fraction: Option<f64>,
    seed: Option<u64>,
    variables: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        events: None,
        spread_secs: None,
        thin_fraction: None,
        seed: None,
        variables: default_variables_path(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let bad = |v: &str| format!("{flag}: cannot parse {v:?}");
        match flag.as_str() {
            "--events" => {
                let v = value()?;
                args.events = Some(v.parse().map_err(|_| bad(&v))?);
            }
            "--spread-secs" => {
                let v = value()?;
                args.spread_secs = Some(v.parse().map_err(|_| bad(&v))?);
            }
            "--thin-fraction" => {
                let v = value()?;
                args.thin_fraction = Some(v.parse().map_err(|_| bad(&v))?);
            }
            "--seed" => {
                let v = value()?;
                args.seed = Some(v.parse().map_err(|_| bad(&v))?);
            }
            "--variables" => args.variables = PathBuf::from(value()?),
            "-h" | "--help" => {
                return Err("usage: burst-sim [--events N] [--spread-secs S] [--thin-fraction F] [--seed N] [--variables infra/variables.tf]".into())
            }
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let tf = match Defaults::read(&args.variables).and_then(|d| TerraformInputs::read(&d)) {
        Ok(tf) => tf,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let mut base = Scenario::from_terraform(&tf);
    if let Some(n) = args.events {
        base.events = n;
    }
    if let Some(s) = args.spread_secs {
        base.spread_secs = s;
    }
    if let Some(f) = args.thin_fraction {
        base.thin_fraction = f;
    }
    if let Some(seed) = args.seed {
        base.seed = seed;
    }

    println!("Terraform defaults read from {}:", args.variables.display());
    println!(
        "  stripe_read_rate_limit = {}/s, stripe_account_rate_limit = {}/s, stripe_consumers_account_share = {}, stripe_fetch_latency_ms = {}",
        tf.stripe_read_rate_limit,
        tf.stripe_account_rate_limit,
        tf.stripe_consumers_account_share,
        tf.stripe_fetch_latency_ms
    );
    println!(
        "  consumer_timeout_seconds = {}, lambda_async_max_retry_attempts = {}, lambda_async_max_event_age_seconds = {}, target retry policy = {} s / {} attempts",
        tf.consumer_timeout_seconds,
        tf.lambda_async_max_retry_attempts,
        tf.lambda_async_max_event_age_seconds,
        tf.target_max_event_age_seconds,
        tf.target_max_retry_attempts
    );
    println!(
        "  -> {:.2} requests/s per consumer, reserved concurrency {} per consumer (max(1, floor(rate x latency)))",
        tf.consumer_rate(),
        tf.reserved_concurrency()
    );
    println!(
        "Burst: {} events over {} s, {:.0}% thin; families subscription/payment/customer 25/60/15%; other Stripe traffic of the account {:.0}/s; seed {}",
        base.events,
        base.spread_secs,
        base.thin_fraction * 100.0,
        base.background_rps,
        base.seed
    );
    println!();

    let mut faster = base.clone();
    faster.label = format!(
        "reserved, Stripe at {:.0} ms instead of {:.0} ms",
        base.stripe_latency_ms / 2.0,
        base.stripe_latency_ms
    );
    faster.stripe_latency_ms /= 2.0;
    let mut slower = base.clone();
    slower.label = format!(
        "reserved, Stripe at {:.0} ms instead of {:.0} ms",
        base.stripe_latency_ms * 2.0,
        base.stripe_latency_ms
    );
    slower.stripe_latency_ms *= 2.0;
    let scenarios = [base.clone(), base.clone().unreserved(), faster, slower];
    let reports: Vec<Report> = scenarios.iter().map(simulate).collect();
    print_table(&reports);
    ExitCode::SUCCESS
}

/// One printed line: its name and how to render it from a report.
type Row = (&'static str, Box<dyn Fn(&Report) -> String>);

fn print_table(reports: &[Report]) {
    let rows: Vec<Row> = vec![
        (
            "drain time",
            Box::new(|r| format!("{:.0} s ({:.1} min)", r.drain_secs, r.drain_secs / 60.0)),
        ),
        ("applied", Box::new(|r| r.applied.to_string())),
        ("events lost (DLQ)", Box::new(|r| r.lost().to_string())),
        (
            "  after 3 failed invocations",
            Box::new(|r| r.lost_function_errors.to_string()),
        ),
        (
            "  aged out in the async queue",
            Box::new(|r| r.lost_aged.to_string()),
        ),
        (
            "  EventBridge retries exhausted",
            Box::new(|r| r.lost_eventbridge.to_string()),
        ),
        (
            "Stripe requests",
            Box::new(|r| r.stripe_requests.to_string()),
        ),
        ("Stripe 429s", Box::new(|r| r.stripe_429s.to_string())),
        (
            "  429s to the account's other calls",
            Box::new(|r| r.background_429s.to_string()),
        ),
        (
            "peak admitted/s: endpoint, account",
            Box::new(|r| {
                format!(
                    "{}/{}, {}/{}",
                    r.peak_endpoint_rps, r.endpoint_limit, r.peak_account_rps, r.account_limit
                )
            }),
        ),
        ("invocations", Box::new(|r| r.invocations.to_string())),
        (
            "invocation errors (Lambda async retries)",
            Box::new(|r| r.function_errors.to_string()),
        ),
        (
            "throttled requeues (Lambda async queue)",
            Box::new(|r| r.throttles.to_string()),
        ),
        (
            "EventBridge target retries",
            Box::new(|r| r.eventbridge_retries.to_string()),
        ),
        (
            "peak concurrency",
            Box::new(|r| r.peak_concurrency.to_string()),
        ),
        (
            "arrival -> applied p50 / p99 / max",
            Box::new(|r| {
                format!(
                    "{:.0} / {:.0} / {:.0} s",
                    r.latency_p50_secs, r.latency_p99_secs, r.latency_max_secs
                )
            }),
        ),
    ];
    for r in reports {
        println!("== {}", r.label);
        for (name, f) in &rows {
            println!("  {name:<42} {}", f(r));
        }
        println!();
    }
}
