//! `stripe-events setup` and `setup status`: the two Stripe EventBridge destinations (snapshot
//! and thin) created through the v2 API, found again by name and metadata, their AWS partner
//! event sources waited for, the tfvars for Terraform, and one status table with a verdict.

use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use stripe_events_core::{Family, Timestamp};
use thiserror::Error;

use crate::admin::{AdminError, StripeAdmin};
use crate::aws::{Aws, AwsError, PartnerSource};
use crate::event_types::{handled_types, thin_handled_types, PINNED_API_VERSION};
use crate::table::Table;

/// `metadata.managed_by` on the destinations this command creates.
pub const MANAGED_BY: &str = "stripe-events";

#[derive(Debug, Error)]
pub enum SetupError {
    #[error(transparent)]
    Stripe(#[from] AdminError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("{0}")]
    Unexpected(String),
    #[error("the partner event source of {missing} did not appear within {waited}: check that AWS account and region, then re-run `stripe-events setup` (it reuses the destinations){last_error}")]
    SourceTimeout {
        /// Each destination with the account and region Stripe holds for it.
        missing: String,
        waited: String,
        /// `; last error: …` when the last look failed transiently, else empty.
        last_error: String,
    },
    #[error("{payload} destination {id} cannot be used: {why}; no tfvars written. {fix}")]
    Unusable {
        payload: &'static str,
        id: String,
        why: String,
        fix: &'static str,
    },
    /// A destination of ours sends to another account or region than asked ([`elsewhere`]).
    #[error("{0}")]
    Elsewhere(String),
    #[error("cannot write {path}: {detail} (pass --tfvars-out with a writable path)")]
    Tfvars { path: String, detail: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Payload {
    Snapshot,
    Thin,
}

impl Payload {
    pub const BOTH: [Payload; 2] = [Payload::Snapshot, Payload::Thin];

    pub fn as_str(self) -> &'static str {
        match self {
            Payload::Snapshot => "snapshot",
            Payload::Thin => "thin",
        }
    }

    pub fn from_name(s: &str) -> Option<Payload> {
        match s {
            "snapshot" => Some(Payload::Snapshot),
            "thin" => Some(Payload::Thin),
            _ => None,
        }
    }

    /// The types a destination of this payload style must enable.
    pub fn wanted_events(self) -> Vec<String> {
        match self {
            Payload::Snapshot => handled_types().into_iter().map(str::to_owned).collect(),
            Payload::Thin => thin_handled_types(),
        }
    }
}

/// The fields of a v2 event destination the CLI reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Destination {
    pub id: String,
    pub name: String,
    pub payload: Option<Payload>,
    pub status: String,
    pub disabled_reason: Option<String>,
    pub enabled_events: Vec<String>,
    pub metadata: Map<String, Value>,
    pub aws_account_id: Option<String>,
    pub source_arn: Option<String>,
    pub source_status: Option<String>,
    pub snapshot_api_version: Option<String>,
}

impl Destination {
    pub fn from_json(v: &Value) -> Result<Destination, SetupError> {
        let text = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_owned);
        let id = text("/id")
            .ok_or_else(|| SetupError::Unexpected(format!("event destination without id: {v}")))?;
        Ok(Destination {
            name: text("/name").unwrap_or_default(),
            payload: text("/event_payload")
                .as_deref()
                .and_then(Payload::from_name),
            status: text("/status").unwrap_or_else(|| "unknown".into()),
            disabled_reason: text("/status_details/disabled/reason"),
            enabled_events: v
                .get("enabled_events")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            metadata: v
                .get("metadata")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            aws_account_id: text("/amazon_eventbridge/aws_account_id"),
            source_arn: text("/amazon_eventbridge/aws_event_source_arn"),
            source_status: text("/amazon_eventbridge/aws_event_source_status"),
            snapshot_api_version: text("/snapshot_api_version"),
            id,
        })
    }

