//! `stripe-events migrate status | cutover | rollback`: the webhook → partner move per event
//! type, gated by the audit the consumers already write (the dedupe records say which path
//! delivered each event), done on the Stripe webhook endpoint's `enabled_events`, and logged in
//! DynamoDB.
//!
//! Migration log: items in the billing table under `pk = MIGRATION_LOG`, `sk =
//! <unix ms, 13 digits>#<action>#<pid>`, so one Query returns the history in order. They carry
//! no `object_id`/`user_id`, so the GSIs never index them.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Map, Value};
use stripe_events_core::vocabulary::attr;
use stripe_events_core::{Family, Timestamp};
use stripe_events_store::attr::{item_to_json, s, to_attr};
use stripe_events_store::TableNames;
use thiserror::Error;

use crate::admin::{AdminError, StripeAdmin};
use crate::audit::{classify, Seen};
use crate::event_types::{all_types, family_types};
use crate::table::Table;

pub const LOG_PK: &str = "MIGRATION_LOG";

#[derive(Debug, Error)]
pub enum MigrateError {
    #[error(transparent)]
    Stripe(#[from] AdminError),
    /// One line (see [`crate::explain::sdk_error`]).
    #[error("{0} (check --table-prefix and AWS credentials)")]
    Dynamo(String),
    #[error(
        "webhook endpoint {0} is disabled in Stripe, not by `migrate cutover` (Stripe disables \
         an endpoint whose deliveries keep failing, or someone did); nothing was changed: enable \
         it in the Stripe Dashboard (Workbench, Webhooks) once it can receive, then run this again"
    )]
    EndpointDisabled(String),
    #[error(
        "webhook endpoint {endpoint} was changed ({action} {types}) but the migration log was not \
         written: {detail}. The change stands (`migrate status` reads it from the endpoint); \
         to undo it: stripe-events migrate {undo} --types {types}"
    )]
    Unlogged {
        endpoint: String,
        action: &'static str,
        types: String,
        undo: &'static str,
        detail: String,
    },
    #[error("no Stripe webhook endpoint has the URL {0}: check --webhook-url (Terraform output `webhook_url`)")]
    NoEndpoint(String),
    #[error("no webhook URL: pass --webhook-url (or set STRIPE_WEBHOOK_URL); `terraform -chdir=infra output -raw webhook_url` prints it")]
    NoWebhookUrl,
    #[error("give --types or --family: nothing selected")]
    NothingSelected,
    #[error("--family: unknown family {0:?}: subscription, payment or customer")]
    UnknownFamily(String),
}

fn dynamo_err<'a, E, R>(
    operation: &'static str,
    table: &'a str,
) -> impl FnOnce(aws_sdk_dynamodb::error::SdkError<E, R>) -> MigrateError + 'a
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    move |e| {
        MigrateError::Dynamo(crate::explain::sdk_error(
            &format!("DynamoDB {operation} on {table}"),
            &e,
        ))
    }
}

/// A time in the migration log and the status table: always `YYYY-MM-DDTHH:MM:SSZ` (the
/// milliseconds are in the log item's `at_ms`).
pub fn when(at_ms: i64) -> String {
    Timestamp::from_unix_seconds(at_ms.div_euclid(1000)).to_rfc3339()
}

/// What the audit says about one event type over the window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TypeStats {
    pub both: u64,
    pub webhook_only: u64,
    pub partner_only: u64,
    /// Events a partner path delivered whose processing then failed (see `Seen::PartnerFailed`).
    pub partner_failed: u64,
    pub lags_ms: Vec<i64>,
}

impl TypeStats {
    /// The partner path delivered every event the webhook delivered (and there was one), and
    /// none of its deliveries failed.
    pub fn ready(&self) -> bool {
        self.both > 0 && self.webhook_only == 0 && self.partner_failed == 0
    }

    pub fn lag_percentile(&self, p: f64) -> Option<i64> {
        crate::audit::percentile(&self.lags_ms, p)
    }

    pub fn evidence(&self) -> Value {
        json!({
            "both": self.both, "webhook_only": self.webhook_only, "partner_only": self.partner_only,
            "partner_failed": self.partner_failed,
            "lag_p50_ms": self.lag_percentile(0.5), "lag_p99_ms": self.lag_percentile(0.99),
            "ready": self.ready(),
        })
    }
}

