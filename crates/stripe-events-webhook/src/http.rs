//! The HTTP side: an API Gateway HTTP API request in payload format 2.0 (`infra/webhook.tf`),
//! read as [`ApiGatewayV2httpRequest`], and the [`ApiGatewayV2httpResponse`] it is answered with.
//!
//! - method: `requestContext.http.method`;
//! - path: `rawPath`, else `requestContext.http.path`;
//! - stage: `requestContext.stage`;
//! - headers: an `http::HeaderMap` (names matched case-insensitively);
//! - body: `body` and `isBase64Encoded`.
//!
//! Only payload 2.0 is read (a Lambda Function URL sends the same shape): the REST API
//! (payload 1.0) `httpMethod` / `path` fallback is gone, since the deployment is an HTTP API
//! with payload format 2.0 only. A payload that does not deserialize as an
//! [`ApiGatewayV2httpRequest`] (no `requestContext.http.method`, a `body` that is not a
//! string, a non-boolean `isBase64Encoded`, a header value that is not a string, ...) never
//! reaches the handler: `lambda_runtime` rejects it with an invocation error, which API
//! Gateway answers with a 500. API Gateway never sends such a payload, so it is not a Stripe
//! request.

use std::borrow::Cow;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::header::{ALLOW, CONTENT_TYPE};
use aws_lambda_events::http::HeaderValue;
use base64::Engine as _;
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum BodyError {
    #[error("isBase64Encoded is true but the body is not valid base64")]
    InvalidBase64,
}

/// A header value by name (case-insensitive). API Gateway joins repeated headers with commas
/// into one value; a header sent as several values counts by its first. A value that is not
/// UTF-8 counts as absent.
pub fn header<'a>(request: &'a ApiGatewayV2httpRequest, name: &str) -> Option<&'a str> {
    let value = request.headers.get(name)?;
    std::str::from_utf8(value.as_bytes()).ok()
}

/// The HTTP method, `requestContext.http.method`.
pub fn method(request: &ApiGatewayV2httpRequest) -> &str {
    request.request_context.http.method.as_str()
}

/// The request path: `rawPath`, else `requestContext.http.path`.
pub fn path(request: &ApiGatewayV2httpRequest) -> Option<&str> {
    request
        .raw_path
        .as_deref()
        .or(request.request_context.http.path.as_deref())
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
pub fn check_route(request: &ApiGatewayV2httpRequest, route: &str) -> Result<(), RouteError> {
    let path = path(request).unwrap_or_default();
    let staged = request
        .request_context
        .stage
        .as_deref()
        .filter(|stage| *stage != "$default")
        .and_then(|stage| path.strip_prefix('/')?.strip_prefix(stage));
    if path != route && staged != Some(route) {
        return Err(RouteError::NotFound);
    }
    if method(request).eq_ignore_ascii_case("POST") {
        Ok(())
    } else {
        Err(RouteError::MethodNotAllowed)
    }
}

/// The raw body bytes, exactly as sent: base64-decoded when `isBase64Encoded` is true. An
/// absent or null body is empty.
pub fn raw_body(request: &ApiGatewayV2httpRequest) -> Result<Cow<'_, [u8]>, BodyError> {
    let body = request.body.as_deref().unwrap_or_default();
    if request.is_base64_encoded {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map(Cow::Owned)
            .map_err(|_| BodyError::InvalidBase64)
    } else {
        Ok(Cow::Borrowed(body.as_bytes()))
    }
}

/// A JSON response with a fixed body: nothing request-specific is ever echoed back.
pub fn json_response(status_code: u16, body: &'static str) -> ApiGatewayV2httpResponse {
    // `#[non_exhaustive]`: built from its default, then filled in.
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = i64::from(status_code);
    response
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.body = Some(Body::Text(body.to_owned()));
    response.is_base64_encoded = false;
    response
}

