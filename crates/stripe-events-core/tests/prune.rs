//! Pruned parsing loses nothing the pipeline reads: every fixture parses to the same
//! deliveries, projections and versions from the full JSON and from the pruned JSON.

use std::path::{Path, PathBuf};

use serde_json::Value;
use stripe_events_core::project::project;
use stripe_events_core::prune::parse_pruned;
use stripe_events_core::{parse_invocation, Version};

fn fixture_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("fixtures") {
        let path = entry.expect("entry").path();
        let name = path.to_string_lossy().into_owned();
        if path.is_dir() {
            // stripe-openapi/ holds Stripe's example objects, not events.
            if !path.ends_with("stripe-openapi") {
                fixture_files(&path, out);
            }
        } else if name.ends_with(".json") && !name.ends_with(".expect.json") {
            out.push(path);
        }
    }
}

#[test]
fn every_fixture_projects_the_same_from_full_and_pruned_json() {
    let mut files = Vec::new();
    fixture_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures"),
        &mut files,
    );
    let mut projected = 0;
    for file in files {
        let bytes = std::fs::read(&file).expect("read");
        let Ok(full) = serde_json::from_slice::<Value>(&bytes) else {
            assert!(parse_pruned(&bytes).is_err(), "{}", file.display());
            continue;
        };
        let pruned = parse_pruned(&bytes).expect("pruned parse of valid JSON");
        assert!(pruned.to_string().len() <= full.to_string().len());
        let (Ok(a), Ok(b)) = (parse_invocation(full), parse_invocation(pruned)) else {
            continue;
        };
        assert_eq!(a.records.len(), b.records.len());
        for (a, b) in a.records.iter().zip(&b.records) {
            let (Ok(a), Ok(b)) = (a, b) else {
                assert_eq!(a.is_ok(), b.is_ok(), "{}", file.display());
                continue;
            };
            assert_eq!(
                (
                    &a.event_id,
                    &a.event_type,
                    &a.object,
                    &a.path,
                    a.style,
                    a.created,
                    a.dedupe_key()
                ),
                (
                    &b.event_id,
                    &b.event_type,
                    &b.object,
                    &b.path,
                    b.style,
                    b.created,
                    b.dedupe_key()
                ),
                "{}",
                file.display()
            );
            let (Some(full_obj), Some(pruned_obj)) = (&a.data_object, &b.data_object) else {
                continue;
            };
            let prev = a.previous_attributes.as_ref();
            assert_eq!(
                project(a.base_type(), full_obj, prev),
                project(b.base_type(), pruned_obj, prev),
                "{}",
                file.display()
            );
            assert_eq!(
                Version::new(a.created, a.base_type(), full_obj, &a.event_id),
                Version::new(b.created, b.base_type(), pruned_obj, &b.event_id),
            );
            projected += 1;
        }
    }
    assert!(
        projected >= 50,
        "only {projected} snapshot objects compared"
    );
}

#[test]
fn pruning_drops_unread_fields_and_keeps_references() {
    let bytes =
        br#"{"source":"stripe.webhook","detail":{"id":"evt_1","type":"invoice.paid","created":1,
        "data":{"object":{"id":"in_1","object":"invoice","lines":{"data":[{"big":"x"}]},
        "customer":{"id":"cus_1","email":"a@b.c"},"status":"paid"},
        "previous_attributes":{"status":"open","anything":1}}}}"#;
    let v = parse_pruned(bytes).expect("parse");
    let object = &v["detail"]["data"]["object"];
    assert!(object.get("lines").is_none(), "unread fields are skipped");
    assert_eq!(object["customer"], serde_json::json!({"id": "cus_1"}));
    assert_eq!(object["status"], "paid");
    assert_eq!(v["detail"]["data"]["previous_attributes"]["anything"], 1);
}

#[test]
fn keys_are_matched_after_unescaping_and_kept_keys_must_be_utf8() {
    // `st\u0061tus` is `status`: kept, under its unescaped name.
    let escaped = br#"{"id":"evt_1","type":"invoice.paid","created":1,
        "data":{"object":{"id":"in_1","object":"invoice","st\u0061tus":"paid","x\u00e9":1}}}"#;
    let v = parse_pruned(escaped).expect("parse");
    assert_eq!(v["data"]["object"]["status"], "paid");
    assert!(v["data"]["object"].get("xé").is_none());

    // Invalid UTF-8 in a kept key (the envelope keeps every key) is an error, as in serde_json.
    let mut bad = br#"{"id":"evt_1","#.to_vec();
    bad.extend_from_slice(b"\"k\xff\":1}");
    assert!(parse_pruned(&bad).is_err());
    assert!(serde_json::from_slice::<Value>(&bad).is_err());
}
