//! The Stripe API client behind [`Hydrator`]: one GET per thin event, retried within the
//! caller's deadline.
//!
//! Why not async-stripe's `Client::execute`: it cannot send `Stripe-Context` (its per-request
//! overrides are only `Stripe-Account`, strategy and timeout); its retry loop sleeps 1 s, 2 s,
//! 4 s… with no notion of a deadline (only a per-attempt timeout); its error drops the
//! `Stripe-Should-Retry` header and, for a non-Stripe error body (a proxy's 502 page), the
//! status too; it gives no hook to count attempts; and it disables connection reuse
//! (`pool_max_idle_per_host(0)`), so every call of a warm Lambda pays a new TLS handshake.
//! So the loop is ours, the retry *decision* is async-stripe's
//! [`RequestStrategy::test`](stripe_client_core::RequestStrategy::test) (Stripe's retryable
//! statuses plus `Stripe-Should-Retry`), and the transport is the stack async-stripe builds
//! (hyper-util's client over hyper-rustls with webpki roots and aws-lc-rs), with pooling on.
//! The v1 requests themselves (each kind's retrieve, the event list) are async-stripe's typed
//! builders ([`crate::requests`]), and async-stripe's `StripeClient` runs on this loop
//! ([`crate::client`]), so a builder's `.send()` gets the same transport and rules.
//!
//! TLS: one client configuration per process ([`shared_tls_config`]: the webpki roots compiled
//! into the binary, aws-lc-rs), built on the first HTTPS connection, not at cold start, and
//! shared with the AWS SDK's HTTP client of the Lambdas (`stripe-events-lambda`), so a process
//! holds one root store and a consumer that never fetches never builds it.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, USER_AGENT};
use hyper::http::uri::PathAndQuery;
use hyper::{Method, Request};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde_json::Value;
use stripe_client_core::{CustomizedStripeRequest, Outcome, RequestStrategy, StripeMethod};
use stripe_events_core::delivery::{Delivery, PayloadStyle};
use stripe_events_core::hydrate::{Fetched, HydrateError, Hydrator};
use stripe_events_core::reload::{Reload, Reloadable};
use stripe_events_core::Timestamp;

use crate::config::{ApiKey, ConfigError, RetryPolicy, SecretKeySource, StripeConfig};
use crate::requests::{self, TypeFilter};

/// Larger bodies are refused (the biggest Stripe objects are well under a megabyte).
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// A retry is only worth sleeping for if this much time is left for the attempt after it.
const MIN_ATTEMPT_WINDOW: Duration = Duration::from_millis(100);
/// Stripe's `types[]` filter takes at most 20 types per request.
const MAX_TYPES_PER_LIST: usize = 20;
/// Longest Stripe error message kept in a [`HydrateError`].
const MAX_ERROR_MESSAGE: usize = 300;

const STRIPE_CONTEXT: HeaderName = HeaderName::from_static("stripe-context");
const STRIPE_ACCOUNT: HeaderName = HeaderName::from_static("stripe-account");
const STRIPE_VERSION: HeaderName = HeaderName::from_static("stripe-version");
const STRIPE_SHOULD_RETRY: &str = "stripe-should-retry";

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The process's TLS client configuration: the webpki roots (Mozilla's, compiled in: no file
/// read or PEM parsing), the aws-lc-rs provider named explicitly (the process default can be
/// ambiguous when several rustls crypto backends end up in one binary), no ALPN (each client
/// sets its own on a copy). Built once, on first use; shared by the Stripe hydrator and the
/// AWS SDK's HTTP client of the Lambdas.
pub fn shared_tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
            .map_err(|e| e.to_string())
        })
        .clone()
}

/// Fetches Stripe objects for thin events (and snapshot revalidation). Cheap to clone; clones
/// share the connection pool and the call counter. Build one per Lambda at cold start.
#[derive(Clone)]
pub struct StripeHydrator {
    inner: Arc<Inner>,
}

struct Inner {
    /// Built on the first request (TLS is set up then, not at cold start).
    http: OnceLock<Result<HttpClient, String>>,
    connect_timeout: Duration,
    base: String,
    /// The key requests are sent with, read again from `key_source` when Stripe rejects it.
    key: Reloadable<Credential>,
    key_source: Option<SecretKeySource>,
    version: Option<HeaderValue>,
    user_agent: HeaderValue,
    policy: RetryPolicy,
    calls: Arc<AtomicU64>,
}

impl fmt::Debug for StripeHydrator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeHydrator")
            .field("api_base", &self.inner.base)
            .field("api_key", &self.inner.key.current().key)
            .field("api_version", &self.inner.version)
            .field("retry", &self.inner.policy)
            .field("calls", &self.calls())
            .finish()
    }
}

/// An API key and its `Authorization` header (marked sensitive).
#[derive(PartialEq)]
struct Credential {
    key: ApiKey,
    auth: HeaderValue,
}

