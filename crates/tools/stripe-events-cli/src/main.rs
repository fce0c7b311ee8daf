//! `stripe-events`: the operator CLI. See `stripe-events --help`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use stripe_events_cli::audit::{classify, format_lag, summarise, Seen, LAG_NOTE};
use stripe_events_cli::context::{store_from_env, Context};
use stripe_events_cli::replay::{replay_bytes, replay_value, Row};
use stripe_events_cli::state::{customer_state, customers_of_user, to_json};
use stripe_events_cli::table::Table;
use stripe_events_cli::{event_types, exit, explain, parse_since};
use stripe_events_core::{Family, Timestamp};
use stripe_events_store::TableNames;

/// What the CLI reads from the environment (also in the README).
const ENVIRONMENT_HELP: &str = "\
Environment:
  TABLE_PREFIX               --table-prefix (tables <prefix>-stripe-events, <prefix>-stripe-billing)
  AWS_REGION, AWS_PROFILE, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ...
                             the standard AWS configuration (DynamoDB, EventBridge, Logs, STS)
  AWS_ENDPOINT_URL           local stacks only (moto);
                             EVENT_SOURCES_ENDPOINT_URL for ListEventSources
  STRIPE_API_KEY             the Stripe key (replay, backfill, setup, ping,
                             migrate cutover/rollback)
  STRIPE_API_KEY_SECRET_ARN  ... or the Secrets Manager secret holding it (the bare key or
                             JSON with an api_key field); wins over STRIPE_API_KEY
  STRIPE_API_BASE            default https://api.stripe.com (localstripe locally);
                             STRIPE_ADMIN_API_BASE for setup/ping/migrate if different
  STRIPE_API_VERSION         optional Stripe-Version for fetches
  STRIPE_WEBHOOK_URL         --webhook-url of migrate
  USER                       default --operator of migrate
  RUST_LOG                   handler logs on stderr (JSON lines), default warn;
                             AWS_LAMBDA_LOG_LEVEL wins, AWS_LAMBDA_LOG_FORMAT=Text: plain lines
  NO_COLOR                   no colour (there is colour only on a terminal anyway)
state, audit, create-tables and migrate status need no Stripe key.";

#[derive(Parser)]
#[command(
    name = "stripe-events",
    version,
    about = "Operate the Stripe events pipeline: setup, ping, migrate, replay, audit, backfill, state",
    after_help = after_help()
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
    /// Print tables in full (long ids and paths); by default they fit in 100 columns.
    #[arg(long, global = true)]
    wide: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Route event files through the deployed rule files to their handlers, in process.
    Replay {
        /// Event files (replayed whatever their name) or folders (their `*.json` files,
        /// `*.expect.json` excluded; other files are listed as skipped).
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Migration view: events seen by both paths, only by webhook, only by partner.
    Audit {
        /// Only events first seen since: an age (`30m`, `24h`, `7d`) or a date/time
        /// (`2026-11-01`, `2026-11-01T12:00:00Z`). Default: every record (they live 30 days).
        #[arg(long)]
        since: Option<String>,
        /// Webhook-only events younger than this may still get their partner delivery, and
        /// failed partner deliveries their retry (a duration: `10m`, `1h`).
        #[arg(long, default_value = "10m")]
        grace: String,
        /// Print one JSON document instead of tables (fields: docs/operations.md,
        /// "Operator CLI").
        #[arg(long)]
        json: bool,
    },
    /// List Stripe events (`/v1/events`, 30-day window) and run each through the pipeline.
    Backfill {
        /// Events created since: an age (`24h`, `7d`; Stripe keeps 30 days) or a date/time.
        #[arg(long)]
        since: String,
        /// Comma-separated v1 event types, checked against fixtures/event-types.txt and the
        /// families (default: every handled type).
        #[arg(long, value_delimiter = ',')]
        types: Vec<String>,
    },
    /// The billing state the application reads for a customer.
    State {
        /// The Stripe customer id (`cus_…`); or give --user.
        customer_id: Option<String>,
        /// Look the customer up by the application's user id (`metadata.user_id`).
        #[arg(long)]
        user: Option<String>,
        /// Print one JSON document instead of tables: the customer's object, or with --user
        /// an array of them (fields: docs/operations.md, "Operator CLI").
        #[arg(long)]
        json: bool,
    },
    /// Create the two tables (local stacks; Terraform owns them in AWS).
    CreateTables,
    /// Create (or find) the Stripe EventBridge destinations, wait for their partner event
    /// sources and write the tfvars that associate them. `setup status`: where setup stands.
    Setup {
        #[command(subcommand)]
        action: Option<SetupAction>,
        #[command(flatten)]
        args: SetupArgs,
    },
    /// Ping a destination through Stripe and wait for the ping in the monitoring log group.
    Ping {
        /// `snapshot`, `thin` or a destination id (`ed_…`).
        #[arg(long, default_value = "snapshot")]
        destination: String,
        /// The log group the partner buses' monitoring rule writes to.
        #[arg(long, default_value = "/aws/events/stripe-billing")]
        log_group: String,
        /// Longest wait for the ping to be logged.
        #[arg(long, default_value = "2m")]
        wait: String,
        /// How often to look for the ping in the log group.
        #[arg(long, default_value = "2s", hide = true)]
        poll: String,
    },
    /// Move event types from the webhook to the partner path, gated by the audit.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
}

