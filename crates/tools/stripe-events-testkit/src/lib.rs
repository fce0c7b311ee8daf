//! The workspace's test helpers, in one dev-only crate (`publish = false`). Product crates take
//! it as a `[dev-dependency]` (their integration tests may use it even though it depends on
//! them); tools (the bench) may depend on it normally.
//!
//! - [`fixtures`]: the repository and `fixtures/` roots, reading fixtures, walking the delivery
//!   folders, comparing stored items with the `.expect.json` expectations.
//! - [`events`]: builders of snapshot, thin v2 and legacy thin-reference events, and of one
//!   parsed [`Delivery`](stripe_events_core::Delivery).
//! - [`stripe`]: Stripe stand-ins: [`stripe::FixtureStripe`] (a `Hydrator` serving the snapshot
//!   fixtures' objects), [`stripe::FakeStripe`] (a scripted HTTP server), the localstripe client
//!   [`stripe::LocalStripe`], a hydrator with fast retries.
//! - [`stack`]: the local stack's settings (`infra/local/stack.sh`): `require_env`, the AWS
//!   configuration pointed at moto, fresh tables, unique names.
//! - [`binary`]: runs a built consumer Lambda binary under the Runtime API emulator.
//! - [`logs`]: log lines read back, as JSON.
//! - [`webhook`]: Stripe's Python SDK as signer and verifier, Function URL requests, a
//!   recording forwarder, a moto bus with the rules of `infra/rules`.

pub mod binary;
pub mod events;
pub mod fixtures;
pub mod logs;
pub mod stack;
pub mod stripe;
pub mod webhook;
