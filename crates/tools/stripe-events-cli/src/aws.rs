//! The AWS calls of `setup`, `ping` and `migrate`: STS (who am I), EventBridge (partner
//! sources, buses, rules), CloudWatch Logs (the monitoring log group) and DynamoDB.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_eventbridge::config::http::HttpResponse;
use aws_sdk_eventbridge::error::{ProvideErrorMetadata, SdkError};
use thiserror::Error;

/// Prefix of every Stripe partner event source.
pub const SOURCE_NAME_PREFIX: &str = "aws.partner/stripe.com/ed_";
/// Days AWS keeps a partner event source that no bus is associated with.
pub const UNASSOCIATED_SOURCE_DAYS: i64 = 7;

#[derive(Debug, Error)]
pub enum AwsError {
    /// One line ([`crate::explain::sdk_error_in`]).
    #[error("{detail}")]
    Call {
        operation: &'static str,
        detail: String,
        /// Worth asking again ([`transient`]).
        transient: bool,
    },
    #[error("no AWS region configured: pass --aws-region or set AWS_REGION")]
    NoRegion,
    #[error("STS GetCallerIdentity returned no account: pass --aws-account-id")]
    NoAccount,
}

impl AwsError {
    /// A failure that may pass by itself (throttling, a 5xx, a timeout), so a wait may go on.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            AwsError::Call {
                transient: true,
                ..
            }
        )
    }
}

/// Whether asking again may succeed: throttling, a 5xx, a timeout. Not access denied, a bad
/// request, missing credentials or an endpoint that refuses connections: waiting on those only
/// hides them.
pub fn transient<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> bool {
    const THROTTLED: [&str; 5] = [
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "InternalException",
        "ServiceUnavailable",
    ];
    match e {
        SdkError::TimeoutError(_) => true,
        SdkError::DispatchFailure(d) => d.is_timeout(),
        SdkError::ResponseError(r) => r.raw().status().is_server_error(),
        SdkError::ServiceError(s) => {
            s.raw().status().is_server_error()
                || s.err().code().is_some_and(|c| THROTTLED.contains(&c))
        }
        _ => false,
    }
}

fn call_err<E>(operation: &'static str) -> impl FnOnce(SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    call_err_at(
        operation,
        crate::explain::endpoint_from_env("AWS_ENDPOINT_URL"),
    )
}

/// [`call_err`] for a client pointed at `endpoint` (named when the endpoint cannot be reached).
fn call_err_at<E>(
    operation: &'static str,
    endpoint: Option<String>,
) -> impl FnOnce(SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let service = match operation.split(':').next() {
        Some("sts") => "STS",
        Some("events") => "EventBridge",
        Some("logs") => "CloudWatch Logs",
        _ => "AWS",
    };
    move |e| AwsError::Call {
        operation,
        transient: transient(&e),
        detail: crate::explain::sdk_error_in(service, endpoint, &format!("AWS {operation}"), &e),
    }
}

#[derive(Clone, Debug)]
pub struct Aws {
    pub sdk: SdkConfig,
    pub events: aws_sdk_eventbridge::Client,
    /// The client for `ListEventSources` only: `EVENT_SOURCES_ENDPOINT_URL` when set (the local
    /// fake; moto lacks the operation), else the same endpoint as `events`.
    pub sources: aws_sdk_eventbridge::Client,
    /// `<url> (EVENT_SOURCES_ENDPOINT_URL)` when `sources` has its own endpoint.
    sources_endpoint: Option<String>,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub sts: aws_sdk_sts::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

/// One partner event source as EventBridge reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct PartnerSource {
    pub name: String,
    /// `PENDING`, `ACTIVE` or `DELETED`.
    pub state: String,
    pub created_unix: Option<i64>,
    pub expires_unix: Option<i64>,
}

impl PartnerSource {
    /// Days left (rounded up, at most [`UNASSOCIATED_SOURCE_DAYS`]) before AWS deletes it, for
    /// a source no bus is associated with yet. Never more than 7: a clock read before the
    /// source was created, or an expiry AWS reports a little late, would otherwise say 8.
    pub fn days_left(&self, now_unix: i64) -> Option<i64> {
        if self.state != "PENDING" {
            return None;
        }
        let expires = self.expires_unix.or(self
            .created_unix
            .map(|c| c + UNASSOCIATED_SOURCE_DAYS * 86_400))?;
        Some((((expires - now_unix).max(0) + 86_399) / 86_400).min(UNASSOCIATED_SOURCE_DAYS))
    }
}

impl Aws {
    pub fn from_config(sdk: SdkConfig, sources_endpoint: Option<&str>) -> Aws {
        let sources = match sources_endpoint {
            Some(url) => aws_sdk_eventbridge::Client::from_conf(
                aws_sdk_eventbridge::config::Builder::from(&sdk)
                    .endpoint_url(url)
                    .build(),
            ),
            None => aws_sdk_eventbridge::Client::new(&sdk),
        };
        Aws {
            events: aws_sdk_eventbridge::Client::new(&sdk),
            sources,
            sources_endpoint: sources_endpoint.map(|u| format!("{u} (EVENT_SOURCES_ENDPOINT_URL)")),
            logs: aws_sdk_cloudwatchlogs::Client::new(&sdk),
            sts: aws_sdk_sts::Client::new(&sdk),
            dynamodb: stripe_events_store::dynamodb_client(&sdk, None),
            sdk,
        }
    }