impl Credential {
    fn new(key: ApiKey) -> Result<Self, ConfigError> {
        let mut auth = HeaderValue::try_from(format!("Bearer {}", key.expose()))
            .map_err(|_| ConfigError::InvalidKey("not usable as a header value"))?;
        auth.set_sensitive(true);
        Ok(Credential { key, auth })
    }
}

/// The event a request fetches for, as its log lines name it: the fields of the consumer's
/// line about the event (`path` is the delivery path there, so the API path is `api_path`
/// here). Empty for a request of no event (a listing, an async-stripe call).
#[derive(Debug, Clone, Copy, Default)]
struct ForEvent<'a> {
    event_id: &'a str,
    event_type: &'a str,
    path: &'a str,
}

impl<'a> ForEvent<'a> {
    fn of(delivery: &'a Delivery<'_>) -> Self {
        ForEvent {
            event_id: &delivery.event_id,
            event_type: &delivery.event_type,
            path: delivery.path.name(),
        }
    }
}

/// What an attempt's log lines say happened, in the consumer's words (its `outcome` field)
/// when the fetch ends with this attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AttemptOutcome {
    /// Another attempt follows.
    Retrying,
    FailedTransient,
    FailedPermanent,
}

impl AttemptOutcome {
    fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Retrying => "retrying",
            AttemptOutcome::FailedTransient => "failed_transient",
            AttemptOutcome::FailedPermanent => "failed_permanent",
        }
    }

    /// The outcome of a failure no further attempt follows.
    fn of_final(error: &HydrateError) -> Self {
        match error {
            HydrateError::Transient(_) => AttemptOutcome::FailedTransient,
            HydrateError::NotFound(_) | HydrateError::Permanent(_) => {
                AttemptOutcome::FailedPermanent
            }
        }
    }
}

/// A log line about one attempt of a call: the event's fields, `api_path`, `attempt` and
/// `outcome`, then the line's own fields and message.
macro_rules! attempt_event {
    ($level:expr, $call:expr, $tries:expr, $outcome:expr, $($rest:tt)+) => {
        tracing::event!(
            $level,
            event_id = $call.event.event_id,
            event_type = $call.event.event_type,
            path = $call.event.path,
            api_path = $call.path,
            attempt = $tries,
            outcome = $outcome.as_str(),
            $($rest)+
        )
    };
}

/// One GET's fixed parts, for the retry loop.
struct Call<'a> {
    /// The checked API path (`/v1/…` or `/v2/…`, query included), for messages.
    path: &'a str,
    /// The event it fetches for, named in its log lines.
    event: ForEvent<'a>,
    uri: String,
    /// Sent on every attempt besides the key, version and user agent: `Stripe-Context`, and
    /// `Stripe-Account` when an async-stripe request overrides the account.
    headers: Vec<(HeaderName, HeaderValue)>,
    deadline: Instant,
    /// Decides whether a failed attempt is retried (async-stripe's rule).
    strategy: RequestStrategy,
    attempt_timeout: Duration,
}

impl Call<'_> {
    /// Adds a header whose value the event (or the caller) gave: one that is not a valid
    /// header value is refused as permanent (it reads the same on every retry).
    fn header(&mut self, name: HeaderName, value: &str) -> Result<(), HydrateError> {
        let v = HeaderValue::try_from(value).map_err(|_| {
            HydrateError::Permanent(format!("{name} {value:?} is not a valid header value"))
        })?;
        self.headers.push((name, v));
        Ok(())
    }
}

/// A 2xx answer.
struct Success {
    status: u16,
    body: Bytes,
    arrived: Timestamp,
}

/// A failed attempt: its error, and what the strategy and the backoff read.
struct Failure {
    error: HydrateError,
    status: Option<u16>,
    should_retry: Option<bool>,
    retry_after: Option<Duration>,
}

impl Failure {
    /// No response: nothing for the strategy but the error.
    fn transport(error: HydrateError) -> Self {
        Failure {
            error,
            status: None,
            should_retry: None,
            retry_after: None,
        }
    }
}

/// What follows a failed attempt.
enum Next {
    /// Another attempt, after this backoff.
    RetryAfter(Duration),
    /// Another attempt at once, with the key just read again (the attempt's was rejected).
    RetryWithNewKey,
    /// None: the strategy says stop (the error is final as it is).
    Stop,
    /// None, though the strategy would retry: Stripe's `Retry-After` (seconds) is longer than
    /// this invocation waits.
    RetryAfterTooLong(u64),
    /// None, though the strategy would retry: the backoff and another attempt do not fit
    /// before the deadline.
    NoTimeLeft,
}

