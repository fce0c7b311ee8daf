//! Cold-start wiring shared by the three consumer Lambdas: config read once, clients built
//! once, then `lambda_runtime` drives the consumer, which reads each invocation's raw body
//! ([`HandleBody`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use lambda_runtime::tower::{Layer, Service};
use lambda_runtime::{service_fn, Error as BoxError, LambdaEvent, LambdaInvocation, Runtime};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use stripe_events_core::hydrate::Hydrator;
use stripe_events_core::{Family, Timestamp};
use stripe_events_lambda::{aws_sdk_config, deadline_of, init_logging};
use stripe_events_store::{dynamodb_client, DynamoStore, EventStore};
use stripe_events_stripe::{StripeConfig, StripeHydrator};

use crate::{emf_line, Consumer, ConsumerConfig, RetryLater};

pub async fn run(consumer: Family) -> Result<(), lambda_runtime::Error> {
    init_logging();
    // A start that fails says so in the log format of every other line, then exits.
    fn init_failed<E: std::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> E {
        move |e| {
            tracing::error!(outcome = "init_failed", error = %e, "{what}");
            e
        }
    }
    let config = ConsumerConfig::from_env(consumer, |k| std::env::var(k).ok())
        .map_err(init_failed("invalid configuration"))?;
    let sdk = aws_sdk_config().await;
    let store = DynamoStore::new(dynamodb_client(&sdk, None), config.tables.clone());
    // The Stripe key's Secrets Manager read shares the SDK config, and so its timeouts.
    let stripe = StripeConfig::from_vars(|k| std::env::var(k).ok(), Some(&sdk))
        .await
        .map_err(init_failed("cannot load the Stripe API key"))?;
    let hydrator =
        StripeHydrator::new(stripe).map_err(init_failed("cannot build the Stripe client"))?;
    let consumer = Arc::new(Consumer {
        config,
        store,
        hydrator,
    });
    // The consumer runs in a layer over the invocation's raw body (see `HandleBody`); the
    // handler lambda_runtime calls only hands its reply back.
    let reply = service_fn(|event: LambdaEvent<Reply>| async move { event.payload.into_result() });
    Runtime::new(reply)
        .layer(HandleBody { consumer })
        .layer(lambda_runtime::layers::TracingLayer::new())
        .run()
        .await
}

