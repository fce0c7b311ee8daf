//! Stripe's rate limiter as modelled here: "N requests per second" read as a sliding window,
//! i.e. at most `limit` admissions in any window of one second. Stripe does not document its
//! burst allowance; a sliding window allows none beyond the stated rate, the strict reading.
//! Rejected requests do not count against the window (an assumption: Stripe does not say
//! whether a 429 consumes budget; if it did, 429 storms would be worse than modelled).

use std::collections::VecDeque;

/// Time in microseconds.
pub type Micros = u64;

pub const SECOND: Micros = 1_000_000;

#[derive(Debug, Clone)]
pub struct SlidingWindow {
    limit: usize,
    window: Micros,
    admitted: VecDeque<Micros>,
    /// Largest number of admissions seen in one window.
    peak: usize,
}

impl SlidingWindow {
    /// `limit` requests per second (at least 1).
    pub fn per_second(limit: f64) -> Self {
        SlidingWindow {
            limit: (limit.floor() as usize).max(1),
            window: SECOND,
            admitted: VecDeque::new(),
            peak: 0,
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Would a request at `now` be admitted? (`now` never goes backwards.)
    pub fn has_room(&mut self, now: Micros) -> bool {
        while let Some(&t) = self.admitted.front() {
            if t + self.window <= now {
                self.admitted.pop_front();
            } else {
                break;
            }
        }
        self.admitted.len() < self.limit
    }

    /// Records an admission at `now`; call only after [`SlidingWindow::has_room`] said yes.
    pub fn record(&mut self, now: Micros) {
        self.admitted.push_back(now);
        self.peak = self.peak.max(self.admitted.len());
    }

    /// `has_room` then `record`.
    pub fn try_admit(&mut self, now: Micros) -> bool {
        if self.has_room(now) {
            self.record(now);
            true
        } else {
            false
        }
    }

    /// The most admissions inside any one-second window so far.
    pub fn peak(&self) -> usize {
        self.peak
    }
}
