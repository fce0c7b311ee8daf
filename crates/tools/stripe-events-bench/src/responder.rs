//! Local HTTP servers the bench puts in front of a Lambda binary (HTTP/1.1, keep-alive,
//! `TCP_NODELAY`), each in this process:
//!
//! - [`instant_aws`]: answers the DynamoDB (`TransactWriteItems`, `UpdateItem`, `Query`)
//!   and EventBridge (`PutEvents`) calls the Lambdas make, at once, from a set of done dedupe
//!   keys: what the client side of a call costs, without moto's own cost. A dedupe key
//!   committed once is a duplicate afterwards, answered like DynamoDB (the cancelled
//!   transaction or refused condition with the `ALL_OLD` image, `seen_<path>` included).
//! - [`stripe_objects`]: `GET /v1/<kind>/<id>` → the snapshot fixtures' object of that kind
//!   with that id (the thin events' hydration without localstripe).
//! - [`delaying_proxy`]: forwards every request to an upstream after a fixed delay (a
//!   network round trip in front of moto).

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Map, Value};
use stripe_events_core::vocabulary::{attr, AuditPath};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

type Answer = Response<Full<Bytes>>;
type Handler = Arc<
    dyn Fn(hyper::http::request::Parts, Bytes) -> Pin<Box<dyn Future<Output = Answer> + Send>>
        + Send
        + Sync,
>;

/// A running server; stopped when dropped.
pub struct Server {
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests answered so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(handler: Handler) -> Server {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind a local port");
    let addr = listener.local_addr().expect("local address");
    let requests = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&requests);
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let handler = Arc::clone(&handler);
            let counted = Arc::clone(&counted);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let handler = Arc::clone(&handler);
                    let counted = Arc::clone(&counted);
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        counted.fetch_add(1, Ordering::Relaxed);
                        Ok::<_, Infallible>(handler(parts, body).await)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Server {
        addr,
        requests,
        task,
    }
}

fn answer(status: u16, content_type: &'static str, body: impl Into<Bytes>) -> Answer {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

// ---------------------------------------------------------------------------------------
// DynamoDB and EventBridge, instantly

const DYNAMODB_JSON: &str = "application/x-amz-json-1.0";
const EVENTS_JSON: &str = "application/x-amz-json-1.1";

/// The dedupe keys committed so far (the `Key` of the first update of a transaction, or of
/// a conditional `UpdateItem`, as JSON text).
#[derive(Default)]
struct Done(Mutex<HashSet<String>>);

impl Done {
    fn contains(&self, key: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(key)
    }
    fn insert(&self, key: String) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(key)
    }
}

/// The old image of a done dedupe record: its key, `applied_at`, and every `seen_<path>`
/// the update names (so the delivery's path counts as already recorded).
fn old_image(update: &Value) -> Value {
    let mut item = update["Key"].as_object().cloned().unwrap_or_default();
    item.insert(attr::APPLIED_AT.into(), json!({"N": "1"}));
    if let Some(names) = update["ExpressionAttributeNames"].as_object() {
        for name in names.values().filter_map(Value::as_str) {
            if AuditPath::ALL.iter().any(|p| p.seen_attr() == name) {
                item.insert(name.to_owned(), json!({"N": "1"}));
            }
        }
    }
    Value::Object(item)
}

fn aws_error(kind: &str, mut fields: Map<String, Value>) -> Answer {
    fields.insert(
        "__type".into(),
        Value::from(format!("com.amazonaws.dynamodb.v20120810#{kind}")),
    );
    answer(400, DYNAMODB_JSON, Value::Object(fields).to_string())
}