#[derive(clap::Args)]
struct SetupArgs {
    /// AWS account Stripe creates the partner event sources in (default: the caller's, STS).
    #[arg(long)]
    aws_account_id: Option<String>,
    /// AWS region of the sources (default: the configured region).
    #[arg(long)]
    aws_region: Option<String>,
    /// Longest wait for the partner event sources.
    #[arg(long, default_value = "10m")]
    wait: String,
    /// How often to look for the sources.
    #[arg(long, default_value = "5s", hide = true)]
    poll: String,
    /// Where to write the tfvars that associate the sources.
    #[arg(long, default_value = "infra/envs/partner-sources.tfvars")]
    tfvars_out: PathBuf,
}

#[derive(Subcommand)]
enum SetupAction {
    /// One table (destinations, sources, buses, rules) and the next action.
    Status,
}

#[derive(clap::Args)]
struct Selection {
    /// Comma-separated event types.
    #[arg(long, value_delimiter = ',')]
    types: Vec<String>,
    /// Every type of a family (subscription, payment, customer); repeatable.
    #[arg(long, value_delimiter = ',')]
    family: Vec<String>,
    /// The Stripe webhook endpoint's URL (default: Terraform output `webhook_url`).
    #[arg(long, env = "STRIPE_WEBHOOK_URL")]
    webhook_url: Option<String>,
    /// Who is doing this, for the migration log (default: $USER).
    #[arg(long)]
    operator: Option<String>,
}

#[derive(Subcommand)]
enum MigrateAction {
    /// Per event type: both paths, webhook only, partner only, lag, ready, cut over when.
    Status {
        /// How far back the audit counts (an age: `24h`, `7d`).
        #[arg(long, default_value = "24h")]
        window: String,
        /// The Stripe webhook endpoint's URL, to show which types it still sends (needs a
        /// Stripe key; default: Terraform output `webhook_url`).
        #[arg(long, env = "STRIPE_WEBHOOK_URL")]
        webhook_url: Option<String>,
    },
    /// Remove ready types from the webhook endpoint's enabled_events.
    Cutover {
        #[command(flatten)]
        select: Selection,
        /// How far back the audit that decides readiness counts (an age: `24h`, `7d`).
        #[arg(long, default_value = "24h")]
        window: String,
        /// Cut over types that are not ready too.
        #[arg(long)]
        force: bool,
    },
    /// Add types back to the webhook endpoint's enabled_events.
    Rollback {
        #[command(flatten)]
        select: Selection,
    },
}

/// The Lambdas' logging (`stripe_events_lambda::init_logging_with`: `AWS_LAMBDA_LOG_LEVEL`, then
/// `RUST_LOG`, then this default; JSON lines unless `AWS_LAMBDA_LOG_FORMAT=Text`), on stderr.
/// Handler logs at warn by default so the tables stay readable; the AWS SDK's own warnings
/// (IMDS probes, retries) only at error: the CLI reports failures in one line.
const LOGS: stripe_events_lambda::LogSetup = stripe_events_lambda::LogSetup {
    default_directive: "warn,aws_config=error,aws_smithy_runtime=error,aws_smithy_http_client=error,aws_sdk_dynamodb=error",
    stderr: true,
};

fn init_logs() {
    stripe_events_lambda::init_logging_with(LOGS);
}

fn after_help() -> String {
    format!("{ENVIRONMENT_HELP}\n\n{}", exit::HELP)
}