    /// The AWS region Stripe sends to: from the source ARN
    /// (`arn:aws:events:<region>::event-source/…`), else from the `aws_region` metadata
    /// `setup` writes (Stripe's object does not echo the region back), else unknown.
    pub fn region(&self) -> Option<String> {
        self.source_arn
            .as_deref()
            .and_then(|arn| arn.split(':').nth(3))
            .filter(|r| !r.is_empty())
            .or_else(|| self.metadata.get("aws_region").and_then(Value::as_str))
            .map(str::to_owned)
    }

    fn payload_name(&self) -> &'static str {
        self.payload.map(Payload::as_str).unwrap_or("?")
    }

    /// `ed_… (snapshot; Stripe sends to AWS account …, region …)`.
    fn describe(&self) -> String {
        format!(
            "{} ({}; Stripe sends to AWS account {}, region {})",
            self.id,
            self.payload_name(),
            self.aws_account_id.as_deref().unwrap_or("not reported"),
            self.region().as_deref().unwrap_or("not reported")
        )
    }

    /// `aws.partner/stripe.com/ed_…`, from the source ARN.
    pub fn source_name(&self) -> Option<String> {
        let arn = self.source_arn.as_deref()?;
        arn.split_once(":event-source/")
            .map(|(_, name)| name.to_owned())
    }

    /// Types the families handle that this destination does not enable.
    pub fn missing_events(&self) -> Vec<String> {
        let Some(p) = self.payload else {
            return Vec::new();
        };
        p.wanted_events()
            .into_iter()
            .filter(|t| !self.enabled_events.contains(t))
            .collect()
    }

    pub fn is_ours(&self, prefix: &str, payload: Payload) -> bool {
        let meta = |k: &str| self.metadata.get(k).and_then(Value::as_str);
        self.name == destination_name(prefix, payload)
            && meta("managed_by") == Some(MANAGED_BY)
            && meta("deployment") == Some(prefix)
            && self.payload == Some(payload)
    }
}

pub fn destination_name(prefix: &str, payload: Payload) -> String {
    format!("{prefix}-stripe-billing-{}", payload.as_str())
}

/// The create body: `type: amazon_eventbridge`, account and region, payload style, the pinned
/// API version (snapshot only), exactly the handled types, name, description, metadata.
pub fn create_body(prefix: &str, payload: Payload, account: &str, region: &str) -> Value {
    let mut body = json!({
        "name": destination_name(prefix, payload),
        "description": format!(
            "Stripe billing events ({} payloads) to Amazon EventBridge for {prefix}; managed by the stripe-events CLI",
            payload.as_str()
        ),
        "type": "amazon_eventbridge",
        "event_payload": payload.as_str(),
        "enabled_events": payload.wanted_events(),
        "amazon_eventbridge": {"aws_account_id": account, "aws_region": region},
        "metadata": {"managed_by": MANAGED_BY, "deployment": prefix, "payload": payload.as_str(), "aws_region": region},
    });
    if payload == Payload::Snapshot {
        body["snapshot_api_version"] = json!(PINNED_API_VERSION);
    }
    body
}

/// Our destinations, by payload style (the newest one when several match).
pub async fn find_ours(
    admin: &StripeAdmin,
    prefix: &str,
) -> Result<Vec<(Payload, Destination)>, SetupError> {
    let all = admin.list_destinations().await?;
    let mut out = Vec::new();
    for payload in Payload::BOTH {
        for v in &all {
            let d = Destination::from_json(v)?;
            if d.is_ours(prefix, payload) {
                out.push((payload, d));
                break;
            }
        }
    }
    Ok(out)
}

/// What to do with a destination whose partner path is dead.
const RECREATE: &str = "Delete it in Stripe (Dashboard: Workbench, Event destinations) and re-run `stripe-events setup`, which creates a new one";
const ENABLE: &str = "Enable it in the Stripe Dashboard (Workbench, Event destinations), or delete it there, then re-run `stripe-events setup`";

