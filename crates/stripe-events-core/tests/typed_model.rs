//! The typed model projects exactly what the `Value`-walking projections did: every object in
//! the fixtures (and every example object Stripe publishes), read from bytes into the borrowed
//! model, gives the same state items and the same version as the old projections gave from
//! the JSON tree (`oracle/`).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use stripe_events_core::model::{PreviousAttributes, StripeObject};
use stripe_events_core::project::{project, project_object, Projection};
use stripe_events_core::{Timestamp, Version};

mod oracle;

fn fixture_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("fixtures") {
        let path = entry.expect("entry").path();
        let name = path.to_string_lossy().into_owned();
        if path.is_dir() {
            if !path.ends_with("stripe-openapi") {
                fixture_files(&path, out);
            }
        } else if name.ends_with(".json") && !name.ends_with(".expect.json") {
            out.push(path);
        }
    }
}

/// (event type, object, previous_attributes) of every Stripe event inside `v`.
fn events(v: &Value, out: &mut Vec<(String, Value, Option<Value>)>) {
    if let Some(records) = v.get("Records").and_then(Value::as_array) {
        for r in records {
            if let Some(body) = r.get("body").and_then(Value::as_str) {
                if let Ok(inner) = serde_json::from_str::<Value>(body) {
                    events(&inner, out);
                }
            }
        }
        return;
    }
    let ev = v.get("detail").unwrap_or(v);
    let (Some(t), Some(object)) = (
        ev.get("type").and_then(Value::as_str),
        ev.pointer("/data/object"),
    ) else {
        return;
    };
    let t = t.strip_prefix("v1.").unwrap_or(t).to_owned();
    let prev = ev.pointer("/data/previous_attributes").cloned();
    out.push((t, object.clone(), prev));
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

type Item = (String, String, Map<String, Value>, String);

fn typed_items(p: Projection<'_>) -> Result<Vec<Item>, String> {
    match p {
        Projection::Items(items) => Ok(items
            .into_iter()
            .map(|w| {
                let kind = format!("{:?}", w.kind);
                (w.pk.clone(), w.sk.clone(), w.fields_json(), kind)
            })
            .collect()),
        Projection::Ignored(why) => Err(why.to_owned()),
    }
}

fn oracle_items(p: oracle::Projection) -> Result<Vec<Item>, String> {
    match p {
        oracle::Projection::Items(items) => Ok(items
            .into_iter()
            .map(|w| (w.pk, w.sk, w.fields, format!("{:?}", w.kind)))
            .collect()),
        oracle::Projection::Ignored(why) => Err(why.to_owned()),
    }
}

fn compare(what: &str, base_type: &str, object: &Value, prev: Option<&Value>) {
    let want = oracle::project(base_type, object, prev).map(oracle_items);
    // As tools do: from the JSON tree.
    let from_value = project(base_type, object, prev).map(typed_items);
    assert_eq!(
        format!("{from_value:?}"),
        format!("{want:?}"),
        "{what} {base_type}"
    );
    // As the handler does: from the bytes, borrowed.
    let bytes = serde_json::to_vec(object).expect("serialise");
    let prev_bytes = prev.map(|p| serde_json::to_vec(p).expect("serialise"));
    let typed: StripeObject = match serde_json::from_slice(&bytes) {
        Ok(t) => t,
        Err(e) => {
            assert!(!object.is_object(), "{what}: {e}");
            return;
        }
    };
    let typed_prev: Option<PreviousAttributes> = prev_bytes
        .as_deref()
        .and_then(|b| serde_json::from_slice(b).ok());
    let from_bytes = project_object(base_type, &typed, typed_prev.as_ref()).map(typed_items);
    assert_eq!(
        format!("{from_bytes:?}"),
        format!("{want:?}"),
        "{what} {base_type} (bytes)"
    );
    let t = Timestamp::from_unix_seconds(1_772_908_076);
    assert_eq!(
        Version::new(t, base_type, &typed, "evt_1"),
        Version::new(t, base_type, object, "evt_1"),
        "{what} {base_type} version"
    );
}

#[test]
fn every_fixture_object_projects_as_before() {
    let mut files = Vec::new();
    fixture_files(&root(), &mut files);
    let mut n = 0;
    for file in files {
        let Ok(v) = serde_json::from_slice::<Value>(&std::fs::read(&file).expect("read")) else {
            continue;
        };
        let mut evs = Vec::new();
        events(&v, &mut evs);
        for (t, object, prev) in evs {
            compare(&file.display().to_string(), &t, &object, prev.as_ref());
            n += 1;
        }
    }
    assert!(n > 50, "only {n} objects compared");
}

#[test]
fn every_stripe_example_object_projects_as_before() {
    let text =
        std::fs::read_to_string(root().join("stripe-openapi/fixtures3.json")).expect("reference");
    let all: Value = serde_json::from_str(&text).expect("json");
    let resources = all["resources"].as_object().expect("resources");
    for (name, object) in resources {
        let kind = object["object"].as_str().unwrap_or(name);
        for t in [format!("{kind}.updated"), format!("{kind}.deleted")] {
            compare(name, &t, object, None);
            let prev = serde_json::json!({"customer": "cus_prev"});
            compare(name, &t, object, Some(&prev));
        }
    }
}

#[test]
fn odd_shapes_project_as_before() {
    use serde_json::json;
    let odd = [
        json!({"id": "sub_1", "object": "subscription", "customer": {"id": "cus_1", "object": "customer"},
               "status": 3, "items": {"data": [1, {"price": "p"}, {"plan": {"id": "pl", "product": {"id": "prod"}}, "quantity": 2.5}]},
               "plan": "x", "pause_collection": {"behavior": "void", "resumes_at": 5}, "metadata": {"a": 1, "b": [1], "c": {"d": null}, "user_id": "u"}}),
        json!({"id": "cus_1", "object": "customer", "deleted": true}),
        json!({"id": "cus_1", "object": "customer", "email": null, "metadata": {"user_id": 7}}),
        json!({"customer": "cus_2", "id": "in_1", "status": "open", "attempt_count": 99, "object": "invoice",
               "parent": {"subscription_details": {"subscription": {"id": "sub_9"}}}}),
        json!({"id": "", "object": "invoice"}),
        json!({"object": "invoice", "id": 5}),
        json!({"id": "in_2", "object": "invoice", "attempt_count": -1, "status": "open"}),
        json!({"id": "in_3", "object": "invoice", "attempt_count": 18_446_744_073_709_551_615u64, "status": "open"}),
        json!({"id": "pm_1", "object": "payment_method", "card": "no", "type": "card"}),
        json!({"id": "txi_1", "object": "tax_id", "owner": {"customer": {"id": "cus_3"}}, "verification": {"status": "verified"}}),
        json!({"id": "di_1", "object": "discount", "coupon": {"id": "co_1"}, "source": {"coupon": null}}),
        json!({"id": "sub_sched_1", "object": "subscription_schedule", "customer": "cus_1", "phases": [1, 2, 3], "current_phase": {"end_date": 9}}),
        json!({"id": "x", "object": "widget"}),
        json!({"id": "x"}),
        json!([1, 2]),
        json!("sub_1"),
    ];
    for o in &odd {
        for t in ["thing.updated", "thing.deleted", "customer.deleted"] {
            compare("odd", t, o, None);
        }
    }
}
