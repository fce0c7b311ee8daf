//! The Stripe calls of `setup`, `ping` and `migrate`: v2 event destinations (JSON bodies) and
//! v1 webhook endpoints (form bodies). One request per call, no retries: these are operator
//! commands, re-run on failure.

use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Map, Value};
use thiserror::Error;

/// `Stripe-Version` sent on v2 calls (v2 requires one): the version of the pinned SDK the
/// local fake is checked with (`infra/local/test_fake_stripe_admin.py`).
pub const V2_API_VERSION: &str = "2026-10-28.endive";
const DEFAULT_API_BASE: &str = "https://api.stripe.com";
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
const TIMEOUT: Duration = Duration::from_secs(30);
/// Guards against a list that never ends.
const MAX_PAGES: usize = 100;

#[derive(Debug, Error)]
pub enum AdminError {
    #[error("Stripe {method} {path} answered {status}: {message}")]
    Api {
        method: String,
        path: String,
        status: u16,
        code: Option<String>,
        message: String,
    },
    #[error("Stripe {method} {path}: {detail} (check STRIPE_ADMIN_API_BASE / STRIPE_API_BASE and the network)")]
    Transport {
        method: String,
        path: String,
        detail: String,
    },
    #[error("Stripe {method} {path}: unexpected answer ({detail})")]
    Decode {
        method: String,
        path: String,
        detail: String,
    },
    #[error("no Stripe API key: set STRIPE_API_KEY or STRIPE_API_KEY_SECRET_ARN")]
    MissingKey,
    #[error("Stripe API key from {arn}: {detail} (check the secret and your AWS credentials)")]
    Secret { arn: String, detail: String },
    #[error("invalid Stripe API base {0:?}: expected http(s)://host[:port]")]
    BadBase(String),
    #[error("the Stripe API key is empty or has whitespace or non-ASCII characters: check STRIPE_API_KEY or the secret")]
    BadKey,
    #[error("TLS setup failed: {0}")]
    Tls(String),
}

