//! The handler shared by the subscription, payment and customer Lambdas:
//! detect → dedupe → hydrate (thin) → project → commit, one structured log line per event and
//! one CloudWatch EMF line per invocation. Plain logic over the `EventStore` and `Hydrator`
//! traits; `main.rs` of each Lambda only wires the real clients.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Instant;

use aws_lambda_events::sqs::SqsBatchResponse;
use futures_util::StreamExt;
use serde_json::Value;
use stripe_events_core::hydrate::{Fetched, HydrateError, Hydrator};
use stripe_events_core::identity;
use stripe_events_core::model::StripeObject;
use stripe_events_core::project::{self, Projection, StateWrite, WriteKind};
use stripe_events_core::{
    parse_bytes, Delivery, InvocationShape, Record, RecordError, Timestamp, Version,
};
use stripe_events_store::{
    Commit, CommitOutcome, DeliveryAudit, EventStore, Prior, StoreError, VersionedWrite,
};
use thiserror::Error;

pub mod config;
pub mod outcome;
pub mod runtime;

pub use config::{ConfigError, ConsumerConfig};
pub use outcome::{emf_line, Outcome, OutcomeTally};

/// An invocation's bytes, as [`Consumer::handle`] takes them: borrowed from the Lambda
/// runtime's buffer, or owned (tools and tests that build a payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationBytes<'a>(pub Cow<'a, [u8]>);

impl From<Vec<u8>> for InvocationBytes<'_> {
    fn from(bytes: Vec<u8>) -> Self {
        InvocationBytes(Cow::Owned(bytes))
    }
}

impl<'a> From<&'a [u8]> for InvocationBytes<'a> {
    fn from(bytes: &'a [u8]) -> Self {
        InvocationBytes(Cow::Borrowed(bytes))
    }
}

impl From<&Value> for InvocationBytes<'_> {
    fn from(value: &Value) -> Self {
        // Serializing a `Value` cannot fail (its keys are strings).
        InvocationBytes(Cow::Owned(serde_json::to_vec(value).unwrap_or_default()))
    }
}

impl From<Value> for InvocationBytes<'_> {
    fn from(value: Value) -> Self {
        InvocationBytes::from(&value)
    }
}

pub struct Consumer<S, H> {
    pub config: ConsumerConfig,
    pub store: S,
    pub hydrator: H,
}

/// What happened to one record of an invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordReport {
    pub outcome: Outcome,
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    pub sqs_message_id: Option<String>,
    /// Why, for everything but `applied`/`duplicate` (and for an `applied` deletion that
    /// had nothing to mark).
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationReport {
    pub shape: Option<InvocationShape>,
    pub records: Vec<RecordReport>,
}

/// The handler error of an invocation with events to retry. lambda_runtime prints it on its
/// own error line (as `Debug`), so it names the events.
#[derive(Error, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[error(
    "{count} event(s) failed transiently; the platform will retry: [{}]: {first}",
    event_ids.join(", ")
)]
pub struct RetryLater {
    pub count: usize,
    /// The ids of the events that failed transiently (as read; empty when none could be).
    pub event_ids: Vec<String>,
    /// Why the first one failed.
    pub first: String,
}

impl std::fmt::Debug for RetryLater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RetryLater: {self}")
    }
}

impl InvocationReport {
    /// The outcomes that occurred, with their number of records.
    pub fn counts(&self) -> BTreeMap<Outcome, u32> {
        self.occurred().collect()
    }

    /// The outcomes that occurred and their number of records, in [`Outcome::ALL`]'s order.
    fn occurred(&self) -> impl Iterator<Item = (Outcome, u32)> {
        Outcome::ALL
            .into_iter()
            .zip(self.tally())
            .filter(|(_, n)| *n > 0)
    }

    /// The number of records of each outcome, in [`Outcome::ALL`]'s order.
    pub fn tally(&self) -> OutcomeTally {
        let mut tally = [0; Outcome::ALL.len()];
        for r in &self.records {
            // Every outcome is in `Outcome::ALL` (tested); never a panic on an answer's path.
            if let Some(count) = tally.get_mut(r.outcome as usize) {
                *count += 1;
            }
        }
        tally
    }