/// An HTTP response, body read.
struct Response {
    status: u16,
    should_retry: Option<bool>,
    retry_after: Option<Duration>,
    request_id: Option<String>,
    body: Bytes,
    /// Taken when the response head arrived: the object's version.
    arrived: Timestamp,
}

/// One HTTP attempt's result.
enum Attempt {
    Response(Response),
    Failed {
        /// False when the connection could not be made (nothing reached Stripe).
        sent: bool,
        detail: String,
    },
    /// An answer that would be the same on every retry (a body over [`MAX_BODY_BYTES`]).
    Refused(String),
}

impl StripeHydrator {
    pub fn new(config: StripeConfig) -> Result<Self, ConfigError> {
        let StripeConfig {
            api_base,
            api_key,
            key_source,
            key_reload_interval,
            api_version,
            retry,
        } = config;
        let key = Reloadable::new(Credential::new(api_key)?, key_reload_interval);
        let version = api_version
            .map(|v| HeaderValue::try_from(v.as_str()).map_err(|_| ConfigError::InvalidVersion(v)))
            .transpose()?;
        let user_agent = HeaderValue::from_static(concat!(
            "stripe-events/",
            env!("CARGO_PKG_VERSION"),
            " (async-stripe-client-core 1.0.0-rc.10)"
        ));

        Ok(StripeHydrator {
            inner: Arc::new(Inner {
                http: OnceLock::new(),
                connect_timeout: retry.connect_timeout,
                base: api_base,
                key,
                key_source,
                version,
                user_agent,
                policy: retry,
                calls: Arc::new(AtomicU64::new(0)),
            }),
        })
    }

    /// The HTTP client, built on first use: hyper-util's pooled client over hyper-rustls with
    /// [`shared_tls_config`] (HTTP/1.1 and HTTP/2 by ALPN; plain `http` only reaches the
    /// loopback bases [`StripeConfig`] allows).
    fn http(&self) -> Result<&HttpClient, String> {
        let connect_timeout = self.inner.connect_timeout;
        self.inner
            .http
            .get_or_init(|| {
                let tls = shared_tls_config()?;
                let mut connector = HttpConnector::new();
                connector.enforce_http(false);
                connector.set_nodelay(true);
                connector.set_connect_timeout(Some(connect_timeout));
                let https = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config((*tls).clone())
                    .https_or_http()
                    .enable_http1()
                    .enable_http2()
                    .wrap_connector(connector);
                Ok(Client::builder(TokioExecutor::new())
                    .pool_timer(TokioTimer::new())
                    .pool_idle_timeout(Duration::from_secs(30))
                    .pool_max_idle_per_host(8)
                    .build(https))
            })
            .as_ref()
            .map_err(|e| format!("TLS setup: {e}"))
    }

    /// [`StripeConfig::from_env`] then [`StripeHydrator::new`]: the Lambda cold-start path.
    pub async fn from_env() -> Result<Self, ConfigError> {
        Self::new(StripeConfig::from_env().await?)
    }

    /// HTTP requests sent to Stripe so far (retries included; attempts that could not even
    /// connect are not counted, nothing reached Stripe; one that timed out is, as whether its
    /// request left cannot be told).
    pub fn calls(&self) -> u64 {
        self.inner.calls.load(Ordering::Relaxed)
    }