/// Why a destination of ours cannot deliver, so `setup` must not reuse it: its partner event
/// source was deleted (as Stripe or EventBridge report it), or it is disabled.
pub fn unusable(d: &Destination, listed: Option<&PartnerSource>) -> Option<SetupError> {
    let err = |why: String, fix| {
        Some(SetupError::Unusable {
            payload: d.payload_name(),
            id: d.id.clone(),
            why,
            fix,
        })
    };
    let reason = d.disabled_reason.as_deref().unwrap_or("no reason given");
    if d.source_status.as_deref() == Some("deleted")
        || listed.is_some_and(|s| s.state == "DELETED")
        || reason == "no_aws_event_source_exists"
    {
        return err(
            "its AWS partner event source was deleted (AWS deletes a source that no event bus \
             is associated with within 7 days)"
                .into(),
            RECREATE,
        );
    }
    if d.status != "enabled" {
        return err(format!("it is disabled in Stripe ({reason})"), ENABLE);
    }
    None
}

/// [`SetupError::Elsewhere`] when Stripe sends this destination's events to another account,
/// or to another region (when the region is known).
fn elsewhere(prefix: &str, d: &Destination, account: &str, region: &str) -> Option<SetupError> {
    let has_account = d.aws_account_id.as_deref().unwrap_or(account);
    let has_region = d.region();
    if has_account == account && has_region.as_deref().is_none_or(|r| r == region) {
        return None;
    }
    let has_region = has_region.as_deref().unwrap_or(region);
    Some(SetupError::Elsewhere(format!(
        "{} destination {} sends to AWS account {has_account}, region {has_region} (what Stripe \
         holds), not to account {account}, region {region} as asked; nothing was changed. To \
         keep it: re-run with --aws-account-id {has_account} --aws-region {has_region}. To move: \
         delete the {prefix} destinations in Stripe (Dashboard: Workbench, Event destinations) \
         and re-run `stripe-events setup`, which creates new ones",
        d.payload_name(),
        d.id
    )))
}

/// Finds or creates both destinations. Returns each with `true` when it was created now.
/// A destination found for another account or region, or whose partner path is dead, is
/// refused before anything is created.
pub async fn ensure_destinations(
    admin: &StripeAdmin,
    prefix: &str,
    account: &str,
    region: &str,
) -> Result<Vec<(Destination, bool)>, SetupError> {
    let found = find_ours(admin, prefix).await?;
    for (_, d) in &found {
        if let Some(e) = elsewhere(prefix, d, account, region).or_else(|| unusable(d, None)) {
            return Err(e);
        }
    }
    let mut out = Vec::new();
    for payload in Payload::BOTH {
        if let Some((_, d)) = found.iter().find(|(p, _)| *p == payload) {
            out.push((d.clone(), false));
        } else {
            let created = admin
                .create_destination(&create_body(prefix, payload, account, region))
                .await?;
            out.push((Destination::from_json(&created)?, true));
        }
    }
    Ok(out)
}

/// A destination whose source exists on the AWS side.
#[derive(Debug, Clone)]
pub struct Ready {
    pub destination: Destination,
    pub source: PartnerSource,
}

