//! The Runtime API as a runtime client sees it, over raw HTTP/1.1 on one keep-alive
//! connection: long-poll `next` with the invocation headers, response, error, init error,
//! unknown ids and the size limit.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use lambda_runtime_emulator::{Emulator, EmulatorConfig, Outcome, API_PREFIX};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

struct Conn(BufReader<TcpStream>);

struct Reply {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Conn {
    async fn open(emulator: &Emulator) -> Conn {
        Conn(BufReader::new(
            TcpStream::connect(emulator.addr()).await.expect("connect"),
        ))
    }

    async fn request(&mut self, method: &str, path: &str, extra: &str, body: &[u8]) -> Reply {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: runtime\r\n{extra}Content-Length: {}\r\n\r\n",
            body.len()
        );
        let s = self.0.get_mut();
        s.write_all(head.as_bytes()).await.expect("write head");
        s.write_all(body).await.expect("write body");
        let mut status_line = String::new();
        self.0
            .read_line(&mut status_line)
            .await
            .expect("status line");
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let mut headers = HashMap::new();
        loop {
            let mut line = String::new();
            self.0.read_line(&mut line).await.expect("header");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (k, v) = line.split_once(':').expect("header line");
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
        let len: usize = headers
            .get("content-length")
            .map(|v| v.parse().expect("length"))
            .unwrap_or(0);
        let mut body = vec![0; len];
        self.0.read_exact(&mut body).await.expect("body");
        Reply {
            status,
            headers,
            body,
        }
    }
}

fn next_path() -> String {
    format!("{API_PREFIX}/invocation/next")
}

#[tokio::test]
async fn next_response_and_error_on_one_connection() {
    let emulator = Emulator::start_with(EmulatorConfig {
        function_arn: "arn:aws:lambda:us-east-2:123456789012:function:f".into(),
        timeout: Duration::from_secs(7),
        ..Default::default()
    })
    .await
    .expect("start");
    assert_eq!(emulator.first_next_at(), None);
    let mut conn = Conn::open(&emulator).await;

    // Long poll: `next` is answered only once an event is queued.
    let before = Instant::now();
    let first = emulator.enqueue(&br#"{"n":1}"#[..]);
    let second = emulator.enqueue(&br#"{"n":2}"#[..]);
    let r = conn.request("GET", &next_path(), "", b"").await;
    let first_next = emulator.first_next_at().expect("first next recorded");
    assert!(first_next >= before);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, br#"{"n":1}"#);
    assert_eq!(r.headers["lambda-runtime-aws-request-id"], first.request_id);
    assert_eq!(
        r.headers["lambda-runtime-invoked-function-arn"],
        "arn:aws:lambda:us-east-2:123456789012:function:f"
    );
    assert!(r.headers["lambda-runtime-trace-id"].starts_with("Root=1-"));
    let deadline: u128 = r.headers["lambda-runtime-deadline-ms"].parse().unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    assert!(deadline > now_ms + 6_000 && deadline <= now_ms + 7_000);

    let ok = conn
        .request(
            "POST",
            &format!("{API_PREFIX}/invocation/{}/response", first.request_id),
            "",
            br#"{"ok":true}"#,
        )
        .await;
    assert_eq!(ok.status, 202);
    let result = first
        .result_within(Duration::from_secs(5))
        .await
        .expect("answered");
    assert_eq!(result.outcome, Outcome::Response(r#"{"ok":true}"#.into()));
    assert!(result.delivered_at >= result.enqueued_at && result.answered_at >= result.delivered_at);

    // The same connection (keep-alive) gets the second event; answer it with an error.
    let r = conn.request("GET", &next_path(), "", b"").await;
    let second_id = second.request_id.clone();
    assert_eq!(r.headers["lambda-runtime-aws-request-id"], second_id);
    let err = conn
        .request(
            "POST",
            &format!("{API_PREFIX}/invocation/{}/error", second.request_id),
            "Lambda-Runtime-Function-Error-Type: Handled.RetryLater\r\n",
            br#"{"errorType":"RetryLater","errorMessage":"x"}"#,
        )
        .await;
    assert_eq!(err.status, 202);
    match second.result().await.expect("answered").outcome {
        Outcome::Error(e) => {
            assert_eq!(e.error_type.as_deref(), Some("Handled.RetryLater"));
            assert!(e.body.starts_with(b"{\"errorType\""));
        }
        other => panic!("{other:?}"),
    }
    // Answering twice, or an id never handed out, is refused.
    let again = conn
        .request(
            "POST",
            &format!("{API_PREFIX}/invocation/{second_id}/response"),
            "",
            b"{}",
        )
        .await;
    assert_eq!(again.status, 400);
    assert!(String::from_utf8_lossy(&again.body).contains("InvalidRequestID"));
    assert_eq!(emulator.next_requests(), 2);
    assert_eq!(emulator.first_next_at(), Some(first_next));
}

#[tokio::test]
async fn next_waits_for_an_event() {
    let emulator = Emulator::start().await.expect("start");
    let addr = emulator.addr();
    let poll = tokio::spawn(async move {
        let mut conn = Conn(BufReader::new(TcpStream::connect(addr).await.unwrap()));
        conn.request("GET", &next_path(), "", b"").await.body
    });
    let at = emulator
        .wait_first_next(Duration::from_secs(5))
        .await
        .expect("next arrives");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !poll.is_finished(),
        "next must block while the queue is empty"
    );
    let pending = emulator.enqueue(&b"[1]"[..]);
    assert_eq!(poll.await.unwrap(), b"[1]");
    assert!(emulator.first_next_at() == Some(at));
    // Nobody answers: the caller's wait times out.
    assert!(pending
        .result_within(Duration::from_millis(50))
        .await
        .is_err());
}

#[tokio::test]
async fn init_error_and_size_limit() {
    let emulator = Emulator::start_with(EmulatorConfig {
        max_response_bytes: 16,
        ..Default::default()
    })
    .await
    .expect("start");
    let mut conn = Conn::open(&emulator).await;
    let r = conn
        .request(
            "POST",
            &format!("{API_PREFIX}/init/error"),
            "Lambda-Runtime-Function-Error-Type: Runtime.ConfigError\r\n",
            br#"{"m":1}"#,
        )
        .await;
    assert_eq!(r.status, 202);
    let e = emulator.init_error().expect("recorded");
    assert_eq!(e.error_type.as_deref(), Some("Runtime.ConfigError"));
    assert_eq!(&e.body[..], br#"{"m":1}"#);

    let pending = emulator.enqueue(&b"{}"[..]);
    conn.request("GET", &next_path(), "", b"").await;
    let big = conn
        .request(
            "POST",
            &format!("{API_PREFIX}/invocation/{}/response", pending.request_id),
            "",
            &[b'x'; 64],
        )
        .await;
    assert_eq!(big.status, 413);
    match pending.result().await.expect("answered").outcome {
        Outcome::Error(e) => {
            assert_eq!(
                e.error_type.as_deref(),
                Some("Function.ResponseSizeTooLarge")
            )
        }
        other => panic!("{other:?}"),
    }
    let unknown = conn.request("GET", "/2018-06-01/other", "", b"").await;
    assert_eq!(unknown.status, 404);
}
