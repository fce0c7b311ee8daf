//! `stripe-events`: the operator CLI. See `stripe-events --help`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use stripe_events_cli::audit::{classify, summarise, Seen};
use stripe_events_cli::context::Context;
use stripe_events_cli::parse_since;
use stripe_events_cli::replay::{replay_bytes, replay_value, Row};
use stripe_events_cli::state::{customer_state, customers_of_user, to_json};
use stripe_events_cli::table::Table;
use stripe_events_core::Timestamp;
use stripe_events_store::{create_tables, TableNames};

#[derive(Parser)]
#[command(
    name = "stripe-events",
    version,
    about = "Operate the Stripe events pipeline: replay, audit, backfill, state"
)]
struct Cli {
    /// Table prefix: tables are <prefix>-stripe-events and <prefix>-stripe-billing.
    #[arg(
        long,
        env = "TABLE_PREFIX",
        default_value = "ai-nexus-dev",
        global = true
    )]
    table_prefix: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Route event files through the deployed rule files to their handlers, in process.
    Replay {
        /// Files or folders of event JSON (`*.expect.json` files are skipped).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Migration view: events seen by both paths, only by webhook, only by partner.
    Audit {
        /// Only events first seen since (e.g. `24h`, `7d`, `2026-11-01`).
        #[arg(long)]
        since: Option<String>,
        /// Webhook-only events younger than this may still get their partner delivery.
        #[arg(long, default_value = "10m")]
        grace: String,
    },
    /// List Stripe events (`/v1/events`, 30-day window) and run each through the pipeline.
    Backfill {
        #[arg(long)]
        since: String,
        /// Comma-separated event types (default: all).
        #[arg(long, value_delimiter = ',')]
        types: Vec<String>,
    },
    /// The billing state the application reads for a customer.
    State {
        customer_id: Option<String>,
        /// Look the customer up by the application's user id (`metadata.user_id`).
        #[arg(long)]
        user: Option<String>,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Create the two tables (local stacks; Terraform owns them in AWS).
    CreateTables,
}

fn init_logs() {
    // Handler logs go to stderr at warn by default so the tables stay readable.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .init();
}

#[tokio::main]
async fn main() -> ExitCode {
    init_logs();
    let cli = Cli::parse();
    let tables = TableNames::for_prefix(&cli.table_prefix);
    match run(cli.command, tables).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("stripe-events: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, tables: TableNames) -> Result<ExitCode, String> {
    if let Command::CreateTables = command {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let client = stripe_events_store::dynamodb_client(&sdk, None);
        create_tables(&client, &tables)
            .await
            .map_err(|e| e.to_string())?;
        println!("created {} and {}", tables.dedupe, tables.billing);
        return Ok(ExitCode::SUCCESS);
    }
    let ctx = Context::from_env(tables).await?;
    match command {
        Command::Replay { paths } => {
            let files = event_files(&paths)?;
            let bar = progress(files.len() as u64, "replaying");
            let mut rows = Vec::new();
            for file in &files {
                let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
                rows.extend(replay_bytes(&ctx, &file.display().to_string(), &bytes).await);
                bar.inc(1);
            }
            bar.finish_and_clear();
            print_rows(&rows);
            Ok(exit_for(&rows))
        }
        Command::Backfill { since, types } => {
            let since = parse_since(&since, Timestamp::now())
                .ok_or("--since: expected 7d, 24h or a date")?;
            let events = ctx
                .stripe
                .list_events(since, &types)
                .await
                .map_err(|e| e.to_string())?;
            let bar = progress(events.len() as u64, "backfilling");
            let mut rows = Vec::new();
            for event in events {
                rows.extend(replay_value(&ctx, "backfill", event).await);
                bar.inc(1);
            }
            bar.finish_and_clear();
            print_rows(&rows);
            Ok(exit_for(&rows))
        }
        Command::Audit { since, grace } => {
            let now = Timestamp::now();
            let since = match since {
                Some(s) => Some(parse_since(&s, now).ok_or("--since: expected 7d, 24h or a date")?),
                None => None,
            };
            let grace = parse_since(&grace, now).ok_or("--grace: expected e.g. 10m")?;
            let records = ctx
                .store
                .dedupe_records()
                .await
                .map_err(|e| e.to_string())?;
            let entries: Vec<_> = records
                .iter()
                .map(classify)
                .filter(|e| since.is_none_or(|s| e.first_seen_ms >= s.unix_millis()))
                .collect();
            let mut table = Table::new(&[
                "consumer",
                "event type",
                "both",
                "webhook only",
                "partner only",
                "direct only",
                "median partner delay",
            ]);
            for ((consumer, typ), s) in summarise(&entries) {
                let n = |k: Seen| s.counts.get(&k).copied().unwrap_or(0).to_string();
                let delay = s
                    .median_delay_ms()
                    .map(|d| format!("{d} ms"))
                    .unwrap_or_else(|| "-".into());
                table.row(vec![
                    consumer,
                    typ,
                    n(Seen::Both),
                    n(Seen::WebhookOnly),
                    n(Seen::PartnerOnly),
                    n(Seen::Neither),
                    delay,
                ]);
            }
            println!("{}", table.render());
            let missed: Vec<_> = entries
                .iter()
                .filter(|e| e.seen == Seen::WebhookOnly && e.first_seen_ms < grace.unix_millis())
                .collect();
            println!(
                "\nmissed by the partner source (webhook only, older than the grace period): {}",
                missed.len()
            );
            for e in &missed {
                println!("  {}  {}", e.key, e.event_type);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::State {
            customer_id,
            user,
            json,
        } => {
            let customers = match (customer_id, user) {
                (Some(c), None) => vec![c],
                (None, Some(u)) => customers_of_user(&ctx.store, &u)
                    .await
                    .map_err(|e| e.to_string())?,
                _ => return Err("give a CUSTOMER_ID or --user USER_ID".into()),
            };
            if customers.is_empty() {
                return Err("no customer has that user id".into());
            }
            for c in customers {
                let state = customer_state(&ctx.store, &c)
                    .await
                    .map_err(|e| e.to_string())?;
                if json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&to_json(&state)).unwrap_or_default()
                    );
                } else {
                    print_state(&state);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::CreateTables => Ok(ExitCode::SUCCESS),
    }
}

fn progress(len: u64, what: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{msg} {bar:30} {pos}/{len}") {
        bar.set_style(style);
    }
    bar.set_message(what);
    bar
}

fn event_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("{}: {e}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            for e in entries {
                walk(&e, out)?;
            }
        } else {
            let name = p.to_string_lossy();
            if name.ends_with(".json") && !name.ends_with(".expect.json") {
                out.push(p.to_path_buf());
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        if !p.exists() {
            return Err(format!("{}: no such file or folder", p.display()));
        }
        walk(p, &mut out)?;
    }
    Ok(out)
}

fn print_rows(rows: &[Row]) {
    let mut table = Table::new(&["source", "event", "type", "rule(s)", "lambda", "outcome"]);
    for r in rows {
        table.row(vec![
            short(&r.source),
            r.event_id.clone(),
            r.event_type.clone(),
            r.route.clone(),
            r.lambda.clone(),
            r.outcome.clone(),
        ]);
    }
    println!("{}", table.render());
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rows {
        let key = if r.outcome.starts_with("unreadable") {
            "unreadable"
        } else {
            r.outcome.as_str()
        };
        *counts.entry(key).or_default() += 1;
    }
    let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    println!("\n{} deliveries: {}", rows.len(), summary.join(", "));
}

fn short(source: &str) -> String {
    source
        .split("fixtures/")
        .last()
        .unwrap_or(source)
        .to_owned()
}

/// Non-zero when something must be retried, so scripts notice.
fn exit_for(rows: &[Row]) -> ExitCode {
    if rows.iter().any(|r| r.outcome == "failed_transient") {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}

fn print_state(s: &stripe_events_cli::state::CustomerState) {
    let get = |m: &serde_json::Map<String, serde_json::Value>, k: &str| match m.get(k) {
        Some(serde_json::Value::String(v)) => v.clone(),
        Some(serde_json::Value::Null) | None => "-".into(),
        Some(v) => v.to_string(),
    };
    println!("customer {}", s.customer_id);
    if let Some(p) = &s.profile {
        println!(
            "  email {}  name {}  user_id {}  deleted {}  delinquent {}",
            get(p, "email"),
            get(p, "name"),
            get(p, "user_id"),
            get(p, "deleted"),
            get(p, "delinquent")
        );
    } else {
        println!("  (no profile yet)");
    }
    let e = &s.entitlement;
    let until = e
        .until
        .map(|u| Timestamp::from_unix_seconds(u).to_rfc3339())
        .unwrap_or_else(|| "-".into());
    println!(
        "  entitled: {}{}",
        e.entitled,
        if e.entitled {
            format!(
                " via {} ({}) until {until}",
                e.subscription_id.as_deref().unwrap_or("-"),
                e.status.as_deref().unwrap_or("-")
            )
        } else {
            String::new()
        }
    );
    if !s.subscriptions.is_empty() {
        let mut t = Table::new(&[
            "subscription",
            "status",
            "period end",
            "cancel at period end",
            "last event",
        ]);
        for sub in &s.subscriptions {
            t.row(vec![
                get(sub, "object_id"),
                get(sub, "status"),
                get(sub, "current_period_end"),
                get(sub, "cancel_at_period_end"),
                get(sub, "last_event_type"),
            ]);
        }
        println!("\n{}", t.render());
    }
    if !s.payments.is_empty() {
        let mut t = Table::new(&[
            "payment (newest first)",
            "object",
            "status",
            "amount",
            "currency",
        ]);
        for p in &s.payments {
            let amount = ["amount_paid", "amount_due", "amount"]
                .iter()
                .map(|k| get(p, k))
                .find(|v| v != "-")
                .unwrap_or_else(|| "-".into());
            t.row(vec![
                get(p, "object_id"),
                get(p, "object_type"),
                get(p, "status"),
                amount,
                get(p, "currency"),
            ]);
        }
        println!("\n{}", t.render());
    }
    if !s.other.is_empty() {
        let mut t = Table::new(&["item", "object", "detail"]);
        for o in &s.other {
            let detail = match get(o, "object_type").as_str() {
                "payment_method" => format!(
                    "{} {} attached={}",
                    get(o, "brand"),
                    get(o, "last4"),
                    get(o, "attached")
                ),
                "tax_id" => format!("{} {}", get(o, "type"), get(o, "value")),
                "discount" => format!("coupon {}", get(o, "coupon_id")),
                _ => get(o, "status"),
            };
            t.row(vec![get(o, "object_id"), get(o, "object_type"), detail]);
        }
        println!("\n{}", t.render());
    }
    println!();
}
