//! A discrete-event model of a billing-day burst through this stack:
//!
//! ```text
//! Stripe ──► EventBridge rule target ──► Lambda async queue ──► consumer invocation
//!            (retry policy, DLQ)         (throttle requeue,      (thin: Stripe GET with the
//!                                         2 retries on error,     hydrator's retry loop;
//!                                         max event age, DLQ)     snapshot: DynamoDB write)
//! ```
//!
//! Every rule in the model is taken from documentation or from this repository's code; the
//! crate README lists each with its source, and the assumptions where nothing is documented.
//! The numbers come from `infra/variables.tf` ([`Scenario::from_terraform`]).
//!
//! Time is simulated (microseconds), so 100,000 events take well under a second to run.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

pub mod limiter;
pub mod rng;
pub mod tfvars;

use limiter::{Micros, SlidingWindow, SECOND};
use rng::Rng;
use tfvars::{Defaults, TfError};

pub const FAMILIES: [&str; 3] = ["subscription", "payment", "customer"];

const MS: Micros = 1_000;

/// Stripe's per-endpoint limit unless an endpoint is noted otherwise (docs.stripe.com/rate-limits).
pub const STRIPE_ENDPOINT_LIMIT: f64 = 25.0;

/// One retrieve endpoint a family's thin events hit, and its share of the family's thin events.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub path: &'static str,
    pub weight: f64,
}

/// A consumer family: its share of the burst and the endpoints its thin events fetch.
#[derive(Debug, Clone)]
pub struct FamilyMix {
    pub name: &'static str,
    pub weight: f64,
    pub endpoints: Vec<Endpoint>,
}

/// A first-of-the-month renewal run: per renewal Stripe emits invoice.created/finalized/paid,
/// payment_intent.succeeded, charge.succeeded (payment), customer.subscription.updated
/// (subscription) and sometimes customer/payment-method updates (customer). Hence most of the
/// burst is the payment family, spread over several retrieve endpoints.
pub fn renewal_mix() -> Vec<FamilyMix> {
    let ep = |path, weight| Endpoint { path, weight };
    vec![
        FamilyMix {
            name: "subscription",
            weight: 0.25,
            endpoints: vec![ep("GET /v1/subscriptions/{id}", 1.0)],
        },
        FamilyMix {
            name: "payment",
            weight: 0.60,
            endpoints: vec![
                ep("GET /v1/invoices/{id}", 0.6),
                ep("GET /v1/payment_intents/{id}", 0.25),
                ep("GET /v1/charges/{id}", 0.15),
            ],
        },
        FamilyMix {
            name: "customer",
            weight: 0.15,
            endpoints: vec![
                ep("GET /v1/customers/{id}", 0.7),
                ep("GET /v1/payment_methods/{id}", 0.3),
            ],
        },
    ]
}

/// How much concurrency the consumers get.
#[derive(Debug, Clone, PartialEq)]
pub enum Concurrency {
    /// Reserved concurrency per consumer (index = [`FAMILIES`]).
    Reserved([u32; 3]),
    /// No reservation: the three consumers share the account's unreserved pool.
    Unreserved(u32),
}

/// The hydrator's retry loop (crates/stripe-events-stripe/src/config.rs `RetryPolicy::default`
/// and hydrator.rs `get_json`/`backoff`): at most `max_attempts` HTTP attempts, backoff before
/// retry n = `initial x 2^(n-1)` capped at `max`, jittered in `[d/2, d]`, no retry whose
/// backoff plus 100 ms would pass the deadline (Lambda timeout minus a 500 ms margin).
#[derive(Debug, Clone)]
pub struct HydratorPolicy {
    pub max_attempts: u32,
    pub initial_backoff: Micros,
    pub max_backoff: Micros,
    pub min_attempt_window: Micros,
    pub deadline_margin: Micros,
}

