//! The local stack (moto, localstripe) as `infra/local/stack.sh` starts it: its settings, the
//! standard AWS configuration pointed at an endpoint, uniquely named fresh tables and names.

use std::sync::atomic::{AtomicU32, Ordering};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::Client;
use stripe_events_core::Timestamp;
use stripe_events_store::{create_tables, StoreError, TableNames};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

/// Reads a variable the local stack exports; a clear failure (never a silent pass) without it.
pub fn require_env(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v,
        _ => panic!(
            "{name} is not set: these tests need the local stack. Run them with \
             `infra/local/stack.sh run -- cargo test -p <crate>` (`make test` does)"
        ),
    }
}

/// The endpoint of the local stack (`AWS_ENDPOINT_URL`, set by `infra/local/stack.sh`).
pub fn local_endpoint() -> Result<String, String> {
    std::env::var("AWS_ENDPOINT_URL").map_err(|_| {
        "AWS_ENDPOINT_URL is not set: run through `make test` (infra/local/stack.sh starts moto)"
            .to_owned()
    })
}

/// The standard AWS configuration with an explicit endpoint (e.g. a dead port in tests):
/// [`sdk_config_at`].
pub async fn sdk_config_for(endpoint: &str) -> SdkConfig {
    sdk_config_at(endpoint).await
}

/// The AWS configuration for moto at the stack's `AWS_ENDPOINT_URL`, with moto's dummy
/// credentials.
pub async fn sdk_config() -> SdkConfig {
    sdk_config_at(&require_env("AWS_ENDPOINT_URL")).await
}

/// [`sdk_config_for`] with moto's dummy credentials set explicitly, so a test never fails for
/// want of credentials.
pub async fn sdk_config_at(endpoint: &str) -> SdkConfig {
    let credentials =
        aws_sdk_eventbridge::config::Credentials::new("testing", "testing", None, None, "test");
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-2"))
        .credentials_provider(credentials)
        .load()
        .await
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Creates both tables under a prefix no other test uses.
pub async fn fresh_tables(client: &Client) -> Result<TableNames, StoreError> {
    let prefix = format!(
        "t{}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst),
        Timestamp::now().unix_millis()
    );
    let tables = TableNames::for_prefix(&prefix);
    create_tables(client, &tables).await?;
    Ok(tables)
}

/// A name no other test (or test run against the same moto) uses.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst),
        Timestamp::now().unix_millis() % 100_000_000
    )
}

/// An endpoint that accepts connections, reads what is sent and never answers: the peer a
/// deadline must end the wait on.
pub async fn black_hole() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = vec![0u8; 65536];
            let _ = socket.read(&mut buf).await;
            held.push(socket);
        }
    });
    format!("http://{addr}")
}
