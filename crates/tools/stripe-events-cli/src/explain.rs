//! One-line errors that name the fix: the tables checked before a command uses them (missing
//! → `create-tables` or the right `--table-prefix`, with the prefixes that do exist), DynamoDB
//! failures shortened to what an operator can act on, and an idempotent `create-tables`.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::Client;
use stripe_events_store::{create_tables, TableNames};

/// The prefix of a pair of table names (`<prefix>-stripe-events`).
pub fn prefix_of(tables: &TableNames) -> String {
    tables
        .dedupe
        .strip_suffix("-stripe-events")
        .unwrap_or(&tables.dedupe)
        .to_owned()
}

/// A DynamoDB call's failure in one line: what failed and what to check.
pub fn sdk_error<E, R>(what: &str, e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    sdk_error_in("DynamoDB", endpoint_from_env("AWS_ENDPOINT_URL"), what, e)
}

/// `<url> (<var>)` when the environment variable is set: the endpoint a client was pointed at.
pub fn endpoint_from_env(var: &str) -> Option<String> {
    std::env::var(var)
        .ok()
        .filter(|u| !u.trim().is_empty())
        .map(|u| format!("{u} ({var})"))
}

/// An AWS call's failure in one line: the service's error code and message, or what to check
/// when no answer came (credentials, region, the endpoint: `endpoint` names a non-default
/// one), never the SDK's whole context.
pub fn sdk_error_in<E, R>(
    service: &str,
    endpoint: Option<String>,
    what: &str,
    e: &SdkError<E, R>,
) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e {
        SdkError::ServiceError(se) => {
            let err = se.err();
            format!(
                "{what}: {}: {}",
                err.code().unwrap_or(&format!("{service} error")),
                err.message().unwrap_or("no message")
            )
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            let detail = DisplayErrorContext(e).to_string();
            if detail.contains("credential") {
                format!("{what}: no AWS credentials (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")
            } else {
                let endpoint = endpoint.map(|e| format!(" at {e}")).unwrap_or_default();
                format!("{what}: cannot reach {service}{endpoint}: is the endpoint up (local stack: infra/local/stack.sh) and AWS_REGION right?")
            }
        }
        _ => {
            let detail = DisplayErrorContext(e).to_string();
            if detail.contains("region") {
                format!("{what}: no AWS region (set AWS_REGION)")
            } else if detail.contains("credential") {
                format!("{what}: no AWS credentials (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")
            } else {
                let short: String = detail.chars().take(200).collect();
                format!("{what}: {short}")
            }
        }
    }
}

/// Whether a table exists (`Ok(false)`: DynamoDB says it does not).
pub async fn table_exists(client: &Client, name: &str) -> Result<bool, String> {
    match client.describe_table().table_name(name).send().await {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_resource_not_found_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(sdk_error(&format!("checking table {name}"), &e)),
    }
}

/// The prefixes that have a `<prefix>-stripe-events` table (for "did you mean").
pub async fn existing_prefixes(client: &Client) -> Vec<String> {
    let mut out = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let Ok(page) = client
            .list_tables()
            .set_exclusive_start_table_name(start.take())
            .send()
            .await
        else {
            break;
        };
        out.extend(
            page.table_names()
                .iter()
                .filter_map(|t| t.strip_suffix("-stripe-events").map(str::to_owned)),
        );
        match page.last_evaluated_table_name() {
            Some(last) if out.len() < 1000 => start = Some(last.to_owned()),
            _ => break,
        }
    }
    out
}

/// The error for tables that are not there, naming the fix.
pub fn missing_tables(tables: &TableNames, missing: &[&str], existing: &[String]) -> String {
    let prefix = prefix_of(tables);
    let known = if existing.is_empty() {
        "no <prefix>-stripe-events table exists on this endpoint".to_owned()
    } else {
        format!("prefixes with tables here: {}", existing.join(", "))
    };
    format!(
        "table {} not found (prefix {prefix:?} from --table-prefix / TABLE_PREFIX; {known}): \
         pass the right --table-prefix, or create them with `stripe-events --table-prefix {prefix} create-tables` \
         (local stacks; in AWS Terraform creates them)",
        missing.join(" and ")
    )
}

/// Both tables must exist before a command reads or writes them.
pub async fn require_tables(client: &Client, tables: &TableNames) -> Result<(), String> {
    let mut missing = Vec::new();
    for name in [&tables.dedupe, &tables.billing] {
        if !table_exists(client, name).await? {
            missing.push(name.as_str());
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(missing_tables(
        tables,
        &missing,
        &existing_prefixes(client).await,
    ))
}

/// What `create-tables` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    Both,
    AlreadyThere,
}

/// Creates both tables, or says they already exist (a second run succeeds). Only one of the
/// two existing is an error naming the table to delete (the schema creates them as a pair).
pub async fn create_tables_once(client: &Client, tables: &TableNames) -> Result<Created, String> {
    let dedupe = table_exists(client, &tables.dedupe).await?;
    let billing = table_exists(client, &tables.billing).await?;
    match (dedupe, billing) {
        (true, true) => Ok(Created::AlreadyThere),
        (false, false) => {
            create_tables(client, tables).await.map_err(|e| {
                let e = e.to_string();
                let short = e.split(" (").next().unwrap_or(&e).to_owned();
                format!("creating {} and {}: {short}", tables.dedupe, tables.billing)
            })?;
            Ok(Created::Both)
        }
        (there, _) => {
            let (have, lack) = if there {
                (&tables.dedupe, &tables.billing)
            } else {
                (&tables.billing, &tables.dedupe)
            };
            Err(format!(
                "{have} exists but {lack} does not: delete {have} (aws dynamodb delete-table --table-name {have}) and run create-tables again"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tables_name_the_fix_in_one_line() {
        let t = TableNames::for_prefix("ai-nexus-dve");
        let msg = missing_tables(&t, &[&t.dedupe, &t.billing], &["ai-nexus-dev".to_owned()]);
        assert!(!msg.contains('\n'));
        assert!(msg.contains("create-tables"));
        assert!(msg.contains("--table-prefix"));
        assert!(msg.contains("ai-nexus-dev"));
        assert_eq!(prefix_of(&t), "ai-nexus-dve");
    }
}