    /// The Lambda's answer. SQS: every failed record (transient to be retried, permanent to
    /// reach the queue's DLQ through its redrive policy, never deleted unseen) is listed in
    /// `batchItemFailures`. A failed record with no message id to list (or a batch that could
    /// not be read) is answered with an empty `itemIdentifier`, which Lambda documents as a
    /// failure of the whole batch: every message stays in the queue. EventBridge/direct: an
    /// error when any record must be retried.
    pub fn response(&self) -> Result<Value, RetryLater> {
        if self.shape == Some(InvocationShape::SqsBatch) {
            let mut answer = SqsBatchResponse::default();
            let mut unnamed = false;
            for r in &self.records {
                if matches!(
                    r.outcome,
                    Outcome::FailedTransient | Outcome::FailedPermanent
                ) {
                    match &r.sqs_message_id {
                        Some(id) => answer.add_failure(id.clone()),
                        None => unnamed = true,
                    }
                }
            }
            if unnamed {
                answer.add_failure(String::new());
            }
            // Serializing a struct of strings cannot fail.
            return Ok(serde_json::to_value(answer).unwrap_or_default());
        }
        let transient: Vec<&RecordReport> = self
            .records
            .iter()
            .filter(|r| r.outcome == Outcome::FailedTransient)
            .collect();
        if let Some(first) = transient.first() {
            return Err(RetryLater {
                count: transient.len(),
                event_ids: transient
                    .iter()
                    .filter_map(|r| r.event_id.clone())
                    .collect(),
                first: first.detail.clone().unwrap_or_default(),
            });
        }
        // Built as the `Value` it is answered as, without a map in between.
        let outcomes: serde_json::Map<String, Value> = self
            .occurred()
            .map(|(o, n)| (o.as_str().to_owned(), Value::from(n)))
            .collect();
        let mut answer = serde_json::Map::new();
        answer.insert("outcomes".to_owned(), Value::Object(outcomes));
        Ok(Value::Object(answer))
    }
}

/// How long past the invocation deadline the audit of a failure may take (the deadline keeps
/// 500 ms before the Lambda's own timeout: `stripe_events_lambda::DEADLINE_MARGIN`).
const FAILURE_AUDIT_GRACE: std::time::Duration = std::time::Duration::from_millis(250);

/// How one pass of `process` reads the delivery's object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resolve {
    /// The snapshot, or the object fetched for a thin event (or a revalidated type); a tie
    /// with the stored version is left undecided (`CommitOutcome::Tied`).
    AsDelivered,
    /// After a tie: the object fetched now, the state after both tied changes.
    Fetched,
    /// After a tie Stripe could not answer, for a snapshot: as delivered, the tiebreak
    /// decides. (An object fetched anyway is not fetched a third time: the failure stands.)
    Settle,
}

/// What the passes of one delivery's `process` share.
#[derive(Debug, Default)]
struct Attempt {
    /// The audit of the delivery once `record_delivery` counted it (before a fetch).
    recorded: Option<DeliveryAudit>,
    /// The last pass's commit tied with the stored version.
    tied: bool,
}

/// One record's result before logging.
struct Processed {
    outcome: Outcome,
    detail: Option<String>,
}

impl Processed {
    fn done(outcome: Outcome) -> Self {
        Processed {
            outcome,
            detail: None,
        }
    }

    fn because(outcome: Outcome, detail: impl ToString) -> Self {
        Processed {
            outcome,
            detail: Some(detail.to_string()),
        }
    }
}