impl AdminError {
    /// Worth asking again: no answer, a 429 or a 5xx. Not a 4xx (a bad key, a missing
    /// permission or object), which waiting does not cure.
    pub fn is_transient(&self) -> bool {
        match self {
            AdminError::Transport { .. } => true,
            AdminError::Api { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

#[derive(Clone)]
pub struct StripeAdmin {
    base: String,
    auth: HeaderValue,
    http: HttpClient,
}

impl std::fmt::Debug for StripeAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeAdmin")
            .field("base", &self.base)
            .finish()
    }
}

/// `a[b][]=c` form encoding (percent-encoding everything but unreserved characters).
pub fn form_encode(pairs: &[(String, String)]) -> String {
    fn enc(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl StripeAdmin {
    pub fn new(base: &str, key: &str) -> Result<StripeAdmin, AdminError> {
        let base = base.trim().trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(AdminError::BadBase(base));
        }
        let mut auth = HeaderValue::try_from(format!("Bearer {}", key.trim()))
            .map_err(|_| AdminError::BadKey)?;
        auth.set_sensitive(true);
        let mut connector = HttpConnector::new();
        connector.enforce_http(false);
        connector.set_connect_timeout(Some(Duration::from_secs(10)));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|e| AdminError::Tls(e.to_string()))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let http = Client::builder(TokioExecutor::new()).build(https);
        Ok(StripeAdmin { base, auth, http })
    }

    /// `STRIPE_ADMIN_API_BASE` (local fakes), else `STRIPE_API_BASE`, else api.stripe.com; the
    /// key as the consumers and the CLI's own hydrator read it: the Secrets Manager secret
    /// `STRIPE_API_KEY_SECRET_ARN` (bare key or JSON `{"api_key": …}`, [`stripe_events_stripe::key_in_secret`])
    /// when set, else `STRIPE_API_KEY`.
    pub async fn from_env(aws: &aws_config::SdkConfig) -> Result<StripeAdmin, AdminError> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let base = var("STRIPE_ADMIN_API_BASE")
            .or_else(|| var("STRIPE_API_BASE"))
            .unwrap_or_else(|| DEFAULT_API_BASE.to_owned());
        let key = if let Some(arn) = var(stripe_events_stripe::ENV_API_KEY_SECRET_ARN) {
            let arn = arn.trim().to_owned();
            let secret_err = |detail: String| AdminError::Secret {
                arn: arn.clone(),
                detail,
            };
            let out = aws_sdk_secretsmanager::Client::new(aws)
                .get_secret_value()
                .secret_id(&arn)
                .send()
                .await
                .map_err(|e| {
                    secret_err(crate::explain::sdk_error_in(
                        "Secrets Manager",
                        crate::explain::endpoint_from_env("AWS_ENDPOINT_URL"),
                        "GetSecretValue",
                        &e,
                    ))
                })?;
            let raw = out
                .secret_string()
                .ok_or_else(|| secret_err("the secret has no SecretString".into()))?;
            stripe_events_stripe::key_in_secret(raw).map_err(|e| secret_err(e.to_owned()))?
        } else if let Some(key) = var(stripe_events_stripe::ENV_API_KEY) {
            key
        } else {
            return Err(AdminError::MissingKey);
        };
        // The consumers' check of the key's form (non-empty, visible ASCII).
        stripe_events_stripe::ApiKey::new(key.as_str()).map_err(|_| AdminError::BadKey)?;
        StripeAdmin::new(&base, &key)
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<(&'static str, Vec<u8>)>,
        v2: bool,
    ) -> Result<Value, AdminError> {
        let m = method.to_string();
        let transport = |detail: String| AdminError::Transport {
            method: m.clone(),
            path: path.to_owned(),
            detail,
        };
        let mut req = Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", self.base))
            .header(AUTHORIZATION, self.auth.clone());
        if v2 {
            req = req.header("stripe-version", V2_API_VERSION);
        }
        let bytes = match body {
            Some((ctype, bytes)) => {
                req = req.header(CONTENT_TYPE, ctype);
                bytes
            }
            None => Vec::new(),
        };
        let req = req
            .body(Full::new(Bytes::from(bytes)))
            .map_err(|e| transport(e.to_string()))?;
        let response = tokio::time::timeout(TIMEOUT, self.http.request(req))
            .await
            .map_err(|_| transport(format!("no answer within {}s", TIMEOUT.as_secs())))?
            .map_err(|e| transport(e.to_string()))?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|e| transport(e.to_string()))?
            .to_bytes();
        let value: Value = serde_json::from_slice(&body).map_err(|e| AdminError::Decode {
            method: m.clone(),
            path: path.to_owned(),
            detail: format!("status {status}, not JSON: {e}"),
        })?;
        if !(200..300).contains(&status) {
            let err = value.get("error");
            let text = |k: &str| {
                err.and_then(|e| e.get(k))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            return Err(AdminError::Api {
                method: m,
                path: path.to_owned(),
                status,
                code: text("code"),
                message: text("message").unwrap_or_else(|| "no error message".into()),
            });
        }
        Ok(value)
    }

    pub async fn v2_get(&self, path: &str) -> Result<Value, AdminError> {
        self.send(Method::GET, path, None, true).await
    }

    pub async fn v2_post(&self, path: &str, body: &Value) -> Result<Value, AdminError> {
        let bytes = serde_json::to_vec(body).map_err(|e| AdminError::Decode {
            method: "POST".into(),
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
        self.send(Method::POST, path, Some(("application/json", bytes)), true)
            .await
    }

    pub async fn v1_get(&self, path: &str) -> Result<Value, AdminError> {
        self.send(Method::GET, path, None, false).await
    }

    pub async fn v1_post(
        &self,
        path: &str,
        form: &[(String, String)],
    ) -> Result<Value, AdminError> {
        let body = form_encode(form).into_bytes();
        self.send(
            Method::POST,
            path,
            Some(("application/x-www-form-urlencoded", body)),
            false,
        )
        .await
    }

    fn decode_err(path: &str, detail: impl Into<String>) -> AdminError {
        AdminError::Decode {
            method: "GET".into(),
            path: path.to_owned(),
            detail: detail.into(),
        }
    }

    /// Every event destination (`GET /v2/core/event_destinations`, following `next_page_url`).
    pub async fn list_destinations(&self) -> Result<Vec<Value>, AdminError> {
        let mut out = Vec::new();
        let mut path = "/v2/core/event_destinations?limit=100".to_owned();
        for _ in 0..MAX_PAGES {
            let page = self.v2_get(&path).await?;
            let data = page
                .get("data")
                .and_then(Value::as_array)
                .ok_or_else(|| Self::decode_err(&path, "no `data` list"))?;
            out.extend(data.iter().cloned());
            match page.get("next_page_url").and_then(Value::as_str) {
                Some(next) if !next.is_empty() => path = next.to_owned(),
                _ => return Ok(out),
            }
        }
        Err(Self::decode_err(&path, "more than 100 pages"))
    }

    pub async fn create_destination(&self, body: &Value) -> Result<Value, AdminError> {
        self.v2_post("/v2/core/event_destinations", body).await
    }

    pub async fn retrieve_destination(&self, id: &str) -> Result<Value, AdminError> {
        self.v2_get(&format!("/v2/core/event_destinations/{id}"))
            .await
    }

    /// `POST /v2/core/event_destinations/{id}/ping`: the ping event (a v2 thin event).
    pub async fn ping_destination(&self, id: &str) -> Result<Value, AdminError> {
        self.v2_post(
            &format!("/v2/core/event_destinations/{id}/ping"),
            &Value::Object(Map::new()),
        )
        .await
    }

    /// Every webhook endpoint (`GET /v1/webhook_endpoints`, following `starting_after`).
    pub async fn list_webhook_endpoints(&self) -> Result<Vec<Value>, AdminError> {
        let mut out: Vec<Value> = Vec::new();
        let mut path = "/v1/webhook_endpoints?limit=100".to_owned();
        for _ in 0..MAX_PAGES {
            let page = self.v1_get(&path).await?;
            let data = page
                .get("data")
                .and_then(Value::as_array)
                .ok_or_else(|| Self::decode_err(&path, "no `data` list"))?;
            out.extend(data.iter().cloned());
            let last = data
                .last()
                .and_then(|d| d.get("id"))
                .and_then(Value::as_str);
            match (page.get("has_more").and_then(Value::as_bool), last) {
                (Some(true), Some(last)) => {
                    path = format!("/v1/webhook_endpoints?limit=100&starting_after={last}")
                }
                _ => return Ok(out),
            }
        }
        Err(Self::decode_err(&path, "more than 100 pages"))
    }

    /// `POST /v1/webhook_endpoints/{id}` with `enabled_events[]`.
    pub async fn set_webhook_events(
        &self,
        id: &str,
        events: &[String],
    ) -> Result<Value, AdminError> {
        let form: Vec<(String, String)> = events
            .iter()
            .map(|t| ("enabled_events[]".to_owned(), t.clone()))
            .collect();
        self.v1_post(&format!("/v1/webhook_endpoints/{id}"), &form)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_escapes_brackets_and_keeps_dots() {
        let f = form_encode(&[("enabled_events[]".into(), "invoice.paid".into())]);
        assert_eq!(f, "enabled_events%5B%5D=invoice.paid");
    }

    #[test]
    fn bases_must_be_http_urls() {
        assert!(matches!(
            StripeAdmin::new("api.stripe.com", "sk_test_x"),
            Err(AdminError::BadBase(_))
        ));
        assert!(StripeAdmin::new("http://127.0.0.1:1/", "sk_test_x").is_ok());
    }
}