impl Default for HydratorPolicy {
    fn default() -> Self {
        HydratorPolicy {
            max_attempts: 3,
            initial_backoff: 500 * MS,
            max_backoff: 4 * SECOND,
            min_attempt_window: 100 * MS,
            deadline_margin: 500 * MS,
        }
    }
}

/// Everything one run needs.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub label: String,
    pub events: usize,
    /// Arrivals are spread uniformly over this many seconds.
    pub spread_secs: f64,
    /// Fraction of events that are thin (one Stripe GET each); the rest are snapshots.
    pub thin_fraction: f64,
    pub mix: Vec<FamilyMix>,
    pub concurrency: Concurrency,
    /// Median Stripe retrieve latency (ms) actually experienced; log-normal, `stripe_sigma`.
    pub stripe_latency_ms: f64,
    pub stripe_sigma: f64,
    /// A 429 is answered faster than a retrieve (no object is loaded): this fraction of it.
    pub rejection_latency_factor: f64,
    /// Stripe's limits actually enforced.
    pub stripe_endpoint_limit: f64,
    pub stripe_account_limit: f64,
    /// Other Stripe traffic of the same account during the burst (requests/s).
    pub background_rps: f64,
    /// Median DynamoDB commit (ms), log-normal.
    pub dynamodb_ms: f64,
    /// Runtime overhead per invocation (ms).
    pub overhead_ms: f64,
    pub lambda_timeout_secs: f64,
    pub lambda_max_retry_attempts: u32,
    pub lambda_max_event_age_secs: f64,
    pub eventbridge_max_event_age_secs: f64,
    pub eventbridge_max_retry_attempts: u32,
    /// Probability that EventBridge's async Invoke call itself fails (retried by EventBridge's
    /// retry policy). 0 by default: see README, throttling is not such a failure.
    pub invoke_error_rate: f64,
    pub hydrator: HydratorPolicy,
    pub seed: u64,
}

/// The Terraform inputs the model reads, and the concurrency Terraform derives from them.
#[derive(Debug, Clone, PartialEq)]
pub struct TerraformInputs {
    pub stripe_read_rate_limit: f64,
    pub stripe_account_rate_limit: f64,
    pub stripe_consumers_account_share: f64,
    pub stripe_fetch_latency_ms: f64,
    pub consumer_timeout_seconds: f64,
    pub lambda_async_max_retry_attempts: f64,
    pub lambda_async_max_event_age_seconds: f64,
    pub target_max_event_age_seconds: f64,
    pub target_max_retry_attempts: f64,
}

impl TerraformInputs {
    pub fn read(defaults: &Defaults) -> Result<Self, TfError> {
        Ok(TerraformInputs {
            stripe_read_rate_limit: defaults.get("stripe_read_rate_limit")?,
            stripe_account_rate_limit: defaults.get("stripe_account_rate_limit")?,
            stripe_consumers_account_share: defaults.get("stripe_consumers_account_share")?,
            stripe_fetch_latency_ms: defaults.get("stripe_fetch_latency_ms")?,
            consumer_timeout_seconds: defaults.get("consumer_timeout_seconds")?,
            lambda_async_max_retry_attempts: defaults.get("lambda_async_max_retry_attempts")?,
            lambda_async_max_event_age_seconds: defaults
                .get("lambda_async_max_event_age_seconds")?,
            target_max_event_age_seconds: defaults.get("target_max_event_age_seconds")?,
            target_max_retry_attempts: defaults.get("target_max_retry_attempts")?,
        })
    }

    /// Requests/s one consumer may send: infra/lambda.tf `local.consumer_stripe_rate`.
    pub fn consumer_rate(&self) -> f64 {
        self.stripe_read_rate_limit.min(
            self.stripe_account_rate_limit * self.stripe_consumers_account_share
                / FAMILIES.len() as f64,
        )
    }

    /// infra/lambda.tf `local.consumer_reserved_concurrency`: max(1, floor(rate x latency)).
    pub fn reserved_concurrency(&self) -> u32 {
        let slots = (self.consumer_rate() * self.stripe_fetch_latency_ms / 1000.0).floor();
        (slots as u32).max(1)
    }
}

