//! The AWS SDK's HTTP client in the Lambdas: hyper-util's pooled HTTP/1.1 client over
//! hyper-rustls with the process's one TLS configuration
//! ([`stripe_events_stripe::hydrator::shared_tls_config`], the webpki roots compiled in),
//! built on the first request.
//!
//! Why not the SDK's default client: building it loads the system's native root store
//! (parsing ~140 PEM certificates: ≈ 18 M instructions, most of a cold start) when the first
//! client is built, and the hydrator holds a second store; this client builds nothing until
//! the first call and shares the hydrator's store. Timeouts stay the SDK's (attempt and
//! operation timeouts in the orchestrator), the connect timeout is
//! [`crate::CONNECT_TIMEOUT`].
//!
//! Like the SDK's own client, each call hands the SDK the connection it goes out on
//! (`CaptureSmithyConnection`, filled from hyper-util's `capture_connection`): after a
//! transient error the SDK poisons that connection, so the retry does not reuse it (and it
//! does not log "unable to mark the connection for closure" at `ERROR`).

use std::fmt;
use std::sync::{Arc, OnceLock};

use aws_smithy_runtime_api::client::connection::{CaptureSmithyConnection, ConnectionMetadata};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector as SdkConnector, HttpConnectorFuture, HttpConnectorSettings,
    SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::{
    capture_connection, CaptureConnection, HttpConnector, HttpInfo,
};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::CONNECT_TIMEOUT;

type Hyper = Client<HttpsConnector<HttpConnector>, SdkBody>;

/// The client for [`aws_config::ConfigLoader::http_client`].
pub fn sdk_http_client() -> SharedHttpClient {
    SharedHttpClient::new(LazyClient {
        connector: SharedHttpConnector::new(LazyConnector {
            client: Arc::new(OnceLock::new()),
        }),
    })
}

#[derive(Debug)]
struct LazyClient {
    connector: SharedHttpConnector,
}

impl HttpClient for LazyClient {
    /// One connector (and connection pool) for every client and call of the process.
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.connector.clone()
    }
}

struct LazyConnector {
    client: Arc<OnceLock<Result<Hyper, String>>>,
}

impl fmt::Debug for LazyConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyConnector")
            .field("built", &self.client.get().is_some())
            .finish()
    }
}

fn build() -> Result<Hyper, String> {
    let tls = stripe_events_stripe::hydrator::shared_tls_config()?;
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(CONNECT_TIMEOUT));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config((*tls).clone())
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    Ok(Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(std::time::Duration::from_secs(90))
        .build(https))
}

impl SdkConnector for LazyConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = match self.client.get_or_init(build) {
            Ok(c) => c.clone(),
            Err(e) => {
                return HttpConnectorFuture::ready(Err(ConnectorError::user(
                    format!("TLS setup: {e}").into(),
                )))
            }
        };
        let mut request = match request.try_into_http1x() {
            Ok(r) => r,
            Err(e) => return HttpConnectorFuture::ready(Err(ConnectorError::user(e.into()))),
        };
        let captured = capture_connection(&mut request);
        if let Some(smithy) = request.extensions().get::<CaptureSmithyConnection>() {
            smithy.set_connection_retriever(move || connection_metadata(&captured));
        }
        HttpConnectorFuture::new(async move {
            match client.request(request).await {
                Ok(response) => HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                    .map_err(|e| ConnectorError::other(e.into(), None)),
                Err(e) => Err(classify(e)),
            }
        })
    }
}

/// What the SDK may know of the connection a request went out on, once hyper has one: its
/// addresses, and how to poison it (the pool then drops it instead of reusing it).
fn connection_metadata(captured: &CaptureConnection) -> Option<ConnectionMetadata> {
    let connected = captured.connection_metadata();
    let connected = connected.as_ref()?;
    let mut extras = hyper::http::Extensions::new();
    connected.get_extras(&mut extras);
    let info = extras.get::<HttpInfo>();
    let poisoner = captured.clone();
    let mut builder = ConnectionMetadata::builder()
        .proxied(connected.is_proxied())
        .poison_fn(move || {
            if let Some(connection) = poisoner.connection_metadata().as_ref() {
                connection.poison();
            }
        });
    builder
        .set_local_addr(info.map(HttpInfo::local_addr))
        .set_remote_addr(info.map(HttpInfo::remote_addr));
    Some(builder.build())
}

/// Connection-level failures are I/O errors (the SDK retries them); the rest "other".
fn classify(e: hyper_util::client::legacy::Error) -> ConnectorError {
    let io = e.is_connect() || {
        let mut source = std::error::Error::source(&e);
        let mut found = false;
        while let Some(s) = source {
            if s.is::<std::io::Error>()
                || s.downcast_ref::<hyper::Error>()
                    .is_some_and(|h| h.is_closed() || h.is_canceled() || h.is_incomplete_message())
            {
                found = true;
                break;
            }
            source = s.source();
        }
        found
    };
    if io {
        ConnectorError::io(e.into())
    } else {
        ConnectorError::other(e.into(), None)
    }
}
