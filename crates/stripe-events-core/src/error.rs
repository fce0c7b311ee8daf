use thiserror::Error;

/// Why an input is not a Stripe delivery. Every variant is permanent: retrying the same bytes
/// gives the same answer, so the Lambdas acknowledge and log these instead of retrying.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("input is not JSON: {detail}")]
    NotJson { detail: String },
    #[error("not an EventBridge event, SQS batch or Stripe event (got {found})")]
    UnrecognisedShape { found: &'static str },
    #[error("missing required field `{field}`")]
    MissingField { field: &'static str },
    #[error("field `{field}` must be {expected}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    #[error("thin event has no `related_object` with id and type")]
    ThinWithoutReference,
    #[error("`created` is not unix seconds or ISO-8601: {value}")]
    InvalidTimestamp { value: String },
    #[error(
        "EventBridge source `{source_name}` is neither a Stripe partner source nor stripe.webhook"
    )]
    UnknownSource { source_name: String },
    #[error("SQS record body is not JSON: {detail}")]
    SqsBodyNotJson { detail: String },
}

impl ParseError {
    /// A stable snake_case code for logs, metrics and fixture expectations.
    pub fn code(&self) -> &'static str {
        match self {
            ParseError::NotJson { .. } => "not_json",
            ParseError::UnrecognisedShape { .. } => "unrecognised_shape",
            ParseError::MissingField { .. } => "missing_field",
            ParseError::WrongType { .. } => "wrong_type",
            ParseError::ThinWithoutReference => "thin_without_reference",
            ParseError::InvalidTimestamp { .. } => "invalid_timestamp",
            ParseError::UnknownSource { .. } => "unknown_source",
            ParseError::SqsBodyNotJson { .. } => "sqs_body_not_json",
        }
    }

    /// The offending field, for the errors that name one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            ParseError::MissingField { field } | ParseError::WrongType { field, .. } => Some(field),
            _ => None,
        }
    }
}