/// The account's default concurrency quota (Lambda quotas page): what "unreserved" can reach.
pub const UNRESERVED_POOL: u32 = 1000;

impl Scenario {
    /// The deployed configuration: Terraform's defaults, reserved concurrency as lambda.tf
    /// derives it, a 100,000-event burst over 5 minutes, half thin.
    pub fn from_terraform(tf: &TerraformInputs) -> Scenario {
        let c = tf.reserved_concurrency();
        Scenario {
            label: format!("reserved {c} per consumer (Terraform defaults)"),
            events: 100_000,
            spread_secs: 300.0,
            thin_fraction: 0.5,
            mix: renewal_mix(),
            concurrency: Concurrency::Reserved([c; 3]),
            stripe_latency_ms: tf.stripe_fetch_latency_ms,
            stripe_sigma: 0.35,
            rejection_latency_factor: 0.3,
            stripe_endpoint_limit: STRIPE_ENDPOINT_LIMIT,
            stripe_account_limit: tf.stripe_account_rate_limit,
            // The quarter of the account limit the consumers leave free, fully used.
            background_rps: tf.stripe_account_rate_limit
                * (1.0 - tf.stripe_consumers_account_share),
            dynamodb_ms: 8.0,
            overhead_ms: 1.0,
            lambda_timeout_secs: tf.consumer_timeout_seconds,
            lambda_max_retry_attempts: tf.lambda_async_max_retry_attempts as u32,
            lambda_max_event_age_secs: tf.lambda_async_max_event_age_seconds,
            eventbridge_max_event_age_secs: tf.target_max_event_age_seconds,
            eventbridge_max_retry_attempts: tf.target_max_retry_attempts as u32,
            invoke_error_rate: 0.0,
            hydrator: HydratorPolicy::default(),
            seed: 20260101,
        }
    }

    /// The same, with the consumers left unreserved.
    pub fn unreserved(mut self) -> Scenario {
        self.label = format!("unreserved (shared pool of {UNRESERVED_POOL})");
        self.concurrency = Concurrency::Unreserved(UNRESERVED_POOL);
        self
    }
}

/// Where an event ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Pending,
    Applied,
    /// Lambda async queue: older than the maximum event age (throttled too long).
    LostAged,
    /// Lambda async queue: failed 1 + max_retry_attempts invocations.
    LostFunctionErrors,
    /// EventBridge: the Invoke call failed past the target retry policy.
    LostEventBridge,
}

#[derive(Debug, Clone)]
struct Event {
    family: usize,
    /// Index into the flattened endpoint list, `None` for a snapshot event.
    endpoint: Option<usize>,
    born: Micros,
    eventbridge_attempts: u32,
    function_errors: u32,
    throttle_backoff: Micros,
    stripe_tries: u32,
    deadline: Micros,
    fate: Fate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    /// EventBridge calls Invoke (async).
    Deliver(usize),
    /// Lambda's async queue tries to run the function.
    TryInvoke(usize),
    /// The hydrator sends a GET.
    StripeSend(usize),
    /// The invocation returns (ok or error).
    Finish(usize, bool),
    /// Some other Stripe call of the same account.
    Background,
}

/// The run's figures.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub label: String,
    pub events: usize,
    pub applied: usize,
    pub lost_aged: usize,
    pub lost_function_errors: usize,
    pub lost_eventbridge: usize,
    /// From the first arrival to the last event resolved (applied or lost), seconds.
    pub drain_secs: f64,
    pub stripe_requests: u64,
    pub stripe_429s: u64,
    pub background_429s: u64,
    pub invocations: u64,
    /// Invocations that returned an error (each is retried by Lambda's async queue or lost).
    pub function_errors: u64,
    /// Times Lambda's async queue found no free concurrency and requeued the event.
    pub throttles: u64,
    /// Invoke calls EventBridge retried under the target retry policy.
    pub eventbridge_retries: u64,
    pub peak_concurrency: u32,
    /// Most requests Stripe admitted in one second: per endpoint, and account-wide.
    pub peak_endpoint_rps: usize,
    pub peak_account_rps: usize,
    pub endpoint_limit: usize,
    pub account_limit: usize,
    /// Arrival -> applied, seconds.
    pub latency_p50_secs: f64,
    pub latency_p99_secs: f64,
    pub latency_max_secs: f64,
}

