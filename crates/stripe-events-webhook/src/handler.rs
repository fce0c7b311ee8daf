//! The request → response logic, independent of the Lambda runtime and of AWS: verify the
//! signature over the raw body, check the body is one Stripe event, put it on the bus.
//!
//! | outcome | status |
//! |---|---|
//! | not the webhook route (`WEBHOOK_ROUTE`) | 404, before anything else |
//! | the route, but not `POST` | 405, before anything else |
//! | forwarded (EventBridge accepted the entry, FailedEntryCount 0) | 200 |
//! | missing / malformed / stale / future / non-matching signature, undecodable body | 400 `{"error":"invalid signature"}` |
//! | signed body that is not one Stripe event | 400 `{"error":"invalid payload"}` |
//! | PutEvents failed, reported a failed entry or gave no answer before the deadline; event too large even as a reference | 500 |

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use stripe_events_core::{parse_bytes, Delivery, InvocationShape, Timestamp};
use stripe_events_lambda::emf::{self, MetricSet};
use stripe_events_lambda::process_emf_level;

use crate::config::DEFAULT_ROUTE;
use crate::forward::{entry_for, EntryError, ForwardError, Forwarded, Forwarder};
use crate::http::{self, RouteError};
use crate::secrets::SecretStore;
use crate::signature::{self, SignatureError};

/// What happened to one request (logged, and mapped to the response).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Forwarded {
        event_id: String,
        event_type: String,
        forwarded: Forwarded,
        entry_bytes: usize,
        eventbridge_id: Option<String>,
    },
    /// Not `POST` on the webhook route: answered before any verification.
    WrongRoute {
        error: RouteError,
        method: String,
        path: String,
    },
    /// Not shown to be from Stripe.
    Unauthenticated { reason: &'static str },
    /// Signed, but not one Stripe event.
    InvalidPayload {
        reason: &'static str,
        event_id: Option<String>,
        /// The body's top-level `type`, when it is a short string.
        event_type: Option<String>,
    },
    /// Stripe's event, not on the bus: Stripe must retry.
    NotForwarded {
        reason: &'static str,
        event_id: String,
        event_type: String,
        error: String,
    },
}

impl Outcome {
    pub fn response(&self) -> ApiGatewayV2httpResponse {
        match self {
            Outcome::Forwarded { .. } => http::accepted(),
            Outcome::WrongRoute {
                error: RouteError::NotFound,
                ..
            } => http::not_found(),
            Outcome::WrongRoute {
                error: RouteError::MethodNotAllowed,
                ..
            } => http::method_not_allowed(),
            Outcome::Unauthenticated { .. } => http::invalid_signature(),
            Outcome::InvalidPayload { .. } => http::invalid_payload(),
            Outcome::NotForwarded { .. } => http::internal_error(),
        }
    }

