//! An emulator of the AWS Lambda Runtime API (`2018-06-01`) on `127.0.0.1:<free port>`, to
//! drive a real function binary (its `main.rs`, `lambda_runtime` and all) in tests and
//! benchmarks without AWS, Docker or the cargo-lambda watcher.
//!
//! Implemented: `GET /2018-06-01/runtime/invocation/next` (long poll; headers
//! `Lambda-Runtime-Aws-Request-Id`, `-Deadline-Ms`, `-Invoked-Function-Arn`, `-Trace-Id`),
//! `POST /2018-06-01/runtime/invocation/{id}/response` and `…/{id}/error` (202), and
//! `POST /2018-06-01/runtime/init/error`. HTTP/1.1 with keep-alive (hyper), `TCP_NODELAY`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use lambda_runtime_emulator::{Emulator, process::FunctionCommand};
//! use std::time::Duration;
//! let emulator = Emulator::start().await?;
//! let mut function = FunctionCommand::new("target/debug/payment", &emulator, "payment").spawn()?;
//! let first_next = function.wait_ready(&emulator, Duration::from_secs(10)).await?;
//! let result = emulator.invoke(&br#"{"hello":1}"#[..], Duration::from_secs(10)).await?;
//! println!("init {:?}, answer {:?}", first_next - function.spawned_at(), result.outcome);
//! # Ok(()) }
//! ```
//!
//! Limits: one function per emulator; an event handed out by `next` on a connection that then
//! drops is not redelivered (its caller times out); response streaming is read as one body.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch, Notify};
use tokio::task::{JoinHandle, JoinSet};

pub mod process;

/// The path prefix of every Runtime API route.
pub const API_PREFIX: &str = "/2018-06-01/runtime";
/// Lambda's limit for a synchronous response payload (6 MB).
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Sent as `Lambda-Runtime-Invoked-Function-Arn`.
    pub function_arn: String,
    /// Each invocation's deadline is its delivery time plus this.
    pub timeout: Duration,
    /// Larger responses are refused with 413 and the invocation fails.
    pub max_response_bytes: usize,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            function_arn: "arn:aws:lambda:us-east-2:000000000000:function:emulated".to_owned(),
            timeout: Duration::from_secs(30),
            max_response_bytes: MAX_RESPONSE_BYTES,
        }
    }
}

/// What the function posted for an invocation, or for its initialisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionError {
    /// `Lambda-Runtime-Function-Error-Type`, when sent.
    pub error_type: Option<String>,
    pub body: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `POST …/invocation/{id}/response`: the body as sent.
    Response(Bytes),
    /// `POST …/invocation/{id}/error`.
    Error(FunctionError),
}

#[derive(Debug, Clone)]
pub struct InvocationResult {
    pub request_id: String,
    pub outcome: Outcome,
    pub enqueued_at: Instant,
    /// When `next` handed the event to the function.
    pub delivered_at: Instant,
    /// When the response or error request arrived (its body fully read).
    pub answered_at: Instant,
}

impl InvocationResult {
    /// The response body, `None` for an error.
    pub fn response(&self) -> Option<&Bytes> {
        match &self.outcome {
            Outcome::Response(body) => Some(body),
            Outcome::Error(_) => None,
        }
    }

    /// From the function receiving the event to its answer.
    pub fn handler_time(&self) -> Duration {
        self.answered_at
            .saturating_duration_since(self.delivered_at)
    }
}

#[derive(Debug, Error)]
pub enum EmulatorError {
    #[error("no answer to invocation {request_id} within {timeout:?}")]
    Timeout {
        request_id: String,
        timeout: Duration,
    },
    #[error("the function did not call `next` within {0:?}")]
    NotReady(Duration),
    #[error("the emulator shut down before invocation {0} was answered")]
    ShutDown(String),
}

/// An enqueued event: await [`PendingInvocation::result`] for the function's answer.
#[derive(Debug)]
pub struct PendingInvocation {
    pub request_id: String,
    rx: oneshot::Receiver<InvocationResult>,
}

impl PendingInvocation {
    pub async fn result(self) -> Result<InvocationResult, EmulatorError> {
        self.rx
            .await
            .map_err(|_| EmulatorError::ShutDown(self.request_id))
    }

    pub async fn result_within(self, timeout: Duration) -> Result<InvocationResult, EmulatorError> {
        let request_id = self.request_id.clone();
        match tokio::time::timeout(timeout, self.result()).await {
            Ok(result) => result,
            Err(_) => Err(EmulatorError::Timeout {
                request_id,
                timeout,
            }),
        }
    }
}

