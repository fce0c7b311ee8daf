//! The fixture files (`fixtures/`, built by `fixtures/generate.py`): the repository root, reading
//! a fixture, walking the delivery folders, and comparing written state items with the items
//! each `.expect.json` delivery holds under `state` (computed by `fixtures/generate.py` from the
//! raw Stripe object, independently of the Rust projection).
//!
//! Harness code: a missing or unreadable fixture is a broken checkout, so these panic with the
//! path.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use stripe_events_core::Family;

/// The repository root (this crate is `crates/tools/stripe-events-testkit`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

/// `<repo>/fixtures`.
pub fn fixtures_dir() -> PathBuf {
    repo_root().join("fixtures")
}

/// A fixture's bytes, by path relative to `fixtures/`.
pub fn fixture_bytes(rel: &str) -> Vec<u8> {
    let path = fixtures_dir().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A fixture as JSON, by path relative to `fixtures/`.
pub fn fixture(rel: &str) -> Value {
    load_path(&fixtures_dir().join(rel))
}

pub fn load_path(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The event fixtures (not expectations) directly in `dir`, sorted.
pub fn fixture_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir().join(dir))
        .expect("fixture dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.to_string_lossy();
            n.ends_with(".json") && !n.ends_with(".expect.json")
        })
        .collect();
    files.sort();
    files
}

/// Every fixture that holds deliveries: the delivery folders and each `sequences/<name>/`
/// (`invalid/` holds no delivery).
pub fn delivery_fixtures() -> Vec<PathBuf> {
    let mut dirs: Vec<String> = [
        "partner-snapshot",
        "partner-thin",
        "note-thin",
        "webhook",
        "sqs",
        "old-api",
        "bare",
        "ignored",
    ]
    .map(String::from)
    .to_vec();
    let mut sequences: Vec<String> = std::fs::read_dir(fixtures_dir().join("sequences"))
        .expect("sequences dir")
        .filter_map(|e| e.ok())
        .map(|e| format!("sequences/{}", e.file_name().to_string_lossy()))
        .collect();
    sequences.sort();
    dirs.extend(sequences);
    dirs.iter().flat_map(|d| fixture_files(d)).collect()
}

pub fn expectation(fixture: &Path) -> Value {
    load_path(&fixture.with_extension("expect.json"))
}

/// One invocation per delivery: an SQS batch is split into one-record batches (its records
/// run concurrently, so which twin of a batch applies first is not fixed); anything else is
/// one delivery already.
pub fn invocations(event: &Value) -> Vec<Value> {
    match event.get("Records").and_then(Value::as_array) {
        Some(records) => records
            .iter()
            .map(|r| serde_json::json!({ "Records": [r] }))
            .collect(),
        None => vec![event.clone()],
    }
}

pub fn family_named(name: &str) -> Option<Family> {
    [Family::Subscription, Family::Payment, Family::Customer]
        .into_iter()
        .find(|f| f.as_str() == name)
}

/// Attributes every written item has but no expectation holds:
/// - `updated_at`: the clock at commit;
/// - `version_tiebreak`: the ordering rule's tiebreak (`version.rs`, tested there), not a
///   projected field.
///
/// For a hydrated (thin) delivery `version` is excluded as well: it is the fetch time. A
/// snapshot's `version` (its event's `created`, ms), `last_event_id` and `last_event_type`
/// are compared.
pub const EXCLUDED: [&str; 2] = ["updated_at", "version_tiebreak"];

/// Checks a stored item (from either store: DynamoDB items also hold `pk` and `sk`) against
/// one expected item `{pk, sk, attributes}`: exactly the expected attributes, each with the
/// expected value, no more. Returns how many attributes were compared.
pub fn assert_item_matches(
    name: &str,
    got: &Map<String, Value>,
    want: &Value,
    hydrated: bool,
) -> usize {
    let mut got = got.clone();
    for key in ["pk", "sk"] {
        if let Some(stored) = got.remove(key) {
            assert_eq!(stored, want[key], "{name}: {key}");
        }
    }
    // A marker (a deletion known only from a stub) carries no version and no event.
    let marker = want["attributes"].get("last_event_id").is_none();
    for key in EXCLUDED.into_iter().filter(|_| !marker) {
        assert!(got.remove(key).is_some(), "{name}: no `{key}` in {got:?}");
    }
    if hydrated && !marker {
        let version = got.remove("version");
        assert!(
            version.as_ref().and_then(Value::as_i64).is_some(),
            "{name}: a fetched object's version is the fetch time: {version:?}"
        );
    }
    let want = want["attributes"].as_object().expect("attributes");
    let missing: Vec<&String> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<&String> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    let differing: Vec<String> = want
        .iter()
        .filter_map(|(k, v)| {
            let g = got.get(k)?;
            (g != v).then(|| format!("{k}: stored {g}, expected {v}"))
        })
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && differing.is_empty(),
        "{name}: stored item differs from the expectation\n  missing: {missing:?}\n  unexpected: {extra:?}\n  differing: {differing:#?}"
    );
    want.len()
}