/// Per base event type, from the dedupe/audit records first seen at or after `since_ms`.
pub fn type_stats(records: &[Map<String, Value>], since_ms: i64) -> BTreeMap<String, TypeStats> {
    let mut out: BTreeMap<String, TypeStats> = BTreeMap::new();
    for r in records {
        let e = classify(r);
        if e.event_type.is_empty() || e.first_seen_ms < since_ms {
            continue;
        }
        let s = out.entry(e.event_type.clone()).or_default();
        match e.seen {
            Seen::Both => s.both += 1,
            Seen::WebhookOnly => s.webhook_only += 1,
            Seen::PartnerOnly => s.partner_only += 1,
            Seen::PartnerFailed => s.partner_failed += 1,
            Seen::Neither => {}
        }
        s.lags_ms.extend(e.partner_delay_ms);
    }
    out
}

/// One step of the migration, as logged.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub at_ms: i64,
    pub action: String,
    pub types: Vec<String>,
    pub forced: Vec<String>,
    pub who: String,
    pub endpoint_id: String,
    pub window: String,
    pub evidence: Value,
}

impl LogEntry {
    fn from_item(m: &Map<String, Value>) -> LogEntry {
        let text = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let list = |k: &str| {
            m.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        LogEntry {
            at_ms: m.get("at_ms").and_then(Value::as_i64).unwrap_or(0),
            action: text("action"),
            types: list("types"),
            forced: list("forced"),
            who: text("who"),
            endpoint_id: text("webhook_endpoint"),
            window: text("window"),
            evidence: m.get("evidence").cloned().unwrap_or(Value::Null),
        }
    }
}

pub async fn write_log(
    db: &aws_sdk_dynamodb::Client,
    tables: &TableNames,
    e: &LogEntry,
) -> Result<(), MigrateError> {
    let fields = json!({
        "at_ms": e.at_ms, "at": Timestamp::from_unix_millis(e.at_ms).to_rfc3339(),
        "action": e.action, "types": e.types, "forced": e.forced, "who": e.who,
        "webhook_endpoint": e.endpoint_id, "window": e.window, "evidence": e.evidence,
    });
    let mut item: std::collections::HashMap<String, AttributeValue> = fields
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect())
        .unwrap_or_default();
    item.insert(attr::PK.into(), s(LOG_PK));
    item.insert(
        attr::SK.into(),
        s(format!(
            "{:013}#{}#{}",
            e.at_ms,
            e.action,
            std::process::id()
        )),
    );
    db.put_item()
        .table_name(&tables.billing)
        .set_item(Some(item))
        .send()
        .await
        .map_err(dynamo_err("PutItem", &tables.billing))?;
    Ok(())
}

/// The whole log, oldest first.
pub async fn read_log(
    db: &aws_sdk_dynamodb::Client,
    tables: &TableNames,
) -> Result<Vec<LogEntry>, MigrateError> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = db
            .query()
            .table_name(&tables.billing)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_values(":pk", s(LOG_PK))
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(dynamo_err("Query", &tables.billing))?;
        out.extend(
            page.items()
                .iter()
                .map(|i| LogEntry::from_item(&item_to_json(i))),
        );
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return Ok(out);
        }
    }
}

/// The types currently cut over, with when, replaying the log.
pub fn cut_over(log: &[LogEntry]) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for e in log {
        for t in &e.types {
            match e.action.as_str() {
                "cutover" => {
                    out.insert(t.clone(), e.at_ms);
                }
                "rollback" => {
                    out.remove(t);
                }
                _ => {}
            }
        }
    }
    out
}

/// A webhook endpoint's fields the migration reads.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    pub enabled: bool,
    /// `*` expanded into every Stripe type. Stripe keeps them while the endpoint is disabled.
    pub events: BTreeSet<String>,
}

