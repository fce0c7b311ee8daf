//! The model against the repository's Terraform defaults: the deployed sizing drains a burst
//! with nothing lost; broken configurations lose events; Stripe's limiter never admits more
//! than its rate. Fast (simulated time), no services.

use burst_sim::limiter::{SlidingWindow, SECOND};
use burst_sim::rng::Rng;
use burst_sim::tfvars::Defaults;
use burst_sim::{default_variables_path, simulate, Concurrency, Scenario, TerraformInputs};

fn terraform() -> TerraformInputs {
    let defaults = Defaults::read(&default_variables_path()).expect("infra/variables.tf readable");
    TerraformInputs::read(&defaults).expect("every variable the model needs has a numeric default")
}

/// `make simulate-burst`'s burst: 100,000 events over 5 minutes.
fn burst(tf: &TerraformInputs) -> Scenario {
    Scenario::from_terraform(tf)
}

#[test]
fn finds_the_terraform_defaults() {
    let tf = terraform();
    assert_eq!(
        tf.stripe_read_rate_limit, 25.0,
        "the live per-endpoint limit"
    );
    assert_eq!(
        tf.stripe_account_rate_limit, 100.0,
        "the live account limit"
    );
    assert!(tf.stripe_consumers_account_share > 0.0 && tf.stripe_consumers_account_share <= 1.0);
    assert!(tf.stripe_fetch_latency_ms > 0.0);
    assert_eq!(tf.target_max_event_age_seconds, 86_400.0);
    assert_eq!(tf.target_max_retry_attempts, 185.0);
    assert!(tf.consumer_timeout_seconds > 0.0);
    assert!(tf.lambda_async_max_event_age_seconds >= 60.0);
    // The three consumers together stay inside the account limit, each inside an endpoint's.
    let c = tf.reserved_concurrency();
    assert!(c >= 1);
    let rate = tf.consumer_rate();
    assert!(rate <= tf.stripe_read_rate_limit);
    assert!(3.0 * rate <= tf.stripe_account_rate_limit);
    assert!(f64::from(c) <= (rate * tf.stripe_fetch_latency_ms / 1000.0).max(1.0));
}

#[test]
fn the_deployed_sizing_loses_nothing() {
    let tf = terraform();
    let r = simulate(&burst(&tf));
    assert_eq!(r.lost(), 0, "{r:#?}");
    assert_eq!(r.applied, r.events);
    assert_eq!(r.function_errors, 0, "{r:#?}");
    assert!(r.peak_endpoint_rps <= r.endpoint_limit);
    assert!(r.peak_account_rps <= r.account_limit);
    // A few 429s at most (latency jitter lets a second hold slightly more than 25 fetches).
    assert!(r.stripe_429s * 100 < r.stripe_requests, "{r:#?}");
    assert_eq!(
        r.peak_concurrency,
        3 * tf.reserved_concurrency(),
        "the reservation is the bottleneck"
    );
    assert!(r.drain_secs < tf.lambda_async_max_event_age_seconds);
}

#[test]
fn unreserved_consumers_storm_stripe_and_lose_events() {
    let tf = terraform();
    let r = simulate(&burst(&tf).unreserved());
    assert!(r.stripe_429s * 2 > r.stripe_requests, "mostly 429s: {r:#?}");
    assert!(
        r.lost_function_errors > 0,
        "events exhaust Lambda's 2 async retries: {r:#?}"
    );
    assert_eq!(r.applied + r.lost(), r.events);
}

#[test]
fn a_short_async_event_age_loses_throttled_events() {
    let tf = terraform();
    let mut s = burst(&tf);
    s.lambda_max_event_age_secs = 60.0;
    let r = simulate(&s);
    assert!(r.lost_aged > 0, "{r:#?}");
}

#[test]
fn eventbridge_retries_failed_invokes_and_then_dead_letters() {
    let tf = terraform();
    let mut s = Scenario::from_terraform(&tf);
    s.events = 200;
    s.spread_secs = 10.0;
    s.invoke_error_rate = 0.5;
    let r = simulate(&s);
    assert!(r.eventbridge_retries > 0);
    assert_eq!(
        r.lost(),
        0,
        "185 attempts absorb a 50% Invoke failure rate: {r:#?}"
    );

    s.invoke_error_rate = 1.0;
    s.eventbridge_max_retry_attempts = 3;
    let r = simulate(&s);
    assert_eq!(r.lost_eventbridge, s.events, "{r:#?}");
    assert_eq!(r.eventbridge_retries, 3 * s.events as u64);
}

#[test]
fn reserved_concurrency_one_is_slow_but_safe() {
    let tf = terraform();
    let mut s = burst(&tf);
    s.events = 2_000;
    s.concurrency = Concurrency::Reserved([1; 3]);
    let r = simulate(&s);
    assert_eq!(r.lost(), 0);
    assert_eq!(r.stripe_429s, 0);
}

#[test]
fn the_limiter_never_admits_more_than_its_rate() {
    let mut rng = Rng::new(7);
    for limit in [1.0, 5.0, 25.0, 100.0] {
        let mut w = SlidingWindow::per_second(limit);
        let mut t = 0u64;
        let mut admitted = Vec::new();
        for _ in 0..50_000 {
            // Bursty offered load: clusters of near-simultaneous requests and quiet gaps.
            t += if rng.unit() < 0.9 {
                (rng.unit() * 2_000.0) as u64
            } else {
                (rng.unit() * 400_000.0) as u64
            };
            if w.try_admit(t) {
                admitted.push(t);
            }
        }
        // Every one-second window [a, a + 1 s) holds at most `limit` admissions.
        let mut lo = 0;
        for hi in 0..admitted.len() {
            while admitted[hi] >= admitted[lo] + SECOND {
                lo += 1;
            }
            assert!(
                hi - lo < limit as usize,
                "limit {limit}: {} in one second",
                hi - lo + 1
            );
        }
        assert!(w.peak() <= limit as usize);

        // ...and it is not stricter than that: offered 4x its rate for 20 s, it admits the rate.
        let mut w = SlidingWindow::per_second(limit);
        let gap = (SECOND as f64 / (4.0 * limit)) as u64;
        let admitted = (0..(80.0 * limit) as u64)
            .filter(|i| w.try_admit(i * gap))
            .count();
        assert!(
            admitted as f64 >= 0.95 * 20.0 * limit,
            "limit {limit}: {admitted} in 20 s"
        );
        assert!(admitted as f64 <= 20.0 * limit);
    }
}