impl Report {
    pub fn lost(&self) -> usize {
        self.lost_aged + self.lost_function_errors + self.lost_eventbridge
    }
}

struct Sim<'a> {
    s: &'a Scenario,
    rng: Rng,
    now: Micros,
    seq: u64,
    queue: BinaryHeap<Reverse<(Micros, u64, Step)>>,
    events: Vec<Event>,
    endpoint_family: Vec<usize>,
    endpoint_limiters: Vec<SlidingWindow>,
    account: SlidingWindow,
    in_use: [u32; 3],
    unresolved: usize,
    completed_latencies: Vec<Micros>,
    last_resolved: Micros,
    report: Report,
}

fn secs(s: f64) -> Micros {
    (s.max(0.0) * SECOND as f64) as Micros
}

fn ms(m: f64) -> Micros {
    (m.max(0.0) * MS as f64) as Micros
}

impl<'a> Sim<'a> {
    fn new(s: &'a Scenario) -> Self {
        let mut endpoint_family = Vec::new();
        for (f, fam) in s.mix.iter().enumerate() {
            for _ in &fam.endpoints {
                endpoint_family.push(f);
            }
        }
        Sim {
            s,
            rng: Rng::new(s.seed),
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            events: Vec::with_capacity(s.events),
            endpoint_limiters: endpoint_family
                .iter()
                .map(|_| SlidingWindow::per_second(s.stripe_endpoint_limit))
                .collect(),
            endpoint_family,
            account: SlidingWindow::per_second(s.stripe_account_limit),
            in_use: [0; 3],
            unresolved: s.events,
            completed_latencies: Vec::with_capacity(s.events),
            last_resolved: 0,
            report: Report {
                label: s.label.clone(),
                events: s.events,
                ..Report::default()
            },
        }
    }

    fn at(&mut self, t: Micros, step: Step) {
        self.seq += 1;
        self.queue.push(Reverse((t, self.seq, step)));
    }

    fn generate(&mut self) {
        let weights: Vec<f64> = self.s.mix.iter().map(|f| f.weight).collect();
        let mut first_endpoint = Vec::new();
        let mut n = 0;
        for fam in &self.s.mix {
            first_endpoint.push(n);
            n += fam.endpoints.len();
        }
        for i in 0..self.s.events {
            let family = self.rng.pick(&weights);
            let thin = self.rng.unit() < self.s.thin_fraction;
            let endpoint = if thin {
                let w: Vec<f64> = self.s.mix[family]
                    .endpoints
                    .iter()
                    .map(|e| e.weight)
                    .collect();
                Some(first_endpoint[family] + self.rng.pick(&w))
            } else {
                None
            };
            let born = secs(self.rng.unit() * self.s.spread_secs);
            self.events.push(Event {
                family,
                endpoint,
                born,
                eventbridge_attempts: 0,
                function_errors: 0,
                throttle_backoff: 0,
                stripe_tries: 0,
                deadline: 0,
                fate: Fate::Pending,
            });
            self.at(born, Step::Deliver(i));
        }
        if self.s.background_rps > 0.0 {
            self.at(0, Step::Background);
        }
    }

    fn resolve(&mut self, e: usize, fate: Fate) {
        let ev = &mut self.events[e];
        ev.fate = fate;
        match fate {
            Fate::Applied => {
                self.report.applied += 1;
                self.completed_latencies.push(self.now - ev.born);
            }
            Fate::LostAged => self.report.lost_aged += 1,
            Fate::LostFunctionErrors => self.report.lost_function_errors += 1,
            Fate::LostEventBridge => self.report.lost_eventbridge += 1,
            Fate::Pending => return,
        }
        self.unresolved -= 1;
        self.last_resolved = self.now;
    }

