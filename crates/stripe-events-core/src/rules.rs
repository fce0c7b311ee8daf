//! EventBridge event-pattern matching over the rule files Terraform deploys
//! (`infra/rules/*.json`), so tests and the operator CLI route events exactly as AWS would.
//!
//! Implemented operators: exact values, `prefix`, `suffix`, `anything-but` (value, list or
//! `{prefix}`), `exists`, `equals-ignore-case`. Any other operator is an error, never a
//! silent mismatch.

use std::path::Path;

use serde_json::{Map, Value};
use thiserror::Error;

use crate::family::Family;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum RuleError {
    #[error("pattern operator `{0}` is not implemented by this evaluator")]
    UnsupportedOperator(String),
    #[error("invalid pattern: {0}")]
    InvalidPattern(String),
    #[error("cannot read rule file {path}: {detail}")]
    Io { path: String, detail: String },
}

/// Which bus a rule lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleSource {
    Webhook,
    Partner,
}

impl RuleSource {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleSource::Webhook => "webhook",
            RuleSource::Partner => "partner",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    /// `webhook-subscription`, `partner-payment`, …
    pub name: String,
    pub source: RuleSource,
    pub family: Family,
    pub pattern: Value,
}

impl Rule {
    pub fn matches(&self, event: &Value) -> Result<bool, RuleError> {
        matches_pattern(&self.pattern, event)
    }
}

#[derive(Debug, Clone)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
}

/// The rule files as deployed, compiled in so the CLI routes the same way anywhere.
const DEPLOYED: [(&str, &str); 5] = [
    (
        "source-webhook.json",
        include_str!("../../../infra/rules/source-webhook.json"),
    ),
    (
        "source-partner.json",
        include_str!("../../../infra/rules/source-partner.json"),
    ),
    (
        "subscription.json",
        include_str!("../../../infra/rules/subscription.json"),
    ),
    (
        "payment.json",
        include_str!("../../../infra/rules/payment.json"),
    ),
    (
        "customer.json",
        include_str!("../../../infra/rules/customer.json"),
    ),
];

impl RuleSet {
    /// The rules built from the files compiled into this binary.
    pub fn deployed() -> Result<RuleSet, RuleError> {
        RuleSet::build(|name| {
            DEPLOYED
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, text)| (*text).to_owned())
                .ok_or_else(|| RuleError::Io {
                    path: name.to_owned(),
                    detail: "not compiled in".to_owned(),
                })
        })
    }

    /// The rules built from a directory of rule files (`infra/rules`).
    pub fn load(dir: &Path) -> Result<RuleSet, RuleError> {
        RuleSet::build(|name| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|e| RuleError::Io {
                path: path.display().to_string(),
                detail: e.to_string(),
            })
        })
    }

    /// Terraform builds each pattern as `merge(source file, family file)`: a shallow merge of
    /// top-level keys. This does the same.
    fn build(read: impl Fn(&str) -> Result<String, RuleError>) -> Result<RuleSet, RuleError> {
        let parse = |name: &str| -> Result<Map<String, Value>, RuleError> {
            match serde_json::from_str(&read(name)?) {
                Ok(Value::Object(m)) => Ok(m),
                Ok(_) => Err(RuleError::InvalidPattern(format!("{name}: not an object"))),
                Err(e) => Err(RuleError::InvalidPattern(format!("{name}: {e}"))),
            }
        };
        let mut rules = Vec::new();
        for source in [RuleSource::Webhook, RuleSource::Partner] {
            let source_pattern = parse(&format!("source-{}.json", source.as_str()))?;
            for family in Family::CONSUMERS {
                let mut pattern = source_pattern.clone();
                pattern.extend(parse(&format!("{}.json", family.as_str()))?);
                rules.push(Rule {
                    name: format!("{}-{}", source.as_str(), family.as_str()),
                    source,
                    family,
                    pattern: Value::Object(pattern),
                });
            }
        }
        Ok(RuleSet { rules })
    }

    /// The rules an EventBridge event matches.
    pub fn matching(&self, event: &Value) -> Result<Vec<&Rule>, RuleError> {
        let mut out = Vec::new();
        for rule in &self.rules {
            if rule.matches(event)? {
                out.push(rule);
            }
        }
        Ok(out)
    }
}

