//! The Lambdas' AWS SDK HTTP client ([`sdk_http_client`]) hands the SDK the connection each
//! request went out on, so that after a transient error (a 500) the SDK can mark that
//! connection for closure and retry on a fresh one, as with its own client; without it the
//! SDK logs "unable to mark the connection for closure…" at ERROR on every retried error, and
//! the retry reuses the connection that failed. Against a local keep-alive HTTP server; needs
//! no local stack.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_secretsmanager::config::Credentials;
use stripe_events_lambda::http::sdk_http_client;
use stripe_events_testkit::logs::json_lines_of;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A keep-alive HTTP/1.1 server answering Secrets Manager's `GetSecretValue`: 500 for the
/// requests whose index (from 0, over all connections) is in `failing`, else the secret.
/// Records the connection (numbered from 0) each request came on.
struct Server {
    base: String,
    /// By request index.
    connection_of: Arc<Mutex<Vec<usize>>>,
}

impl Server {
    async fn start(failing: &'static [usize]) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let connection_of = Arc::new(Mutex::new(Vec::new()));
        let served = Arc::clone(&connection_of);
        tokio::spawn(async move {
            let accepted = AtomicUsize::new(0);
            while let Ok((socket, _)) = listener.accept().await {
                let connection = accepted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(socket, connection, Arc::clone(&served), failing));
            }
        });
        Server {
            base,
            connection_of,
        }
    }

    fn connection_of(&self) -> Vec<usize> {
        self.connection_of.lock().unwrap().clone()
    }
}

/// Requests on one connection until the client closes it.
async fn serve(
    mut socket: TcpStream,
    connection: usize,
    served: Arc<Mutex<Vec<usize>>>,
    failing: &[usize],
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head_end + length);
        let index = {
            let mut served = served.lock().unwrap();
            served.push(connection);
            served.len() - 1
        };
        let (status, body) = if failing.contains(&index) {
            (
                "500 Internal Server Error",
                r#"{"__type":"InternalServiceError","message":"scripted failure"}"#.to_owned(),
            )
        } else {
            (
                "200 OK",
                serde_json::json!({
                    "ARN": "arn:aws:secretsmanager:us-east-2:123456789012:secret:conn-AbCdEf",
                    "Name": "conn",
                    "SecretString": "value",
                    "VersionId": "v1",
                })
                .to_string(),
            )
        };
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if socket.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

async fn client(base: &str) -> aws_sdk_secretsmanager::Client {
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .http_client(sdk_http_client())
        .endpoint_url(base)
        .region(Region::new("us-east-2"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .retry_config(RetryConfig::standard().with_initial_backoff(Duration::from_millis(10)))
        .load()
        .await;
    aws_sdk_secretsmanager::Client::new(&sdk)
}

async fn get(client: &aws_sdk_secretsmanager::Client) -> Option<String> {
    let out = client.get_secret_value().secret_id("conn").send().await;
    // Let the connection go back to the pool before the next call.
    tokio::time::sleep(Duration::from_millis(50)).await;
    out.ok().and_then(|o| o.secret_string().map(str::to_owned))
}

#[tokio::test]
async fn a_retried_error_closes_its_connection_without_an_error_line() {
    // Requests 0 and 1 succeed (the second one, normally, on the first's connection), 2
    // fails (500, transient), 3 is its retry.
    let server = Server::start(&[2]).await;
    let client = client(&server.base).await;
    let ((first, second, retried), lines) = json_lines_of(tracing::Level::DEBUG, async {
        (get(&client).await, get(&client).await, get(&client).await)
    })
    .await;
    assert_eq!(first.as_deref(), Some("value"));
    assert_eq!(second.as_deref(), Some("value"));
    assert_eq!(retried.as_deref(), Some("value"), "the SDK retried the 500");
    let connection_of = server.connection_of();
    assert_eq!(connection_of.len(), 4);
    let messages: Vec<&str> = lines.iter().filter_map(|l| l["message"].as_str()).collect();
    assert!(
        !messages
            .iter()
            .any(|m| m.contains("unable to mark the connection")),
        "{messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("the connection was marked for closure")),
        "{messages:#?}"
    );
    // The connection that answered 500 is not reused for the retry.
    assert_ne!(connection_of[3], connection_of[2], "{connection_of:?}");
}