    fn free_slot(&self, family: usize) -> bool {
        match &self.s.concurrency {
            Concurrency::Reserved(r) => self.in_use[family] < r[family],
            Concurrency::Unreserved(pool) => self.in_use.iter().sum::<u32>() < *pool,
        }
    }

    fn run(mut self) -> Report {
        self.generate();
        while let Some(Reverse((t, _, step))) = self.queue.pop() {
            self.now = t;
            match step {
                Step::Deliver(e) => self.deliver(e),
                Step::TryInvoke(e) => self.try_invoke(e),
                Step::StripeSend(e) => self.stripe_send(e),
                Step::Finish(e, ok) => self.finish(e, ok),
                Step::Background => {
                    if !self.account.try_admit(self.now) {
                        self.report.background_429s += 1;
                    }
                    if self.unresolved > 0 {
                        let gap = secs(1.0 / self.s.background_rps);
                        self.at(self.now + gap.max(1), Step::Background);
                    }
                }
            }
        }
        let mut lat = std::mem::take(&mut self.completed_latencies);
        lat.sort_unstable();
        let q = |p: f64| -> f64 {
            if lat.is_empty() {
                return 0.0;
            }
            let i = ((lat.len() - 1) as f64 * p).round() as usize;
            lat[i] as f64 / SECOND as f64
        };
        self.report.latency_p50_secs = q(0.5);
        self.report.latency_p99_secs = q(0.99);
        self.report.latency_max_secs = q(1.0);
        let first = self.events.iter().map(|e| e.born).min().unwrap_or(0);
        self.report.drain_secs = self.last_resolved.saturating_sub(first) as f64 / SECOND as f64;
        self.report.peak_endpoint_rps = self
            .endpoint_limiters
            .iter()
            .map(SlidingWindow::peak)
            .max()
            .unwrap_or(0);
        self.report.peak_account_rps = self.account.peak();
        self.report.endpoint_limit = self
            .endpoint_limiters
            .first()
            .map(SlidingWindow::limit)
            .unwrap_or(0);
        self.report.account_limit = self.account.limit();
        debug_assert!(self.endpoint_family.len() == self.endpoint_limiters.len());
        self.report
    }

    /// EventBridge's async Invoke: accepted into Lambda's queue unless it fails (probability
    /// `invoke_error_rate`), then retried with exponential backoff and jitter until the target
    /// retry policy is exhausted, then the target DLQ.
    fn deliver(&mut self, e: usize) {
        if self.rng.unit() >= self.s.invoke_error_rate {
            let now = self.now;
            self.at(now, Step::TryInvoke(e));
            return;
        }
        let ev = &mut self.events[e];
        ev.eventbridge_attempts += 1;
        let age = self.now - ev.born;
        if ev.eventbridge_attempts > self.s.eventbridge_max_retry_attempts
            || age >= secs(self.s.eventbridge_max_event_age_secs)
        {
            self.resolve(e, Fate::LostEventBridge);
            return;
        }
        self.report.eventbridge_retries += 1;
        // Undocumented beyond "exponential back off and jitter"; capped so that 185 attempts
        // take about 24 h.
        let exp = (ev.eventbridge_attempts - 1).min(20);
        let full = (SECOND << exp).min(secs(86_400.0 / 185.0));
        let delay = full / 2 + (self.rng.unit() * (full / 2) as f64) as Micros;
        let t = self.now + delay;
        self.at(t, Step::Deliver(e));
    }