    /// The counter behind [`StripeHydrator::calls`], for a benchmark or metrics exporter.
    pub fn call_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.inner.calls)
    }

    /// GETs an API path (`/v1/…` or `/v2/…`, query allowed) and returns the JSON object, with
    /// the retry and error rules of [`Hydrator::fetch`]. `stripe_context` is sent as the
    /// `Stripe-Context` header.
    pub async fn get(
        &self,
        path: &str,
        stripe_context: Option<&str>,
        deadline: Instant,
    ) -> Result<Fetched, HydrateError> {
        let call = self.call(checked_api_path(path)?, stripe_context, deadline)?;
        let (body, fetched_at) = self.get_json(&call).await?;
        Ok(Fetched { body, fetched_at })
    }

    /// Every event created at or after `since`, of the given types (all types when empty),
    /// through `GET /v1/events` (`limit=100`, following `has_more`/`starting_after`). Stripe
    /// keeps events for 30 days. Returned oldest first. More than 20 types are split into
    /// several listings (Stripe's limit); a single type is sent as `type=` (same meaning, and
    /// localstripe knows only that form). Each page gets `retry.list_page_budget`.
    pub async fn list_events(
        &self,
        since: Timestamp,
        types: &[String],
    ) -> Result<Vec<Value>, HydrateError> {
        let mut unique: Vec<&str> = Vec::new();
        for t in types {
            if !unique.contains(&t.as_str()) {
                unique.push(t);
            }
        }
        let groups: Vec<&[&str]> = if unique.is_empty() {
            vec![&[]]
        } else {
            unique.chunks(MAX_TYPES_PER_LIST).collect()
        };
        let mut all = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for group in groups {
            let filter = match group {
                [] => TypeFilter::All,
                [one] => TypeFilter::One(one),
                many => TypeFilter::Many(many),
            };
            let mut listed = self.list_pages(since, filter).await?;
            // Stripe lists newest first.
            listed.reverse();
            for event in listed {
                let id = event.get("id").and_then(Value::as_str).map(str::to_owned);
                if id.is_none_or(|id| seen.insert(id)) {
                    all.push(event);
                }
            }
        }
        all.sort_by_key(|e| e.get("created").and_then(Value::as_i64).unwrap_or(0));
        Ok(all)
    }

    /// Now plus `retry.list_page_budget`: the deadline of a call with no caller deadline (a
    /// `backfill` page, an unbound async-stripe request).
    pub(crate) fn page_deadline(&self) -> Instant {
        let now = Instant::now();
        now.checked_add(self.inner.policy.list_page_budget)
            .unwrap_or(now + Duration::from_secs(3600))
    }

    /// One listing, page by page (async-stripe's `ListEvent` builds each page's request).
    async fn list_pages(
        &self,
        since: Timestamp,
        filter: TypeFilter<'_>,
    ) -> Result<Vec<Value>, HydrateError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let path = requests::v1_target(&requests::list_events(since, filter, after.as_deref()));
            let call = self.call(&path, None, self.page_deadline())?;
            let (page, _) = self.get_json(&call).await?;
            let page: Value = serde_json::from_slice(&page).map_err(|e| {
                HydrateError::Transient(format!("GET /v1/events: response is not JSON: {e}"))
            })?;
            let Some(data) = page.get("data").and_then(Value::as_array) else {
                return Err(HydrateError::Permanent(
                    "GET /v1/events: response has no `data` array".into(),
                ));
            };
            let has_more = page
                .get("has_more")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let last = data
                .last()
                .and_then(|e| e.get("id"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            out.extend(data.iter().cloned());
            if !has_more {
                return Ok(out);
            }
            match last {
                Some(id) if after.as_deref() != Some(id.as_str()) => after = Some(id),
                _ => {
                    return Err(HydrateError::Permanent(
                        "GET /v1/events: has_more without a new last id (pagination stalled)"
                            .into(),
                    ))
                }
            }
        }
    }

    /// A call through the retry loop ([`StripeHydrator::send`]): the body of a 2xx answer
    /// that is a JSON object, unparsed (the caller reads it into the typed model).
    async fn get_json(&self, call: &Call<'_>) -> Result<(Vec<u8>, Timestamp), HydrateError> {
        let path = call.path;
        let Success {
            status,
            body,
            arrived,
        } = self.send(call).await?;
        // Only its first byte is checked here; the typed read checks the rest.
        match body.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => Ok((body.to_vec(), arrived)),
            _ => Err(HydrateError::Transient(format!(
                "GET {path}: HTTP {status} with a body that is not a JSON object"
            ))),
        }
    }

    /// A GET of a checked API path with the default strategy (async-stripe's `Retry` with
    /// the policy's attempts) and per-attempt timeout.
    fn call<'a>(
        &self,
        path: &'a str,
        stripe_context: Option<&str>,
        deadline: Instant,
    ) -> Result<Call<'a>, HydrateError> {
        let policy = &self.inner.policy;
        let mut call = Call {
            path,
            event: ForEvent::default(),
            uri: format!("{}{}", self.inner.base, path),
            headers: Vec::new(),
            deadline,
            // Retry(n): no idempotency key (none is needed for GET), no built-in sleep; the
            // decision of what to retry is async-stripe's, the waiting is bounded here.
            strategy: RequestStrategy::Retry(policy.max_attempts.max(1)),
            attempt_timeout: policy.attempt_timeout,
        };
        if let Some(c) = stripe_context {
            call.header(STRIPE_CONTEXT, c)?;
        }
        Ok(call)
    }

    /// The retry loop: attempts until a 2xx answer, a final error (404, 401/403), a stop by
    /// the strategy, or a deadline that leaves no room for another attempt. Each failed
    /// attempt logs one line with its `outcome` (`retrying`, or how the call ends).
    async fn send(&self, call: &Call<'_>) -> Result<Success, HydrateError> {
        let path = call.path;
        let mut tries: u32 = 0;
        let mut last: Option<HydrateError> = None;
        let mut credential = self.inner.key.current();
        let mut rekeyed = false;
        loop {
            let remaining = call.deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(match last {
                    Some(error) => with_note(error, "deadline reached"),
                    None => HydrateError::Transient(format!(
                        "GET {path}: deadline reached before any attempt"
                    )),
                });
            }
            tries += 1;
            let attempt = self
                .timed_attempt(call, &credential, remaining, tries)
                .await;
            let (failure, next) = match attempt {
                Attempt::Refused(detail) => {
                    self.inner.calls.fetch_add(1, Ordering::Relaxed);
                    return Err(HydrateError::Permanent(format!("GET {path}: {detail}")));
                }
                Attempt::Failed { sent, detail } => {
                    if sent {
                        self.inner.calls.fetch_add(1, Ordering::Relaxed);
                    }
                    let failure = Failure::transport(HydrateError::Transient(format!(
                        "GET {path}: {detail}"
                    )));
                    let next = self.next_step(call, tries, &failure);
                    let outcome = Self::outcome(&next, &failure.error);
                    attempt_event!(
                        tracing::Level::WARN,
                        call,
                        tries,
                        outcome,
                        error = %detail,
                        "Stripe request failed"
                    );
                    (failure, next)
                }
                Attempt::Response(response) => {
                    self.inner.calls.fetch_add(1, Ordering::Relaxed);
                    if (200..300).contains(&response.status) {
                        return Ok(Success {
                            status: response.status,
                            body: response.body,
                            arrived: response.arrived,
                        });
                    }
                    let (failure, request_id) =
                        self.error_response(path, &credential.key, response)?;
                    let mut next = self.next_step(call, tries, &failure);
                    // A rejected key may have been rotated in its secret: once per request,
                    // retry at once with a key read again (or read by another request).
                    if matches!(failure.status, Some(401 | 403)) && !rekeyed {
                        if let Some(newer) = self.newer_key(&credential, call.deadline).await {
                            credential = newer;
                            rekeyed = true;
                            next = Next::RetryWithNewKey;
                        }
                    }
                    self.log_error_response(call, tries, &next, &failure, request_id.as_deref());
                    (failure, next)
                }
            };
            let outcome = AttemptOutcome::of_final(&failure.error);
            match next {
                Next::RetryAfter(delay) => {
                    last = Some(failure.error);
                    tokio::time::sleep(delay).await;
                }
                Next::RetryWithNewKey => last = Some(failure.error),
                Next::Stop => return Err(failure.error),
                Next::RetryAfterTooLong(retry_after_s) => {
                    // Stripe asked for a longer wait than this invocation retries within:
                    // leave the retry to the platform rather than call again before it is due.
                    attempt_event!(
                        tracing::Level::WARN,
                        call,
                        tries,
                        outcome,
                        retry_after_s,
                        "Stripe asked to retry later than this invocation waits"
                    );
                    return Err(with_note(
                        failure.error,
                        "not retried within this invocation",
                    ));
                }
                Next::NoTimeLeft => {
                    attempt_event!(
                        tracing::Level::WARN,
                        call,
                        tries,
                        outcome,
                        "no time left for another Stripe attempt"
                    );
                    return Err(with_note(
                        failure.error,
                        "not retried within this invocation",
                    ));
                }
            }
        }
    }

    /// Whether another attempt follows `failure` (the `tries`-th): the strategy's decision,
    /// then Stripe's `Retry-After` against the backoff cap, then the backoff against the
    /// deadline (an attempt needs [`MIN_ATTEMPT_WINDOW`] after it).
    fn next_step(&self, call: &Call<'_>, tries: u32, failure: &Failure) -> Next {
        if let Outcome::Stop = call
            .strategy
            .test(failure.status, failure.should_retry, tries)
        {
            return Next::Stop;
        }
        if let Some(asked) = failure
            .retry_after
            .filter(|ra| *ra > self.inner.policy.max_backoff)
        {
            return Next::RetryAfterTooLong(asked.as_secs());
        }
        let delay = self.backoff(tries, failure.retry_after);
        let resume = Instant::now().checked_add(delay + MIN_ATTEMPT_WINDOW);
        if resume.is_none_or(|at| at > call.deadline) {
            return Next::NoTimeLeft;
        }
        Next::RetryAfter(delay)
    }

    /// The `outcome` of an attempt's line: `retrying`, or how the call ends with it.
    fn outcome(next: &Next, error: &HydrateError) -> AttemptOutcome {
        match next {
            Next::RetryAfter(_) | Next::RetryWithNewKey => AttemptOutcome::Retrying,
            _ => AttemptOutcome::of_final(error),
        }
    }

    /// A key other than `used` to retry a rejected request with: one another request already
    /// read, or the key's secret read again now (when [`StripeConfig::key_reload_interval`]
    /// allows, within the deadline). `None` with a fixed key, or when the secret holds the
    /// same key (or cannot be read).
    async fn newer_key(
        &self,
        used: &Arc<Credential>,
        deadline: Instant,
    ) -> Option<Arc<Credential>> {
        let source = self.inner.key_source.as_ref()?;
        let keys = &self.inner.key;
        let newer = |current: Arc<Credential>| (current.key != used.key).then_some(current);
        if let Some(current) = newer(keys.current()) {
            return Some(current);
        }
        let load = || async { Credential::new(source.load().await?) };
        let remaining = deadline.saturating_duration_since(Instant::now());
        let secret_arn = source.arn();
        match tokio::time::timeout(remaining, keys.reload_if_due(load)).await {
            Ok(Reload::Changed(fresh)) => {
                tracing::info!(
                    secret_arn,
                    changed = true,
                    key = ?fresh.key,
                    "Stripe API key read again from Secrets Manager"
                );
                Some(fresh)
            }
            Ok(Reload::Unchanged) => {
                tracing::info!(
                    secret_arn,
                    changed = false,
                    "Stripe API key read again from Secrets Manager"
                );
                None
            }
            Ok(Reload::NotDue) => newer(keys.current()),
            Ok(Reload::Failed(e)) => {
                tracing::warn!(secret_arn, error = %e, "reading the Stripe API key again failed; keeping the current key");
                None
            }
            Err(_) => {
                tracing::warn!(
                    secret_arn,
                    "no time left to read the Stripe API key again; keeping the current key"
                );
                None
            }
        }
    }

    /// One attempt, bounded by the per-attempt timeout and the time `remaining`.
    async fn timed_attempt(
        &self,
        call: &Call<'_>,
        credential: &Credential,
        remaining: Duration,
        tries: u32,
    ) -> Attempt {
        let budget = remaining.min(call.attempt_timeout);
        tracing::debug!(
            event_id = call.event.event_id,
            api_path = call.path,
            attempt = tries,
            "GET Stripe"
        );
        let attempt = self.attempt(&call.uri, &credential.auth, &call.headers);
        match tokio::time::timeout(budget, attempt).await {
            Ok(a) => a,
            Err(_) => Attempt::Failed {
                sent: true,
                detail: format!("no response within {budget:?}"),
            },
        }
    }

    /// A non-2xx answer: `Err(NotFound)` for a 404 (final at once), else the failure the
    /// strategy decides on, with Stripe's request id. Transient: a 3xx (a redirect, never
    /// followed), 401/403 (a bad or under-privileged key: the event waits for it to be fixed;
    /// the strategy retries neither), 408/409/424/429/5xx, or `Stripe-Should-Retry: true`;
    /// permanent otherwise.
    fn error_response(
        &self,
        path: &str,
        key: &ApiKey,
        response: Response,
    ) -> Result<(Failure, Option<String>), HydrateError> {
        let Response {
            status,
            should_retry,
            retry_after,
            request_id,
            body,
            ..
        } = response;
        let detail = describe(path, key, status, &body, request_id.as_deref());
        if status == 404 {
            return Err(HydrateError::NotFound(detail));
        }
        // A redirect (never followed: the key stays with the configured base) comes from a
        // proxy or a moved endpoint, not from the object; a bad or under-privileged key must
        // be fixed, not drop events: transient, so the event waits.
        let transient = matches!(
            status,
            300..=399 | 401 | 403 | 408 | 409 | 424 | 429 | 500..=599
        ) || should_retry == Some(true);
        let error = if transient {
            HydrateError::Transient(detail)
        } else {
            HydrateError::Permanent(detail)
        };
        let failure = Failure {
            error,
            status: Some(status),
            should_retry,
            retry_after,
        };
        Ok((failure, request_id))
    }

    /// The line of an error response: `Stripe rejected the API key` (401/403, at `ERROR`:
    /// every event waits until the key is fixed) or `Stripe error response`.
    fn log_error_response(
        &self,
        call: &Call<'_>,
        tries: u32,
        next: &Next,
        failure: &Failure,
        request_id: Option<&str>,
    ) {
        let outcome = Self::outcome(next, &failure.error);
        let status = failure.status;
        macro_rules! rejected_key {
            ($level:expr, $message:literal) => {
                attempt_event!($level, call, tries, outcome, status, request_id, $message)
            };
        }
        match (status, next) {
            (Some(401 | 403), Next::RetryWithNewKey) => rejected_key!(
                tracing::Level::WARN,
                "Stripe rejected the API key; retrying with the key now in Secrets Manager"
            ),
            (Some(401 | 403), _) => rejected_key!(
                tracing::Level::ERROR,
                "Stripe rejected the API key (fix the key in Secrets Manager); the event will be retried"
            ),
            _ => attempt_event!(
                tracing::Level::WARN,
                call,
                tries,
                outcome,
                status,
                should_retry = failure.should_retry,
                request_id,
                "Stripe error response"
            ),
        }
    }

    /// async-stripe's built request through the retry loop, for its [`StripeClient`]
    /// (crate::client): GET only (the hydrator reads), the `/v1` target of the builder's
    /// path and query, the request's overrides (strategy, per-attempt timeout, `Stripe-Account`)
    /// honoured. Returns the raw 2xx body.
    ///
    /// [`StripeClient`]: stripe_client_core::StripeClient
    pub(crate) async fn execute_request(
        &self,
        request: CustomizedStripeRequest,
        stripe_context: Option<&str>,
        deadline: Instant,
    ) -> Result<Bytes, HydrateError> {
        let (request, config) = request.into_pieces();
        if !matches!(request.method, StripeMethod::Get) || request.body.is_some() {
            return Err(HydrateError::Permanent(format!(
                "{:?} {}: the hydrator only sends GET requests",
                request.method, request.path
            )));
        }
        let target = requests::v1_target(&request);
        let mut call = self.call(checked_api_path(&target)?, stripe_context, deadline)?;
        if let Some(strategy) = config.request_strategy {
            call.strategy = strategy;
        }
        if let Some(timeout) = config.timeout {
            call.attempt_timeout = timeout;
        }
        if let Some(account) = config.account_id {
            call.header(STRIPE_ACCOUNT, &account)?;
        }
        Ok(self.send(&call).await?.body)
    }

    /// One GET, body included (the caller bounds it with a timeout).
    async fn attempt(
        &self,
        uri: &str,
        auth: &HeaderValue,
        headers: &[(HeaderName, HeaderValue)],
    ) -> Attempt {
        let inner = &self.inner;
        let mut builder = Request::builder()
            .method(Method::GET)
            .uri(uri)
            .header(AUTHORIZATION, auth.clone())
            .header(USER_AGENT, inner.user_agent.clone())
            .header(ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(v) = &inner.version {
            builder = builder.header(STRIPE_VERSION, v.clone());
        }
        for (name, value) in headers {
            builder = builder.header(name, value.clone());
        }
        let request = match builder.body(Full::new(Bytes::new())) {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Failed {
                    sent: false,
                    detail: format!("cannot build the request: {e}"),
                }
            }
        };
        let http = match self.http() {
            Ok(http) => http,
            Err(detail) => {
                return Attempt::Failed {
                    sent: false,
                    detail,
                }
            }
        };
        let response = match http.request(request).await {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Failed {
                    sent: !e.is_connect(),
                    detail: error_chain(&e),
                }
            }
        };
        let arrived = Timestamp::now();
        let status = response.status().as_u16();
        let headers = response.headers();
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let should_retry = header(STRIPE_SHOULD_RETRY).and_then(|v| v.trim().parse::<bool>().ok());
        let retry_after = header("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let request_id = header("request-id").map(str::to_owned);
        match Limited::new(response.into_body(), MAX_BODY_BYTES)
            .collect()
            .await
        {
            Ok(collected) => Attempt::Response(Response {
                status,
                should_retry,
                retry_after,
                request_id,
                body: collected.to_bytes(),
                arrived,
            }),
            // A 2xx that large is not a Stripe object and would be the same on every retry;
            // an error page that large (a proxy's) stays a transport failure.
            Err(e)
                if (200..300).contains(&status) && e.is::<http_body_util::LengthLimitError>() =>
            {
                Attempt::Refused(format!(
                    "HTTP {status} with a body over {MAX_BODY_BYTES} bytes; not a Stripe object"
                ))
            }
            Err(e) => Attempt::Failed {
                sent: true,
                detail: format!("HTTP {status}, reading the body failed: {e}"),
            },
        }
    }

    /// Exponential backoff with jitter in `[d/2, d]`; a `Retry-After` up to `max_backoff`
    /// lengthens it (a longer one ends the retries: `wait_before_retry`).
    fn backoff(&self, tries: u32, retry_after: Option<Duration>) -> Duration {
        let policy = &self.inner.policy;
        let exp = tries.saturating_sub(1).min(16);
        let full = policy
            .initial_backoff
            .saturating_mul(1u32 << exp)
            .min(policy.max_backoff);
        let half = full / 2;
        let jitter = half.mul_f64(jitter_fraction());
        let delay = half + jitter;
        match retry_after {
            Some(ra) if ra <= policy.max_backoff => delay.max(ra),
            _ => delay,
        }
    }
}