/// Polls until every destination reports its source ARN and a live status (`pending` or
/// `active`), and EventBridge lists the source; at most `wait`. Fails at once on a dead
/// destination ([`unusable`]) and on an error that waiting cannot cure (access denied, a bad
/// endpoint, a Stripe 4xx); throttling, 5xx and timeouts are asked again.
pub async fn wait_for_sources(
    admin: &StripeAdmin,
    aws: &Aws,
    destinations: &[Destination],
    wait: Duration,
    poll: Duration,
    mut progress: impl FnMut(&str),
) -> Result<Vec<Ready>, SetupError> {
    let start = Instant::now();
    let mut current: Vec<Destination> = destinations.to_vec();
    loop {
        let mut ready = Vec::new();
        let mut missing = Vec::new();
        let mut last_error = None;
        let sources = match aws.partner_sources().await {
            Ok(s) => s,
            Err(e) if e.is_transient() => {
                last_error = Some(e.to_string());
                Vec::new()
            }
            Err(e) => return Err(e.into()),
        };
        for d in &current {
            let fresh = match admin.retrieve_destination(&d.id).await {
                Ok(v) => Destination::from_json(&v)?,
                Err(e) if e.is_transient() => {
                    last_error = Some(e.to_string());
                    d.clone()
                }
                Err(e) => return Err(e.into()),
            };
            let source = fresh
                .source_name()
                .and_then(|name| sources.iter().find(|s| s.name == name).cloned());
            if let Some(e) = unusable(&fresh, source.as_ref()) {
                return Err(e);
            }
            match (fresh.source_status.as_deref(), source) {
                (Some("pending" | "active"), Some(source)) => ready.push(Ready {
                    destination: fresh,
                    source,
                }),
                _ => missing.push(fresh),
            }
        }
        if missing.is_empty() {
            return Ok(ready);
        }
        let names: Vec<&str> = missing.iter().map(|d| d.id.as_str()).collect();
        progress(&format!(
            "waiting for the partner event source of {} ({}s of {}s)",
            names.join(", "),
            start.elapsed().as_secs(),
            wait.as_secs()
        ));
        if start.elapsed() + poll > wait {
            let described: Vec<String> = missing.iter().map(Destination::describe).collect();
            return Err(SetupError::SourceTimeout {
                missing: described.join(", "),
                waited: crate::format_duration(wait),
                last_error: last_error
                    .map(|e| format!("; last error: {e}"))
                    .unwrap_or_default(),
            });
        }
        tokio::time::sleep(poll).await;
        current = ready
            .into_iter()
            .map(|r| r.destination)
            .chain(missing)
            .collect();
    }
}

/// The tfvars that associate the sources (snapshot first, thin as the additional one).
pub fn tfvars(ready: &[Ready], now: Timestamp) -> String {
    let mut sorted: Vec<&Ready> = ready.iter().collect();
    sorted.sort_by_key(|r| r.destination.payload);
    let names: Vec<&str> = sorted.iter().map(|r| r.source.name.as_str()).collect();
    let ids: Vec<String> = sorted
        .iter()
        .map(|r| {
            format!(
                "{} ({})",
                r.destination.id,
                r.destination.payload.map(Payload::as_str).unwrap_or("?")
            )
        })
        .collect();
    let first = names.first().copied().unwrap_or_default();
    let rest: Vec<String> = names.iter().skip(1).map(|n| format!("\"{n}\"")).collect();
    format!(
        "# Written by `stripe-events setup` at {}: destinations {}.\n\
         # Applying creates the partner buses (associates the sources) and the partner rules.\n\
         enable_stripe_partner_events                 = true\n\
         stripe_partner_event_source_name             = \"{first}\"\n\
         additional_stripe_partner_event_source_names = [{}]\n",
        now.to_rfc3339(),
        ids.join(", "),
        rest.join(", ")
    )
}

// ---------------------------------------------------------------- status

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// No destination of ours in Stripe.
    Nothing,
    /// Destinations exist, Stripe has not reported (or AWS does not list) their sources.
    DestinationsOnly,
    /// Sources exist but no partner bus is associated with them.
    SourcesPending,
    /// Partner buses exist but their rules are missing or disabled.
    BusAssociated,
    /// Partner rules enabled for every family on every bus.
    RulesEnabled,
    /// A destination is disabled or a source was deleted.
    Broken,
}

#[derive(Debug, Clone)]
pub struct SourceRow {
    pub destination: Destination,
    pub source: Option<PartnerSource>,
    pub bus_present: bool,
    /// (family, partner rule state or None when missing)
    pub partner_rules: Vec<(Family, Option<String>)>,
}

#[derive(Debug, Clone)]
pub struct StatusReport {
    pub prefix: String,
    pub rows: Vec<SourceRow>,
    /// (family, webhook rule state or None when missing)
    pub webhook_rules: Vec<(Family, Option<String>)>,
    pub stage: Stage,
    pub verdict: String,
}

pub fn partner_rule_name(prefix: &str, family: Family) -> String {
    format!("{prefix}-stripe-partner_{}_events-rule", family.as_str())
}

pub fn webhook_rule_name(prefix: &str, family: Family) -> String {
    format!("{prefix}-stripe-{}_events-rule", family.as_str())
}

