//! Reads the Terraform as text (the AWS provider cannot be downloaded here, so `terraform
//! validate` cannot run) and checks it agrees with the code: the established names, the partner
//! toggle and its validation, table keys from `schema.rs`, rule patterns from the rule files,
//! the environment the binaries read, and one function/log group/role per `lambdas/` crate.

use std::path::PathBuf;

use stripe_events_core::Family;
use stripe_events_store::schema;
use stripe_events_testkit::fixtures::repo_root as repo;

fn tf(file: &str) -> String {
    std::fs::read_to_string(repo().join("infra").join(file))
        .unwrap_or_else(|e| panic!("infra/{file}: {e}"))
}

/// The body of `resource "<kind>" "<name>" { … }` (brace-matched).
fn block(text: &str, header: &str) -> String {
    let start = text
        .find(header)
        .unwrap_or_else(|| panic!("no `{header}` in Terraform"));
    let mut depth = 0;
    for (i, c) in text[start..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return text[start..start + i + 1].to_owned();
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced braces after `{header}`")
}

fn assert_has(text: &str, needle: &str, what: &str) {
    assert!(text.contains(needle), "{what}: `{needle}` not found");
}

#[test]
fn the_notes_names_and_partner_toggle_are_kept() {
    let vars = tf("variables.tf");
    let project = block(&vars, "variable \"project\"");
    assert_has(&project, "default     = \"ai-nexus\"", "project");
    let env = block(&vars, "variable \"environment\"");
    assert_has(&env, "default     = \"dev\"", "environment");
    let toggle = block(&vars, "variable \"enable_stripe_partner_events\"");
    assert_has(&toggle, "bool", "toggle type");
    assert_has(
        &toggle,
        "default     = false",
        "partner events off until associated",
    );
    let source = block(&vars, "variable \"stripe_partner_event_source_name\"");
    assert_has(&source, "validation", "source name validation");
    assert_has(
        &source,
        "aws\\\\.partner/stripe\\\\.com/ed_",
        "source name pattern",
    );

    let eb = tf("eventbridge.tf");
    assert_has(
        &eb,
        "\"${local.prefix}-stripe-event-bus\"",
        "custom bus name",
    );
    assert_has(
        &eb,
        "\"${local.prefix}-stripe-${each.key}_events-rule\"",
        "webhook rule names",
    );
    assert_has(
        &eb,
        "\"${local.prefix}-stripe-partner_${each.value.family}_events-rule\"",
        "partner rule names",
    );
    // The partner bus must be named exactly after its source (AWS CreateEventBus).
    let partner_bus = block(&eb, "resource \"aws_cloudwatch_event_bus\" \"partner\"");
    assert_has(
        &partner_bus,
        "name              = each.key",
        "partner bus name",
    );
    assert_has(
        &partner_bus,
        "event_source_name = each.key",
        "partner bus source",
    );
    assert_has(
        &tf("locals.tf"),
        "var.enable_stripe_partner_events ?",
        "partner buses only when enabled",
    );
    assert_has(
        &tf("monitoring.tf"),
        "name              = var.eventbridge_log_group_name",
        "monitoring log group",
    );
    let log_group = block(&vars, "variable \"eventbridge_log_group_name\"");
    assert_has(
        &log_group,
        "\"/aws/events/stripe-billing\"",
        "monitoring log group name",
    );
    assert_has(
        &tf("lambda.tf"),
        "\"/aws/lambda/${each.value}\"",
        "Lambda log groups",
    );
    let locals = tf("locals.tf");
    assert_has(
        &locals,
        "\"${local.prefix}-stripe-${name}\"",
        "function names",
    );
}

#[test]
fn rule_patterns_come_from_the_rule_files_the_tests_evaluate() {
    let locals = tf("locals.tf");
    for source in ["source-webhook.json", "source-partner.json"] {
        assert_has(
            &locals,
            &format!("merge(jsondecode(file(\"${{path.module}}/rules/{source}\")), jsondecode(file(\"${{path.module}}/rules/${{f}}.json\")))"),
            "pattern built from the rule files",
        );
    }
    let families: Vec<&str> = Family::CONSUMERS.iter().map(|f| f.as_str()).collect();
    assert_has(
        &locals,
        &format!("families = toset({families:?})"),
        "families",
    );
    for f in &families {
        assert!(
            repo().join(format!("infra/rules/{f}.json")).exists(),
            "rule file for {f}"
        );
    }
}

#[test]
fn tables_use_the_codes_keys() {
    let ddb = tf("dynamodb.tf");
    let events = block(&ddb, "resource \"aws_dynamodb_table\" \"events\"");
    assert_has(
        &events,
        "\"${local.prefix}-stripe-events\"",
        "dedupe table name",
    );
    assert_has(
        &events,
        &format!("hash_key                    = \"{}\"", schema::DEDUPE_PK),
        "dedupe key",
    );
    assert_has(
        &events,
        &format!("attribute_name = \"{}\"", schema::DEDUPE_TTL_ATTRIBUTE),
        "TTL attribute",
    );
    let billing = block(&ddb, "resource \"aws_dynamodb_table\" \"billing\"");
    assert_has(
        &billing,
        "\"${local.prefix}-stripe-billing\"",
        "billing table name",
    );
    assert_has(
        &billing,
        &format!("hash_key                    = \"{}\"", schema::BILLING_PK),
        "billing pk",
    );
    assert_has(
        &billing,
        &format!("range_key                   = \"{}\"", schema::BILLING_SK),
        "billing sk",
    );
    for (index, key) in [
        (schema::USER_INDEX, schema::USER_INDEX_KEY),
        (schema::OBJECT_INDEX, schema::OBJECT_INDEX_KEY),
    ] {
        assert_has(
            &billing,
            &format!("name            = \"{index}\"\n    hash_key        = \"{key}\""),
            "GSI name and hash key",
        );
    }
    let protection = block(
        &tf("variables.tf"),
        "variable \"dynamodb_deletion_protection\"",
    );
    assert_has(
        &protection,
        "default     = true",
        "deletion protection on by default",
    );
    for table in [&events, &billing] {
        assert_has(table, "point_in_time_recovery", "PITR");
        assert_has(
            table,
            "deletion_protection_enabled = var.dynamodb_deletion_protection",
            "deletion protection",
        );
        assert_has(table, "server_side_encryption", "encryption");
    }
}

#[test]
fn every_lambda_crate_has_a_function_log_group_role_and_rules() {
    let locals = tf("locals.tf");
    let functions = block(&locals, "functions = {");
    let mut crates: Vec<String> = std::fs::read_dir(repo().join("lambdas"))
        .expect("lambdas/")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    crates.sort();
    assert!(crates.contains(&"webhook".to_owned()), "{crates:?}");
    for name in &crates {
        assert!(
            functions.contains(&format!("\n    {name} ")),
            "lambdas/{name} has no entry in local.functions"
        );
    }
    // Function, log group and role are all `for_each` over that one map.
    let lambda = tf("lambda.tf");
    assert_has(
        &block(&lambda, "resource \"aws_lambda_function\" \"this\""),
        "for_each = local.functions",
        "functions",
    );
    assert_has(
        &block(&lambda, "resource \"aws_cloudwatch_log_group\" \"lambda\""),
        "for_each = local.function_names",
        "log groups",
    );
    assert_has(
        &block(&tf("iam.tf"), "resource \"aws_iam_role\" \"lambda\""),
        "for_each = local.functions",
        "roles",
    );
    let fn_block = block(&lambda, "resource \"aws_lambda_function\" \"this\"");
    for needle in ["provided.al2023", "arm64", "bootstrap.zip", "Active"] {
        assert_has(&fn_block, needle, "function settings");
    }
    // The consumers (one per family) read these variables; Terraform must set them.
    for family in Family::CONSUMERS {
        assert!(
            crates.iter().any(|c| c == family.as_str()),
            "no lambdas/{family} crate"
        );
        let line = functions
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{} ", family.as_str())))
            .unwrap_or_else(|| panic!("no function for {family}"));
        assert_has(line, "kind = \"consumer\"", "consumer function");
    }
    for var in [
        "BILLING_TABLE",
        "DEDUPE_TABLE",
        "DEDUPE_TTL_DAYS",
        "STRIPE_API_KEY_SECRET_ARN",
        "STRIPE_API_BASE",
        "REVALIDATE_TYPES",
        "STRIPE_LIVEMODE",
    ] {
        assert_has(
            &block(&locals, "consumer_environment = {"),
            var,
            "consumer environment",
        );
    }
    for var in [
        "EVENT_BUS_NAME",
        "STRIPE_WEBHOOK_SECRET_ARN",
        "SIGNATURE_TOLERANCE_SECONDS",
    ] {
        assert_has(
            &block(&locals, "webhook_environment = {"),
            var,
            "webhook environment",
        );
    }
    let eb = tf("eventbridge.tf");
    assert_has(
        &block(&eb, "resource \"aws_cloudwatch_event_rule\" \"webhook\""),
        "local.webhook_event_patterns[each.key]",
        "webhook rules per family",
    );
    assert_has(
        &block(&eb, "resource \"aws_cloudwatch_event_rule\" \"partner\""),
        "local.partner_event_patterns[each.value.family]",
        "partner rules per family",
    );
}

// ---------------------------------------------------------------------------------------------
// Least privilege, read from the code (infra/iam.tf, infra/bus_policy.tf, infra/kms.tf).
// The expected grants below are the contract: each names the call that needs it. Widening a
// role (an action, a resource, a dropped condition) fails here until this list is changed
// with it, in the same review.
// ---------------------------------------------------------------------------------------------

/// Every `*.tf` file of `infra/`, concatenated (a resource may move between files).
fn all_tf() -> String {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("infra"))
        .expect("infra/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tf"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The brace-matched block starting at the first `{` at or after `start`.
fn block_at(text: &str, start: usize) -> &str {
    let open = start + text[start..].find('{').expect("a block");
    let mut depth = 0;
    for (i, c) in text[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &text[start..open + i + 1];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced braces at {start}")
}

/// Every block whose header is `header` (at the start of a line, after indentation).
fn blocks<'a>(text: &'a str, header: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find(header) {
        let at = from + i;
        let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
        if text[line_start..at].trim().is_empty() {
            out.push(block_at(text, at));
        }
        from = at + header.len();
    }
    out
}

/// The value of `key = …` (first line in `text` whose trimmed form starts with `key `/`key=`),
/// for lists up to the matching `]`.
fn attr<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        let rest = t.strip_prefix(key).map(str::trim_start);
        if let Some(rest) = rest.and_then(|r| r.strip_prefix('=')) {
            let value_at = offset + (line.len() - rest.len());
            let rest = rest.trim_start();
            let value_at =
                value_at + (text[value_at..].len() - text[value_at..].trim_start().len());
            if rest.starts_with('[') {
                let mut depth = 0;
                for (i, c) in text[value_at..].char_indices() {
                    match c {
                        '[' => depth += 1,
                        ']' => {
                            depth -= 1;
                            if depth == 0 {
                                return Some(&text[value_at..value_at + i + 1]);
                            }
                        }
                        _ => {}
                    }
                }
                panic!("unbalanced [ after {key}");
            }
            return Some(rest.trim_end());
        }
        offset += line.len();
    }
    None
}

