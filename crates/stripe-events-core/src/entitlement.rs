//! The customer's entitlement summary, derived from their subscription items (the ones the
//! application reads in its one customer Query). Because it is recomputed from the
//! per-subscription items, each guarded by its own version, a stale event can never flip it.
//!
//! Rule: a subscription entitles while its status is `trialing`, `active` or `past_due`
//! (Stripe is still retrying payment) and its paid-through time (trial end while trialing,
//! else the current period end, capped by `cancel_at`/`ended_at`) is in the future.
//! `incomplete`, `incomplete_expired`, `unpaid`, `paused` and `canceled` do not entitle.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entitlement {
    pub entitled: bool,
    /// The subscription that entitles longest.
    pub subscription_id: Option<String>,
    pub status: Option<String>,
    /// Unix seconds.
    pub until: Option<i64>,
}

/// `subscriptions`: subscription state items (as stored by the subscription projection).
pub fn entitlement<'a>(
    subscriptions: impl IntoIterator<Item = &'a Value>,
    now_unix: i64,
) -> Entitlement {
    let mut best: Option<(i64, &str, &str)> = None;
    for s in subscriptions {
        let status = s.get("status").and_then(Value::as_str).unwrap_or("");
        if !matches!(status, "trialing" | "active" | "past_due") {
            continue;
        }
        let int = |k: &str| s.get(k).and_then(Value::as_i64);
        let paid_through = if status == "trialing" {
            int("trial_end").or(int("current_period_end"))
        } else {
            int("current_period_end")
        };
        let Some(mut until) = paid_through else {
            continue;
        };
        for cap in [int("cancel_at"), int("ended_at")].into_iter().flatten() {
            until = until.min(cap);
        }
        if until <= now_unix {
            continue;
        }
        let id = s
            .get("object_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if best.is_none_or(|(b, _, _)| until > b) {
            best = Some((until, id, status));
        }
    }
    match best {
        Some((until, id, status)) => Entitlement {
            entitled: true,
            subscription_id: Some(id.to_owned()),
            status: Some(status.to_owned()),
            until: Some(until),
        },
        None => Entitlement {
            entitled: false,
            subscription_id: None,
            status: None,
            until: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn longest_live_subscription_entitles() {
        let subs = [
            json!({"object_id": "sub_old", "status": "canceled", "current_period_end": 9_000}),
            json!({"object_id": "sub_a", "status": "active", "current_period_end": 2_000}),
            json!({"object_id": "sub_t", "status": "trialing", "trial_end": 3_000, "current_period_end": 3_000}),
            json!({"object_id": "sub_c", "status": "active", "current_period_end": 5_000, "cancel_at": 2_500}),
        ];
        let e = entitlement(&subs, 1_000);
        assert!(e.entitled);
        assert_eq!(e.subscription_id.as_deref(), Some("sub_t"));
        assert_eq!(e.until, Some(3_000));
        assert!(
            !entitlement(&subs, 3_000).entitled,
            "everything has lapsed by then"
        );
        assert!(
            !entitlement(
                &[json!({"status": "unpaid", "current_period_end": 9_999})],
                0
            )
            .entitled
        );
    }
}