pub fn webhook_bus_name(prefix: &str) -> String {
    format!("{prefix}-stripe-event-bus")
}

pub async fn status(
    admin: &StripeAdmin,
    aws: &Aws,
    prefix: &str,
) -> Result<StatusReport, SetupError> {
    let ours = find_ours(admin, prefix).await?;
    let sources = if ours.iter().any(|(_, d)| d.source_name().is_some()) {
        aws.partner_sources().await?
    } else {
        Vec::new()
    };
    let mut rows = Vec::new();
    for (_, d) in ours {
        let source = d
            .source_name()
            .and_then(|n| sources.iter().find(|s| s.name == n).cloned());
        let mut bus_present = false;
        let mut partner_rules = Vec::new();
        if let Some(s) = &source {
            bus_present = aws.bus_exists(&s.name).await?;
            if bus_present {
                for f in Family::CONSUMERS {
                    partner_rules.push((
                        f,
                        aws.rule_state(&partner_rule_name(prefix, f), &s.name)
                            .await?,
                    ));
                }
            }
        }
        rows.push(SourceRow {
            destination: d,
            source,
            bus_present,
            partner_rules,
        });
    }
    let mut webhook_rules = Vec::new();
    let bus = webhook_bus_name(prefix);
    let webhook_bus = aws.bus_exists(&bus).await?;
    for f in Family::CONSUMERS {
        let state = if webhook_bus {
            aws.rule_state(&webhook_rule_name(prefix, f), &bus).await?
        } else {
            None
        };
        webhook_rules.push((f, state));
    }
    let (stage, verdict) = verdict(prefix, &rows, Timestamp::now().unix_seconds());
    Ok(StatusReport {
        prefix: prefix.to_owned(),
        rows,
        webhook_rules,
        stage,
        verdict,
    })
}

/// The stage and the one next action.
pub fn verdict(prefix: &str, rows: &[SourceRow], now_unix: i64) -> (Stage, String) {
    if rows.is_empty() {
        return (
            Stage::Nothing,
            format!("no Stripe destinations for {prefix}: run `stripe-events setup`"),
        );
    }
    if let Some(r) = rows.iter().find(|r| r.destination.status != "enabled") {
        let reason = r
            .destination
            .disabled_reason
            .as_deref()
            .unwrap_or("unknown");
        let fix = if reason == "no_aws_event_source_exists" {
            "its AWS partner event source is gone (not associated within 7 days): delete the destination in Stripe and re-run `stripe-events setup`"
        } else {
            "enable it in the Stripe Dashboard (Workbench → Event destinations)"
        };
        return (
            Stage::Broken,
            format!(
                "destination {} is disabled ({reason}): {fix}",
                r.destination.id
            ),
        );
    }
    if let Some(r) = rows
        .iter()
        .find(|r| r.source.as_ref().is_some_and(|s| s.state == "DELETED"))
    {
        return (
            Stage::Broken,
            format!(
                "the partner event source of {} was deleted by AWS: delete the destination in Stripe and re-run `stripe-events setup`",
                r.destination.id
            ),
        );
    }
    if rows.len() < Payload::BOTH.len() || rows.iter().any(|r| r.source.is_none()) {
        return (
            Stage::DestinationsOnly,
            "waiting for Stripe to create the partner event sources: re-run `stripe-events setup` (it waits, then writes the tfvars)".into(),
        );
    }
    if rows.iter().any(|r| !r.bus_present) {
        let days = rows
            .iter()
            .filter_map(|r| r.source.as_ref().and_then(|s| s.days_left(now_unix)))
            .min();
        return (
            Stage::SourcesPending,
            format!(
                "sources pending association{}: run the `terraform apply` that `stripe-events setup` printed (its tfvars set enable_stripe_partner_events = true)",
                days.map(|d| format!(" ({d} days left before AWS deletes them)"))
                    .unwrap_or_default()
            ),
        );
    }
    let rules_ok = rows.iter().all(|r| {
        r.partner_rules.len() == Family::CONSUMERS.len()
            && r.partner_rules
                .iter()
                .all(|(_, s)| s.as_deref() == Some("ENABLED"))
    });
    if !rules_ok {
        return (
            Stage::BusAssociated,
            "partner buses associated but partner rules missing or disabled: `terraform apply` (check partner_rules_enabled)".into(),
        );
    }
    (
        Stage::RulesEnabled,
        "partner path live: run `stripe-events ping`, then watch `stripe-events migrate status` and cut types over".into(),
    )
}