/// What a webhook endpoint does with the handled types, read with the migration log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointState {
    /// Enabled: Stripe sends the types in its `enabled_events`.
    Live,
    /// Disabled by `migrate cutover` when the last handled type was cut over (Stripe needs at
    /// least one type, so the endpoint is disabled instead): every handled type it still lists
    /// is logged as cut over from it.
    DisabledByCutover,
    /// Disabled otherwise: by Stripe after days of failed deliveries, or by a person. It sends
    /// nothing, and its `enabled_events` say what it would send again once enabled.
    Disabled,
}

impl Endpoint {
    fn from_json(v: &Value) -> Endpoint {
        let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let raw: Vec<String> = v
            .get("enabled_events")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Endpoint {
            id: text("id"),
            url: text("url"),
            enabled: text("status") != "disabled",
            events: expand(&raw),
        }
    }

    /// Handled types in its `enabled_events`, whether or not the endpoint is enabled.
    pub fn handled_listed(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|t| Family::of_event_type(t) != Family::None)
            .cloned()
            .collect()
    }

    /// Handled types Stripe sends by this endpoint now (none while it is disabled).
    pub fn handled_enabled(&self) -> Vec<String> {
        if self.enabled {
            self.handled_listed()
        } else {
            Vec::new()
        }
    }

    /// Live, or disabled by the last cut-over (every handled type it lists is logged as cut
    /// over from this endpoint), or disabled by something else.
    pub fn state(&self, log: &[LogEntry]) -> EndpointState {
        if self.enabled {
            return EndpointState::Live;
        }
        let ours: Vec<LogEntry> = log
            .iter()
            .filter(|e| e.endpoint_id == self.id)
            .cloned()
            .collect();
        let cut = cut_over(&ours);
        let listed = self.handled_listed();
        if !listed.is_empty() && listed.iter().all(|t| cut.contains_key(t)) {
            EndpointState::DisabledByCutover
        } else {
            EndpointState::Disabled
        }
    }

    /// [`MigrateError::EndpointDisabled`] unless cut-overs and rollbacks may change it.
    fn check_changeable(&self, log: &[LogEntry]) -> Result<(), MigrateError> {
        match self.state(log) {
            EndpointState::Disabled => Err(MigrateError::EndpointDisabled(self.id.clone())),
            EndpointState::Live | EndpointState::DisabledByCutover => Ok(()),
        }
    }
}

/// `enabled_events` with `*` replaced by every type, so single types can be removed.
pub fn expand(events: &[String]) -> BTreeSet<String> {
    if events.iter().any(|t| t == "*") {
        all_types().into_iter().map(str::to_owned).collect()
    } else {
        events.iter().cloned().collect()
    }
}

pub async fn find_endpoint(admin: &StripeAdmin, url: &str) -> Result<Endpoint, MigrateError> {
    let all = admin.list_webhook_endpoints().await?;
    all.iter()
        .map(Endpoint::from_json)
        .find(|e| e.url == url)
        .ok_or_else(|| MigrateError::NoEndpoint(url.to_owned()))
}

/// `--webhook-url`, else `STRIPE_WEBHOOK_URL`, else `terraform -chdir=infra output -raw webhook_url`.
pub fn resolve_webhook_url(flag: Option<String>) -> Result<String, MigrateError> {
    if let Some(u) = flag.filter(|u| !u.trim().is_empty()) {
        return Ok(u);
    }
    if let Ok(u) = std::env::var("STRIPE_WEBHOOK_URL") {
        if !u.trim().is_empty() {
            return Ok(u);
        }
    }
    let out = std::process::Command::new("terraform")
        .args(["-chdir=infra", "output", "-raw", "webhook_url"])
        .output()
        .map_err(|_| MigrateError::NoWebhookUrl)?;
    let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if out.status.success() && url.starts_with("http") {
        Ok(url)
    } else {
        Err(MigrateError::NoWebhookUrl)
    }
}