pub fn accepted() -> ApiGatewayV2httpResponse {
    json_response(200, r#"{"received":true}"#)
}

pub fn invalid_signature() -> ApiGatewayV2httpResponse {
    json_response(400, r#"{"error":"invalid signature"}"#)
}

pub fn invalid_payload() -> ApiGatewayV2httpResponse {
    json_response(400, r#"{"error":"invalid payload"}"#)
}

pub fn internal_error() -> ApiGatewayV2httpResponse {
    json_response(500, r#"{"error":"internal error"}"#)
}

pub fn not_found() -> ApiGatewayV2httpResponse {
    json_response(404, r#"{"error":"not found"}"#)
}

pub fn method_not_allowed() -> ApiGatewayV2httpResponse {
    let mut r = json_response(405, r#"{"error":"method not allowed"}"#);
    r.headers.insert(ALLOW, HeaderValue::from_static("POST"));
    r
}

/// The response body's text (`None` when it has none or a binary one).
pub fn body_text(response: &ApiGatewayV2httpResponse) -> Option<&str> {
    match response.body.as_ref()? {
        Body::Text(text) => Some(text),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// A payload 2.0 request as API Gateway delivers it, with `fields` merged in at the top
    /// level and `context` into `requestContext`.
    fn request(fields: Value, context: Value) -> ApiGatewayV2httpRequest {
        let mut v = json!({
            "version": "2.0",
            "routeKey": "POST /stripe/webhook",
            "rawPath": "/stripe/webhook",
            "rawQueryString": "",
            "headers": {},
            "requestContext": {"stage": "$default",
                "http": {"method": "POST", "path": "/stripe/webhook"}},
            "isBase64Encoded": false,
        });
        for (k, x) in fields.as_object().into_iter().flatten() {
            v[k] = x.clone();
        }
        for (k, x) in context.as_object().into_iter().flatten() {
            v["requestContext"][k] = x.clone();
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn reads_headers_case_insensitively() {
        let r = request(
            json!({"headers": {"Stripe-Signature": "t=1", "content-type": "x"}}),
            json!({}),
        );
        assert_eq!(header(&r, "stripe-signature"), Some("t=1"));
        assert_eq!(header(&r, "Stripe-Signature"), Some("t=1"));
        assert_eq!(header(&r, "content-type"), Some("x"));
        assert_eq!(
            header(&request(json!({}), json!({})), "stripe-signature"),
            None
        );
        let no_headers = request(json!({"headers": null}), json!({}));
        assert_eq!(header(&no_headers, "stripe-signature"), None);
        // A header value that is not UTF-8 counts as absent.
        let mut r = request(json!({}), json!({}));
        r.headers.insert(
            "stripe-signature",
            HeaderValue::from_bytes(b"t=1,\xff").unwrap(),
        );
        assert_eq!(header(&r, "stripe-signature"), None);
    }

    #[test]
    fn reads_bodies() {
        let body = |fields: Value| raw_body(&request(fields, json!({}))).map(Cow::into_owned);
        assert_eq!(body(json!({"body": "{}"})).unwrap(), b"{}");
        assert_eq!(body(json!({})).unwrap(), b"");
        assert_eq!(body(json!({"body": null})).unwrap(), b"");
        assert_eq!(
            body(json!({"body": "e30=", "isBase64Encoded": true})).unwrap(),
            b"{}"
        );
        assert_eq!(
            body(json!({"body": "e30=", "isBase64Encoded": false})).unwrap(),
            b"e30="
        );
        assert_eq!(
            body(json!({"body": "not base64!", "isBase64Encoded": true})),
            Err(BodyError::InvalidBase64)
        );
        // The exact bytes: nothing trimmed or normalised.
        assert_eq!(
            body(json!({"body": " {\"a\":1}\r\n"})).unwrap(),
            b" {\"a\":1}\r\n"
        );
    }

    #[test]
    fn only_post_on_the_route() {
        let req = |method: &str, path: &str| {
            request(
                json!({"rawPath": path}),
                json!({"http": {"method": method, "path": path}}),
            )
        };
        let route = "/stripe/webhook";
        assert_eq!(check_route(&req("POST", route), route), Ok(()));
        assert_eq!(check_route(&req("post", route), route), Ok(()));
        for method in ["GET", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH"] {
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
        // No rawPath: requestContext.http.path.
        let no_raw = request(json!({"rawPath": null}), json!({}));
        assert_eq!(check_route(&no_raw, route), Ok(()));
        // No path at all.
        let pathless = request(
            json!({"rawPath": null}),
            json!({"http": {"method": "POST"}}),
        );
        assert_eq!(check_route(&pathless, route), Err(RouteError::NotFound));
        // A named stage's prefix is stripped; `$default` has none to strip.
        let staged = |stage: &str, path: &str| {
            request(
                json!({"rawPath": path}),
                json!({"stage": stage, "http": {"method": "POST"}}),
            )
        };
        assert_eq!(
            check_route(&staged("prod", "/prod/stripe/webhook"), route),
            Ok(())
        );
        assert_eq!(check_route(&staged("prod", route), route), Ok(()));
        assert_eq!(
            check_route(&staged("$default", "/$default/stripe/webhook"), route),
            Err(RouteError::NotFound)
        );
        assert_eq!(
            check_route(&staged("prod", "/dev/stripe/webhook"), route),
            Err(RouteError::NotFound)
        );
    }

    #[test]
    fn rest_api_payloads_are_not_read() {
        // Payload 1.0 (REST API): no requestContext.http, so not an ApiGatewayV2httpRequest;
        // lambda_runtime rejects it before the handler.
        let rest = json!({"resource": "/stripe/webhook", "path": "/stripe/webhook",
            "httpMethod": "POST", "headers": {}, "requestContext": {"stage": "prod"},
            "body": "{}", "isBase64Encoded": false});
        assert!(serde_json::from_value::<ApiGatewayV2httpRequest>(rest).is_err());
        // Nor are shapes API Gateway never sends.
        for broken in [
            json!({"body": 5}),
            json!({"isBase64Encoded": "true"}),
            json!({"headers": {"stripe-signature": 5}}),
        ] {
            let mut v = json!({"rawPath": "/stripe/webhook",
                "requestContext": {"http": {"method": "POST"}}});
            for (k, x) in broken.as_object().into_iter().flatten() {
                v[k] = x.clone();
            }
            assert!(
                serde_json::from_value::<ApiGatewayV2httpRequest>(v).is_err(),
                "{broken}"
            );
        }
    }

    #[test]
    fn responses_serialise_as_http_api_responses() {
        let v = serde_json::to_value(invalid_signature()).unwrap();
        assert_eq!(v["statusCode"], 400);
        assert_eq!(v["headers"], json!({"content-type": "application/json"}));
        assert_eq!(v["body"], "{\"error\":\"invalid signature\"}");
        assert_eq!(v["isBase64Encoded"], false);

        let v = serde_json::to_value(method_not_allowed()).unwrap();
        assert_eq!(v["statusCode"], 405);
        assert_eq!(
            v["headers"],
            json!({"content-type": "application/json", "allow": "POST"})
        );
        assert_eq!(v["body"], "{\"error\":\"method not allowed\"}");

        for (r, status, text) in [
            (accepted(), 200, r#"{"received":true}"#),
            (invalid_payload(), 400, r#"{"error":"invalid payload"}"#),
            (internal_error(), 500, r#"{"error":"internal error"}"#),
            (not_found(), 404, r#"{"error":"not found"}"#),
        ] {
            assert_eq!(r.status_code, status);
            assert_eq!(body_text(&r), Some(text));
            assert!(!r.is_base64_encoded);
            assert_eq!(
                r.headers.get(CONTENT_TYPE).map(HeaderValue::as_bytes),
                Some(&b"application/json"[..])
            );
        }
    }
}