/// `["a", "b"]` -> `["a", "b"]`; `[x.arn, "${y}/z"]` -> `["x.arn", "\"${y}/z\""]` (HCL items,
/// one per line or comma-separated, quotes kept except for plain string lists).
fn list_items(list: &str) -> Vec<String> {
    let inner = list.trim().trim_start_matches('[').trim_end_matches(']');
    inner
        .split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn unquote(s: &str) -> String {
    s.trim().trim_matches('"').to_owned()
}

#[derive(Debug, Clone, PartialEq)]
struct Condition {
    test: String,
    variable: String,
    values: Vec<String>,
}

#[derive(Debug, Clone)]
struct Statement {
    sid: String,
    effect: String,
    actions: Vec<String>,
    resources: Vec<String>,
    principals: Vec<(String, Vec<String>)>,
    conditions: Vec<Condition>,
    /// `Some(for_each expression)` for a `dynamic "statement"` block.
    dynamic: Option<String>,
}

fn parse_statement(body: &str, dynamic: Option<String>) -> Statement {
    assert!(
        attr(body, "not_actions").is_none() && attr(body, "not_resources").is_none(),
        "not_actions/not_resources widen a statement silently: {body}"
    );
    let sid = attr(body, "sid").map(unquote).unwrap_or_default();
    let effect = attr(body, "effect")
        .map(unquote)
        .unwrap_or_else(|| "Allow".into());
    let actions = attr(body, "actions")
        .map(|l| list_items(l).iter().map(|a| unquote(a)).collect())
        .unwrap_or_default();
    let resources = attr(body, "resources").map(list_items).unwrap_or_default();
    let principals = blocks(body, "principals {")
        .into_iter()
        .map(|p| {
            (
                attr(p, "type").map(unquote).unwrap_or_default(),
                attr(p, "identifiers").map(list_items).unwrap_or_default(),
            )
        })
        .collect();
    let conditions = blocks(body, "condition {")
        .into_iter()
        .map(|c| Condition {
            test: attr(c, "test").map(unquote).unwrap_or_default(),
            variable: attr(c, "variable").map(unquote).unwrap_or_default(),
            values: attr(c, "values").map(list_items).unwrap_or_default(),
        })
        .collect();
    Statement {
        sid,
        effect,
        actions,
        resources,
        principals,
        conditions,
        dynamic,
    }
}

/// The statements of `data "aws_iam_policy_document" "<name>"`, static and dynamic.
fn policy_document(name: &str) -> Vec<Statement> {
    let tf = all_tf();
    let header = format!("data \"aws_iam_policy_document\" \"{name}\"");
    let docs = blocks(&tf, &header);
    assert_eq!(docs.len(), 1, "exactly one `{header}`");
    let doc = docs[0];
    assert!(
        attr(doc, "source_policy_documents").is_none()
            && attr(doc, "override_policy_documents").is_none()
            && attr(doc, "source_json").is_none()
            && attr(doc, "override_json").is_none(),
        "{header}: merged documents would add statements this test cannot see"
    );
    let mut out: Vec<Statement> = blocks(doc, "statement {")
        .into_iter()
        .map(|s| parse_statement(s, None))
        .collect();
    for d in blocks(doc, "dynamic \"statement\" {") {
        let for_each = attr(d, "for_each").expect("dynamic for_each").to_owned();
        let content = blocks(d, "content {");
        assert_eq!(content.len(), 1, "one content block: {d}");
        out.push(parse_statement(content[0], Some(for_each)));
    }
    out
}

/// A consumer-policy statement applies to `consumer` by default (static), only when the
/// operator opts in (redrive), or when `consumer` is in the set named by the condition.
#[derive(Debug, PartialEq)]
enum Applies {
    Yes,
    No,
    OnRedrive,
}

fn applies(s: &Statement, consumer: &str) -> Applies {
    let Some(for_each) = &s.dynamic else {
        return Applies::Yes;
    };
    if for_each.starts_with("lookup(var.dlq_redrive_enabled, each.key, false) ?") {
        return Applies::OnRedrive;
    }
    // `contains(local.<set>, each.key) ? [1] : []`, the set a literal `toset([...])` local.
    let set = for_each
        .strip_prefix("contains(local.")
        .and_then(|r| r.strip_suffix(", each.key) ? [1] : []"))
        .unwrap_or_else(|| {
            panic!(
                "statement {}: unknown for_each `{for_each}`; teach this test",
                s.sid
            )
        });
    let tf = all_tf();
    let members = attr(&tf, set)
        .and_then(|v| v.strip_prefix("toset(")?.strip_suffix(')'))
        .unwrap_or_else(|| panic!("local.{set} must be a literal toset([...])"));
    if list_items(members).iter().any(|m| unquote(m) == consumer) {
        Applies::Yes
    } else {
        Applies::No
    }
}

fn sorted(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// `(sid, actions, resources)`: what a role may do, statement by statement.
type Grant = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
);

/// The grants every consumer gets, with the call (or AWS component acting with the role)
/// that needs each action.
const CONSUMER_GRANTS: &[Grant] = &[
    // dynamodb:UpdateItem on the dedupe table. stripe-events-store/src/dynamo.rs:
    // DynamoStore::try_commit (TransactWriteItems; its `Update` of the done mark is authorized
    // as UpdateItem, ReturnValuesOnConditionCheckFailure=ALL_OLD needs nothing more),
    // DynamoStore::mark_done (UpdateItem) and EventStore::record_delivery (UpdateItem,
    // ReturnValues=ALL_OLD). Called from stripe-events-consumer/src/lib.rs Consumer::process.
    (
        "OwnDedupeRecords",
        &["dynamodb:UpdateItem"],
        &["aws_dynamodb_table.events.arn"],
    ),
    // dynamodb:UpdateItem on the billing table: the state `Update` items of
    // DynamoStore::try_commit's TransactWriteItems (version-guarded, no Put/Delete/Get).
    (
        "BillingStateUpdates",
        &["dynamodb:UpdateItem"],
        &["aws_dynamodb_table.billing.arn"],
    ),
    // stripe-events-stripe/src/config.rs SecretKeySource::load: one GetSecretValue at cold
    // start (StripeConfig::from_vars, from stripe-events-consumer/src/runtime.rs run), and
    // again when Stripe rejects the key (at most once a minute).
    (
        "StripeApiKey",
        &["secretsmanager:GetSecretValue"],
        &["aws_secretsmanager_secret.stripe_api_key.arn"],
    ),
    // Lambda (not our code) sends failed async invocations to the function's DLQ with the
    // execution role (lambda.tf dead_letter_config).
    (
        "OwnDeadLetterQueue",
        &["sqs:SendMessage"],
        &["aws_sqs_queue.dlq[each.key].arn"],
    ),
    // DynamoDB, Secrets Manager and SQS call KMS on the role's behalf (kms:ViaService): the
    // tables, the secret and the DLQs are encrypted with the stack key.
    (
        "StackKeyForDynamoDb",
        &[
            "kms:Decrypt",
            "kms:Encrypt",
            "kms:GenerateDataKey*",
            "kms:ReEncrypt*",
            "kms:DescribeKey",
        ],
        &["aws_kms_key.stripe.arn"],
    ),
    (
        "StackKeyForSecretsManager",
        &["kms:Decrypt"],
        &["aws_kms_key.stripe.arn"],
    ),
    (
        "StackKeyForDeadLetterQueue",
        &["kms:GenerateDataKey", "kms:Decrypt"],
        &["aws_kms_key.stripe.arn"],
    ),
    // The Lambda runtime writes the function's stdout/stderr (tracing JSON, EMF) with the role.
    (
        "OwnLogGroup",
        &["logs:CreateLogStream", "logs:PutLogEvents"],
        &["\"${aws_cloudwatch_log_group.lambda[each.key].arn}:*\""],
    ),
    // Active tracing: Lambda uploads segments with the role (no resource-level permissions).
    (
        "XRay",
        &["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
        &["\"*\""],
    ),
];

/// Only the customer consumer: stripe-events-store/src/dynamo.rs `EventStore::locate` (Query on
/// the by_object_id GSI), called by stripe-events-consumer/src/lib.rs Consumer::file_unfiled
/// for writes whose event names no owner. Only `payment_method` writes can be unfiled
/// (asserted below), and payment_method.* events are the customer family's.
const OBJECT_INDEX_GRANT: Grant = (
    "LocateByObjectId",
    &["dynamodb:Query"],
    &["\"${aws_dynamodb_table.billing.arn}/index/by_object_id\""],
);

/// While `dlq_redrive_enabled[<family>]` is on: the Lambda event source mapping polls the DLQ
/// with the execution role (eventbridge.tf aws_lambda_event_source_mapping.dlq_redrive).
const REDRIVE_GRANT: Grant = (
    "RedriveOwnDeadLetterQueue",
    &[
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
    ],
    &["statement.value"],
);

fn expected_consumer_grants(consumer: &str) -> Vec<Grant> {
    let mut g = CONSUMER_GRANTS.to_vec();
    // The consumers that file unfiled writes (see the Query test below).
    if matches!(consumer, "customer" | "payment") {
        g.push(OBJECT_INDEX_GRANT);
    }
    g
}

type Normalized = Vec<(String, Vec<String>, Vec<String>)>;

fn normalize<'a>(
    grants: impl IntoIterator<Item = (&'a str, Vec<String>, Vec<String>)>,
) -> Normalized {
    let mut v: Normalized = grants
        .into_iter()
        .map(|(sid, mut a, mut r)| {
            a.sort();
            r.sort();
            (sid.to_owned(), a, r)
        })
        .collect();
    v.sort();
    v
}

fn expected(grants: &[Grant]) -> Normalized {
    normalize(
        grants
            .iter()
            .map(|(sid, a, r)| (*sid, sorted(a), sorted(r))),
    )
}

fn actual(statements: &[Statement]) -> Normalized {
    normalize(
        statements
            .iter()
            .map(|s| (s.sid.as_str(), s.actions.clone(), s.resources.clone())),
    )
}

#[test]
fn consumer_roles_grant_exactly_the_calls_the_code_makes() {
    let doc = policy_document("consumer");
    for s in &doc {
        assert_eq!(s.effect, "Allow", "{}", s.sid);
    }
    for family in Family::CONSUMERS {
        let consumer = family.as_str();
        let granted: Vec<Statement> = doc
            .iter()
            .filter(|s| applies(s, consumer) == Applies::Yes)
            .cloned()
            .collect();
        assert_eq!(
            actual(&granted),
            expected(&expected_consumer_grants(consumer)),
            "{consumer} consumer: (sid, actions, resources) differ from the calls its code makes"
        );
        let redrive: Vec<Statement> = doc
            .iter()
            .filter(|s| applies(s, consumer) == Applies::OnRedrive)
            .cloned()
            .collect();
        assert_eq!(
            actual(&redrive),
            expected(&[REDRIVE_GRANT]),
            "redrive grant"
        );
    }
    // Nothing else reaches the Lambda roles: one inline policy each, no attachments.
    let tf = all_tf();
    for widening in [
        "resource \"aws_iam_role_policy_attachment\"",
        "resource \"aws_iam_policy_attachment\"",
        "managed_policy_arns",
        "inline_policy",
    ] {
        assert!(
            !tf.contains(widening),
            "`{widening}` in infra/: a second grant path"
        );
    }
    assert_eq!(
        blocks(&tf, "resource \"aws_iam_role_policy\"").len(),
        1,
        "one inline policy resource (aws_iam_role_policy.lambda)"
    );
}

#[test]
fn webhook_role_grants_exactly_the_calls_the_code_makes() {
    let doc = policy_document("webhook");
    assert!(doc
        .iter()
        .all(|s| s.dynamic.is_none() && s.effect == "Allow"));
    let want: &[Grant] = &[
        // crates/stripe-events-webhook/src/forward.rs EventBridgeForwarder::put: PutEvents on the one bus.
        (
            "PublishToCustomBus",
            &["events:PutEvents"],
            &["aws_cloudwatch_event_bus.stripe.arn"],
        ),
        // crates/stripe-events-webhook/src/secrets.rs SecretsManagerLoader::load_now: GetSecretValue at cold
        // start (main.rs) and on a rate-limited reload after a signature mismatch.
        (
            "StripeWebhookSecret",
            &["secretsmanager:GetSecretValue"],
            &["aws_secretsmanager_secret.stripe_webhook_secret.arn"],
        ),
        (
            "StackKeyForSecretsManager",
            &["kms:Decrypt"],
            &["aws_kms_key.stripe.arn"],
        ),
        (
            "OwnLogGroup",
            &["logs:CreateLogStream", "logs:PutLogEvents"],
            &["\"${aws_cloudwatch_log_group.lambda[\"webhook\"].arn}:*\""],
        ),
        (
            "XRay",
            &["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            &["\"*\""],
        ),
    ];
    assert_eq!(actual(&doc), expected(want), "webhook role");
}

#[test]
fn query_is_scoped_to_the_one_index_the_code_queries() {
    let doc = policy_document("consumer");
    let queries: Vec<&Statement> = doc
        .iter()
        .filter(|s| s.actions.iter().any(|a| a.starts_with("dynamodb:Query")))
        .collect();
    assert_eq!(queries.len(), 1, "one Query statement, got {queries:#?}");
    assert_eq!(
        queries[0].resources,
        [format!(
            "\"${{aws_dynamodb_table.billing.arn}}/index/{}\"",
            schema::OBJECT_INDEX
        )],
        "Query only on the GSI EventStore::locate queries (no table, no index/*)"
    );
    // Which consumers: those whose events can give an unfiled write (the one `locate`
    // files): a payment method's (customer family), or the deletion marker of a tax id or
    // discount (customer family) or an invoice (payment family). `unfiled_pk` is called in
    // those two builders only.
    let filing = [Family::Customer, Family::Payment];
    for family in Family::CONSUMERS {
        assert_eq!(
            applies(queries[0], family.as_str()) == Applies::Yes,
            filing.contains(&family),
            "Query is granted to the consumers that file writes only ({family})"
        );
    }
    let project_rs =
        std::fs::read_to_string(repo().join("crates/stripe-events-core/src/project.rs"))
            .expect("project.rs");
    let code = project_rs.split("#[cfg(test)]").next().unwrap_or_default();
    let builders: Vec<&str> = ["fn payment_method(", "fn owner_unknown_deletion<"]
        .iter()
        .map(|f| block_at(code, code.find(f).unwrap_or_else(|| panic!("{f}"))))
        .collect();
    let uses = code.matches("unfiled_pk(").count();
    assert!(
        uses > 0
            && uses
                == builders
                    .iter()
                    .map(|b| b.matches("unfiled_pk(").count())
                    .sum::<usize>(),
        "an unfiled pk is built outside its two builders: re-check which consumers Query"
    );
    let owner_unknown = builders[1];
    for (kind, deletion) in [
        ("Kind::TaxId", "customer.tax_id.deleted"),
        ("Kind::Discount", "customer.discount.deleted"),
        ("Kind::Invoice", "invoice.deleted"),
    ] {
        assert!(owner_unknown.contains(kind), "{kind}");
        assert!(
            filing.contains(&Family::of_event_type(deletion)),
            "{deletion}"
        );
    }
    assert_eq!(
        owner_unknown.matches(" Kind::").count(),
        3,
        "a new kind of deletion marker: check its family's Query grant"
    );
    // The prefix is spelled once, in the vocabulary, and built only by `unfiled_pk`.
    let vocabulary =
        std::fs::read_to_string(repo().join("crates/stripe-events-core/src/vocabulary.rs"))
            .expect("vocabulary.rs");
    let vocabulary = vocabulary.split("#[cfg(test)]").next().unwrap_or_default();
    assert_eq!(
        (
            code.matches("UNFILED#\"").count(),
            vocabulary.matches("\"UNFILED#\"").count()
        ),
        (0, 1),
        "the UNFILED# literal only in the vocabulary's const"
    );
    for t in [
        "payment_method.attached",
        "payment_method.detached",
        "payment_method.updated",
    ] {
        assert_eq!(Family::of_event_type(t), Family::Customer, "{t}");
    }
}

#[test]
fn dedupe_writes_are_limited_to_each_consumers_own_keys() {
    let doc = policy_document("consumer");
    let on_dedupe: Vec<&Statement> = doc
        .iter()
        .filter(|s| {
            s.resources
                .iter()
                .any(|r| r.contains("aws_dynamodb_table.events"))
        })
        .collect();
    assert!(!on_dedupe.is_empty(), "no statement on the dedupe table");
    for s in &on_dedupe {
        assert!(
            s.conditions.contains(&Condition {
                test: "ForAllValues:StringLike".into(),
                variable: "dynamodb:LeadingKeys".into(),
                values: vec!["\"${each.key}#*\"".into()],
            }),
            "{}: no dynamodb:LeadingKeys condition limiting the consumer to `<consumer>#*`: {:?}",
            s.sid,
            s.conditions
        );
        assert_eq!(
            s.resources,
            ["aws_dynamodb_table.events.arn"],
            "{}: the dedupe-table statement covers the dedupe table only",
            s.sid
        );
    }
    // The pattern is the code's key: `pk` (the only key of the dedupe table) is
    // Delivery::consumer_dedupe_key = `{consumer}#{event key}`, and `each.key` is the family.
    assert_eq!(schema::DEDUPE_PK, "pk");
    let payload = serde_json::json!({
        "version": "0", "id": "uuid-1", "detail-type": "Stripe Webhook Event",
        "source": "stripe.webhook",
        "detail": {"id": "evt_1", "object": "event", "type": "customer.updated",
                   "created": 1_700_000_000,
                   "data": {"object": {"id": "cus_1", "object": "customer"}}}
    })
    .to_string();
    let d = stripe_events_core::parse_bytes(payload.as_bytes())
        .expect("a webhook event")
        .into_single()
        .expect("one event")
        .expect("a delivery");
    for family in Family::CONSUMERS {
        let key = d.consumer_dedupe_key(family);
        let prefix = format!("{}#", family.as_str());
        assert!(key.starts_with(&prefix), "{key} does not match {prefix}*");
        for other in Family::CONSUMERS.iter().filter(|f| **f != family) {
            assert!(!key.starts_with(&format!("{}#", other.as_str())));
        }
    }
    // The billing table is shared by design (a customer's partition holds its subscriptions,
    // payments and profile, written by three consumers), so it cannot carry LeadingKeys.
    let billing: Vec<&Statement> = doc
        .iter()
        .filter(|s| {
            s.resources
                .iter()
                .any(|r| r.contains("aws_dynamodb_table.billing"))
        })
        .collect();
    for s in billing {
        assert!(
            !s.resources
                .iter()
                .any(|r| r.contains("aws_dynamodb_table.events")),
            "{}: billing and dedupe grants must stay separate statements",
            s.sid
        );
    }
}

#[test]
fn only_the_webhook_role_publishes_stripe_webhook_events() {
    let tf = all_tf();
    let policies = blocks(&tf, "resource \"aws_cloudwatch_event_bus_policy\"");
    let custom: Vec<&&str> = policies
        .iter()
        .filter(|p| attr(p, "event_bus_name") == Some("aws_cloudwatch_event_bus.stripe.name"))
        .collect();
    assert_eq!(custom.len(), 1, "one resource policy on the custom bus");
    let doc_name = attr(custom[0], "policy")
        .and_then(|p| p.strip_prefix("data.aws_iam_policy_document."))
        .and_then(|p| p.strip_suffix(".json"))
        .expect("policy = data.aws_iam_policy_document.<name>.json");
    let doc = policy_document(doc_name);
    let source =
        std::fs::read_to_string(repo().join("crates/stripe-events-webhook/src/forward.rs"))
            .expect("forward.rs");
    assert_has(
        &source,
        "pub const SOURCE: &str = \"stripe.webhook\";",
        "webhook source",
    );
    let deny = doc
        .iter()
        .find(|s| s.effect == "Deny" && s.actions == ["events:PutEvents"])
        .unwrap_or_else(|| panic!("no Deny of events:PutEvents in {doc_name}: {doc:#?}"));
    assert_eq!(deny.resources, ["aws_cloudwatch_event_bus.stripe.arn"]);
    assert_eq!(
        deny.principals,
        [("*".to_owned(), vec!["\"*\"".to_owned()])],
        "the Deny applies to every principal"
    );
    assert!(deny.dynamic.is_none());
    assert_eq!(
        deny.conditions.len(),
        2,
        "source + principal conditions only: {:?}",
        deny.conditions
    );
    assert!(
        deny.conditions.contains(&Condition {
            test: "ForAnyValue:StringEquals".into(),
            variable: "events:source".into(),
            values: vec!["\"stripe.webhook\"".into()],
        }),
        "Deny must match any entry with source stripe.webhook: {:?}",
        deny.conditions
    );
    assert!(
        deny.conditions.contains(&Condition {
            test: "ArnNotEquals".into(),
            variable: "aws:PrincipalArn".into(),
            values: vec!["aws_iam_role.lambda[\"webhook\"].arn".into()],
        }),
        "the only exception is the webhook Lambda's role: {:?}",
        deny.conditions
    );
    // The document only denies: it must not grant anyone anything.
    assert!(doc.iter().all(|s| s.effect == "Deny"), "{doc:#?}");
}

#[test]
fn kms_lets_cloudwatch_logs_use_the_key_for_this_account_only() {
    let kms = tf("kms.tf");
    let sid = kms
        .find("Sid       = \"CloudWatchLogsEncryptOwnLogGroups\"")
        .expect("CloudWatch Logs statement");
    let start = kms[..sid].rfind('{').expect("statement start");
    let statement = block_at(&kms, start);
    assert_has(
        statement,
        "Principal = { Service = \"logs.${local.region}.amazonaws.com\" }",
        "logs principal",
    );
    assert_has(
        statement,
        "\"kms:EncryptionContext:aws:logs:arn\"",
        "encryption-context condition kept",
    );
    assert_has(
        statement,
        "StringEquals = { \"aws:SourceAccount\" = local.account_id }",
        "aws:SourceAccount condition",
    );
}