pub fn render_status(r: &StatusReport, now_unix: i64) -> String {
    let mut t = Table::new(&["item", "name", "state", "detail"]);
    for row in &r.rows {
        let d = &row.destination;
        let missing = d.missing_events();
        t.row(vec![
            format!(
                "destination ({})",
                d.payload.map(Payload::as_str).unwrap_or("?")
            ),
            d.id.clone(),
            d.status.clone(),
            format!(
                "{} events enabled{}{}",
                d.enabled_events.len(),
                if missing.is_empty() {
                    String::new()
                } else {
                    format!(", missing {}", missing.join(" "))
                },
                d.disabled_reason
                    .as_ref()
                    .map(|r| format!(", disabled: {r}"))
                    .unwrap_or_default()
            ),
        ]);
        let (state, detail) = match &row.source {
            Some(s) => (
                s.state.clone(),
                match s.days_left(now_unix) {
                    Some(days) => format!("{days} days left to associate"),
                    None => String::new(),
                },
            ),
            None => (
                d.source_status.clone().unwrap_or_else(|| "-".into()),
                "not listed by EventBridge".into(),
            ),
        };
        t.row(vec![
            "partner source".into(),
            d.source_name().unwrap_or_else(|| "-".into()),
            state,
            detail,
        ]);
        t.row(vec![
            "partner bus".into(),
            d.source_name().unwrap_or_else(|| "-".into()),
            if row.bus_present { "present" } else { "absent" }.into(),
            String::new(),
        ]);
        for (f, s) in &row.partner_rules {
            t.row(vec![
                format!("partner rule {f}"),
                partner_rule_name(&r.prefix, *f),
                s.clone().unwrap_or_else(|| "missing".into()),
                String::new(),
            ]);
        }
    }
    for (f, s) in &r.webhook_rules {
        t.row(vec![
            format!("webhook rule {f}"),
            webhook_rule_name(&r.prefix, *f),
            s.clone().unwrap_or_else(|| "missing".into()),
            String::new(),
        ]);
    }
    format!("{}\n\nverdict: {}", t.render(), r.verdict)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(v: Value) -> Destination {
        Destination::from_json(&v).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn create_bodies_pin_the_version_only_for_snapshots_and_prefix_thin_types() {
        let s = create_body("p", Payload::Snapshot, "123456789012", "us-east-2");
        assert_eq!(s["snapshot_api_version"], PINNED_API_VERSION);
        assert_eq!(s["amazon_eventbridge"]["aws_region"], "us-east-2");
        let types: Vec<&str> = s["enabled_events"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        assert_eq!(types, handled_types());
        let t = create_body("p", Payload::Thin, "123456789012", "us-east-2");
        assert!(t.get("snapshot_api_version").is_none());
        assert!(t["enabled_events"].as_array().is_some_and(|a| a
            .iter()
            .all(|x| x.as_str().is_some_and(|x| x.starts_with("v1.")))));
    }

    #[test]
    fn ours_means_name_metadata_and_payload() {
        let body = create_body("p", Payload::Thin, "123456789012", "us-east-2");
        let mut v = body.clone();
        v["id"] = json!("ed_1");
        assert!(dest(v.clone()).is_ours("p", Payload::Thin));
        assert!(!dest(v.clone()).is_ours("q", Payload::Thin));
        assert!(!dest(v.clone()).is_ours("p", Payload::Snapshot));
        v["metadata"]["managed_by"] = json!("someone");
        assert!(!dest(v).is_ours("p", Payload::Thin));
    }

    #[test]
    fn source_name_comes_from_the_arn_and_missing_types_are_listed() {
        let d = dest(
            json!({"id": "ed_1", "event_payload": "snapshot", "enabled_events": ["invoice.paid"],
            "amazon_eventbridge": {"aws_event_source_arn": "arn:aws:events:us-east-2::event-source/aws.partner/stripe.com/ed_1"}}),
        );
        assert_eq!(
            d.source_name().as_deref(),
            Some("aws.partner/stripe.com/ed_1")
        );
        let missing = d.missing_events();
        assert!(!missing.contains(&"invoice.paid".to_owned()));
        assert_eq!(missing.len(), handled_types().len() - 1);
    }

    #[test]
    fn a_destination_for_another_account_or_region_is_not_ours_to_reuse() {
        let mut v = create_body("p", Payload::Snapshot, "123456789012", "us-east-2");
        v["id"] = json!("ed_1");
        v["amazon_eventbridge"] = json!({"aws_account_id": "123456789012"});
        let d = dest(v.clone());
        assert_eq!(
            d.region().as_deref(),
            Some("us-east-2"),
            "from the metadata"
        );
        assert!(elsewhere("p", &d, "123456789012", "us-east-2").is_none());
        assert!(elsewhere("p", &d, "210987654321", "us-east-2").is_some());
        assert!(elsewhere("p", &d, "123456789012", "eu-west-1").is_some());
        // The source ARN wins over the metadata; no region at all compares the account only.
        v["amazon_eventbridge"]["aws_event_source_arn"] =
            json!("arn:aws:events:eu-west-1::event-source/aws.partner/stripe.com/ed_1");
        assert_eq!(dest(v.clone()).region().as_deref(), Some("eu-west-1"));
        v["amazon_eventbridge"] = json!({"aws_account_id": "123456789012"});
        v["metadata"] = json!({});
        assert!(elsewhere("p", &dest(v), "123456789012", "eu-west-1").is_none());
    }

    #[test]
    fn deleted_sources_and_disabled_destinations_are_unusable() {
        let live = json!({"id": "ed_1", "event_payload": "thin", "status": "enabled",
            "amazon_eventbridge": {"aws_event_source_status": "pending"}});
        assert!(unusable(&dest(live.clone()), None).is_none());
        let mut deleted = live.clone();
        deleted["amazon_eventbridge"]["aws_event_source_status"] = json!("deleted");
        let e = unusable(&dest(deleted), None).map(|e| e.to_string());
        assert!(
            e.as_deref().is_some_and(|e| e.contains("was deleted")),
            "{e:?}"
        );
        let listed = PartnerSource {
            name: "aws.partner/stripe.com/ed_1".into(),
            state: "DELETED".into(),
            created_unix: None,
            expires_unix: None,
        };
        assert!(unusable(&dest(live.clone()), Some(&listed)).is_some());
        let mut disabled = live;
        disabled["status"] = json!("disabled");
        disabled["status_details"] = json!({"disabled": {"reason": "user"}});
        let e = unusable(&dest(disabled), None).map(|e| e.to_string());
        assert!(
            e.as_deref()
                .is_some_and(|e| e.contains("disabled in Stripe (user)")),
            "{e:?}"
        );
    }

    #[test]
    fn tfvars_name_the_snapshot_source_first() {
        let ready = |id: &str, p: &str| Ready {
            destination: dest(json!({"id": id, "event_payload": p})),
            source: PartnerSource {
                name: format!("aws.partner/stripe.com/{id}"),
                state: "PENDING".into(),
                created_unix: None,
                expires_unix: None,
            },
        };
        let text = tfvars(
            &[ready("ed_thin", "thin"), ready("ed_snap", "snapshot")],
            Timestamp::from_unix_seconds(0),
        );
        assert!(text.contains(
            "stripe_partner_event_source_name             = \"aws.partner/stripe.com/ed_snap\""
        ));
        assert!(text.contains(
            "additional_stripe_partner_event_source_names = [\"aws.partner/stripe.com/ed_thin\"]"
        ));
        assert!(text.contains("enable_stripe_partner_events                 = true"));
    }
}