    /// The snake_case reason code (`forwarded` on success).
    pub fn reason(&self) -> &'static str {
        match self {
            Outcome::Forwarded { .. } => "forwarded",
            Outcome::WrongRoute {
                error: RouteError::NotFound,
                ..
            } => "wrong_route",
            Outcome::WrongRoute {
                error: RouteError::MethodNotAllowed,
                ..
            } => "wrong_method",
            Outcome::Unauthenticated { reason }
            | Outcome::InvalidPayload { reason, .. }
            | Outcome::NotForwarded { reason, .. } => reason,
        }
    }

    /// The metric this outcome counts in: `accepted` (forwarded, 200), `rejected` (404, 405,
    /// 400: wrong route or method, signature not verified, not one Stripe event) or
    /// `forward_failed` (500: Stripe retries).
    pub fn metric(&self) -> &'static str {
        match self {
            Outcome::Forwarded { .. } => "accepted",
            Outcome::WrongRoute { .. }
            | Outcome::Unauthenticated { .. }
            | Outcome::InvalidPayload { .. } => "rejected",
            Outcome::NotForwarded { .. } => "forward_failed",
        }
    }

    /// One CloudWatch Embedded Metric Format line for this request (newline included),
    /// namespace `StripeEvents`: `accepted`, `rejected` and `forward_failed` (one of them 1) by
    /// `function` (`webhook`) and by `function` + `reason` ([`Outcome::reason`]), so rejections
    /// and forward failures can be told apart. It carries `level` and an RFC 3339
    /// `timestamp` so Lambda's JSON log-level filtering keeps it ([`stripe_events_lambda::emf_level`]).
    pub fn emf_line(&self, timestamp_ms: i64, level: &str) -> Vec<u8> {
        static METRICS: OnceLock<MetricSet> = OnceLock::new();
        let metrics = METRICS.get_or_init(|| {
            MetricSet::new(
                "StripeEvents",
                &[&["function"], &["function", "reason"]],
                &EMF_METRICS,
            )
        });
        let counts = EMF_METRICS.map(|m| u32::from(m == self.metric()));
        metrics.line(timestamp_ms, level, &["webhook", self.reason()], &counts)
    }

    /// The `outcome` of the log line: the metric's name, except `forwarded` for `accepted`
    /// (the consumers' lines name what happened to the event).
    pub fn log_outcome(&self) -> &'static str {
        match self {
            Outcome::Forwarded { .. } => "forwarded",
            _ => self.metric(),
        }
    }

    /// The Stripe event's id and type as far as they were read, empty when unknown. Nothing
    /// is read from a body whose signature was not verified.
    pub fn event(&self) -> (&str, &str) {
        match self {
            Outcome::Forwarded {
                event_id,
                event_type,
                ..
            }
            | Outcome::NotForwarded {
                event_id,
                event_type,
                ..
            } => (event_id, event_type),
            Outcome::InvalidPayload {
                event_id,
                event_type,
                ..
            } => (
                event_id.as_deref().unwrap_or_default(),
                event_type.as_deref().unwrap_or_default(),
            ),
            Outcome::WrongRoute { .. } | Outcome::Unauthenticated { .. } => ("", ""),
        }
    }

    /// One line per request, with the consumers' fields at every level (`event_id`,
    /// `event_type`, `path` = `webhook`, `outcome`, `detail`; empty when unknown), then
    /// `reason`, `status`, `body_bytes` and what only some outcomes have.
    fn log(&self, body_bytes: usize) {
        use tracing::Level;
        let (event_id, event_type) = self.event();
        let path = LOG_PATH;
        let outcome = self.log_outcome();
        let reason = self.reason();
        let status = self.response().status_code;
        macro_rules! line {
            ($level:expr, $detail:expr, $message:literal, {$($extra:tt)*}) => {
                tracing::event!(
                    $level,
                    event_id,
                    event_type,
                    path,
                    outcome,
                    detail = %$detail,
                    reason,
                    status,
                    body_bytes,
                    $($extra)*
                    $message
                )
            };
        }
        match self {
            Outcome::Forwarded {
                forwarded,
                entry_bytes,
                eventbridge_id,
                ..
            } => {
                let forwarded_as = forwarded.as_str();
                let entry_bytes = *entry_bytes;
                let eventbridge_id = eventbridge_id.as_deref().unwrap_or_default();
                match forwarded {
                    Forwarded::Event => line!(
                        Level::INFO,
                        "",
                        "webhook event forwarded to EventBridge",
                        {forwarded_as, entry_bytes, eventbridge_id,}
                    ),
                    Forwarded::Reference => line!(
                        Level::WARN,
                        "over EventBridge's entry limit: forwarded a reference for consumers to hydrate",
                        "webhook event forwarded to EventBridge as a reference",
                        {forwarded_as, entry_bytes, eventbridge_id,}
                    ),
                }
            }
            Outcome::WrongRoute {
                error,
                method,
                path: request_path,
            } => line!(
                Level::WARN,
                error,
                "webhook request rejected: not the webhook route",
                {method = %method, request_path = %request_path,}
            ),
            Outcome::Unauthenticated { .. } => line!(
                Level::WARN,
                "signature not verified",
                "webhook request rejected: signature not verified",
                {}
            ),
            Outcome::InvalidPayload { .. } => line!(
                Level::WARN,
                "signed body is not one Stripe event",
                "signed webhook body is not a Stripe event",
                {}
            ),
            Outcome::NotForwarded { error, .. } => line!(
                Level::ERROR,
                error,
                "webhook event not forwarded; Stripe will retry",
                {}
            ),
        }
    }
}