/// `GET /v1/x: HTTP 429 rate_limit_error (code): message [request req_…]`, with `key` masked
/// should Stripe (or a fake) ever echo it.
fn describe(
    path: &str,
    key: &ApiKey,
    status: u16,
    body: &[u8],
    request_id: Option<&str>,
) -> String {
    let err = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").cloned());
    let field = |name: &str| {
        err.as_ref()
            .and_then(|e| e.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let mut out = format!("GET {path}: HTTP {status}");
    if let Some(t) = field("type") {
        out.push(' ');
        out.push_str(&t);
    }
    if let Some(c) = field("code") {
        out.push_str(&format!(" ({c})"));
    }
    if let Some(m) = field("message") {
        let m: String = m.chars().take(MAX_ERROR_MESSAGE).collect();
        out.push_str(": ");
        out.push_str(&m);
    }
    if let Some(id) = request_id {
        out.push_str(&format!(" [request {id}]"));
    }
    let exposed = key.expose();
    if !exposed.is_empty() && out.contains(exposed) {
        out = out.replace(exposed, key.redacted());
    }
    out
}

impl Hydrator for StripeHydrator {
    /// `GET related_object.url` for v2 thin notifications (with `Stripe-Context` when the
    /// event has a context); the v1 retrieve path of `object_type` + `id` for the legacy thin
    /// reference and for snapshot revalidation.
    async fn fetch(
        &self,
        delivery: &Delivery<'_>,
        deadline: Instant,
    ) -> Result<Fetched, HydrateError> {
        let path = request_path(delivery)?;
        let mut call = self.call(&path, delivery.stripe_context.as_deref(), deadline)?;
        // A v1 event of a connected account: its object is that account's.
        if let Some(account) = &delivery.stripe_account {
            call.header(STRIPE_ACCOUNT, account)?;
        }
        call.event = ForEvent::of(delivery);
        let (body, fetched_at) = self.get_json(&call).await?;
        Ok(Fetched { body, fetched_at })
    }
}

/// The API path to GET for a delivery: `related_object.url` verbatim for a v2 thin
/// notification (the one hand-built request), else async-stripe's typed retrieve of the kind.
fn request_path(delivery: &Delivery<'_>) -> Result<String, HydrateError> {
    let Some(object) = &delivery.object else {
        return Err(HydrateError::Permanent(
            "the event names no object to fetch".to_owned(),
        ));
    };
    if delivery.style == PayloadStyle::ThinV2 {
        if let Some(url) = &object.url {
            return checked_api_path(url).map(str::to_owned);
        }
    }
    let id = &object.id;
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(HydrateError::Permanent(format!(
            "object id {id:?} is not a Stripe id"
        )));
    }
    requests::retrieve_target(&object.object_type, id).ok_or_else(|| {
        HydrateError::Permanent(format!(
            "no API path for object type `{}`",
            object.object_type
        ))
    })
}

/// Only relative `/v1/…` or `/v2/…` paths: an event must not be able to send our key to
/// another host or an odd path.
fn checked_api_path(path: &str) -> Result<&str, HydrateError> {
    let bad = |why: &str| HydrateError::Permanent(format!("object url {path:?} {why}"));
    if !(path.starts_with("/v1/") || path.starts_with("/v2/")) {
        return Err(bad("is not a relative /v1/ or /v2/ API path"));
    }
    let parsed: PathAndQuery = path.parse().map_err(|_| bad("is not a valid path"))?;
    if parsed
        .path()
        .split('/')
        .any(|segment| segment == ".." || segment == ".")
        || path.contains('#')
    {
        return Err(bad("has dot segments or a fragment"));
    }
    Ok(path)
}

/// A uniform fraction in `[0, 1)` from std's randomly keyed hasher (no rand dependency).
fn jitter_fraction() -> f64 {
    use std::hash::BuildHasher;
    let h = std::collections::hash_map::RandomState::new().hash_one(Instant::now());
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// The error and its causes (hyper-util's top-level message alone is just "client error").
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn with_note(err: HydrateError, note: &str) -> HydrateError {
    match err {
        HydrateError::Transient(m) => HydrateError::Transient(format!("{m} ({note})")),
        HydrateError::NotFound(m) => HydrateError::NotFound(m),
        HydrateError::Permanent(m) => HydrateError::Permanent(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_are_relative_and_clean() {
        assert!(checked_api_path("/v1/subscriptions/sub_1").is_ok());
        assert!(checked_api_path("/v2/core/accounts/acct_1?include=x").is_ok());
        for bad in [
            "https://evil.example/v1/customers/cus_1",
            "//evil.example/v1/x",
            "/v1/../admin",
            "/v1/customers/cus 1",
            "v1/customers/cus_1",
            "/v3/x",
        ] {
            assert!(
                matches!(checked_api_path(bad), Err(HydrateError::Permanent(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn backoff_is_bounded_and_jittered() {
        let config =
            StripeConfig::new("http://127.0.0.1:1", ApiKey::new("sk_test_x").expect("key"))
                .expect("config");
        let h = StripeHydrator::new(config).expect("hydrator");
        for tries in 1..40 {
            let d = h.backoff(tries, None);
            assert!(d <= Duration::from_secs(4), "{d:?}");
            assert!(d >= Duration::from_millis(250), "{d:?}");
        }
        assert_eq!(
            h.backoff(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        // A Retry-After beyond the cap is not a backoff: `wait_before_retry` stops instead.
        assert!(h.backoff(1, Some(Duration::from_secs(60))) <= Duration::from_millis(500));
        let f = jitter_fraction();
        assert!((0.0..1.0).contains(&f));
    }
}