/// Evaluates one EventBridge event pattern against one event.
pub fn matches_pattern(pattern: &Value, event: &Value) -> Result<bool, RuleError> {
    let Value::Object(pattern) = pattern else {
        return Err(RuleError::InvalidPattern(
            "a pattern must be a JSON object".into(),
        ));
    };
    for (key, expected) in pattern {
        let actual = event.as_object().and_then(|o| o.get(key));
        let ok = match expected {
            Value::Object(_) => match actual {
                Some(inner @ Value::Object(_)) => matches_pattern(expected, inner)?,
                _ => {
                    // Still validate the nested operators so a typo is not silently skipped.
                    matches_pattern(expected, &Value::Object(Map::new()))?;
                    false
                }
            },
            Value::Array(matchers) => field_matches(matchers, actual)?,
            _ => {
                return Err(RuleError::InvalidPattern(format!(
                    "`{key}`: leaf values must be arrays"
                )))
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

fn field_matches(matchers: &[Value], actual: Option<&Value>) -> Result<bool, RuleError> {
    let values: Vec<&Value> = match actual {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v) => vec![v],
    };
    let mut any = false;
    for m in matchers {
        // Evaluate every matcher (not short-circuit) so unsupported operators always surface.
        if matcher_matches(m, &values, actual.is_some())? {
            any = true;
        }
    }
    Ok(any)
}

fn matcher_matches(m: &Value, values: &[&Value], present: bool) -> Result<bool, RuleError> {
    let Value::Object(op) = m else {
        return Ok(values.contains(&m));
    };
    if op.len() != 1 {
        return Err(RuleError::InvalidPattern(format!(
            "an operator object has exactly one key: {m}"
        )));
    }
    let Some((name, arg)) = op.iter().next() else {
        return Err(RuleError::InvalidPattern("empty operator".into()));
    };
    let strings = || values.iter().filter_map(|v| v.as_str());
    match name.as_str() {
        "prefix" => {
            let p = string_arg(name, arg)?;
            Ok(strings().any(|s| s.starts_with(p)))
        }
        "suffix" => {
            let p = string_arg(name, arg)?;
            Ok(strings().any(|s| s.ends_with(p)))
        }
        "equals-ignore-case" => {
            let p = string_arg(name, arg)?;
            Ok(strings().any(|s| s.eq_ignore_ascii_case(p)))
        }
        "exists" => match arg {
            Value::Bool(want) => Ok(*want == present),
            _ => Err(RuleError::InvalidPattern("`exists` takes a boolean".into())),
        },
        "anything-but" => {
            if !present {
                return Ok(false);
            }
            let excluded = |v: &Value| -> Result<bool, RuleError> {
                match arg {
                    Value::Array(list) => Ok(list.contains(v)),
                    Value::Object(inner) => match inner.get("prefix") {
                        Some(Value::String(p)) if inner.len() == 1 => {
                            Ok(v.as_str().is_some_and(|s| s.starts_with(p.as_str())))
                        }
                        _ => Err(RuleError::UnsupportedOperator(format!(
                            "anything-but {arg}"
                        ))),
                    },
                    scalar => Ok(v == scalar),
                }
            };
            let mut any = false;
            for v in values {
                if !excluded(v)? {
                    any = true;
                }
            }
            Ok(any)
        }
        other => Err(RuleError::UnsupportedOperator(other.to_owned())),
    }
}

fn string_arg<'a>(op: &str, arg: &'a Value) -> Result<&'a str, RuleError> {
    arg.as_str()
        .ok_or_else(|| RuleError::InvalidPattern(format!("`{op}` takes a string")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operators_follow_eventbridge_semantics() {
        let ev = json!({"source": "stripe.webhook", "detail": {"type": "invoice.paid", "tags": ["a", "b"]}});
        let yes = |p: Value| matches_pattern(&p, &ev).unwrap();
        assert!(yes(json!({"source": ["stripe.webhook"]})));
        assert!(!yes(json!({"source": ["stripe"]})));
        assert!(yes(json!({"detail": {"type": [{"prefix": "invoice."}]}})));
        assert!(!yes(
            json!({"detail": {"type": [{"prefix": "invoice_payment."}]}})
        ));
        assert!(yes(json!({"detail": {"type": [{"suffix": ".paid"}]}})));
        assert!(yes(
            json!({"detail": {"type": [{"anything-but": "charge.succeeded"}]}})
        ));
        assert!(!yes(
            json!({"detail": {"type": [{"anything-but": ["invoice.paid"]}]}})
        ));
        assert!(!yes(
            json!({"detail": {"type": [{"anything-but": {"prefix": "invoice."}}]}})
        ));
        assert!(!yes(
            json!({"detail": {"missing": [{"anything-but": "x"}]}})
        ));
        assert!(yes(json!({"detail": {"missing": [{"exists": false}]}})));
        assert!(!yes(json!({"detail": {"type": [{"exists": false}]}})));
        assert!(yes(json!({"detail": {"tags": ["b"]}})));
        assert!(!yes(json!({"detail": {"nested": {"x": ["y"]}}})));
        assert_eq!(
            matches_pattern(&json!({"detail": {"amount": [{"numeric": [">", 0]}]}}), &ev),
            Err(RuleError::UnsupportedOperator("numeric".into()))
        );
        assert!(matches_pattern(&json!({"source": "stripe.webhook"}), &ev).is_err());
    }

    #[test]
    fn deployed_files_equal_the_files_on_disk() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/rules");
        let on_disk = RuleSet::load(&dir).unwrap();
        let compiled = RuleSet::deployed().unwrap();
        assert_eq!(on_disk.rules.len(), 6);
        for (a, b) in on_disk.rules.iter().zip(&compiled.rules) {
            assert_eq!(a.name, b.name);
            assert_eq!(a.pattern, b.pattern);
        }
    }
}