/// The `path` of the webhook's log lines: the consumers' name for this delivery path
/// (`DeliveryPath::name`), so one query finds an event's lines on both sides.
pub const LOG_PATH: &str = "webhook";

/// The webhook's metrics (see [`Outcome::metric`]).
pub const EMF_METRICS: [&str; 3] = ["accepted", "rejected", "forward_failed"];

/// How long a request may wait on AWS when the caller gives no invocation deadline.
pub const DEFAULT_TIME_BUDGET: Duration = Duration::from_secs(10);

pub struct WebhookHandler<F> {
    secrets: SecretStore,
    tolerance_seconds: i64,
    forwarder: F,
    route: String,
}

impl<F: Forwarder> WebhookHandler<F> {
    /// A handler for `POST` on the default route (`/stripe/webhook`).
    pub fn new(secrets: SecretStore, tolerance_seconds: i64, forwarder: F) -> Self {
        WebhookHandler {
            secrets,
            tolerance_seconds,
            forwarder,
            route: DEFAULT_ROUTE.to_owned(),
        }
    }

    /// Serves `POST` on `route` instead (`WEBHOOK_ROUTE`).
    pub fn with_route(mut self, route: impl Into<String>) -> Self {
        self.route = route.into();
        self
    }

    pub fn forwarder(&self) -> &F {
        &self.forwarder
    }

    /// Handles one HTTP API (payload 2.0) request now.
    pub async fn handle(&self, request: &ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
        self.process(request, Timestamp::now().unix_seconds(), None)
            .await
            .response()
    }

    /// Handles one request at unix time `now`; `trace_header` is the invocation's X-Ray
    /// trace id, passed on to EventBridge. Logs the outcome. AWS calls get
    /// [`DEFAULT_TIME_BUDGET`].
    pub async fn process(
        &self,
        request: &ApiGatewayV2httpRequest,
        now: i64,
        trace_header: Option<&str>,
    ) -> Outcome {
        let deadline = Instant::now() + DEFAULT_TIME_BUDGET;
        self.process_until(request, now, trace_header, deadline)
            .await
    }

    /// As [`WebhookHandler::process`], with every AWS call (secret reload, PutEvents) bounded
    /// by `deadline`: no answer in time is a 500, so Stripe retries, never a Lambda timeout.
    pub async fn process_until(
        &self,
        request: &ApiGatewayV2httpRequest,
        now: i64,
        trace_header: Option<&str>,
        deadline: Instant,
    ) -> Outcome {
        let (outcome, body_bytes) = self.decide(request, now, trace_header, deadline).await;
        outcome.log(body_bytes);
        emf::print(&outcome.emf_line(Timestamp::now().unix_millis(), process_emf_level()));
        outcome
    }

    async fn decide(
        &self,
        request: &ApiGatewayV2httpRequest,
        now: i64,
        trace_header: Option<&str>,
        deadline: Instant,
    ) -> (Outcome, usize) {
        if let Err(error) = http::check_route(request, &self.route) {
            let outcome = Outcome::WrongRoute {
                error,
                method: http::method(request).to_owned(),
                path: http::path(request).unwrap_or_default().to_owned(),
            };
            return (outcome, 0);
        }
        let body = match http::raw_body(request) {
            Ok(body) => body,
            Err(_) => {
                return (
                    Outcome::Unauthenticated {
                        reason: "undecodable_body",
                    },
                    0,
                )
            }
        };
        let size = body.len();
        if let Err(e) = self
            .verify(
                &body,
                http::header(request, signature::HEADER_NAME),
                now,
                deadline,
            )
            .await
        {
            return (Outcome::Unauthenticated { reason: e.code() }, size);
        }
        let delivery = match read_event(&body) {
            Ok(d) => d,
            Err(outcome) => return (outcome, size),
        };
        let outcome = self.forward(&body, delivery, trace_header, deadline).await;
        (outcome, size)
    }