/// Reads the body of a Stripe answer: UTF-8 checked once, then read without checking each
/// string again. Not a JSON object (a proxy's page or `"OK"`, a truncated read) is
/// transient: asking again may succeed. A well-formed object that is not a valid Stripe
/// object (a key twice, a wrong type where one is required) reads the same next time:
/// permanent.
fn read_fetched(body: &[u8]) -> Result<StripeObject<'_>, Processed> {
    let unreadable = |outcome, e: &dyn std::fmt::Display| {
        Processed::because(
            outcome,
            format!("Stripe's answer is not a readable object: {e}"),
        )
    };
    let text = std::str::from_utf8(body).map_err(|e| unreadable(Outcome::FailedTransient, &e))?;
    let is_object = text.trim_start().starts_with('{');
    serde_json::from_str(text).map_err(|e| {
        let outcome = if is_object && e.classify() == serde_json::error::Category::Data {
            Outcome::FailedPermanent
        } else {
            Outcome::FailedTransient
        };
        unreadable(outcome, &e)
    })
}

/// Bounds a store call by the invocation's deadline: a DynamoDB that accepts the
/// connection and never answers must give a retryable error before the Lambda times out.
/// Dropping the call is safe: a commit either happened whole or not at all, and the retry
/// finds out which.
async fn within<T>(
    deadline: Instant,
    call: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout_at(deadline.into(), call).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::Transient(
            "no answer from DynamoDB before the invocation deadline".to_owned(),
        )),
    }
}

fn store_failure(e: StoreError) -> Processed {
    let outcome = if e.is_transient() {
        Outcome::FailedTransient
    } else {
        Outcome::FailedPermanent
    };
    Processed::because(outcome, e)
}

