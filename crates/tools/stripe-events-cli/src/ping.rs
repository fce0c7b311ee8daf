//! `stripe-events ping`: Stripe's ping to one of our destinations, then the ping event looked
//! for in the monitoring log group (`/aws/events/stripe-billing`, fed by the partner buses'
//! catch-all rules), so one command shows the partner path delivers end to end.

use std::time::{Duration, Instant};

use stripe_events_core::Timestamp;
use thiserror::Error;

use crate::admin::{AdminError, StripeAdmin};
use crate::aws::{Aws, AwsError};
use crate::setup::{find_ours, Destination, Payload, SetupError};

#[derive(Debug, Error)]
pub enum PingError {
    #[error(transparent)]
    Stripe(#[from] AdminError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error("no {0} destination of ours in Stripe: run `stripe-events setup` first")]
    NoDestination(String),
    #[error("Stripe's ping answer has no event id")]
    NoEventId,
    #[error("ping {event_id} to {destination} did not reach {log_group} within {waited}s: run `stripe-events setup status` (the source must be associated and the partner monitoring rule deployed)")]
    NotDelivered {
        event_id: String,
        destination: String,
        log_group: String,
        waited: u64,
    },
}

#[derive(Debug, Clone)]
pub struct PingReport {
    pub destination: Destination,
    pub event_id: String,
    pub elapsed: Duration,
}

/// `which` is `snapshot`, `thin` or a destination id (`ed_…`).
pub async fn ping(
    admin: &StripeAdmin,
    aws: &Aws,
    prefix: &str,
    which: &str,
    log_group: &str,
    wait: Duration,
    poll: Duration,
) -> Result<PingReport, PingError> {
    let ours = find_ours(admin, prefix).await?;
    let destination = match Payload::from_name(which) {
        Some(p) => ours.into_iter().find(|(q, _)| *q == p).map(|(_, d)| d),
        None => ours
            .into_iter()
            .find(|(_, d)| d.id == which)
            .map(|(_, d)| d),
    }
    .ok_or_else(|| PingError::NoDestination(which.to_owned()))?;
    // Log timestamps are the arrival time; allow for clock skew.
    let start_ms = Timestamp::now().unix_millis() - 60_000;
    let started = Instant::now();
    let event = admin.ping_destination(&destination.id).await?;
    let event_id = event
        .get("id")
        .and_then(serde_json::Value::as_str)
        .ok_or(PingError::NoEventId)?
        .to_owned();
    loop {
        if aws
            .log_contains(log_group, &event_id, start_ms, started + wait)
            .await?
        {
            return Ok(PingReport {
                destination,
                event_id,
                elapsed: started.elapsed(),
            });
        }
        if started.elapsed() + poll > wait {
            return Err(PingError::NotDelivered {
                event_id,
                destination: destination.id,
                log_group: log_group.to_owned(),
                waited: wait.as_secs(),
            });
        }
        tokio::time::sleep(poll).await;
    }
}
