//! Every fixture parses to exactly what its `.expect.json` (written by
//! `fixtures/generate.py` from the scenario, not by this code) says, and the deployed rule
//! files route it to exactly the Lambda of its family.

// A `RecordError` names every id read before the error.
#![allow(clippy::result_large_err)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use stripe_events_core::family::is_objectless;
use stripe_events_core::rules::RuleSet;
use stripe_events_core::{parse_bytes, Delivery, Family};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read fixtures dir") {
            let path = entry.expect("dir entry").path();
            // stripe-openapi/ holds Stripe's example objects the fixtures are built from.
            if path.is_dir() && !path.ends_with("stripe-openapi") {
                walk(&path, out);
            } else {
                let name = path.to_string_lossy();
                if name.ends_with(".json") && !name.ends_with(".expect.json") {
                    out.push(path);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&repo().join("fixtures"), &mut out);
    out.sort();
    out
}

fn expectation(fixture: &Path) -> Value {
    let path = fixture.with_extension("expect.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} has no expectation file: {e}", fixture.display()));
    serde_json::from_str(&text).expect("expectation is JSON")
}

fn check_delivery(name: &str, d: &Delivery<'_>, want: &Value) {
    let got = serde_json::json!({
        "path": d.path.name(),
        "destination_id": d.path.destination_id(),
        "livemode": d.livemode,
        "sqs_message_id": d.path.sqs_message_id,
        "style": d.style.as_str(),
        "event_id": d.event_id,
        "event_type": d.event_type,
        "family": d.family.as_str(),
        "object_type": d.object.as_ref().map(|o| &o.object_type),
        "object_id": d.object.as_ref().map(|o| &o.id),
        "created_unix": d.created.unix_seconds(),
        "dedupe_key": d.dedupe_key(),
        "envelope_id": d.envelope_id,
        "replay_name": d.replay_name,
    });
    // `state` (the items the delivery writes) is checked by the consumer's tests
    // (crates/stripe-events-consumer/tests/projected_state.rs, handler_moto.rs).
    let mut want = want.clone();
    if let Some(w) = want.as_object_mut() {
        w.remove("state");
    }
    assert_eq!(got, want, "{name}");
}

