//! JSON ↔ DynamoDB attribute values, so projections stay plain JSON.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Number, Value};
use stripe_events_core::project::Attr;

/// A projected attribute as DynamoDB's: built straight from the typed projection.
pub fn attr_value(a: &Attr<'_>) -> AttributeValue {
    match a {
        Attr::Null => AttributeValue::Null(true),
        Attr::Bool(b) => AttributeValue::Bool(*b),
        Attr::Int(v) => n(*v),
        Attr::Number(n) => AttributeValue::N(n.to_string()),
        Attr::Str(s) => AttributeValue::S(s.as_ref().to_owned()),
        Attr::List(items) => AttributeValue::L(items.iter().map(attr_value).collect()),
        Attr::Map(entries) => AttributeValue::M(
            entries
                .iter()
                .map(|(k, v)| (k.as_ref().to_owned(), attr_value(v)))
                .collect(),
        ),
        // Never stored: `record::state_updates` turns it into a REMOVE.
        Attr::Removed => AttributeValue::Null(true),
    }
}

pub fn to_attr(v: &Value) -> AttributeValue {
    match v {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(to_attr).collect()),
        Value::Object(m) => {
            AttributeValue::M(m.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect())
        }
    }
}

pub fn from_attr(a: &AttributeValue) -> Value {
    match a {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::N(n) => parse_number(n),
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::L(items) => Value::Array(items.iter().map(from_attr).collect()),
        AttributeValue::M(m) => Value::Object(item_to_json(m)),
        AttributeValue::Ss(ss) => Value::Array(ss.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(ns) => Value::Array(ns.iter().map(|n| parse_number(n)).collect()),
        _ => Value::Null,
    }
}

pub fn item_to_json(item: &HashMap<String, AttributeValue>) -> Map<String, Value> {
    item.iter()
        .map(|(k, v)| (k.clone(), from_attr(v)))
        .collect()
}

fn parse_number(n: &str) -> Value {
    if let Ok(i) = n.parse::<i64>() {
        return Value::Number(i.into());
    }
    n.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
        .unwrap_or_else(|| Value::String(n.to_owned()))
}

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A DynamoDB number from an integer (`itoa`: a fifth of `to_string`'s instructions, and
/// a dozen are written per event).
pub fn n(v: i64) -> AttributeValue {
    AttributeValue::N(itoa::Buffer::new().format(v).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_projection_shapes() {
        let v = json!({"a": null, "b": true, "c": 12, "d": -1.5, "e": "x", "f": [1, {"g": "h"}]});
        assert_eq!(from_attr(&to_attr(&v)), v);
    }
}