struct Queued {
    request_id: String,
    payload: Bytes,
    enqueued_at: Instant,
    tx: oneshot::Sender<InvocationResult>,
}

struct InFlight {
    enqueued_at: Instant,
    delivered_at: Instant,
    tx: oneshot::Sender<InvocationResult>,
}

struct Shared {
    config: EmulatorConfig,
    queue: Mutex<VecDeque<Queued>>,
    queued: Notify,
    in_flight: Mutex<HashMap<String, InFlight>>,
    first_next: watch::Sender<Option<Instant>>,
    init_error: watch::Sender<Option<FunctionError>>,
    next_requests: AtomicU64,
    seq: AtomicU64,
    id_base: u64,
}

/// Poisoning only follows a panic elsewhere in this process; the data stays usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running emulator. Dropping it stops the server and closes its connections.
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl Emulator {
    pub async fn start() -> std::io::Result<Emulator> {
        Emulator::start_with(EmulatorConfig::default()).await
    }

    pub async fn start_with(config: EmulatorConfig) -> std::io::Result<Emulator> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let id_base = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
            ^ (u64::from(std::process::id()) << 32);
        let shared = Arc::new(Shared {
            config,
            queue: Mutex::new(VecDeque::new()),
            queued: Notify::new(),
            in_flight: Mutex::new(HashMap::new()),
            first_next: watch::Sender::new(None),
            init_error: watch::Sender::new(None),
            next_requests: AtomicU64::new(0),
            seq: AtomicU64::new(0),
            id_base,
        });
        let server = tokio::spawn(serve(listener, Arc::clone(&shared)));
        Ok(Emulator {
            addr,
            shared,
            server,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API` (`127.0.0.1:PORT`).
    pub fn runtime_api(&self) -> String {
        self.addr.to_string()
    }

    /// Queues one event; the function gets it from its next `next` call.
    pub fn enqueue(&self, payload: impl Into<Bytes>) -> PendingInvocation {
        let n = self.shared.seq.fetch_add(1, Ordering::Relaxed);
        let request_id = request_id(self.shared.id_base, n);
        let (tx, rx) = oneshot::channel();
        lock(&self.shared.queue).push_back(Queued {
            request_id: request_id.clone(),
            payload: payload.into(),
            enqueued_at: Instant::now(),
            tx,
        });
        self.shared.queued.notify_one();
        PendingInvocation { request_id, rx }
    }

    /// Enqueues one event and waits for its answer.
    pub async fn invoke(
        &self,
        payload: impl Into<Bytes>,
        timeout: Duration,
    ) -> Result<InvocationResult, EmulatorError> {
        self.enqueue(payload).result_within(timeout).await
    }

    /// When the first `GET …/invocation/next` arrived (the end of the function's init).
    pub fn first_next_at(&self) -> Option<Instant> {
        *self.shared.first_next.borrow()
    }

    /// Waits for the first `next` request.
    pub async fn wait_first_next(&self, timeout: Duration) -> Result<Instant, EmulatorError> {
        let mut rx = self.shared.first_next.subscribe();
        let waited = tokio::time::timeout(timeout, async {
            rx.wait_for(Option::is_some).await.ok().and_then(|v| *v)
        })
        .await;
        match waited {
            Ok(Some(at)) => Ok(at),
            _ => Err(EmulatorError::NotReady(timeout)),
        }
    }

    /// What the function posted to `…/init/error`, if it did.
    pub fn init_error(&self) -> Option<FunctionError> {
        self.shared.init_error.borrow().clone()
    }

    pub(crate) fn subscribe_init_error(&self) -> watch::Receiver<Option<FunctionError>> {
        self.shared.init_error.subscribe()
    }

    pub(crate) fn subscribe_first_next(&self) -> watch::Receiver<Option<Instant>> {
        self.shared.first_next.subscribe()
    }

    /// `next` requests received so far.
    pub fn next_requests(&self) -> u64 {
        self.shared.next_requests.load(Ordering::Relaxed)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A UUID-shaped id, unique per emulator and event.
fn request_id(base: u64, n: u64) -> String {
    let a = base.wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (a >> 32) as u32,
        (a >> 16) as u16,
        a & 0xfff,
        (n >> 48) & 0xfff,
        n & 0xffff_ffff_ffff
    )
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    // Owned by this task: aborting it (Emulator::drop) drops every connection task too.
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => {
                // EMFILE and the like: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, Infallible>(route(&shared, req).await) }
            });
            // A connection error (the function exited mid-request) ends this connection only.
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

type Body = Full<Bytes>;

fn reply(status: StatusCode, json: String) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from(json)));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

fn accepted() -> Response<Body> {
    reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#.to_owned())
}

fn api_error(status: StatusCode, error_type: &str, message: &str) -> Response<Body> {
    reply(
        status,
        format!(
            r#"{{"errorMessage":{},"errorType":{}}}"#,
            json_string(message),
            json_string(error_type)
        ),
    )
}

/// A JSON string literal (the emulator has no serde dependency).
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

async fn route(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(API_PREFIX) else {
        return api_error(StatusCode::NOT_FOUND, "NotFound", "unknown path");
    };
    let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    match (req.method(), segments.as_slice()) {
        (&Method::GET, ["invocation", "next"]) => next(shared).await,
        (&Method::POST, ["invocation", id, "response"]) => {
            let id = (*id).to_owned();
            answer(shared, &id, req, false).await
        }
        (&Method::POST, ["invocation", id, "error"]) => {
            let id = (*id).to_owned();
            answer(shared, &id, req, true).await
        }
        (&Method::POST, ["init", "error"]) => {
            let error_type = error_type_of(&req);
            let body = match read_body(req, shared.config.max_response_bytes).await {
                Ok(body) => body,
                Err(resp) => return resp,
            };
            shared
                .init_error
                .send_replace(Some(FunctionError { error_type, body }));
            accepted()
        }
        _ => api_error(StatusCode::NOT_FOUND, "NotFound", "unknown route"),
    }
}

fn error_type_of(req: &Request<Incoming>) -> Option<String> {
    req.headers()
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn read_body(req: Request<Incoming>, limit: usize) -> Result<Bytes, Response<Body>> {
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(api_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                &format!("the body exceeds {limit} bytes"),
            ))
        }
        Err(e) => Err(api_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            &e.to_string(),
        )),
    }
}

async fn next(shared: &Shared) -> Response<Body> {
    let now = Instant::now();
    shared.next_requests.fetch_add(1, Ordering::Relaxed);
    shared.first_next.send_if_modified(|first| {
        if first.is_none() {
            *first = Some(now);
            true
        } else {
            false
        }
    });
    let queued = loop {
        let notified = shared.queued.notified();
        if let Some(q) = lock(&shared.queue).pop_front() {
            break q;
        }
        notified.await;
    };
    let delivered_at = Instant::now();
    let deadline_ms = SystemTime::now()
        .checked_add(shared.config.timeout)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let trace_id = format!(
        "Root=1-{:08x}-{:0>24};Parent={:016x};Sampled=0",
        deadline_ms / 1000,
        queued.request_id.replace('-', "").get(..24).unwrap_or("0"),
        shared.id_base ^ deadline_ms as u64
    );
    let mut resp = Response::new(Full::new(queued.payload));
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    set("lambda-runtime-aws-request-id", queued.request_id.clone());
    set("lambda-runtime-deadline-ms", deadline_ms.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        shared.config.function_arn.clone(),
    );
    set("lambda-runtime-trace-id", trace_id);
    lock(&shared.in_flight).insert(
        queued.request_id,
        InFlight {
            enqueued_at: queued.enqueued_at,
            delivered_at,
            tx: queued.tx,
        },
    );
    resp
}

async fn answer(
    shared: &Shared,
    request_id: &str,
    req: Request<Incoming>,
    is_error: bool,
) -> Response<Body> {
    if !lock(&shared.in_flight).contains_key(request_id) {
        return api_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestID",
            "no invocation in flight with this id",
        );
    }
    let error_type = error_type_of(&req);
    let (outcome, resp) = match read_body(req, shared.config.max_response_bytes).await {
        Ok(body) if is_error => (
            Outcome::Error(FunctionError { error_type, body }),
            accepted(),
        ),
        Ok(body) => (Outcome::Response(body), accepted()),
        Err(resp) => (
            Outcome::Error(FunctionError {
                error_type: Some("Function.ResponseSizeTooLarge".to_owned()),
                body: Bytes::new(),
            }),
            resp,
        ),
    };
    let answered_at = Instant::now();
    if let Some(f) = lock(&shared.in_flight).remove(request_id) {
        // The receiver may be gone (the caller gave up): nothing to tell.
        let _ = f.tx.send(InvocationResult {
            request_id: request_id.to_owned(),
            outcome,
            enqueued_at: f.enqueued_at,
            delivered_at: f.delivered_at,
            answered_at,
        });
    }
    resp
}
