//! Reads the numeric `default` of Terraform variables from `infra/variables.tf`, so the
//! model runs on the numbers Terraform deploys. A deliberately small reader: it tracks
//! `variable "name" {` blocks and brace depth (skipping quoted strings and comments) and takes
//! `default = <number>` lines at the block's top level. Anything else (maps, strings, nested
//! blocks) is ignored.

use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug)]
pub enum TfError {
    Read { path: String, error: std::io::Error },
    Missing { path: String, name: String },
}

impl std::fmt::Display for TfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TfError::Read { path, error } => write!(f, "cannot read {path}: {error}"),
            TfError::Missing { path, name } => {
                write!(f, "{path}: no numeric default for variable \"{name}\"")
            }
        }
    }
}

impl std::error::Error for TfError {}

/// Numeric defaults by variable name.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    pub path: String,
    pub values: BTreeMap<String, f64>,
}

impl Defaults {
    pub fn read(path: &Path) -> Result<Self, TfError> {
        let text = std::fs::read_to_string(path).map_err(|error| TfError::Read {
            path: path.display().to_string(),
            error,
        })?;
        Ok(Defaults {
            path: path.display().to_string(),
            values: parse(&text),
        })
    }

    pub fn get(&self, name: &str) -> Result<f64, TfError> {
        self.values
            .get(name)
            .copied()
            .ok_or_else(|| TfError::Missing {
                path: self.path.clone(),
                name: name.to_owned(),
            })
    }
}

/// `name -> default` for every variable whose default is a number.
pub fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let mut depth: i32 = 0;
    let mut current: Option<String> = None;
    let mut in_block_comment = false;
    for raw in text.lines() {
        let line = raw.trim();
        if depth == 0 && !in_block_comment {
            if let Some(rest) = line.strip_prefix("variable") {
                let name = rest.trim().trim_start_matches('"');
                if let Some(end) = name.find('"') {
                    current = Some(name[..end].to_owned());
                }
            }
        }
        if depth == 1 && !in_block_comment {
            if let (Some(name), Some(value)) = (&current, line.strip_prefix("default")) {
                if let Some(value) = value.trim_start().strip_prefix('=') {
                    let value = strip_comment(value).trim();
                    if let Ok(v) = value.parse::<f64>() {
                        out.insert(name.clone(), v);
                    }
                }
            }
        }
        depth += brace_delta(raw, &mut in_block_comment);
        if depth <= 0 {
            depth = 0;
            if !line.is_empty() && line.contains('}') {
                current = None;
            }
        }
    }
    out
}

fn strip_comment(s: &str) -> &str {
    let cut = [s.find('#'), s.find("//")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(s.len());
    &s[..cut]
}

/// Net `{` minus `}` outside strings and comments.
fn brace_delta(line: &str, in_block_comment: &mut bool) -> i32 {
    let bytes = line.as_bytes();
    let mut delta = 0;
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        let next = bytes.get(i + 1).copied();
        if *in_block_comment {
            if b == b'*' && next == Some(b'/') {
                *in_block_comment = false;
                i += 1;
            }
        } else if in_string {
            if b == b'\\' {
                i += 1;
            } else if b == b'"' {
                in_string = false;
            }
        } else {
            match (b, next) {
                (b'"', _) => in_string = true,
                (b'#', _) | (b'/', Some(b'/')) => break,
                (b'/', Some(b'*')) => {
                    *in_block_comment = true;
                    i += 1;
                }
                (b'{', _) => delta += 1,
                (b'}', _) => delta -= 1,
                _ => {}
            }
        }
        i += 1;
    }
    delta
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_numbers_and_skips_the_rest() {
        let text = r#"
variable "a" {
  description = "braces in a string { { and a default = 7 that is not one"
  type        = number
  default     = 25
}

variable "b" {
  type    = map(number)
  default = {}
}

variable "c" {
  default = 0.75 # a comment
  validation {
    condition     = var.c > 0
    error_message = "x"
  }
}

variable "d" {
  description = "curl -w '%%{time_total}'"
  default     = 200
}
"#;
        let d = parse(text);
        assert_eq!(d.get("a"), Some(&25.0));
        assert_eq!(d.get("b"), None);
        assert_eq!(d.get("c"), Some(&0.75));
        assert_eq!(d.get("d"), Some(&200.0));
    }
}
