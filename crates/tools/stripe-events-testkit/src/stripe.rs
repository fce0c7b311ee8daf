//! For tests, benchmarks and the demo against the local stack: a small client that creates
//! objects in localstripe (form-encoded POSTs, like Stripe's v1 API), reading
//! `STRIPE_API_BASE` and `STRIPE_API_KEY` as `infra/local/stack.sh` exports them.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::hydrator::encode;

pub struct LocalStripe {
    pub base: String,
    pub key: String,
    http: Client<HttpConnector, Full<Bytes>>,
}

/// Objects created by [`LocalStripe::subscription`].
pub struct LocalSubscription {
    pub customer: Value,
    pub plan: Value,
    pub subscription: Value,
}

impl LocalStripe {
    pub fn from_env() -> Result<Self, String> {
        let var = |k: &str| {
            std::env::var(k).map_err(|_| format!("{k} is not set: run under infra/local/stack.sh"))
        };
        Ok(LocalStripe {
            base: var("STRIPE_API_BASE")?.trim_end_matches('/').to_owned(),
            key: var("STRIPE_API_KEY")?,
            http: Client::builder(TokioExecutor::new()).build_http(),
        })
    }

    /// POSTs `form` to `path`; a non-2xx answer is an error with its body.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Result<Value, String> {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let request = hyper::Request::post(format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {}", self.key))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("POST {path}: {e}"))?;
        let response = self
            .http
            .request(request)
            .await
            .map_err(|e| format!("POST {path}: {e}"))?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("POST {path}: {e}"))?
            .to_bytes();
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|e| format!("POST {path}: not JSON ({e})"))?;
        if !status.is_success() {
            return Err(format!("POST {path}: {status} {value}"));
        }
        Ok(value)
    }

    /// A customer (`email`, `metadata.user_id`), a product, a free monthly plan and an active
    /// subscription to it (localstripe's 2017 shape: top-level `plan` and period).
    pub async fn subscription(
        &self,
        email: &str,
        user_id: &str,
    ) -> Result<LocalSubscription, String> {
        let customer = self
            .post(
                "/v1/customers",
                &[("email", email), ("metadata[user_id]", user_id)],
            )
            .await?;
        let product = self
            .post("/v1/products", &[("name", "Pro"), ("type", "service")])
            .await?;
        let plan = self
            .post(
                "/v1/plans",
                &[
                    ("amount", "0"),
                    ("currency", "usd"),
                    ("interval", "month"),
                    ("product", id_of(&product)?),
                ],
            )
            .await?;
        let subscription = self
            .post(
                "/v1/subscriptions",
                &[
                    ("customer", id_of(&customer)?),
                    ("items[0][plan]", id_of(&plan)?),
                ],
            )
            .await?;
        Ok(LocalSubscription {
            customer,
            plan,
            subscription,
        })
    }
}

fn id_of(object: &Value) -> Result<&str, String> {
    object["id"]
        .as_str()
        .ok_or_else(|| format!("localstripe answered without an id: {object}"))
}