impl<S: EventStore, H: Hydrator> Consumer<S, H> {
    /// Handles one invocation payload of any shape the core parses, from its bytes: read once
    /// into the typed model (`stripe_events_core::parse`), as the Lambdas, `stripe-events
    /// replay`, the demo and every test do. Tools and tests holding a `serde_json::Value` pass
    /// it as is; it is serialized and takes the same path. Input serde rejects (`NaN`, `1e400`,
    /// nesting over 128, bad UTF-8) is one unreadable record, acknowledged and logged like any
    /// other. `deadline` bounds every call (the Lambda's remaining time minus a margin).
    pub async fn handle<'p>(
        &self,
        payload: impl Into<InvocationBytes<'p>>,
        deadline: Instant,
    ) -> InvocationReport {
        let bytes = payload.into().0;
        // An unreadable payload is reported like an unreadable SQS record: one failed record.
        let (shape, records) = match parse_bytes(&bytes) {
            Ok(inv) => (Some(inv.shape), inv.records),
            Err(e) => (None, vec![Record::Read(Err(e))]),
        };
        let reports = if let [record] = records.as_slice() {
            // EventBridge delivers one event per invocation: no stream to set up (its boxed
            // task and the move of this future into it cost 2–3 k instructions an event).
            vec![self.process_record(record, deadline).await]
        } else {
            // The records of an SQS batch are independent (the version guard makes their
            // order irrelevant), so they run concurrently; `buffered` keeps batch order.
            futures_util::stream::iter(&records)
                .map(|record| self.process_record(record, deadline))
                .buffered(self.config.record_concurrency.max(1))
                .collect()
                .await
        };
        InvocationReport {
            shape,
            records: reports,
        }
    }

    async fn process_record(&self, record: &Record<'_>, deadline: Instant) -> RecordReport {
        match record.delivery() {
            Ok(delivery) => self.process_logged(&delivery, deadline).await,
            Err(e) => self.unreadable(e),
        }
    }

    fn unreadable(&self, e: RecordError) -> RecordReport {
        tracing::warn!(
            event_id = e.event_id.as_deref().unwrap_or(""),
            event_type = e.event_type.as_deref().unwrap_or(""),
            path = e.path.unwrap_or(""),
            sqs_message_id = e.sqs_message_id.as_deref().unwrap_or(""),
            envelope_id = e.envelope_id.as_deref().unwrap_or(""),
            consumer = self.config.consumer.as_str(),
            outcome = Outcome::FailedPermanent.as_str(),
            error_code = e.error.code(),
            error = %e.error,
            "unreadable input acknowledged"
        );
        RecordReport {
            outcome: Outcome::FailedPermanent,
            event_id: e.event_id,
            event_type: e.event_type,
            sqs_message_id: e.sqs_message_id,
            detail: Some(e.error.to_string()),
        }
    }

    async fn process_logged(&self, d: &Delivery<'_>, deadline: Instant) -> RecordReport {
        let started = Instant::now();
        let p = self.process(d, deadline).await;
        let duration_us = started.elapsed().as_micros() as u64;
        let fields = (
            d.event_id.as_str(),
            d.event_type.as_str(),
            d.path.name(),
            d.style.as_str(),
        );
        let (event_id, event_type, path, style) = fields;
        let consumer = self.config.consumer.as_str();
        let outcome = p.outcome.as_str();
        let detail = p.detail.as_deref().unwrap_or("");
        let sqs_message_id = d.path.sqs_message_id.as_deref().unwrap_or("");
        // One line per event, with the same fields at every level.
        macro_rules! log_event {
            ($level:expr, $message:literal) => {
                tracing::event!(
                    $level,
                    event_id,
                    event_type,
                    path,
                    style,
                    consumer,
                    outcome,
                    duration_us,
                    sqs_message_id,
                    detail,
                    $message
                )
            };
        }
        match p.outcome {
            Outcome::FailedTransient => log_event!(tracing::Level::ERROR, "event will be retried"),
            Outcome::FailedPermanent => {
                log_event!(tracing::Level::WARN, "event acknowledged without effect")
            }
            _ => log_event!(tracing::Level::INFO, "event processed"),
        }
        RecordReport {
            outcome: p.outcome,
            event_id: Some(d.event_id.clone()),
            event_type: Some(d.event_type.clone()),
            sqs_message_id: d.path.sqs_message_id.clone(),
            detail: p.detail,
        }
    }

    fn audit(&self, d: &Delivery<'_>) -> DeliveryAudit {
        let now = Timestamp::now();
        DeliveryAudit {
            key: d.consumer_dedupe_key(self.config.consumer),
            consumer: self.config.consumer,
            event_id: d.event_id.clone(),
            event_type: d.base_type().to_owned(),
            object_id: d.object_id().to_owned(),
            event_created: d.created,
            path: d.audit_path(),
            received_at: now,
            expires_at: now.unix_seconds() + i64::from(self.config.dedupe_ttl_days) * 86_400,
        }
    }

    /// Files writes whose event does not name their owner where the object is already
    /// stored; one lookup each, and only for such writes (a detached payment method fetched
    /// for a thin event, the deletion marker of a tax id, discount or invoice gone from the
    /// API). Never stored before: a payment method stays in its own partition, a deletion
    /// marker is dropped (there is nothing to mark). Returns how many were dropped.
    async fn file_unfiled(&self, writes: &mut Vec<StateWrite<'_>>) -> Result<usize, StoreError> {
        for w in writes.iter_mut().filter(|w| w.is_unfiled()) {
            let Some(object_id) = w.object_id() else {
                continue;
            };
            // An empty sort key is not known from the event (an invoice's): any will do.
            let sk = (!w.sk.is_empty()).then_some(w.sk.as_str());
            if let Some((pk, sk)) = self.store.locate(object_id, sk).await? {
                w.pk = pk;
                w.sk = sk;
            }
        }
        // Still unfiled and unable to stay so: a marker (nothing to mark), a write without a
        // sort key.
        let before = writes.len();
        writes.retain(|w| !(w.is_unfiled() && (w.kind == WriteKind::Marker || w.sk.is_empty())));
        Ok(before - writes.len())
    }

    /// A time further ahead than the allowed clock skew cannot be a real Stripe event or
    /// fetch: applying it would make every later real event `stale` for good.
    fn refuse_future(&self, at: Timestamp, what: &str) -> Option<Processed> {
        let limit = Timestamp::now()
            .unix_millis()
            .saturating_add(self.config.max_future_skew_seconds.saturating_mul(1000));
        (at.unix_millis() > limit).then(|| {
            Processed::because(
                Outcome::FailedPermanent,
                format!(
                    "{what} {} is more than {} s in the future; not applied",
                    at.to_rfc3339(),
                    self.config.max_future_skew_seconds
                ),
            )
        })
    }

    async fn process(&self, d: &Delivery<'_>, deadline: Instant) -> Processed {
        let mut attempt = Attempt::default();
        let mut p = self
            .process_delivery(d, deadline, Resolve::AsDelivered, &mut attempt)
            .await;
        if attempt.tied {
            // Only milliseconds or event ids would order this change against the stored one:
            // Stripe's object now is the state after both.
            p = self
                .process_delivery(d, deadline, Resolve::Fetched, &mut attempt)
                .await;
            // A snapshot Stripe cannot serve now is decided by the tiebreak; an object read
            // from Stripe anyway would only be fetched a third time.
            if p.outcome == Outcome::FailedPermanent && !self.fetches(d) {
                p = self
                    .process_delivery(d, deadline, Resolve::Settle, &mut attempt)
                    .await;
            }
        }
        // A delivery recorded before its fetch that then fails is said so in the audit: else
        // a partner path whose deliveries all fail (a bad key, a missing object) would read
        // as delivering, and the migration would switch webhooks off on its word.
        let failed = matches!(
            p.outcome,
            Outcome::FailedTransient | Outcome::FailedPermanent
        );
        if let (true, Some(audit)) = (failed, attempt.recorded) {
            // A fetch that ran to the deadline leaves no time: this write may use part of the
            // margin kept before the Lambda's own timeout.
            let until = deadline + FAILURE_AUDIT_GRACE;
            if let Err(e) = within(until, self.store.record_failure(&audit)).await {
                let why = p.detail.take().unwrap_or_default();
                p.detail = Some(format!(
                    "{why} (the audit could not record the failure: {e})"
                ));
            }
        }
        p
    }

    /// Whether the delivery's object is read from Stripe whatever the stored state: a thin
    /// event, or a snapshot of a type in `REVALIDATE_TYPES`.
    fn fetches(&self, d: &Delivery<'_>) -> bool {
        d.style.is_thin()
            || self
                .config
                .revalidate_types
                .iter()
                .any(|t| t == d.base_type())
    }

    /// One pass of [`Self::process`], reading the object as `resolve` says.
    async fn process_delivery(
        &self,
        d: &Delivery<'_>,
        deadline: Instant,
        resolve: Resolve,
        attempt: &mut Attempt,
    ) -> Processed {
        let base_type = d.base_type();
        if !project::handles(self.config.consumer, base_type) {
            return Processed::because(
                Outcome::Ignored,
                format!("{base_type} is not a {} event", self.config.consumer),
            );
        }
        let Some(object_ref) = &d.object else {
            if stripe_events_core::family::is_objectless(base_type) {
                return Processed::because(Outcome::Ignored, project::OBJECT_WITHOUT_ID);
            }
            return Processed::because(Outcome::FailedPermanent, "the event names no object");
        };
        if let Some(refused) = self.refuse_future(d.created, "event created") {
            return refused;
        }
        if let Some(live) = self.config.livemode.filter(|live| *live != d.livemode) {
            let mode = |live: bool| if live { "live" } else { "test" };
            return Processed::because(
                Outcome::FailedPermanent,
                format!(
                    "a {}-mode event; this deployment takes {}-mode events only (STRIPE_LIVEMODE): not applied",
                    mode(d.livemode),
                    mode(live)
                ),
            );
        }
        if let Err(e) = identity::check_delivery(d) {
            return Processed::because(Outcome::FailedPermanent, e);
        }
        let audit = self.audit(d);
        let fetch = resolve == Resolve::Fetched || self.fetches(d);
        // Why Stripe no longer serves the object a deletion names (said in the log line).
        let mut gone: Option<String> = None;
        // A fetched object borrows from its response body, declared here to outlive it.
        let fetched_body: Vec<u8>;
        let fetched_object: StripeObject<'_>;
        // A fetched object's delivery is recorded before the fetch; its version is the fetch's.
        let (object, at) = if fetch {
            // Check before the Stripe call: a duplicate costs one DynamoDB call, no fetch.
            if attempt.recorded.is_none() {
                match within(deadline, self.store.record_delivery(&audit)).await {
                    Ok(Prior::AlreadyDone) => return Processed::done(Outcome::Duplicate),
                    Ok(Prior::New) => attempt.recorded = Some(audit.clone()),
                    Err(e) => return store_failure(e),
                }
            }
            match self.hydrator.fetch(d, deadline).await {
                Ok(Fetched { body, fetched_at }) => {
                    fetched_body = body;
                    fetched_object = match read_fetched(&fetched_body) {
                        Ok(object) => object,
                        Err(unreadable) => return unreadable,
                    };
                    if let Err(e) = identity::check_fetched(object_ref, &fetched_object) {
                        return Processed::because(Outcome::FailedPermanent, e);
                    }
                    (&fetched_object, fetched_at)
                }
                Err(HydrateError::NotFound(why)) if d.is_deletion() => {
                    // The deletion the event announces: record it as such.
                    fetched_object =
                        StripeObject::deleted_stub(&object_ref.object_type, &object_ref.id);
                    gone = Some(why);
                    (&fetched_object, Timestamp::now())
                }
                Err(HydrateError::Transient(why)) => {
                    return Processed::because(Outcome::FailedTransient, why)
                }
                // Not marked done: the same event may still arrive as a snapshot by another
                // path, which must apply. The audit already holds this delivery.
                Err(e @ (HydrateError::NotFound(_) | HydrateError::Permanent(_))) => {
                    return Processed::because(Outcome::FailedPermanent, e)
                }
            }
        } else {
            match &d.data_object {
                Some(object) => (&**object, d.created),
                None => {
                    return Processed::because(
                        Outcome::FailedPermanent,
                        "snapshot event without data.object",
                    )
                }
            }
        };
        let projection = project::project_object(base_type, object, d.previous_attributes.as_ref());
        let mut writes = match projection {
            Ok(Projection::Items(items)) => items,
            Ok(Projection::Ignored(why)) => return Processed::because(Outcome::Ignored, why),
            Err(e) => return Processed::because(Outcome::FailedPermanent, e),
        };
        if let Some(refused) = self.refuse_future(at, "object version") {
            return refused;
        }
        let unplaced = match within(deadline, self.file_unfiled(&mut writes)).await {
            Ok(unplaced) => unplaced,
            Err(e) => return store_failure(e),
        };
        let version = if fetch {
            Version::of_fetch(at, object, &d.event_id)
        } else {
            Version::of_event(at, base_type, object, &d.event_id)
        };
        let commit = Commit {
            audit,
            writes: writes
                .into_iter()
                .map(|write| VersionedWrite {
                    write,
                    version: version.clone(),
                })
                .collect(),
            delivery_recorded: attempt.recorded.is_some(),
            settle_ties: resolve != Resolve::AsDelivered,
        };
        match within(deadline, self.store.commit(&commit)).await {
            Ok(CommitOutcome::Applied) => {
                // What the event's log line says beyond `applied`.
                let notes: Vec<String> = [
                    gone.map(|why| format!("object gone from Stripe ({why}): recorded as deleted")),
                    (unplaced > 0)
                        .then(|| "deletion of an object not stored here: nothing to mark".into()),
                    (resolve == Resolve::Fetched).then(|| {
                        "tied in its second with the stored state: applied as Stripe has it now"
                            .into()
                    }),
                ]
                .into_iter()
                .flatten()
                .collect();
                if notes.is_empty() {
                    Processed::done(Outcome::Applied)
                } else {
                    Processed::because(Outcome::Applied, notes.join("; "))
                }
            }
            Ok(CommitOutcome::Tied) => {
                attempt.tied = true;
                Processed::because(Outcome::Stale, "tied in its second with the stored state")
            }
            Ok(CommitOutcome::Duplicate) => Processed::done(Outcome::Duplicate),
            Ok(CommitOutcome::Stale) => {
                Processed::because(Outcome::Stale, "newer state already stored")
            }
            Err(e) => store_failure(e),
        }
    }
}