#[test]
fn every_fixture_parses_as_expected() {
    let files = fixture_files();
    assert!(files.len() >= 60, "fixtures missing: found {}", files.len());
    let mut folders = BTreeSet::new();
    for file in &files {
        let name = file
            .strip_prefix(repo())
            .unwrap_or(file)
            .display()
            .to_string();
        folders.insert(file.parent().map(Path::to_path_buf));
        let bytes = std::fs::read(file).expect("read fixture");
        let want = expectation(file);
        match parse_bytes(&bytes) {
            Err(e) => {
                assert_eq!(
                    want.get("error").and_then(Value::as_str),
                    Some(e.error.code()),
                    "{name}: {e}"
                );
                if let Some(field) = want.get("field").and_then(Value::as_str) {
                    assert_eq!(e.error.field(), Some(field), "{name}");
                }
            }
            Ok(inv) => {
                let wanted = want["deliveries"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{name}: expected {want}"));
                assert_eq!(inv.records.len(), wanted.len(), "{name}");
                for (record, w) in inv.records.iter().zip(wanted) {
                    match record.delivery() {
                        Ok(d) => check_delivery(&name, &d, w),
                        Err(e) => {
                            assert_eq!(w["error"].as_str(), Some(e.error.code()), "{name}: {e}");
                            assert_eq!(
                                w["sqs_message_id"].as_str(),
                                e.sqs_message_id.as_deref(),
                                "{name}"
                            );
                        }
                    }
                }
            }
        }
    }
    for folder in [
        "partner-snapshot",
        "partner-thin",
        "note-thin",
        "webhook",
        "sqs",
        "old-api",
        "bare",
        "ignored",
        "invalid",
    ] {
        assert!(
            folders.iter().flatten().any(|f| f.ends_with(folder)),
            "no fixture in {folder}"
        );
    }
}

#[test]
fn rule_files_route_each_fixture_to_exactly_its_family() {
    // The very files Terraform reads (infra/*.tf uses file("rules/…")).
    let rules = RuleSet::load(&repo().join("infra/rules")).expect("rule files");
    let mut routed = 0;
    for file in fixture_files() {
        let name = file.display().to_string();
        let want = expectation(&file);
        let Some(expected_rules) = want.get("rules").and_then(Value::as_array) else {
            continue; // SQS batches, bare events and invalid inputs are not EventBridge events.
        };
        let event: Value =
            serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("json");
        let matched = rules
            .matching(&event)
            .expect("every operator is implemented");
        let names: BTreeSet<&str> = matched.iter().map(|r| r.name.as_str()).collect();
        let expected: BTreeSet<&str> = expected_rules.iter().filter_map(Value::as_str).collect();
        assert_eq!(names, expected, "{name}");
        let families: BTreeSet<Family> = matched.iter().map(|r| r.family).collect();
        assert!(families.len() <= 1, "{name} reaches two Lambdas: {names:?}");
        if let Some(family) = families.first() {
            // The rules agree with the core's one classification function.
            let bytes = std::fs::read(&file).expect("read");
            let delivery = parse_bytes(&bytes).expect("routable fixtures parse");
            let d = delivery.records[0].delivery().expect("one delivery");
            assert_eq!(*family, d.family, "{name}");
            if d.base_type().starts_with("customer.subscription.") {
                assert_ne!(*family, Family::Customer, "{name}");
            }
            routed += 1;
        }
    }
    assert!(routed >= 30, "only {routed} fixtures were routed");
}

#[test]
fn rules_and_classifier_agree_on_every_stripe_event_type() {
    let rules = RuleSet::load(&repo().join("infra/rules")).expect("rule files");
    let types = std::fs::read_to_string(repo().join("fixtures/event-types.txt"))
        .expect("fixtures/event-types.txt lists every Stripe event type");
    let mut checked = 0;
    for t in types.lines().map(str::trim).filter(|t| !t.is_empty()) {
        for (source, prefix) in [
            ("stripe.webhook", ""),
            ("aws.partner/stripe.com/ed_test_x", "v1."),
        ] {
            let typ = format!("{prefix}{t}");
            let event =
                serde_json::json!({"source": source, "detail-type": typ, "detail": {"type": typ}});
            let matched = rules.matching(&event).expect("implemented operators");
            let families: Vec<Family> = matched.iter().map(|r| r.family).collect();
            match Family::of_event_type(&typ) {
                Family::None => assert!(families.is_empty(), "{typ} routed to {families:?}"),
                f => assert_eq!(families, vec![f], "{typ}"),
            }
            checked += 1;
        }
    }
    assert!(checked > 400, "checked {checked}");
}

/// Every type a thin destination can send (`v1.<snapshot type>` and Stripe's `v2.*` types):
/// `v1.` types classify as their snapshot type, `v2.*` types reach no family, and an event of
/// no family is a valid delivery even when it names no object (a destination ping), while a
/// family's thin event without `related_object` is refused.
#[test]
fn every_thin_and_v2_event_type_is_classified() {
    let rules = RuleSet::load(&repo().join("infra/rules")).expect("rule files");
    let types = std::fs::read_to_string(repo().join("fixtures/thin-and-v2-event-types.txt"))
        .expect("fixtures/thin-and-v2-event-types.txt lists every thin and v2 event type");
    let (mut v1, mut v2) = (0, 0);
    for typ in types.lines().map(str::trim).filter(|t| !t.is_empty()) {
        let family = Family::of_event_type(typ);
        if let Some(snapshot_type) = typ.strip_prefix("v1.") {
            assert_eq!(family, Family::of_event_type(snapshot_type), "{typ}");
            v1 += 1;
        } else {
            assert!(typ.starts_with("v2."), "{typ} is neither v1. nor v2.");
            assert_eq!(family, Family::None, "{typ}");
            v2 += 1;
        }
        let objectless = serde_json::json!({
            "version": "0", "id": "9a1c3b4e-0000-4000-8000-000000000001",
            "detail-type": typ, "source": "aws.partner/stripe.com/ed_test_x",
            "detail": {"id": "evt_test_objectless", "object": "v2.core.event", "type": typ,
                       "created": "2026-03-07T18:27:56.000Z", "livemode": false, "context": null}
        });
        let matched = rules.matching(&objectless).expect("implemented operators");
        let routed: Vec<Family> = matched.iter().map(|r| r.family).collect();
        let bytes = objectless.to_string();
        let invocation = parse_bytes(bytes.as_bytes());
        let parsed = invocation
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|i| i.records[0].delivery());
        match family {
            Family::None => {
                assert!(routed.is_empty(), "{typ} routed to {routed:?}");
                let d = parsed.as_ref().expect("a valid delivery");
                assert_eq!(d.object, None, "{typ}");
                assert_eq!(d.family, Family::None, "{typ}");
            }
            // An upcoming invoice has no id to name: routed, read, ignored by its consumer.
            f if is_objectless(typ) => {
                assert_eq!(routed, vec![f], "{typ}");
                let d = parsed.as_ref().expect("a valid delivery");
                assert_eq!(d.object, None, "{typ}");
            }
            f => {
                assert_eq!(routed, vec![f], "{typ}");
                let e = parsed.expect_err("needs related_object");
                assert_eq!(e.error.code(), "thin_without_reference", "{typ}");
            }
        }
    }
    assert!(v1 >= 200 && v2 >= 200, "{v1} v1. types, {v2} v2 types");
}