/// `--types` and `--family` into a sorted list of v1 types (`v1.` prefixes dropped).
pub fn select_types(
    types: &[String],
    families: &[String],
    pool: impl Fn(Family) -> Vec<String>,
) -> Result<Vec<String>, MigrateError> {
    let mut out: BTreeSet<String> = types
        .iter()
        .map(|t| stripe_events_core::family::base_event_type(t.trim()).to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    for f in families {
        let fam = Family::from_name(f.trim())
            .filter(|f| *f != Family::None)
            .ok_or_else(|| MigrateError::UnknownFamily(f.clone()))?;
        out.extend(pool(fam));
    }
    if out.is_empty() {
        return Err(MigrateError::NothingSelected);
    }
    Ok(out.into_iter().collect())
}

pub struct Actor {
    pub who: String,
}

#[derive(Debug, Clone, Default)]
pub struct StepReport {
    pub changed: Vec<String>,
    pub forced: Vec<String>,
    /// (type, why)
    pub refused: Vec<(String, String)>,
    /// (type, why) — nothing to do.
    pub skipped: Vec<(String, String)>,
    pub endpoint_id: String,
    pub endpoint_disabled: bool,
    pub remaining_handled: Vec<String>,
}

/// Sets the endpoint's events (disabling it when none is left; Stripe needs at least one).
async fn apply_events(
    admin: &StripeAdmin,
    ep: &Endpoint,
    events: &BTreeSet<String>,
) -> Result<bool, MigrateError> {
    let path = format!("/v1/webhook_endpoints/{}", ep.id);
    if events.is_empty() {
        admin
            .v1_post(&path, &[("disabled".into(), "true".into())])
            .await?;
        return Ok(true);
    }
    let mut form: Vec<(String, String)> = events
        .iter()
        .map(|t| ("enabled_events[]".to_owned(), t.clone()))
        .collect();
    if !ep.enabled {
        form.push(("disabled".into(), "false".into()));
    }
    admin.v1_post(&path, &form).await?;
    Ok(false)
}

/// `n` and the noun, singular for one: `1 event`, `3 events`.
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The migration's stores: the Stripe admin client and the table the log goes to.
pub struct Stores<'a> {
    pub admin: &'a StripeAdmin,
    pub db: &'a aws_sdk_dynamodb::Client,
    pub tables: &'a TableNames,
}

/// Applies `events` to the endpoint, then logs the step. The tables are checked before (by
/// the command); if the log write still fails, the error says what changed and how to undo it.
async fn apply_and_log(
    stores: &Stores<'_>,
    ep: &Endpoint,
    events: &BTreeSet<String>,
    entry: LogEntry,
) -> Result<bool, MigrateError> {
    let disabled = apply_events(stores.admin, ep, events).await?;
    if let Err(e) = write_log(stores.db, stores.tables, &entry).await {
        let (action, undo) = if entry.action == "cutover" {
            ("cutover", "rollback")
        } else {
            ("rollback", "cutover --force")
        };
        return Err(MigrateError::Unlogged {
            endpoint: ep.id.clone(),
            action,
            types: entry.types.join(","),
            undo,
            detail: e.to_string(),
        });
    }
    Ok(disabled)
}

fn handled(events: BTreeSet<String>) -> Vec<String> {
    events
        .into_iter()
        .filter(|t| Family::of_event_type(t) != Family::None)
        .collect()
}

/// Removes the ready types (all of them with `force`) from the endpoint and logs the step.
/// Refuses to touch an endpoint that is disabled other than by a cut-over.
pub async fn cutover(
    stores: &Stores<'_>,
    records: &[Map<String, Value>],
    webhook_url: &str,
    types: &[String],
    window: (&str, i64),
    force: bool,
    actor: &Actor,
) -> Result<StepReport, MigrateError> {
    let ep = find_endpoint(stores.admin, webhook_url).await?;
    ep.check_changeable(&read_log(stores.db, stores.tables).await?)?;
    let stats = type_stats(records, window.1);
    let mut report = StepReport {
        endpoint_id: ep.id.clone(),
        ..StepReport::default()
    };
    let mut evidence = Map::new();
    let active: BTreeSet<String> = if ep.enabled {
        ep.events.clone()
    } else {
        BTreeSet::new()
    };
    for t in types {
        if !active.contains(t) {
            report
                .skipped
                .push((t.clone(), "not enabled on the webhook endpoint".into()));
            continue;
        }
        let st = stats.get(t).cloned().unwrap_or_default();
        if st.ready() {
            report.changed.push(t.clone());
        } else if force {
            report.changed.push(t.clone());
            report.forced.push(t.clone());
        } else {
            let why = if st.webhook_only > 0 {
                format!(
                    "{} delivered by webhook only",
                    count(st.webhook_only, "event")
                )
            } else if st.partner_failed > 0 {
                format!(
                    "{} whose partner delivery failed (see `stripe-events audit`)",
                    count(st.partner_failed, "event")
                )
            } else if st.both == 0 {
                "no event delivered by both paths in the window".into()
            } else {
                "the audit does not show it ready: see its row in `migrate status`".into()
            };
            report.refused.push((t.clone(), why));
            continue;
        }
        evidence.insert(t.clone(), st.evidence());
    }
    let mut remaining = active.clone();
    if !report.changed.is_empty() {
        for t in &report.changed {
            remaining.remove(t);
        }
        let entry = LogEntry {
            at_ms: Timestamp::now().unix_millis(),
            action: "cutover".into(),
            types: report.changed.clone(),
            forced: report.forced.clone(),
            who: actor.who.clone(),
            endpoint_id: ep.id.clone(),
            window: window.0.to_owned(),
            evidence: Value::Object(evidence),
        };
        report.endpoint_disabled = apply_and_log(stores, &ep, &remaining, entry).await?;
    }
    report.remaining_handled = handled(remaining);
    Ok(report)
}

