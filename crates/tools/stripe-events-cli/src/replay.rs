//! Replay: route each event as AWS would (the deployed rule files for EventBridge events, the
//! queue's Lambda for SQS records, the type's family for a direct invocation) and run the
//! selected handler(s) in process against the configured endpoints.

use std::fmt;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use stripe_events_consumer::Outcome;
use stripe_events_core::{parse_bytes, Family, InvocationShape, Record};

use crate::context::Context;

/// One event through one Lambda (or through none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub source: String,
    pub event_id: String,
    pub event_type: String,
    /// How it was routed: rule names, `queue:<family>` or `direct`.
    pub route: String,
    /// The Lambda that handled it, `-` when nothing did.
    pub lambda: String,
    /// The handler's outcome, or why it was not handled.
    pub outcome: Handling,
}

impl Row {
    /// The handler's outcome, `None` when no handler ran.
    pub fn handled(&self) -> Option<Outcome> {
        self.outcome.outcome()
    }
}

/// What became of one input: a handler's [`Outcome`], or why no handler ran. Printed as the
/// outcome column (`applied`, …, `unrouted`, `unreadable: <code>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handling {
    /// A handler ran it.
    Handled(Outcome),
    /// No rule (or, for a bare event, no family) selects a Lambda.
    Unrouted,
    /// Not an input the model reads; the parse error's code (`not_json`, …).
    Unreadable(String),
    /// The rule files could not be evaluated against it.
    RuleError(String),
    /// The selected Lambda has no handler here.
    NoHandler,
}

impl Handling {
    pub fn outcome(&self) -> Option<Outcome> {
        match self {
            Handling::Handled(o) => Some(*o),
            _ => None,
        }
    }

    /// The name it is counted under in the summary line (`unreadable` whatever the code).
    pub fn summary_name(&self) -> String {
        match self {
            Handling::Unreadable(_) => "unreadable".to_owned(),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for Handling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Handling::Handled(o) => f.write_str(o.as_str()),
            Handling::Unrouted => f.write_str("unrouted"),
            Handling::Unreadable(code) => write!(f, "unreadable: {code}"),
            Handling::RuleError(e) => write!(f, "rule error: {e}"),
            Handling::NoHandler => f.write_str("no handler"),
        }
    }
}

/// Compares with the printed form (`row.outcome == "applied"`).
impl PartialEq<&str> for Handling {
    fn eq(&self, other: &&str) -> bool {
        match self {
            Handling::Handled(o) => o.as_str() == *other,
            Handling::Unrouted => *other == "unrouted",
            Handling::Unreadable(code) => other.strip_prefix("unreadable: ") == Some(code),
            Handling::RuleError(e) => other.strip_prefix("rule error: ") == Some(e),
            Handling::NoHandler => *other == "no handler",
        }
    }
}

const DEADLINE: Duration = Duration::from_secs(30);

/// Replays one input (the contents of one file).
pub async fn replay_bytes(ctx: &Context, source: &str, bytes: &[u8]) -> Vec<Row> {
    match serde_json::from_slice(bytes) {
        Ok(value) => replay_value(ctx, source, value).await,
        Err(_) => vec![unhandled(
            source,
            "",
            "",
            "-",
            Handling::Unreadable("not_json".into()),
        )],
    }
}

