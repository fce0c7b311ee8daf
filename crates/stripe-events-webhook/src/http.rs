//! The HTTP side: a Lambda Function URL / API Gateway HTTP API (payload 2.0) request read as
//! JSON (`headers` with lowercase keys, `body`, `isBase64Encoded`), and the response.
//!
//! The request is taken as a `serde_json::Value` so no input shape can make the runtime fail
//! before the handler answers; header names are still matched case-insensitively.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum BodyError {
    #[error("isBase64Encoded is true but the body is not valid base64")]
    InvalidBase64,
    #[error("`body` is neither a string nor absent")]
    NotAString,
}

/// A header value by name (case-insensitive). API Gateway joins repeated headers with
/// commas; a value that is not a string counts as absent.
pub fn header<'a>(request: &'a Value, name: &str) -> Option<&'a str> {
    let headers = request.get("headers")?.as_object()?;
    if let Some(v) = headers.get(name) {
        return v.as_str();
    }
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
}

/// The HTTP method: payload 2.0 `requestContext.http.method`, or REST's `httpMethod`.
pub fn method(request: &Value) -> Option<&str> {
    request
        .pointer("/requestContext/http/method")
        .or_else(|| request.get("httpMethod"))
        .and_then(Value::as_str)
}

/// The request path: payload 2.0 `rawPath` (or `requestContext.http.path`), or REST's `path`.
pub fn path(request: &Value) -> Option<&str> {
    request
        .get("rawPath")
        .or_else(|| request.pointer("/requestContext/http/path"))
        .or_else(|| request.get("path"))
        .and_then(Value::as_str)
}

/// Why a request is not for the webhook route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RouteError {
    #[error("no such route")]
    NotFound,
    #[error("only POST is allowed on the webhook route")]
    MethodNotAllowed,
}

/// Only `POST` on `route` (e.g. `/stripe/webhook`). A named API Gateway stage prefixes the
/// path with `/{stage}`; the `$default` stage does not.
pub fn check_route(request: &Value, route: &str) -> Result<(), RouteError> {
    let path = path(request).unwrap_or_default();
    let staged = request
        .pointer("/requestContext/stage")
        .and_then(Value::as_str)
        .filter(|stage| *stage != "$default")
        .and_then(|stage| path.strip_prefix('/')?.strip_prefix(stage));
    if path != route && staged != Some(route) {
        return Err(RouteError::NotFound);
    }
    match method(request) {
        Some(m) if m.eq_ignore_ascii_case("POST") => Ok(()),
        _ => Err(RouteError::MethodNotAllowed),
    }
}

/// The raw body bytes, exactly as sent: base64-decoded when `isBase64Encoded` is true. An
/// absent or null body is empty.
pub fn raw_body(request: &Value) -> Result<Vec<u8>, BodyError> {
    let body = match request.get("body") {
        None | Some(Value::Null) => "",
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(BodyError::NotAString),
    };
    let encoded = matches!(request.get("isBase64Encoded"), Some(Value::Bool(true)));
    if encoded {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| BodyError::InvalidBase64)
    } else {
        Ok(body.as_bytes().to_vec())
    }
}

/// A Function URL / HTTP API response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpResponse {
    #[serde(rename = "statusCode")]
    pub status_code: u16,
    pub headers: BTreeMap<&'static str, &'static str>,
    pub body: String,
    #[serde(rename = "isBase64Encoded")]
    pub is_base64_encoded: bool,
}

impl HttpResponse {
    /// A JSON response with a fixed body: nothing request-specific is ever echoed back.
    pub fn json(status_code: u16, body: &'static str) -> Self {
        HttpResponse {
            status_code,
            headers: BTreeMap::from([("content-type", "application/json")]),
            body: body.to_owned(),
            is_base64_encoded: false,
        }
    }

    pub fn accepted() -> Self {
        HttpResponse::json(200, r#"{"received":true}"#)
    }

    pub fn invalid_signature() -> Self {
        HttpResponse::json(400, r#"{"error":"invalid signature"}"#)
    }

    pub fn invalid_payload() -> Self {
        HttpResponse::json(400, r#"{"error":"invalid payload"}"#)
    }

    pub fn internal_error() -> Self {
        HttpResponse::json(500, r#"{"error":"internal error"}"#)
    }

    pub fn not_found() -> Self {
        HttpResponse::json(404, r#"{"error":"not found"}"#)
    }

    pub fn method_not_allowed() -> Self {
        let mut r = HttpResponse::json(405, r#"{"error":"method not allowed"}"#);
        r.headers.insert("allow", "POST");
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_headers_case_insensitively() {
        let r = json!({"headers": {"Stripe-Signature": "t=1", "content-type": "x"}});
        assert_eq!(header(&r, "stripe-signature"), Some("t=1"));
        assert_eq!(header(&r, "content-type"), Some("x"));
        assert_eq!(
            header(
                &json!({"headers": {"stripe-signature": 5}}),
                "stripe-signature"
            ),
            None
        );
        assert_eq!(header(&json!({}), "stripe-signature"), None);
    }

    #[test]
    fn reads_bodies() {
        assert_eq!(raw_body(&json!({"body": "{}"})).unwrap(), b"{}");
        assert_eq!(raw_body(&json!({})).unwrap(), b"");
        assert_eq!(
            raw_body(&json!({"body": "e30=", "isBase64Encoded": true})).unwrap(),
            b"{}"
        );
        // Only a JSON `true` means encoded.
        assert_eq!(
            raw_body(&json!({"body": "e30=", "isBase64Encoded": "true"})).unwrap(),
            b"e30="
        );
        assert_eq!(
            raw_body(&json!({"body": "not base64!", "isBase64Encoded": true})),
            Err(BodyError::InvalidBase64)
        );
        assert_eq!(raw_body(&json!({"body": 5})), Err(BodyError::NotAString));
    }

    #[test]
    fn only_post_on_the_route() {
        let req = |method: &str, path: &str| json!({"rawPath": path, "requestContext": {"http": {"method": method, "path": path}}});
        let route = "/stripe/webhook";
        assert_eq!(check_route(&req("POST", route), route), Ok(()));
        assert_eq!(check_route(&req("post", route), route), Ok(()));
        for method in ["GET", "PUT", "DELETE", "OPTIONS", "HEAD"] {
            assert_eq!(
                check_route(&req(method, route), route),
                Err(RouteError::MethodNotAllowed),
                "{method}"
            );
        }
        for path in [
            "/anything/else",
            "/stripe/webhook/",
            "/stripe",
            "",
            "/stripe/webhookx",
        ] {
            assert_eq!(
                check_route(&req("POST", path), route),
                Err(RouteError::NotFound),
                "{path}"
            );
        }
        assert_eq!(
            check_route(&json!({"headers": {}}), route),
            Err(RouteError::NotFound)
        );
        let staged = json!({"rawPath": "/prod/stripe/webhook",
            "requestContext": {"stage": "prod", "http": {"method": "POST"}}});
        assert_eq!(check_route(&staged, route), Ok(()));
        let rest = json!({"path": route, "httpMethod": "POST"});
        assert_eq!(check_route(&rest, route), Ok(()));
    }

    #[test]
    fn response_serialises_as_a_function_url_response() {
        let v = serde_json::to_value(HttpResponse::invalid_signature()).unwrap();
        assert_eq!(
            v,
            json!({"statusCode": 400, "headers": {"content-type": "application/json"},
                   "body": "{\"error\":\"invalid signature\"}", "isBase64Encoded": false})
        );
    }
}
