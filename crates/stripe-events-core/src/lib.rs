//! The Stripe event model shared by every Lambda: where a delivery came from (partner
//! source, webhook forwarder, SQS, bare), its payload style (snapshot, thin v2, the legacy
//! thin reference), its family (which Lambda owns it) and its dedupe key.

pub mod delivery;
pub mod entitlement;
pub mod error;
pub mod family;
pub mod hydrate;
pub mod identity;
pub mod model;
pub mod parse;
pub mod project;
pub mod reload;
pub mod rules;
pub mod timestamp;
pub mod version;
pub mod vocabulary;

pub use delivery::{Delivery, DeliveryPath, ObjectRef, PayloadStyle, SourcePath};
pub use error::ParseError;
pub use family::Family;
pub use parse::{parse_bytes, Invocation, InvocationShape, Record, RecordError};
pub use timestamp::Timestamp;
pub use version::Version;
