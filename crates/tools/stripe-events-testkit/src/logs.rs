//! Log lines a test reads back: [`Captured`], a writer into memory, and [`json_lines_of`], the
//! JSON lines logged while a future runs.

use std::future::Future;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tracing::instrument::WithSubscriber;

/// A `MakeWriter` (through `move || captured.clone()`) whose clones share one buffer.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Everything written so far.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `work` with a subscriber of its own (whatever the test's global one) and returns its
/// output with the lines logged at `level` or above, parsed: JSON with the fields at the top
/// level, as the Lambdas log them (`message`, `level`, …). Every target is kept.
pub async fn json_lines_of<T>(
    level: tracing::Level,
    work: impl Future<Output = T>,
) -> (T, Vec<Value>) {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_max_level(level)
        .with_writer(move || writer.clone())
        .finish();
    let result = work.with_subscriber(subscriber).await;
    let lines = out
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (result, lines)
}
