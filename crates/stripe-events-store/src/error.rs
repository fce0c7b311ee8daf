use std::fmt::Debug;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StoreError {
    /// Unreachable, throttled, timed out, or a table that is not there yet: the platform
    /// retries the event.
    #[error("DynamoDB transient failure: {0}")]
    Transient(String),
    /// DynamoDB refused the request itself (e.g. an item over 400 KB): retrying cannot help.
    #[error("DynamoDB rejected the request: {0}")]
    Permanent(String),
}

impl StoreError {
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Transient(_))
    }

    pub(crate) fn permanent(e: impl std::fmt::Display) -> StoreError {
        StoreError::Permanent(e.to_string())
    }

    pub fn from_sdk<E, R>(e: SdkError<E, R>) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: Debug,
    {
        let permanent = match &e {
            SdkError::ServiceError(se) => matches!(
                se.err().code(),
                Some("ValidationException" | "SerializationException")
            ),
            SdkError::ConstructionFailure(_) => true,
            _ => false,
        };
        let message = DisplayErrorContext(&e).to_string();
        if permanent {
            StoreError::Permanent(message)
        } else {
            StoreError::Transient(message)
        }
    }
}