    /// Lambda's async queue: run if a slot is free, else requeue with 1 s -> 5 min backoff,
    /// until the maximum event age.
    fn try_invoke(&mut self, e: usize) {
        let age = self.now - self.events[e].born;
        if age >= secs(self.s.lambda_max_event_age_secs) {
            self.resolve(e, Fate::LostAged);
            return;
        }
        let family = self.events[e].family;
        if !self.free_slot(family) {
            self.report.throttles += 1;
            let ev = &mut self.events[e];
            ev.throttle_backoff = if ev.throttle_backoff == 0 {
                SECOND
            } else {
                (ev.throttle_backoff * 2).min(300 * SECOND)
            };
            let d = ev.throttle_backoff;
            let delay = d / 2 + (self.rng.unit() * (d / 2) as f64) as Micros;
            let t = self.now + delay;
            self.at(t, Step::TryInvoke(e));
            return;
        }
        self.in_use[family] += 1;
        let total: u32 = self.in_use.iter().sum();
        self.report.peak_concurrency = self.report.peak_concurrency.max(total);
        self.report.invocations += 1;
        let timeout = secs(self.s.lambda_timeout_secs);
        let overhead = ms(self.s.overhead_ms);
        let ev = &mut self.events[e];
        ev.throttle_backoff = 0;
        ev.stripe_tries = 0;
        ev.deadline = (self.now + timeout).saturating_sub(self.s.hydrator.deadline_margin);
        let t = self.now + overhead;
        if ev.endpoint.is_some() {
            self.at(t, Step::StripeSend(e));
        } else {
            let write = ms(self.rng.lognormal(self.s.dynamodb_ms, 0.3));
            self.at(t + write, Step::Finish(e, true));
        }
    }

    /// One GET through Stripe's limiters (per endpoint and account-wide), then either the
    /// commit, or the hydrator's retry decision after a 429.
    fn stripe_send(&mut self, e: usize) {
        let Some(endpoint) = self.events[e].endpoint else {
            return;
        };
        self.events[e].stripe_tries += 1;
        self.report.stripe_requests += 1;
        let now = self.now;
        let admitted = self.endpoint_limiters[endpoint].has_room(now) && self.account.has_room(now);
        let latency = self
            .rng
            .lognormal(self.s.stripe_latency_ms, self.s.stripe_sigma);
        if admitted {
            self.endpoint_limiters[endpoint].record(now);
            self.account.record(now);
            let write = self.rng.lognormal(self.s.dynamodb_ms, 0.3);
            self.at(now + ms(latency + write), Step::Finish(e, true));
            return;
        }
        self.report.stripe_429s += 1;
        let answered = now + ms(latency * self.s.rejection_latency_factor);
        let h = &self.s.hydrator;
        let tries = self.events[e].stripe_tries;
        if tries >= h.max_attempts {
            self.at(answered, Step::Finish(e, false));
            return;
        }
        let exp = (tries - 1).min(16);
        let full = (h.initial_backoff << exp).min(h.max_backoff);
        let delay = full / 2 + (self.rng.unit() * (full / 2) as f64) as Micros;
        if answered + delay + h.min_attempt_window > self.events[e].deadline {
            self.at(answered, Step::Finish(e, false));
        } else {
            self.at(answered + delay, Step::StripeSend(e));
        }
    }

    /// The invocation returns. An error is retried by Lambda's async queue after 1 min, then
    /// 2 min; past `lambda_max_retry_attempts` the event goes to the function's DLQ.
    fn finish(&mut self, e: usize, ok: bool) {
        let family = self.events[e].family;
        self.in_use[family] -= 1;
        if ok {
            self.resolve(e, Fate::Applied);
            return;
        }
        self.report.function_errors += 1;
        let ev = &mut self.events[e];
        ev.function_errors += 1;
        if ev.function_errors > self.s.lambda_max_retry_attempts {
            self.resolve(e, Fate::LostFunctionErrors);
            return;
        }
        let wait = if ev.function_errors == 1 { 60 } else { 120 };
        let t = self.now + wait * SECOND;
        self.at(t, Step::TryInvoke(e));
    }
}

/// Runs one scenario to the end (every event applied or lost).
pub fn simulate(s: &Scenario) -> Report {
    Sim::new(s).run()
}

/// `infra/variables.tf` of this repository.
pub fn default_variables_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../infra/variables.tf")
}