/// Adds the types back to the endpoint (enabling it again after the last cut-over) and logs
/// the step. Refuses to touch an endpoint that is disabled other than by a cut-over: enabling
/// it would send every type it still lists, and setting only these would drop the others.
pub async fn rollback(
    stores: &Stores<'_>,
    webhook_url: &str,
    types: &[String],
    actor: &Actor,
) -> Result<StepReport, MigrateError> {
    let ep = find_endpoint(stores.admin, webhook_url).await?;
    ep.check_changeable(&read_log(stores.db, stores.tables).await?)?;
    let mut report = StepReport {
        endpoint_id: ep.id.clone(),
        ..StepReport::default()
    };
    let mut events: BTreeSet<String> = if ep.enabled {
        ep.events.clone()
    } else {
        BTreeSet::new()
    };
    for t in types {
        if events.insert(t.clone()) {
            report.changed.push(t.clone());
        } else {
            report
                .skipped
                .push((t.clone(), "already enabled on the webhook endpoint".into()));
        }
    }
    if !report.changed.is_empty() {
        let entry = LogEntry {
            at_ms: Timestamp::now().unix_millis(),
            action: "rollback".into(),
            types: report.changed.clone(),
            forced: Vec::new(),
            who: actor.who.clone(),
            endpoint_id: ep.id.clone(),
            window: String::new(),
            evidence: Value::Null,
        };
        apply_and_log(stores, &ep, &events, entry).await?;
    }
    report.remaining_handled = handled(events);
    Ok(report)
}

/// Where `stripe-events setup` writes the tfvars that associate the partner sources (its
/// `--tfvars-out` default), as `terraform -chdir=infra` reads it.
pub const PARTNER_TFVARS: &str = "envs/partner-sources.tfvars";