fn aws_answer(done: &Done, target: &str, body: &[u8]) -> Answer {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return aws_error("SerializationException", Map::new());
    };
    match target {
        "DynamoDB_20120810.TransactWriteItems" => {
            let items = req["TransactItems"].as_array().cloned().unwrap_or_default();
            let first = &items.first().cloned().unwrap_or_default()["Update"];
            let key = first["Key"].to_string();
            if done.contains(&key) {
                let mut reasons = vec![json!({
                    "Code": "ConditionalCheckFailed",
                    "Message": "The conditional request failed",
                    "Item": old_image(first),
                })];
                reasons.extend((1..items.len()).map(|_| json!({"Code": "None"})));
                let mut f = Map::new();
                f.insert(
                    "Message".into(),
                    "Transaction cancelled, please refer cancellation reasons for specific reasons"
                        .into(),
                );
                f.insert("CancellationReasons".into(), Value::from(reasons));
                return aws_error("TransactionCanceledException", f);
            }
            done.insert(key);
            answer(200, DYNAMODB_JSON, "{}")
        }
        "DynamoDB_20120810.UpdateItem" => {
            let key = req["Key"].to_string();
            let is_done = done.contains(&key);
            if req.get("ConditionExpression").is_some() {
                // The done mark (condition: not done yet).
                if is_done {
                    let mut f = Map::new();
                    f.insert("message".into(), "The conditional request failed".into());
                    f.insert("Item".into(), old_image(&req));
                    return aws_error("ConditionalCheckFailedException", f);
                }
                done.insert(key);
                return answer(200, DYNAMODB_JSON, "{}");
            }
            // The delivery record (ReturnValues ALL_OLD).
            if is_done {
                let body = json!({"Attributes": old_image(&req)});
                return answer(200, DYNAMODB_JSON, body.to_string());
            }
            answer(200, DYNAMODB_JSON, "{}")
        }
        "DynamoDB_20120810.Query" => answer(
            200,
            DYNAMODB_JSON,
            r#"{"Items":[],"Count":0,"ScannedCount":0}"#,
        ),
        "AWSEvents.PutEvents" => {
            let n = req["Entries"].as_array().map_or(0, Vec::len);
            let entries: Vec<Value> = (0..n)
                .map(|i| json!({"EventId": format!("bench-{i}")}))
                .collect();
            let body = json!({"FailedEntryCount": 0, "Entries": entries});
            answer(200, EVENTS_JSON, body.to_string())
        }
        _ => aws_error("UnknownOperationException", Map::new()),
    }
}

/// DynamoDB and EventBridge answered at once (see the module documentation). Point
/// `AWS_ENDPOINT_URL` at [`Server::url`].
pub async fn instant_aws() -> Server {
    let done = Arc::new(Done::default());
    serve(Arc::new(move |parts, body| {
        let target = parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let a = aws_answer(&done, &target, &body);
        Box::pin(async move { a })
    }))
    .await
}

// ---------------------------------------------------------------------------------------
// Stripe objects

/// `GET /v1/<kind>s/<id>`: a template object of that kind (from the snapshot fixtures) with
/// the id asked for; 404 otherwise.
pub async fn stripe_objects() -> Server {
    let mut templates: HashMap<String, Value> = HashMap::new();
    for rel in [
        "partner-snapshot/subscription-created.json",
        "partner-snapshot/invoice-paid.json",
        "partner-snapshot/customer-updated.json",
    ] {
        let object =
            stripe_events_testkit::fixtures::fixture(rel)["detail"]["data"]["object"].clone();
        let kind = object["object"].as_str().expect("object kind").to_owned();
        templates.insert(format!("{kind}s"), object);
    }
    let templates = Arc::new(templates);
    serve(Arc::new(move |parts, _body| {
        let path = parts.uri.path().to_owned();
        let found = path
            .strip_prefix("/v1/")
            .and_then(|p| p.split_once('/'))
            .and_then(|(kind, id)| {
                let mut object = templates.get(kind)?.clone();
                object["id"] = Value::from(id);
                Some(object)
            });
        let a = match found {
            Some(object) => answer(200, "application/json", object.to_string()),
            None => answer(
                404,
                "application/json",
                json!({"error": {"type": "invalid_request_error", "code": "resource_missing",
                    "message": format!("No such object: {path}")}})
                .to_string(),
            ),
        };
        Box::pin(async move { a })
    }))
    .await
}

// ---------------------------------------------------------------------------------------
// A round trip in front of a server

/// Forwards every request to `upstream` (`http://host:port`) after `delay`.
pub async fn delaying_proxy(upstream: &str, delay: Duration) -> Server {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let upstream = upstream.trim_end_matches('/').to_owned();
    serve(Arc::new(move |parts, body| {
        let client = client.clone();
        let uri = format!(
            "{upstream}{}",
            parts.uri.path_and_query().map_or("/", |p| p.as_str())
        );
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            let mut req = Request::builder().method(parts.method).uri(&uri);
            for (k, v) in &parts.headers {
                req = req.header(k, v);
            }
            let Ok(req) = req.body(Full::new(body)) else {
                return answer(502, "text/plain", "bad request");
            };
            match client.request(req).await {
                Ok(resp) => {
                    let (p, b) = resp.into_parts();
                    let b = b.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                    Response::from_parts(p, Full::new(b))
                }
                Err(e) => answer(502, "text/plain", format!("upstream: {e}")),
            }
        })
    }))
    .await
}