    async fn verify(
        &self,
        body: &[u8],
        header: Option<&str>,
        now: i64,
        deadline: Instant,
    ) -> Result<i64, SignatureError> {
        let secrets = self.secrets.current();
        match signature::verify(body, header, &secrets, self.tolerance_seconds, now) {
            Err(SignatureError::Mismatch) => {
                // A secret store that does not answer in time counts as "no new secret".
                let reloaded =
                    tokio::time::timeout_at(deadline.into(), self.secrets.reload_if_due());
                match reloaded.await.ok().flatten() {
                    Some(fresh) => {
                        signature::verify(body, header, &fresh, self.tolerance_seconds, now)
                    }
                    None => Err(SignatureError::Mismatch),
                }
            }
            other => other,
        }
    }

    async fn forward(
        &self,
        body: &[u8],
        delivery: Delivery<'_>,
        trace_header: Option<&str>,
        deadline: Instant,
    ) -> Outcome {
        let not_forwarded = |reason: &'static str, error: String| Outcome::NotForwarded {
            reason,
            event_id: delivery.event_id.clone(),
            event_type: delivery.event_type.clone(),
            error,
        };
        // parse_bytes accepted it, so it is UTF-8 JSON; checked again rather than assumed.
        let Ok(text) = std::str::from_utf8(body) else {
            return Outcome::InvalidPayload {
                reason: "not_utf8",
                event_id: Some(delivery.event_id.clone()),
                event_type: Some(delivery.event_type.clone()),
            };
        };
        let (mut entry, forwarded) = match entry_for(text, &delivery) {
            Ok(x) => x,
            Err(e @ EntryError::ReferenceTooLarge { .. }) => {
                return not_forwarded("entry_too_large", e.to_string())
            }
            Err(EntryError::NotAnObject) => {
                return Outcome::InvalidPayload {
                    reason: "not_an_object",
                    event_id: Some(delivery.event_id.clone()),
                    event_type: Some(delivery.event_type.clone()),
                }
            }
        };
        entry.trace_header = trace_header.filter(|t| !t.is_empty()).map(str::to_owned);
        let put = tokio::time::timeout_at(deadline.into(), self.forwarder.put(&entry)).await;
        let Ok(put) = put else {
            return not_forwarded(
                "put_events_timeout",
                "no answer from EventBridge before the invocation deadline".to_owned(),
            );
        };
        match put {
            Ok(eventbridge_id) => Outcome::Forwarded {
                entry_bytes: entry.size(),
                event_id: delivery.event_id,
                event_type: delivery.event_type,
                forwarded,
                eventbridge_id,
            },
            Err(e) => {
                let reason = match e {
                    ForwardError::Call(_) => "put_events_failed",
                    ForwardError::EntryFailed { .. } => "put_events_entry_failed",
                    ForwardError::Unconfirmed(_) => "put_events_unconfirmed",
                };
                not_forwarded(reason, e.to_string())
            }
        }
    }
}

/// The body must be exactly one bare Stripe event (snapshot, thin v2 or the legacy thin
/// reference): not an EventBridge envelope, not an SQS batch.
fn read_event(body: &[u8]) -> Result<Delivery<'_>, Outcome> {
    let invalid = |reason: &'static str, event_id: Option<String>| Outcome::InvalidPayload {
        reason,
        event_id,
        event_type: readable_event_type(body),
    };
    let invocation = parse_bytes(body).map_err(|e| invalid(e.error.code(), e.event_id))?;
    if invocation.shape != InvocationShape::BareStripeEvent {
        return Err(invalid("not_a_bare_stripe_event", None));
    }
    match invocation.into_single() {
        Some(Ok(delivery)) => Ok(delivery),
        Some(Err(e)) => Err(invalid(e.error.code(), e.event_id)),
        None => Err(invalid("not_a_bare_stripe_event", None)),
    }
}