/// The status table and its closing lines. What the endpoint sends wins over the log: a type
/// logged as cut over that the endpoint sends again is shown as enabled, with the drift.
pub fn render_status(
    stats: &BTreeMap<String, TypeStats>,
    log: &[LogEntry],
    endpoint: Option<&Endpoint>,
    window: &str,
) -> String {
    let cut = cut_over(log);
    let enabled: Vec<String> = endpoint.map(Endpoint::handled_enabled).unwrap_or_default();
    let listed: Vec<String> = endpoint.map(Endpoint::handled_listed).unwrap_or_default();
    let state = endpoint.map(|ep| ep.state(log));
    let mut types: BTreeSet<String> = stats.keys().cloned().collect();
    types.extend(cut.keys().cloned());
    types.extend(listed.iter().cloned());
    let mut t = Table::new(&[
        "event type",
        "family",
        "both",
        "webhook only",
        "partner only",
        "partner failed",
        "lag p50",
        "lag p99",
        "ready",
        "webhook",
    ]);
    let ms = |v: Option<i64>| {
        v.map(crate::audit::format_lag)
            .unwrap_or_else(|| "-".into())
    };
    let mut ready_uncut = Vec::new();
    let mut drifted = Vec::new();
    for ty in &types {
        let st = stats.get(ty).cloned().unwrap_or_default();
        let logged = cut.get(ty).map(|at| when(*at));
        let on_webhook = match (state, logged) {
            (None, Some(at)) => format!("cut over {at}"),
            (None, None) => "?".into(),
            (Some(EndpointState::Disabled), _) if listed.contains(ty) => "endpoint disabled".into(),
            (Some(_), Some(at)) if enabled.contains(ty) => {
                drifted.push(ty.clone());
                format!("enabled (DRIFT: log says cut over {at})")
            }
            (Some(_), None) if enabled.contains(ty) => "enabled".into(),
            (Some(_), Some(at)) => format!("cut over {at}"),
            (Some(_), None) => "not enabled".into(),
        };
        if st.ready() && enabled.contains(ty) {
            ready_uncut.push(ty.clone());
        }
        t.row(vec![
            ty.clone(),
            Family::of_event_type(ty).to_string(),
            st.both.to_string(),
            st.webhook_only.to_string(),
            st.partner_only.to_string(),
            st.partner_failed.to_string(),
            ms(st.lag_percentile(0.5)),
            ms(st.lag_percentile(0.99)),
            if st.ready() { "yes" } else { "no" }.into(),
            on_webhook,
        ]);
    }
    let mut out = format!(
        "window: {window}\n{}\n{}\n",
        t.render(),
        crate::audit::LAG_NOTE
    );
    if !log.is_empty() {
        out.push_str("\nmigration log:\n");
        for e in log {
            out.push_str(&format!(
                "  {}  {:<8}  {}  by {}{}\n",
                when(e.at_ms),
                e.action,
                e.types.join(" "),
                e.who,
                if e.forced.is_empty() {
                    String::new()
                } else {
                    format!("  (forced: {})", e.forced.join(" "))
                }
            ));
        }
    }
    if !drifted.is_empty() {
        out.push_str(&format!(
            "\ndrift: the log says {} cut over, but the webhook endpoint sends {} again (changed \
             outside `migrate`); the endpoint wins: {} counted as on the webhook\n",
            drifted.join(" "),
            if drifted.len() == 1 { "it" } else { "them" },
            if drifted.len() == 1 {
                "it is"
            } else {
                "they are"
            },
        ));
    }
    match (endpoint, state) {
        (Some(ep), Some(EndpointState::Disabled)) => out.push_str(&format!(
            "\nwebhook endpoint {} is DISABLED in Stripe, and not by `migrate cutover` (Stripe \
             disables an endpoint whose deliveries keep failing, or someone disabled it): it sends \
             nothing, so no type can show as ready; it still lists {}.\n\
             Fix its deliveries and enable it in the Stripe Dashboard (Workbench, Webhooks); \
             `migrate cutover` and `rollback` refuse to change it until then\n",
            ep.id,
            count(listed.len() as u64, "handled type"),
        )),
        (Some(ep), Some(_)) if enabled.is_empty() => out.push_str(&format!(
            "\nevery type the families handle is cut over: webhook endpoint {id} sends none of them.\n\
             Finish: delete webhook endpoint {id} in Stripe (after that, a rollback needs a new endpoint).\n\
             Optional, and only once the endpoint is gone: stop the webhook rules too, in envs/dev.tfvars\n  \
             webhook_rules_enabled = {{ subscription = false, payment = false, customer = false }}\n\
             then apply with the tfvars `stripe-events setup` wrote as well (without it Terraform turns \
             partner events off and deletes the partner buses):\n  \
             terraform -chdir=infra apply -var-file=envs/dev.tfvars -var-file={PARTNER_TFVARS}\n",
            id = ep.id
        )),
        (Some(_), _) if ready_uncut.is_empty() => out.push_str(&format!(
            "\n{} still on the webhook; none ready yet\n",
            count(enabled.len() as u64, "handled type")
        )),
        (Some(_), _) => out.push_str(&format!(
            "\nready to cut over: stripe-events migrate cutover --types {}\n",
            ready_uncut.join(",")
        )),
        (None, _) => out.push_str(
            "\nwebhook endpoint unknown: pass --webhook-url to compare with what Stripe still sends by webhook\n",
        ),
    }
    out
}