/// The error the Runtime API reports for an invocation to retry: `errorType` names it (by
/// default it is the Rust type name of a boxed error).
impl From<RetryLater> for lambda_runtime::Diagnostic {
    fn from(e: RetryLater) -> Self {
        lambda_runtime::Diagnostic {
            error_type: "RetryLater".to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// What the consumer answers an invocation with, handed to lambda_runtime's handler as its
/// payload: the response body, or the error that makes the platform retry.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub enum Reply {
    Answer(Value),
    RetryLater(RetryLater),
}

impl Reply {
    fn into_result(self) -> Result<Value, RetryLater> {
        match self {
            Reply::Answer(answer) => Ok(answer),
            Reply::RetryLater(e) => Err(e),
        }
    }

    /// The reply as the body lambda_runtime reads; serializing plain data cannot fail.
    pub fn to_body(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// A consumer's answer to one invocation: the reply, and the EMF metrics line to print.
#[derive(Debug)]
pub struct Answer {
    pub reply: Reply,
    /// One JSON line (newline included) for CloudWatch's embedded metric format.
    pub emf_line: Vec<u8>,
}

impl<S: EventStore, H: Hydrator> Consumer<S, H> {
    /// Handles an invocation from the body bytes lambda_runtime received: what every
    /// consumer Lambda runs per invocation.
    pub async fn answer(&self, body: &[u8], deadline: Instant) -> Answer {
        let report = self.handle(body, deadline).await;
        let emf_line = emf_line(
            self.config.consumer.as_str(),
            &report.tally(),
            Timestamp::now().unix_millis(),
        );
        let reply = match report.response() {
            Ok(answer) => Reply::Answer(answer),
            Err(e) => Reply::RetryLater(e),
        };
        Answer { reply, emf_line }
    }
}

/// Runs the consumer on the invocation's body as lambda_runtime received it, before the
/// runtime deserializes a payload type: the body is read once, by the typed parse, and never
/// fails in the runtime (input serde rejects is an unreadable record, acknowledged and logged
/// with its ids). Deserializing a payload type first would cost a whole scan of the body
/// (a `Box<RawValue>`: 9–10 µs of a 10 KB snapshot, criterion, 2026-11-30). The body handed
/// on is the consumer's [`Reply`], which the handler returns.
pub struct HandleBody<S, H> {
    pub consumer: Arc<Consumer<S, H>>,
}

impl<Inner, S, H> Layer<Inner> for HandleBody<S, H> {
    type Service = HandleBodyService<Inner, S, H>;
    fn layer(&self, inner: Inner) -> Self::Service {
        HandleBodyService {
            inner,
            consumer: self.consumer.clone(),
        }
    }
}

pub struct HandleBodyService<Inner, S, H> {
    inner: Inner,
    consumer: Arc<Consumer<S, H>>,
}

impl<Inner, S, H> Service<LambdaInvocation> for HandleBodyService<Inner, S, H>
where
    Inner: Service<LambdaInvocation, Response = (), Error = BoxError> + Clone + 'static,
    S: EventStore + 'static,
    H: Hydrator + 'static,
{
    type Response = ();
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<(), BoxError>>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut invocation: LambdaInvocation) -> Self::Future {
        // The service polled ready is the one called (tower's clone-and-swap).
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let consumer = self.consumer.clone();
        Box::pin(async move {
            let deadline = deadline_of(&invocation.context);
            let answer = consumer.answer(&invocation.body, deadline).await;
            stripe_events_lambda::emf::print(&answer.emf_line);
            invocation.body = answer.reply.to_body().into();
            inner.call(invocation).await
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use serde_json::json;
    use stripe_events_store::{
        Commit, CommitOutcome, DeliveryAudit, MemoryStore, Prior, StoreError, TableNames,
    };
    use stripe_events_testkit::fixtures::{fixture, fixture_bytes};
    use stripe_events_testkit::stripe::FixtureStripe;

    use super::*;

    /// What lambda_runtime puts under the layer, reduced to the bodies it is handed.
    #[derive(Clone, Default)]
    struct Runtime(Arc<Mutex<Vec<bytes::Bytes>>>);

    impl Service<LambdaInvocation> for Runtime {
        type Response = ();
        type Error = BoxError;
        type Future = std::future::Ready<Result<(), BoxError>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, invocation: LambdaInvocation) -> Self::Future {
            self.0.lock().unwrap().push(invocation.body);
            std::future::ready(Ok(()))
        }
    }

    /// DynamoDB unreachable.
    struct Unreachable;

    impl EventStore for Unreachable {
        async fn record_delivery(&self, _: &DeliveryAudit) -> Result<Prior, StoreError> {
            Err(StoreError::Transient("connection refused".into()))
        }
        async fn record_failure(&self, _: &DeliveryAudit) -> Result<(), StoreError> {
            Err(StoreError::Transient("connection refused".into()))
        }
        async fn commit(&self, _: &Commit<'_>) -> Result<CommitOutcome, StoreError> {
            Err(StoreError::Transient("connection refused".into()))
        }
        async fn locate(
            &self,
            _: &str,
            _: Option<&str>,
        ) -> Result<Option<(String, String)>, StoreError> {
            Err(StoreError::Transient("connection refused".into()))
        }
    }

    /// The reply the layer hands on for one invocation body.
    async fn reply_to<S: EventStore + 'static>(store: S, body: Vec<u8>) -> Reply {
        let consumer = Arc::new(Consumer {
            config: ConsumerConfig::new(Family::Payment, TableNames::for_prefix("layer")),
            store,
            hydrator: FixtureStripe::from_snapshots(),
        });
        let runtime = Runtime::default();
        let mut service = HandleBody { consumer }.layer(runtime.clone());
        let mut context = lambda_runtime::Context::default();
        context.deadline = (Timestamp::now().unix_millis() + 20_000) as u64;
        let invocation = LambdaInvocation {
            parts: http::Response::new(()).into_parts().0,
            body: body.into(),
            context,
        };
        service.call(invocation).await.expect("handed on");
        let bodies = runtime.0.lock().unwrap();
        assert_eq!(bodies.len(), 1, "one body handed on");
        serde_json::from_slice(&bodies[0]).expect("the reply the runtime reads")
    }

    #[tokio::test]
    async fn the_runtime_is_handed_the_consumers_answer_to_the_raw_body() {
        let body = fixture_bytes("partner-snapshot/invoice-paid.json");
        let reply = reply_to(MemoryStore::new(), body).await;
        assert_eq!(reply, Reply::Answer(json!({"outcomes": {"applied": 1}})));
        assert!(reply.into_result().is_ok());
        // Not JSON at all: acknowledged by the consumer, not failed in the runtime.
        let reply = reply_to(MemoryStore::new(), b"\xff{".to_vec()).await;
        assert_eq!(
            reply,
            Reply::Answer(json!({"outcomes": {"failed_permanent": 1}}))
        );
    }

    #[tokio::test]
    async fn a_transient_failure_is_the_handler_error_that_makes_the_platform_retry() {
        let body = fixture_bytes("partner-snapshot/invoice-paid.json");
        let reply = reply_to(Unreachable, body).await;
        let Reply::RetryLater(retry) = &reply else {
            panic!("retried: {reply:?}")
        };
        assert_eq!(retry.count, 1);
        assert!(retry.first.contains("connection refused"), "{retry:?}");
        let error = reply
            .into_result()
            .expect_err("an error for lambda_runtime");
        assert!(
            error.to_string().contains("the platform will retry"),
            "{error}"
        );
        // lambda_runtime prints the error's Debug on its own line: it names the event.
        let event_id = fixture("partner-snapshot/invoice-paid.json")["detail"]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        assert_eq!(error.event_ids, std::slice::from_ref(&event_id));
        assert!(format!("{error:?}").contains(&event_id), "{error:?}");
        let diagnostic = lambda_runtime::Diagnostic::from(error);
        assert_eq!(diagnostic.error_type, "RetryLater");
    }
}