/// Longer `type` values are not logged (Stripe's are under 100 bytes).
const MAX_LOGGED_TYPE_BYTES: usize = 128;

/// The top-level `type` of a signed body that is not one Stripe event, for its log line:
/// read only on this rare path, and only when it is a string of at most
/// [`MAX_LOGGED_TYPE_BYTES`].
fn readable_event_type(body: &[u8]) -> Option<String> {
    let serde_json::Value::Object(event) = serde_json::from_slice(body).ok()? else {
        return None;
    };
    let event_type = event.get("type")?.as_str()?;
    (event_type.len() <= MAX_LOGGED_TYPE_BYTES).then(|| event_type.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use stripe_events_lambda::{emf_level, lambda_keeps, LAMBDA_LOG_LEVELS};

    fn outcomes() -> Vec<Outcome> {
        vec![
            Outcome::Forwarded {
                event_id: "evt_1".into(),
                event_type: "invoice.paid".into(),
                forwarded: Forwarded::Event,
                entry_bytes: 10,
                eventbridge_id: None,
            },
            Outcome::WrongRoute {
                error: RouteError::NotFound,
                method: "POST".into(),
                path: "/".into(),
            },
            Outcome::WrongRoute {
                error: RouteError::MethodNotAllowed,
                method: "GET".into(),
                path: "/stripe/webhook".into(),
            },
            Outcome::Unauthenticated {
                reason: "signature_mismatch",
            },
            Outcome::InvalidPayload {
                reason: "not_json",
                event_id: None,
                event_type: None,
            },
            Outcome::NotForwarded {
                reason: "put_events_failed",
                event_id: "evt_2".into(),
                event_type: "invoice.paid".into(),
                error: "throttled".into(),
            },
        ]
    }

    #[test]
    fn emf_counts_accepted_rejected_by_reason_and_forward_failures() {
        let metrics: Vec<(&str, &str)> = outcomes()
            .iter()
            .map(|o| {
                let doc: Value =
                    serde_json::from_slice(&o.emf_line(1_700_000_000_000, "INFO")).unwrap();
                let ones: Vec<&str> = EMF_METRICS.into_iter().filter(|m| doc[*m] == 1).collect();
                assert_eq!(ones.len(), 1, "exactly one metric counts: {doc}");
                for m in EMF_METRICS {
                    assert!(doc[m].is_u64(), "{m} is a root number");
                }
                assert_eq!(doc["function"], "webhook");
                assert_eq!(doc["reason"], o.reason());
                let directive = &doc["_aws"]["CloudWatchMetrics"][0];
                assert_eq!(directive["Namespace"], "StripeEvents");
                assert_eq!(
                    directive["Dimensions"],
                    json!([["function"], ["function", "reason"]])
                );
                (ones[0], o.reason())
            })
            .collect();
        assert_eq!(
            metrics,
            vec![
                ("accepted", "forwarded"),
                ("rejected", "wrong_route"),
                ("rejected", "wrong_method"),
                ("rejected", "signature_mismatch"),
                ("rejected", "not_json"),
                ("forward_failed", "put_events_failed"),
            ]
        );
    }

    #[test]
    fn emf_survives_lambda_log_level_filtering() {
        let outcome = &outcomes()[0];
        for app in LAMBDA_LOG_LEVELS {
            let line = String::from_utf8(outcome.emf_line(1_700_000_000_000, emf_level(Some(app))))
                .unwrap();
            assert!(lambda_keeps(line.trim_end(), app), "{app}: {line}");
        }
        assert_eq!(emf_level(Some("error")), "ERROR");
        assert_eq!(emf_level(None), "INFO");
    }
}