/// All handled types of a family (for `--family`).
pub fn family_pool(f: Family) -> Vec<String> {
    family_types(f).into_iter().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn readiness_needs_every_webhook_event_on_the_partner_path() {
        let records = vec![
            rec(
                json!({"event_type": "invoice.paid", "first_seen": 100, "seen_webhook": 100, "seen_partner_snapshot": 150}),
            ),
            rec(
                json!({"event_type": "invoice.paid", "first_seen": 200, "seen_webhook": 200, "seen_partner_thin": 400}),
            ),
            rec(
                json!({"event_type": "customer.updated", "first_seen": 100, "seen_webhook": 100, "seen_partner_snapshot": 120}),
            ),
            rec(json!({"event_type": "customer.updated", "first_seen": 300, "seen_webhook": 300})),
            rec(json!({"event_type": "charge.refunded", "first_seen": 10, "seen_webhook": 10})),
        ];
        let s = type_stats(&records, 50);
        assert!(s["invoice.paid"].ready());
        assert_eq!(s["invoice.paid"].lag_percentile(0.5), Some(50));
        assert_eq!(s["invoice.paid"].lag_percentile(0.99), Some(200));
        assert!(!s["customer.updated"].ready());
        assert!(!s.contains_key("charge.refunded"), "outside the window");
    }

    #[test]
    fn a_type_whose_partner_deliveries_failed_is_not_ready() {
        // Both paths saw it, but the thin delivery's fetch failed: the webhook applied it.
        let records = vec![
            rec(
                json!({"event_type": "customer.updated", "first_seen": 100, "seen_webhook": 100, "seen_partner_snapshot": 150}),
            ),
            rec(
                json!({"event_type": "customer.updated", "first_seen": 200, "seen_webhook": 200, "seen_partner_thin": 190, "failed_partner_thin": 190}),
            ),
        ];
        let s = type_stats(&records, 0);
        let stats = &s["customer.updated"];
        assert_eq!((stats.both, stats.partner_failed), (1, 1));
        assert!(!stats.ready());
        assert_eq!(stats.evidence()["partner_failed"], 1);
    }

    #[test]
    fn the_log_replays_into_the_cut_over_set() {
        let e = |at, action: &str, t: &str| LogEntry {
            at_ms: at,
            action: action.into(),
            types: vec![t.into()],
            forced: vec![],
            who: "me".into(),
            endpoint_id: "we_1".into(),
            window: "24h".into(),
            evidence: Value::Null,
        };
        let log = [
            e(1, "cutover", "a"),
            e(2, "cutover", "b"),
            e(3, "rollback", "a"),
        ];
        assert_eq!(
            cut_over(&log).into_iter().collect::<Vec<_>>(),
            vec![("b".to_owned(), 2)]
        );
    }

    fn entry(at_ms: i64, action: &str, types: &[&str], endpoint: &str) -> LogEntry {
        LogEntry {
            at_ms,
            action: action.into(),
            types: types.iter().map(|t| t.to_string()).collect(),
            forced: vec![],
            who: "me".into(),
            endpoint_id: endpoint.into(),
            window: "24h".into(),
            evidence: Value::Null,
        }
    }

    fn endpoint(enabled: bool, events: &[&str]) -> Endpoint {
        let events: Vec<String> = events.iter().map(|t| t.to_string()).collect();
        Endpoint {
            id: "we_1".into(),
            url: "https://example.test/stripe/webhook".into(),
            enabled,
            events: expand(&events),
        }
    }

    fn ready_stats(ty: &str) -> BTreeMap<String, TypeStats> {
        let records = vec![rec(
            json!({"event_type": ty, "first_seen": 100, "seen_webhook": 100, "seen_partner_snapshot": 150}),
        )];
        type_stats(&records, 0)
    }

    /// Stripe disabled the endpoint (failed deliveries) or a person did: it is not "every
    /// type cut over", and following that advice would delete a live migration's endpoint.
    #[test]
    fn an_endpoint_disabled_outside_migrate_is_its_own_state() {
        let ep = endpoint(false, &["*"]);
        assert_eq!(ep.state(&[]), EndpointState::Disabled);
        assert!(matches!(
            ep.check_changeable(&[]),
            Err(MigrateError::EndpointDisabled(_))
        ));
        let text = render_status(&ready_stats("invoice.paid"), &[], Some(&ep), "24h");
        assert!(text.contains("is DISABLED in Stripe"), "{text}");
        assert!(!text.contains("cut over"), "{text}");
        assert!(!text.contains("delete webhook endpoint"), "{text}");
        let row = text
            .lines()
            .find(|l| l.starts_with("invoice.paid "))
            .unwrap_or_default();
        assert!(row.ends_with("endpoint disabled"), "{row}");

        // Disabled by the last cut-over: every type it lists is logged as cut over from it.
        let ours = endpoint(false, &["invoice.paid"]);
        let log = [entry(1_000, "cutover", &["invoice.paid"], "we_1")];
        assert_eq!(ours.state(&log), EndpointState::DisabledByCutover);
        assert!(ours.check_changeable(&log).is_ok());
        // ... but a cut-over logged for another endpoint does not count.
        let elsewhere = [entry(1_000, "cutover", &["invoice.paid"], "we_2")];
        assert_eq!(ours.state(&elsewhere), EndpointState::Disabled);
    }

    /// The last step names both var files: dev.tfvars alone sets enable_stripe_partner_events
    /// = false, and applying it deletes the partner buses.
    #[test]
    fn the_final_step_applies_with_the_partner_tfvars() {
        let ep = endpoint(false, &["invoice.paid"]);
        let log = [entry(1_000, "cutover", &["invoice.paid"], "we_1")];
        let text = render_status(&BTreeMap::new(), &log, Some(&ep), "24h");
        assert!(
            text.contains("every type the families handle is cut over"),
            "{text}"
        );
        assert!(
            text.contains(
                "terraform -chdir=infra apply -var-file=envs/dev.tfvars -var-file=envs/partner-sources.tfvars"
            ),
            "{text}"
        );
        assert!(
            !text.lines().any(|l| l.contains("-var-file=envs/dev.tfvars")
                && !l.contains("partner-sources.tfvars")),
            "{text}"
        );
    }

    /// A type cut over and then put back on the endpoint outside `migrate`: the endpoint wins,
    /// and the row says the log disagrees.
    #[test]
    fn what_the_endpoint_sends_wins_over_the_log() {
        let ep = endpoint(true, &["invoice.paid", "customer.updated"]);
        let log = [entry(
            1_700_000_000_123,
            "cutover",
            &["invoice.paid"],
            "we_1",
        )];
        let text = render_status(&ready_stats("invoice.paid"), &log, Some(&ep), "24h");
        let row = text
            .lines()
            .find(|l| l.starts_with("invoice.paid "))
            .unwrap_or_default();
        assert!(row.contains("enabled (DRIFT"), "{row}");
        assert!(
            text.contains("drift: the log says invoice.paid cut over"),
            "{text}"
        );
        assert!(
            text.contains("ready to cut over: stripe-events migrate cutover --types invoice.paid"),
            "{text}"
        );
    }

    #[test]
    fn times_have_one_width_and_counts_their_number() {
        assert_eq!(when(1_700_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(when(1_700_000_000_120), "2023-11-14T22:13:20Z");
        assert_eq!(count(1, "event"), "1 event");
        assert_eq!(count(2, "event"), "2 events");
        assert_eq!(count(0, "handled type"), "0 handled types");
    }

    #[test]
    fn star_expands_and_selection_reads_families() {
        assert!(expand(&["*".into()]).contains("invoice.paid"));
        let sel = select_types(
            &["v1.invoice.paid".into()],
            &["customer".into()],
            family_pool,
        )
        .unwrap_or_default();
        assert!(sel.contains(&"invoice.paid".to_owned()));
        assert!(sel.contains(&"customer.updated".to_owned()));
        assert!(matches!(
            select_types(&[], &["nope".into()], family_pool),
            Err(MigrateError::UnknownFamily(_))
        ));
        assert!(matches!(
            select_types(&[], &[], family_pool),
            Err(MigrateError::NothingSelected)
        ));
    }
}