/// Why a command stopped: one line for stderr and the exit code ([`exit`]).
#[derive(Debug)]
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: exit::USAGE,
            message: message.into(),
        }
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure {
            code: exit::ERROR,
            message,
        }
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Failure {
        Failure::from(message.to_owned())
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    init_logs();
    let cli = Cli::parse();
    stripe_events_cli::table::set_max_width(if cli.wide { None } else { Some(100) });
    let tables = TableNames::for_prefix(&cli.table_prefix);
    match run(cli.command, tables).await {
        Ok(code) => code,
        Err(f) => {
            eprintln!("stripe-events: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

/// A duration flag (`--grace`, `--wait`, `--window`, …): `500ms`, `30s`, `10m`, `2h`, `7d`;
/// anything else (a date, a bare number, `1y`) is a usage error naming the flag.
fn duration_arg(flag: &str, value: &str) -> Result<std::time::Duration, Failure> {
    stripe_events_cli::parse_duration(value).ok_or_else(|| {
        Failure::usage(format!(
            "{flag}: expected a duration with its unit (30s, 10m, 24h, 7d), got {value:?}"
        ))
    })
}

/// The time `age` before `now`.
fn ago(now: Timestamp, age: std::time::Duration) -> Timestamp {
    Timestamp::from_unix_millis(now.unix_millis() - age.as_millis() as i64)
}

/// `--since`-style values (an age or a date), as a usage error naming the flag.
fn since_arg(flag: &str, value: &str, now: Timestamp) -> Result<Timestamp, Failure> {
    parse_since(value, now).ok_or_else(|| {
        Failure::usage(format!(
            "{flag}: expected an age (30m, 24h, 7d) or a date (2026-11-01, 2026-11-01T12:00:00Z), got {value:?}"
        ))
    })
}

/// `--types` of backfill: each a Stripe v1 event type (fixtures/event-types.txt) that some
/// family handles.
fn check_types(types: &[String]) -> Result<Vec<String>, Failure> {
    let all = event_types::all_types();
    let mut out = Vec::new();
    for t in types.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        if !all.contains(&t) {
            let mut close: Vec<(usize, &str)> = all
                .iter()
                .copied()
                .filter(|k| Family::of_event_type(k) != Family::None)
                .map(|k| (edit_distance(t, k), k))
                .collect();
            close.sort();
            let close: Vec<&str> = close.into_iter().take(3).map(|(_, k)| k).collect();
            let hint = if close.is_empty() {
                String::new()
            } else {
                format!(" (did you mean {}?)", close.join(", "))
            };
            return Err(Failure::usage(format!(
                "--types: {t:?} is not a Stripe event type{hint}; the list is fixtures/event-types.txt"
            )));
        }
        if Family::of_event_type(t) == Family::None {
            return Err(Failure::usage(format!(
                "--types: {t} is handled by no consumer (it would only be unrouted); handled types: `stripe-events migrate status` or crates/stripe-events-core/src/family.rs"
            )));
        }
        out.push(t.to_owned());
    }
    Ok(out)
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(here + 1);
            prev = here;
        }
    }
    row[b.len()]
}

/// One function per subcommand. Each checks its arguments before it reads the environment;
/// commands that never call Stripe need no Stripe key.
async fn run(command: Command, tables: TableNames) -> Result<ExitCode, Failure> {
    match command {
        Command::Setup { action, args } => commands::setup(action.is_some(), args, &tables).await,
        Command::Ping {
            destination,
            log_group,
            wait,
            poll,
        } => commands::ping(&destination, &log_group, &wait, &poll, &tables).await,
        Command::Migrate { action } => migrate_command(action, &tables).await,
        Command::CreateTables => create_tables_command(&tables).await,
        Command::Audit { since, grace, json } => {
            let now = Timestamp::now();
            let since = since.map(|s| since_arg("--since", &s, now)).transpose()?;
            let grace = ago(now, duration_arg("--grace", &grace)?);
            let store = store_from_env(tables).await?;
            audit(&store, since, grace, json).await
        }
        Command::State {
            customer_id,
            user,
            json,
        } => {
            let store = store_from_env(tables).await?;
            state(&store, customer_id, user, json).await
        }
        Command::Replay { paths } => replay_command(&paths, tables).await,
        Command::Backfill { since, types } => backfill_command(&since, &types, tables).await,
    }
}

/// `migrate`: the types of a cut-over or rollback are checked against the event-type list
/// (without the thin `v1.` prefix) first.
async fn migrate_command(action: MigrateAction, tables: &TableNames) -> Result<ExitCode, Failure> {
    if let MigrateAction::Cutover { select, .. } | MigrateAction::Rollback { select } = &action {
        let base: Vec<String> = select
            .types
            .iter()
            .map(|t| stripe_events_core::family::base_event_type(t.trim()).to_owned())
            .collect();
        check_types(&base)?;
    }
    commands::migrate(action, tables).await
}

/// `create-tables`: both tables, or a note that they are there already.
async fn create_tables_command(tables: &TableNames) -> Result<ExitCode, Failure> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = stripe_events_store::dynamodb_client(&sdk, None);
    match explain::create_tables_once(&client, tables).await? {
        explain::Created::Both => {
            println!("created {} and {}", tables.dedupe, tables.billing)
        }
        explain::Created::AlreadyThere => println!(
            "tables {} and {} already exist; nothing to do",
            tables.dedupe, tables.billing
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// `replay`: every event file (folders walked, non-`*.json` skipped and listed) through the
/// deployed rules and handlers, in process.
async fn replay_command(paths: &[PathBuf], tables: TableNames) -> Result<ExitCode, Failure> {
    let (files, skipped) = event_files(paths)?;
    let ctx = Context::from_env(tables).await?;
    if !skipped.is_empty() {
        eprintln!(
            "skipped {} file(s) in the folders given, not *.json (name a file to replay it anyway):",
            skipped.len()
        );
        for s in &skipped {
            eprintln!("  {}", s.display());
        }
    }
    let bar = progress(files.len() as u64, "replaying");
    let mut rows = Vec::new();
    for file in &files {
        let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
        rows.extend(replay_bytes(&ctx, &file.display().to_string(), &bytes).await);
        bar.inc(1);
    }
    bar.finish_and_clear();
    print_rows(&rows);
    println!("Stripe API calls: {}", ctx.stripe.calls());
    Ok(exit_for(&rows))
}

/// `backfill`: Stripe's `/v1/events` since `--since`, of the given types, through the pipeline.
async fn backfill_command(
    since: &str,
    types: &[String],
    tables: TableNames,
) -> Result<ExitCode, Failure> {
    let since = since_arg("--since", since, Timestamp::now())?;
    let types = check_types(types)?;
    let ctx = Context::from_env(tables).await?;
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
    println!("Stripe API calls: {}", ctx.stripe.calls());
    Ok(exit_for(&rows))
}

/// `audit`: events first seen since `since` (all when `None`); webhook-only events first seen
/// before `grace` count as missed by the partner source. Exits [`exit::NOT_PROVEN`] when any
/// event was missed by the partner source or failed on it.
async fn audit(
    store: &stripe_events_store::DynamoStore,
    since: Option<Timestamp>,
    grace: Timestamp,
    json: bool,
) -> Result<ExitCode, Failure> {
    let records = store
        .dedupe_records()
        .await
        .map_err(|e| short_store_error("reading the audit records", &e))?;
    let entries: Vec<_> = records
        .iter()
        .map(classify)
        .filter(|e| since.is_none_or(|s| e.first_seen_ms >= s.unix_millis()))
        .collect();
    let missed: Vec<_> = entries
        .iter()
        .filter(|e| e.seen == Seen::WebhookOnly && e.first_seen_ms < grace.unix_millis())
        .collect();
    // Delivered by the partner source, but its processing failed (a thin event's fetch or
    // commit): the webhook alone applied these, so the partner path is not proven for them.
    // Younger than the grace period, a failed delivery may still be retried and succeed.
    let failed: Vec<_> = entries
        .iter()
        .filter(|e| e.seen == Seen::PartnerFailed && e.first_seen_ms < grace.unix_millis())
        .collect();
    let summary = summarise(&entries);
    let count =
        |s: &stripe_events_cli::audit::Summary, k: Seen| s.counts.get(&k).copied().unwrap_or(0);
    if json {
        let events = |list: &[&stripe_events_cli::audit::AuditEntry]| -> Vec<serde_json::Value> {
            list.iter()
                .map(|e| serde_json::json!({"key": e.key, "consumer": e.consumer, "event_type": e.event_type}))
                .collect()
        };
        let rows: Vec<serde_json::Value> = summary
            .iter()
            .map(|((consumer, typ), s)| {
                serde_json::json!({
                    "consumer": consumer, "event_type": typ,
                    "both": count(s, Seen::Both), "webhook_only": count(s, Seen::WebhookOnly),
                    "partner_only": count(s, Seen::PartnerOnly),
                    "partner_failed": count(s, Seen::PartnerFailed),
                    "direct_only": count(s, Seen::Neither),
                    "partner_lag_median_ms": s.median_delay_ms(),
                })
            })
            .collect();
        let doc = serde_json::json!({
            "records": entries.len(),
            "since": since.map(|t| t.to_rfc3339()),
            "grace_before": grace.to_rfc3339(),
            "types": rows,
            "missed_by_partner": events(&missed),
            "failed_on_partner": events(&failed),
        });
        println!("{doc:#}");
    } else {
        let mut table = Table::new(&[
            "consumer",
            "event type",
            "both",
            "webhook only",
            "partner only",
            "partner failed",
            "direct only",
            "partner lag (median)",
        ]);
        for ((consumer, typ), s) in &summary {
            let n = |k: Seen| count(s, k).to_string();
            let delay = s
                .median_delay_ms()
                .map(format_lag)
                .unwrap_or_else(|| "-".into());
            table.row(vec![
                consumer.clone(),
                typ.clone(),
                n(Seen::Both),
                n(Seen::WebhookOnly),
                n(Seen::PartnerOnly),
                n(Seen::PartnerFailed),
                n(Seen::Neither),
                delay,
            ]);
        }
        if entries.is_empty() {
            // Not a green light: nothing was read (a new deployment, or the wrong prefix).
            println!(
                "no audit records{}: nothing has been delivered yet, or --table-prefix names other tables",
                if since.is_some() { " in that window" } else { "" }
            );
        } else {
            println!("{}", table.render());
            println!("{LAG_NOTE}");
        }
        println!(
            "\nmissed by the partner source (webhook only, older than the grace period): {}",
            missed.len()
        );
        for e in &missed {
            println!("  {}  {}", e.key, e.event_type);
        }
        println!(
            "\nfailed on the partner path (latest delivery failed, older than the grace period; the consumer logs say why): {}",
            failed.len()
        );
        for e in &failed {
            println!("  {}  {}", e.key, e.event_type);
        }
    }
    Ok(if missed.is_empty() && failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::NOT_PROVEN)
    })
}

async fn state(
    store: &stripe_events_store::DynamoStore,
    customer_id: Option<String>,
    user: Option<String>,
    json: bool,
) -> Result<ExitCode, Failure> {
    let not_found = |message: String| Failure {
        code: exit::NOT_FOUND,
        message,
    };
    let customers = match (customer_id, user.as_deref()) {
        (Some(c), None) => vec![c],
        (None, Some(u)) => customers_of_user(store, u)
            .await
            .map_err(|e| short_store_error("looking up the user", &e))?,
        _ => return Err(Failure::usage("give a CUSTOMER_ID or --user USER_ID")),
    };
    if let (Some(u), true) = (&user, customers.is_empty()) {
        return Err(not_found(format!(
            "no customer has user id {u:?} (metadata.user_id) in {}; check the id and --table-prefix",
            store.tables().billing
        )));
    }
    let mut states = Vec::new();
    for c in customers {
        let state = customer_state(store, &c)
            .await
            .map_err(|e| short_store_error("reading the billing state", &e))?;
        let empty = state.profile.is_none()
            && state.subscriptions.is_empty()
            && state.payments.is_empty()
            && state.other.is_empty();
        if empty {
            return Err(not_found(format!(
                "no billing state for customer {c:?} in {}; check the id and --table-prefix",
                store.tables().billing
            )));
        }
        states.push(state);
    }
    if json {
        // One document: the customer's object, or with --user an array of them (a user may
        // have several customers).
        let doc = match (&user, states.as_slice()) {
            (None, [one]) => to_json(one),
            _ => serde_json::Value::Array(states.iter().map(to_json).collect()),
        };
        let text = serde_json::to_string_pretty(&doc)
            .map_err(|e| format!("printing the state as JSON: {e}"))?;
        println!("{text}");
    } else {
        states.iter().for_each(print_state);
    }
    Ok(ExitCode::SUCCESS)
}

/// A store error in one line (the SDK's detail cut at its first parenthesis).
fn short_store_error(what: &str, e: &stripe_events_store::StoreError) -> Failure {
    let e = e.to_string();
    let short = e.split(" (").next().unwrap_or(&e);
    Failure::from(format!("{what}: {short}"))
}

use explain::prefix_of;

mod commands {
    use super::*;
    use std::time::Duration;
    use stripe_events_cli::admin::StripeAdmin;
    use stripe_events_cli::aws::Aws;
    use stripe_events_cli::{migrate, ping as ping_cmd, setup as setup_cmd};

    async fn clients() -> Result<(StripeAdmin, Aws), String> {
        let aws = Aws::from_env().await;
        let admin = StripeAdmin::from_env(&aws.sdk)
            .await
            .map_err(|e| e.to_string())?;
        Ok((admin, aws))
    }

    fn spinner() -> ProgressBar {
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }

    pub async fn setup(
        status_only: bool,
        args: SetupArgs,
        tables: &TableNames,
    ) -> Result<ExitCode, Failure> {
        let prefix = prefix_of(tables);
        // The arguments first: a bad one is a usage error whatever the environment.
        let wait = duration_arg("--wait", &args.wait)?;
        let poll = duration_arg("--poll", &args.poll)?;
        let (admin, aws) = clients().await?;
        if status_only {
            let report = setup_cmd::status(&admin, &aws, &prefix)
                .await
                .map_err(|e| e.to_string())?;
            let now = Timestamp::now().unix_seconds();
            println!("{}", setup_cmd::render_status(&report, now));
            return Ok(ExitCode::SUCCESS);
        }
        let account = match args.aws_account_id {
            Some(a) => a,
            None => aws.account_id().await.map_err(|e| e.to_string())?,
        };
        let region = match args.aws_region.or_else(|| aws.region()) {
            Some(r) => r,
            None => {
                return Err(stripe_events_cli::aws::AwsError::NoRegion
                    .to_string()
                    .into())
            }
        };
        let dests = setup_cmd::ensure_destinations(&admin, &prefix, &account, &region)
            .await
            .map_err(|e| e.to_string())?;
        for (d, created) in &dests {
            println!(
                "{} {} destination {} ({})",
                if *created { "created" } else { "reusing" },
                d.payload.map(setup_cmd::Payload::as_str).unwrap_or("?"),
                d.id,
                d.name
            );
        }
        let bar = spinner();
        let only: Vec<_> = dests.into_iter().map(|(d, _)| d).collect();
        let waited = setup_cmd::wait_for_sources(&admin, &aws, &only, wait, poll, |m| {
            bar.set_message(m.to_owned())
        })
        .await;
        bar.finish_and_clear();
        let ready = waited.map_err(|e| e.to_string())?;
        // After the wait: the days left count from the sources' creation, not from the start.
        let now = Timestamp::now().unix_seconds();
        let mut t = Table::new(&[
            "destination",
            "payload",
            "partner event source",
            "state",
            "days left to associate",
        ]);
        for r in &ready {
            t.row(vec![
                r.destination.id.clone(),
                r.destination
                    .payload
                    .map(setup_cmd::Payload::as_str)
                    .unwrap_or("?")
                    .into(),
                r.source.name.clone(),
                r.source.state.clone(),
                r.source
                    .days_left(now)
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "-".into()),
            ]);
        }
        println!("{}", t.render());
        let text = setup_cmd::tfvars(&ready, Timestamp::now());
        if let Some(dir) = args
            .tfvars_out
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                setup_cmd::SetupError::Tfvars {
                    path: args.tfvars_out.display().to_string(),
                    detail: e.to_string(),
                }
                .to_string()
            })?;
        }
        std::fs::write(&args.tfvars_out, text).map_err(|e| {
            setup_cmd::SetupError::Tfvars {
                path: args.tfvars_out.display().to_string(),
                detail: e.to_string(),
            }
            .to_string()
        })?;
        // `-chdir=infra` resolves the path from infra/: relative inside it, else absolute.
        let var_file = match args.tfvars_out.strip_prefix("infra") {
            Ok(p) => p.display().to_string(),
            Err(_) => std::env::current_dir()
                .map(|d| d.join(&args.tfvars_out))
                .unwrap_or_else(|_| args.tfvars_out.clone())
                .display()
                .to_string(),
        };
        println!(
            "
wrote {}",
            args.tfvars_out.display()
        );
        println!(
            "next: terraform -chdir=infra apply -var-file=envs/dev.tfvars -var-file={var_file}"
        );
        println!("then: stripe-events setup status");
        Ok(ExitCode::SUCCESS)
    }

    pub async fn ping(
        destination: &str,
        log_group: &str,
        wait: &str,
        poll: &str,
        tables: &TableNames,
    ) -> Result<ExitCode, Failure> {
        let wait = duration_arg("--wait", wait)?;
        let poll = duration_arg("--poll", poll)?;
        let (admin, aws) = clients().await?;
        let bar = spinner();
        bar.set_message(format!(
            "pinged {destination}; waiting for it in {log_group}"
        ));
        let out = ping_cmd::ping(
            &admin,
            &aws,
            &prefix_of(tables),
            destination,
            log_group,
            wait,
            poll,
        )
        .await;
        bar.finish_and_clear();
        let r = out.map_err(|e| e.to_string())?;
        println!(
            "ping {} to {} logged in {} after {:.1}s",
            r.event_id,
            r.destination.id,
            log_group,
            r.elapsed.as_secs_f64()
        );
        Ok(ExitCode::SUCCESS)
    }

    fn actor(operator: Option<String>, caller: Option<String>) -> migrate::Actor {
        let who = operator
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "unknown".into());
        migrate::Actor {
            who: match caller {
                Some(arn) => format!("{who} ({arn})"),
                None => who,
            },
        }
    }

    fn print_step(action: &str, r: &migrate::StepReport) {
        for t in &r.changed {
            let forced = if r.forced.contains(t) {
                " (forced)"
            } else {
                ""
            };
            println!("{action} {t}{forced}");
        }
        for (t, why) in &r.skipped {
            println!("skipped {t}: {why}");
        }
        for (t, why) in &r.refused {
            println!("refused {t}: not ready ({why}); wait and check `stripe-events migrate status`, or pass --force");
        }
        if r.endpoint_disabled {
            println!(
                "webhook endpoint {} now has no events left and was disabled",
                r.endpoint_id
            );
        }
        println!(
            "webhook endpoint {} still delivers {} handled types",
            r.endpoint_id,
            r.remaining_handled.len()
        );
    }

    pub async fn migrate(action: MigrateAction, tables: &TableNames) -> Result<ExitCode, Failure> {
        // The arguments first (`--window` an age, `--types`/`--family` a non-empty selection
        // of known families): a bad one is a usage error whatever the environment.
        let now = Timestamp::now();
        let since = match &action {
            MigrateAction::Status { window, .. } | MigrateAction::Cutover { window, .. } => {
                ago(now, duration_arg("--window", window)?)
            }
            MigrateAction::Rollback { .. } => now,
        };
        let types = match &action {
            MigrateAction::Cutover { select, .. } | MigrateAction::Rollback { select } => {
                migrate::select_types(&select.types, &select.family, migrate::family_pool)
                    .map_err(|e| Failure::usage(e.to_string()))?
            }
            MigrateAction::Status { .. } => Vec::new(),
        };
        let aws = Aws::from_env().await;
        // Both tables, checked as `audit` checks them (one line naming `create-tables` or the
        // prefix, or the missing credentials); by cutover and rollback before Stripe is
        // changed, so a change is never left unlogged for want of the log's table.
        let tables_ready = || explain::require_tables(&aws.dynamodb, tables);
        // `migrate status` reads only DynamoDB unless a Stripe key is there to show the
        // endpoint's types; cutover and rollback change the endpoint, so they need one.
        let admin = match StripeAdmin::from_env(&aws.sdk).await {
            Ok(admin) => Some(admin),
            Err(stripe_events_cli::admin::AdminError::MissingKey)
                if matches!(action, MigrateAction::Status { .. }) =>
            {
                None
            }
            Err(e) => return Err(e.to_string().into()),
        };
        let records = || async {
            stripe_events_store::DynamoStore::new(aws.dynamodb.clone(), tables.clone())
                .dedupe_records()
                .await
                .map_err(|e| {
                    let e = e.to_string();
                    let short = e.split(" (").next().unwrap_or(&e);
                    format!(
                        "reading the audit table {}: {short} (check --table-prefix and AWS credentials)",
                        tables.dedupe
                    )
                })
        };
        match action {
            MigrateAction::Status {
                window,
                webhook_url,
            } => {
                tables_ready().await?;
                let stats = migrate::type_stats(&records().await?, since.unix_millis());
                let log = migrate::read_log(&aws.dynamodb, tables)
                    .await
                    .map_err(|e| e.to_string())?;
                let url = migrate::resolve_webhook_url(webhook_url).ok();
                let endpoint = match (&admin, &url) {
                    (Some(admin), Some(url)) => Some(
                        migrate::find_endpoint(admin, url)
                            .await
                            .map_err(|e| e.to_string())?,
                    ),
                    _ => None,
                };
                print!(
                    "{}",
                    migrate::render_status(&stats, &log, endpoint.as_ref(), &window)
                );
                if admin.is_none() && url.is_some() {
                    println!("(no Stripe key: the webhook endpoint's types are not shown; set STRIPE_API_KEY or STRIPE_API_KEY_SECRET_ARN)");
                }
                Ok(ExitCode::SUCCESS)
            }
            MigrateAction::Cutover {
                select,
                window,
                force,
            } => {
                let admin = admin.ok_or("no Stripe key")?;
                let url =
                    migrate::resolve_webhook_url(select.webhook_url).map_err(|e| e.to_string())?;
                // The endpoint first: a wrong URL is the likelier mistake.
                migrate::find_endpoint(&admin, &url)
                    .await
                    .map_err(|e| e.to_string())?;
                tables_ready().await?;
                let actor = actor(select.operator, aws.caller_arn().await);
                let stores = migrate::Stores {
                    admin: &admin,
                    db: &aws.dynamodb,
                    tables,
                };
                let r = migrate::cutover(
                    &stores,
                    &records().await?,
                    &url,
                    &types,
                    (&window, since.unix_millis()),
                    force,
                    &actor,
                )
                .await
                .map_err(|e| e.to_string())?;
                print_step("cut over", &r);
                if r.remaining_handled.is_empty() {
                    println!("every handled type is cut over: `stripe-events migrate status` prints the last steps");
                }
                Ok(if r.refused.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(exit::NOT_READY)
                })
            }
            MigrateAction::Rollback { select } => {
                let admin = admin.ok_or("no Stripe key")?;
                let url =
                    migrate::resolve_webhook_url(select.webhook_url).map_err(|e| e.to_string())?;
                migrate::find_endpoint(&admin, &url)
                    .await
                    .map_err(|e| e.to_string())?;
                tables_ready().await?;
                let actor = actor(select.operator, aws.caller_arn().await);
                let stores = migrate::Stores {
                    admin: &admin,
                    db: &aws.dynamodb,
                    tables,
                };
                let r = migrate::rollback(&stores, &url, &types, &actor)
                    .await
                    .map_err(|e| e.to_string())?;
                print_step("rolled back", &r);
                Ok(ExitCode::SUCCESS)
            }
        }
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

