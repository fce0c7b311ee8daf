//! A value read at cold start and read again on demand, at most once per interval: the rule
//! for a secret a warm container must pick up after a rotation (the Stripe API key, read again
//! when Stripe rejects it; the webhook signing secrets, read again when no secret matches).
//! The interval bounds the reads a run of failures can cause to one per interval per
//! container.

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// The current value and when it was last (re)loaded.
pub struct Reloadable<T> {
    current: RwLock<Arc<T>>,
    min_interval: Duration,
    /// The last load attempt; held while one runs.
    last_attempt: tokio::sync::Mutex<Instant>,
}

/// What [`Reloadable::reload_if_due`] did.
#[derive(Debug)]
pub enum Reload<T, E> {
    /// Nothing: the last load is less than the interval ago (or, for
    /// [`Reloadable::try_reload_if_due`], another caller is loading).
    NotDue,
    /// Loaded the value it already had.
    Unchanged,
    /// Loaded a new value, now current.
    Changed(Arc<T>),
    /// The load failed; the current value stays.
    Failed(E),
}

impl<T: PartialEq> Reloadable<T> {
    /// `initial`, just loaded: the next load is due `min_interval` from now.
    pub fn new(initial: T, min_interval: Duration) -> Self {
        Reloadable {
            current: RwLock::new(Arc::new(initial)),
            min_interval,
            last_attempt: tokio::sync::Mutex::new(Instant::now()),
        }
    }

    pub fn current(&self) -> Arc<T> {
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Runs `load` if the last load is at least the interval ago. A caller arriving while
    /// another loads waits for that load and then finds it not due: it compares
    /// [`Reloadable::current`] with the value it used to see whether that load changed it.
    pub async fn reload_if_due<E, F>(&self, load: impl FnOnce() -> F) -> Reload<T, E>
    where
        F: Future<Output = Result<T, E>>,
    {
        let last = self.last_attempt.lock().await;
        self.reload_holding(last, load).await
    }

    /// [`Reloadable::reload_if_due`] for a caller that must not wait: while another caller
    /// loads, [`Reload::NotDue`] at once.
    pub async fn try_reload_if_due<E, F>(&self, load: impl FnOnce() -> F) -> Reload<T, E>
    where
        F: Future<Output = Result<T, E>>,
    {
        match self.last_attempt.try_lock() {
            Ok(last) => self.reload_holding(last, load).await,
            Err(_) => Reload::NotDue,
        }
    }

    async fn reload_holding<E, F>(
        &self,
        mut last: tokio::sync::MutexGuard<'_, Instant>,
        load: impl FnOnce() -> F,
    ) -> Reload<T, E>
    where
        F: Future<Output = Result<T, E>>,
    {
        if last.elapsed() < self.min_interval {
            return Reload::NotDue;
        }
        *last = Instant::now();
        let fresh = match load().await {
            Ok(fresh) => fresh,
            Err(e) => return Reload::Failed(e),
        };
        if *self.current() == fresh {
            return Reload::Unchanged;
        }
        let fresh = Arc::new(fresh);
        match self.current.write() {
            Ok(mut guard) => *guard = Arc::clone(&fresh),
            Err(poisoned) => *poisoned.into_inner() = Arc::clone(&fresh),
        }
        Reload::Changed(fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn counting(
        calls: &AtomicU32,
        value: &'static str,
    ) -> impl Future<Output = Result<&'static str, ()>> {
        calls.fetch_add(1, Ordering::SeqCst);
        async move { Ok(value) }
    }

    #[tokio::test]
    async fn loads_at_most_once_per_interval() {
        let calls = AtomicU32::new(0);
        let value = Reloadable::new("old", Duration::from_secs(3600));
        let r = value.reload_if_due(|| counting(&calls, "new")).await;
        assert!(matches!(r, Reload::NotDue), "{r:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        assert_eq!(*value.current(), "old");

        let value = Reloadable::new("old", Duration::ZERO);
        let r = value.reload_if_due(|| counting(&calls, "new")).await;
        assert!(matches!(&r, Reload::Changed(v) if **v == "new"), "{r:?}");
        assert_eq!(*value.current(), "new");
        let r = value.reload_if_due(|| counting(&calls, "new")).await;
        assert!(matches!(r, Reload::Unchanged), "{r:?}");
        let r = value
            .reload_if_due(|| async { Err::<&str, _>("down") })
            .await;
        assert!(matches!(r, Reload::Failed("down")), "{r:?}");
        assert_eq!(*value.current(), "new");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_caller_that_must_not_wait_skips_a_load_in_progress() {
        let value = Reloadable::new("old", Duration::ZERO);
        let (started, release) = (tokio::sync::Notify::new(), tokio::sync::Notify::new());
        let slow = value.reload_if_due(|| async {
            started.notify_one();
            release.notified().await;
            Ok::<_, ()>("new")
        });
        let impatient = async {
            started.notified().await;
            let calls = AtomicU32::new(0);
            // Waiting for the slow load would never end: it is released only below.
            let r = tokio::time::timeout(
                Duration::from_secs(5),
                value.try_reload_if_due(|| counting(&calls, "other")),
            )
            .await;
            assert!(matches!(r, Ok(Reload::NotDue)), "{r:?}");
            assert_eq!(calls.load(Ordering::SeqCst), 0, "no second load");
            release.notify_one();
        };
        let (r, ()) = tokio::join!(slow, impatient);
        assert!(matches!(&r, Reload::Changed(v) if **v == "new"), "{r:?}");
        // Once the load is done, the next one is due again (interval zero).
        let calls = AtomicU32::new(0);
        let r = value.try_reload_if_due(|| counting(&calls, "newer")).await;
        assert!(matches!(&r, Reload::Changed(v) if **v == "newer"), "{r:?}");
    }
}
