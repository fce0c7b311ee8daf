//! Reads the Terraform as text (the AWS provider cannot be downloaded here, so `terraform
//! validate` cannot run) and checks it agrees with the code: the established names, the partner
//! toggle and its validation, table keys from `schema.rs`, rule patterns from the rule files,
//! the environment the binaries read, and one function/log group/role per `lambdas/` crate.

use std::path::{Path, PathBuf};

use stripe_events_core::Family;
use stripe_events_store::schema;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

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