/// Replays one invocation payload.
pub async fn replay_value(ctx: &Context, source: &str, value: Value) -> Vec<Row> {
    // Read as the Lambdas read it (the routing below matches rules against the JSON).
    let bytes = serde_json::to_vec(&value).unwrap_or_default();
    let invocation = match parse_bytes(&bytes) {
        Ok(inv) => inv,
        Err(e) => {
            let id = e.event_id.clone().unwrap_or_default();
            return vec![unhandled(
                source,
                &id,
                "",
                "-",
                Handling::Unreadable(e.error.code().to_string()),
            )];
        }
    };
    match invocation.shape {
        InvocationShape::EventBridge => {
            let routed = match ctx.rules.matching(&value) {
                Ok(rules) => rules,
                Err(e) => {
                    let why = Handling::RuleError(e.to_string());
                    return vec![unhandled(source, "", "", "-", why)];
                }
            };
            let (id, typ) = ids(&invocation.records);
            if routed.is_empty() {
                return vec![unhandled(source, &id, &typ, "-", Handling::Unrouted)];
            }
            let mut rows = Vec::new();
            for rule in routed {
                rows.extend(run(ctx, source, &rule.name, rule.family, value.clone()).await);
            }
            rows
        }
        InvocationShape::BareStripeEvent => {
            let (id, typ) = ids(&invocation.records);
            match Family::of_event_type(&typ) {
                Family::None => vec![unhandled(source, &id, &typ, "direct", Handling::Unrouted)],
                family => run(ctx, source, "direct", family, value).await,
            }
        }
        InvocationShape::SqsBatch => {
            let records = value["Records"].as_array().cloned().unwrap_or_default();
            let mut rows = Vec::new();
            for record in records {
                let family = queue_family(&record).or_else(|| body_family(ctx, &record));
                let Some(family) = family else {
                    let id = record["messageId"].as_str().unwrap_or("").to_owned();
                    rows.push(unhandled(source, &id, "", "-", Handling::Unrouted));
                    continue;
                };
                let route = format!("queue:{family}");
                rows.extend(run(ctx, source, &route, family, json!({"Records": [record]})).await);
            }
            rows
        }
    }
}

fn ids(records: &[Record<'_>]) -> (String, String) {
    match records.first().map(Record::delivery) {
        Some(Ok(d)) => (d.event_id.clone(), d.event_type.clone()),
        _ => (String::new(), String::new()),
    }
}

/// The consumer whose queue an SQS record came from (`…-<family>-queue` / `…-<family>-dlq`).
fn queue_family(record: &Value) -> Option<Family> {
    let arn = record["eventSourceARN"].as_str()?;
    let queue = arn.rsplit(':').next()?;
    Family::CONSUMERS.into_iter().find(|f| {
        queue.contains(&format!("-{}-", f.as_str())) || queue.ends_with(&format!("-{}", f.as_str()))
    })
}

fn body_family(ctx: &Context, record: &Value) -> Option<Family> {
    let body: Value = serde_json::from_str(record["body"].as_str()?).ok()?;
    ctx.rules.matching(&body).ok()?.first().map(|r| r.family)
}

async fn run(ctx: &Context, source: &str, route: &str, family: Family, payload: Value) -> Vec<Row> {
    let Some(handler) = ctx.handler(family) else {
        return vec![unhandled(source, "", "", route, Handling::NoHandler)];
    };
    let report = handler.handle(payload, Instant::now() + DEADLINE).await;
    report
        .records
        .into_iter()
        .map(|r| Row {
            source: source.to_owned(),
            event_id: r.event_id.or(r.sqs_message_id).unwrap_or_default(),
            event_type: r.event_type.unwrap_or_default(),
            route: route.to_owned(),
            lambda: family.as_str().to_owned(),
            outcome: Handling::Handled(r.outcome),
        })
        .collect()
}

fn unhandled(source: &str, id: &str, typ: &str, route: &str, why: Handling) -> Row {
    Row {
        source: source.to_owned(),
        event_id: id.to_owned(),
        event_type: typ.to_owned(),
        route: route.to_owned(),
        lambda: "-".to_owned(),
        outcome: why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handling_prints_and_compares_as_the_outcome_column() {
        let cases = [
            (
                Handling::Handled(Outcome::FailedPermanent),
                "failed_permanent",
            ),
            (Handling::Unrouted, "unrouted"),
            (
                Handling::Unreadable("not_json".into()),
                "unreadable: not_json",
            ),
            (Handling::RuleError("bad".into()), "rule error: bad"),
            (Handling::NoHandler, "no handler"),
        ];
        for (h, printed) in &cases {
            assert_eq!(h.to_string(), *printed);
            assert_eq!(h, printed);
            assert!(cases.iter().all(|(_, p)| p == printed || h != p));
        }
        assert_eq!(
            Handling::Unreadable("missing_field".into()).summary_name(),
            "unreadable"
        );
        assert_eq!(
            Handling::Handled(Outcome::Applied).outcome(),
            Some(Outcome::Applied)
        );
        assert_eq!(Handling::Unrouted.outcome(), None);
    }
}