/// The files to replay, and the files in the folders given that are not replayed (not
/// `*.json`; `*.expect.json` expectations are left out silently). A file named on the
/// command line is replayed whatever its name (non-JSON content: `unreadable`).
fn event_files(paths: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<PathBuf>), Failure> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>, skipped: &mut Vec<PathBuf>) -> Result<(), String> {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("{}: {e}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            for e in entries {
                walk(&e, out, skipped)?;
            }
        } else {
            let name = p.to_string_lossy();
            if name.ends_with(".expect.json") {
            } else if name.ends_with(".json") {
                out.push(p.to_path_buf());
            } else {
                skipped.push(p.to_path_buf());
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for p in paths {
        if !p.exists() {
            return Err(Failure::usage(format!(
                "{}: no such file or folder",
                p.display()
            )));
        }
        if p.is_dir() {
            walk(p, &mut out, &mut skipped)?;
        } else {
            out.push(p.clone());
        }
    }
    Ok((out, skipped))
}

fn print_rows(rows: &[Row]) {
    use stripe_events_cli::table::Fit;
    // Within 100 columns the Lambda and outcomes up to `failed_permanent` stay whole (only a
    // long `unreadable: <code>` is shortened); paths keep their file name.
    let mut table = Table::new(&["source", "event", "type", "rule(s)", "lambda", "outcome"])
        .fitted_with(&[
            Fit::Tail(12),
            Fit::Middle(10),
            Fit::Middle(16),
            Fit::Middle(10),
            Fit::Keep,
            Fit::Middle(16),
        ]);
    for r in rows {
        table.row(vec![
            short(&r.source),
            r.event_id.clone(),
            r.event_type.clone(),
            r.route.clone(),
            r.lambda.clone(),
            r.outcome.to_string(),
        ]);
    }
    println!("{}", table.render());
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for r in rows {
        *counts.entry(r.outcome.summary_name()).or_default() += 1;
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

/// [`exit::RETRY`] when a delivery must be retried, else [`exit::INPUT`] when an input was
/// not handled (unreadable, unrouted, no handler, `failed_permanent`), else 0.
fn exit_for(rows: &[Row]) -> ExitCode {
    use stripe_events_consumer::Outcome;
    let outcomes: Vec<Option<Outcome>> = rows.iter().map(Row::handled).collect();
    if outcomes.contains(&Some(Outcome::FailedTransient)) {
        ExitCode::from(exit::RETRY)
    } else if outcomes
        .iter()
        .any(|o| matches!(o, None | Some(Outcome::FailedPermanent)))
    {
        ExitCode::from(exit::INPUT)
    } else {
        ExitCode::from(exit::OK)
    }
}

/// A stored time for a table cell: unix seconds as RFC 3339, strings as they are.
fn time_cell(v: Option<&serde_json::Value>) -> String {
    match v {
        Some(serde_json::Value::Number(n)) => n
            .as_i64()
            .map(|s| Timestamp::from_unix_seconds(s).to_rfc3339())
            .unwrap_or_else(|| n.to_string()),
        Some(serde_json::Value::String(s)) => s.clone(),
        _ => "-".into(),
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
        ])
        .fitted();
        for sub in &s.subscriptions {
            t.row(vec![
                get(sub, "object_id"),
                get(sub, "status"),
                time_cell(sub.get("current_period_end")),
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
        ])
        .fitted();
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
        let mut t = Table::new(&["item", "object", "detail"]).fitted();
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every argument of every (sub)command says what it is.
    #[test]
    fn every_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" || arg.is_hide_set() {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_about().is_none() && sub.get_name() != "help" {
                    missing.push(format!("{path} {} (about)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "stripe-events", &mut missing);
        assert!(missing.is_empty(), "no help: {missing:?}");
        Cli::command().debug_assert();
    }

    #[test]
    fn help_lists_environment_and_exit_codes_within_100_columns() {
        let help = Cli::command().render_long_help().to_string();
        for var in [
            "TABLE_PREFIX",
            "AWS_ENDPOINT_URL",
            "STRIPE_API_KEY",
            "STRIPE_API_KEY_SECRET_ARN",
            "STRIPE_API_BASE",
            "STRIPE_WEBHOOK_URL",
            "RUST_LOG",
            "AWS_LAMBDA_LOG_LEVEL",
            "AWS_LAMBDA_LOG_FORMAT",
            "NO_COLOR",
            "Exit codes",
        ] {
            assert!(help.contains(var), "{var} not in --help");
        }
        for line in after_help().lines() {
            assert!(line.chars().count() <= 100, "{line}");
        }
    }

    #[test]
    fn types_are_checked_against_the_event_type_list() {
        assert_eq!(
            check_types(&["invoice.paid".into()])
                .map_err(|f| f.message)
                .ok(),
            Some(vec!["invoice.paid".to_owned()])
        );
        let typo = check_types(&["invoice.payed".into()]).expect_err("refused");
        assert_eq!(typo.code, exit::USAGE);
        assert!(typo.message.contains("invoice.paid"), "{}", typo.message);
        let unhandled = check_types(&["product.created".into()]).expect_err("refused");
        assert!(
            unhandled.message.contains("no consumer"),
            "{}",
            unhandled.message
        );
    }

    #[test]
    fn exit_codes_follow_the_outcomes() {
        use stripe_events_cli::replay::Handling::{self, Handled, NoHandler, Unreadable, Unrouted};
        use stripe_events_consumer::Outcome;
        let row = |outcome: Handling| Row {
            source: "s".into(),
            event_id: "evt".into(),
            event_type: "invoice.paid".into(),
            route: "direct".into(),
            lambda: "payment".into(),
            outcome,
        };
        let code = |outcomes: Vec<Handling>| {
            let rows: Vec<Row> = outcomes.into_iter().map(row).collect();
            exit_for(&rows)
        };
        let ok = [
            Outcome::Applied,
            Outcome::Duplicate,
            Outcome::Stale,
            Outcome::Ignored,
        ];
        assert_eq!(code(ok.map(Handled).to_vec()), ExitCode::from(0));
        assert_eq!(
            code(vec![
                Handled(Outcome::Applied),
                Unreadable("not_json".into())
            ]),
            ExitCode::from(5)
        );
        assert_eq!(code(vec![Unrouted]), ExitCode::from(5));
        assert_eq!(code(vec![NoHandler]), ExitCode::from(5));
        assert_eq!(
            code(vec![Handled(Outcome::FailedPermanent)]),
            ExitCode::from(5)
        );
        assert_eq!(
            code(vec![
                Handled(Outcome::FailedPermanent),
                Handled(Outcome::FailedTransient)
            ]),
            ExitCode::from(3)
        );
    }
}