    /// The standard configuration chain (`AWS_ENDPOINT_URL` for moto) and
    /// `EVENT_SOURCES_ENDPOINT_URL` for `ListEventSources`.
    pub async fn from_env() -> Aws {
        let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
        let sources = std::env::var("EVENT_SOURCES_ENDPOINT_URL")
            .ok()
            .filter(|v| !v.trim().is_empty());
        Aws::from_config(sdk, sources.as_deref())
    }

    pub fn region(&self) -> Option<String> {
        self.sdk.region().map(|r| r.to_string())
    }

    pub async fn account_id(&self) -> Result<String, AwsError> {
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(call_err("sts:GetCallerIdentity"))?;
        out.account().map(str::to_owned).ok_or(AwsError::NoAccount)
    }

    /// The caller's ARN, for the migration log (best effort).
    pub async fn caller_arn(&self) -> Option<String> {
        let out = self.sts.get_caller_identity().send().await.ok()?;
        out.arn().map(str::to_owned)
    }

    /// Every Stripe partner event source in the account and region.
    pub async fn partner_sources(&self) -> Result<Vec<PartnerSource>, AwsError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .sources
                .list_event_sources()
                .name_prefix(SOURCE_NAME_PREFIX)
                .set_next_token(token)
                .send()
                .await
                .map_err(call_err_at(
                    "events:ListEventSources",
                    self.sources_endpoint
                        .clone()
                        .or_else(|| crate::explain::endpoint_from_env("AWS_ENDPOINT_URL")),
                ))?;
            for s in page.event_sources() {
                out.push(PartnerSource {
                    name: s.name().unwrap_or_default().to_owned(),
                    state: s
                        .state()
                        .map(|st| st.as_str().to_owned())
                        .unwrap_or_else(|| "UNKNOWN".into()),
                    created_unix: s.creation_time().map(|t| t.secs()),
                    expires_unix: s.expiration_time().map(|t| t.secs()),
                });
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// Whether an event bus of that name exists (for a partner source: it is associated).
    pub async fn bus_exists(&self, name: &str) -> Result<bool, AwsError> {
        match self.events.describe_event_bus().name(name).send().await {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(false),
            Err(e) => Err(call_err("events:DescribeEventBus")(e)),
        }
    }

    /// A rule's state (`ENABLED`, `DISABLED`, …), or `None` when the rule does not exist.
    pub async fn rule_state(&self, rule: &str, bus: &str) -> Result<Option<String>, AwsError> {
        match self
            .events
            .describe_rule()
            .name(rule)
            .event_bus_name(bus)
            .send()
            .await
        {
            Ok(out) => Ok(Some(
                out.state()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_else(|| "UNKNOWN".into()),
            )),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
            Err(e) => Err(call_err("events:DescribeRule")(e)),
        }
    }

    /// Whether a log event containing `needle` was written to `group` since `start_ms`,
    /// following `nextToken` until the last page or `deadline` (FilterLogEvents may answer
    /// pages with no events and a token while it scans the group's streams).
    pub async fn log_contains(
        &self,
        group: &str,
        needle: &str,
        start_ms: i64,
        deadline: std::time::Instant,
    ) -> Result<bool, AwsError> {
        let mut token: Option<String> = None;
        loop {
            let out = self
                .logs
                .filter_log_events()
                .log_group_name(group)
                .filter_pattern(format!("\"{needle}\""))
                .start_time(start_ms)
                .set_next_token(token.take())
                .send()
                .await;
            let page = match out {
                Ok(page) => page,
                Err(e) if e.code() == Some("ResourceNotFoundException") => return Ok(false),
                Err(e) => return Err(call_err("logs:FilterLogEvents")(e)),
            };
            if page
                .events()
                .iter()
                .any(|e| e.message().is_some_and(|m| m.contains(needle)))
            {
                return Ok(true);
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() || std::time::Instant::now() >= deadline {
                return Ok(false);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_left_counts_only_pending_sources() {
        let s = PartnerSource {
            name: "aws.partner/stripe.com/ed_x".into(),
            state: "PENDING".into(),
            created_unix: Some(0),
            expires_unix: None,
        };
        assert_eq!(s.days_left(86_400 + 5), Some(6));
        assert_eq!(s.days_left(30 * 86_400), Some(0));
        // Right after creation, or with `now` read before the source was created: 7, not 8.
        assert_eq!(s.days_left(0), Some(7));
        assert_eq!(s.days_left(-90), Some(7));
        let late = PartnerSource {
            expires_unix: Some(7 * 86_400 + 3_600),
            ..s.clone()
        };
        assert_eq!(late.days_left(0), Some(7));
        let active = PartnerSource {
            state: "ACTIVE".into(),
            ..s
        };
        assert_eq!(active.days_left(0), None);
    }
}
