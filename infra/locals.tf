data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  prefix     = "${var.project}-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = var.aws_region

  # Rule families (docs/architecture.md; crates/stripe-events-core/src/family.rs decides).
  # Each family has one consumer Lambda, one webhook rule on the custom bus, one partner
  # rule on the partner bus and one DLQ.
  families = toset(["subscription", "payment", "customer"])

  # The one map that drives the four Lambda functions (function, role, log group, alarms).
  functions = {
    subscription = { kind = "consumer", timeout = var.consumer_timeout_seconds, description = "Stripe subscription events -> billing state" }
    payment      = { kind = "consumer", timeout = var.consumer_timeout_seconds, description = "Stripe invoice/payment/charge/refund events -> billing state" }
    customer     = { kind = "consumer", timeout = var.consumer_timeout_seconds, description = "Stripe customer/payment method events -> billing state" }
    webhook      = { kind = "webhook", timeout = var.webhook_timeout_seconds, description = "Stripe webhook endpoint: verify Stripe-Signature, PutEvents to the custom bus" }
  }
  consumers = { for name, fn in local.functions : name => fn if fn.kind == "consumer" }

  function_names = { for name, _ in local.functions : name => "${local.prefix}-stripe-${name}" }

  # Event patterns come ONLY from infra/rules/*.json, with the same shallow top-level merge
  # the Rust tests apply (source-*.json gives "source", <family>.json gives "detail").
  webhook_event_patterns = {
    for f in local.families : f => jsonencode(merge(jsondecode(file("${path.module}/rules/source-webhook.json")), jsondecode(file("${path.module}/rules/${f}.json"))))
  }
  partner_event_patterns = {
    for f in local.families : f => jsonencode(merge(jsondecode(file("${path.module}/rules/source-partner.json")), jsondecode(file("${path.module}/rules/${f}.json"))))
  }

  # Partner event sources -> partner buses (one bus per source, named after it).
  # Keyed by source name so reordering the list never recreates anything.
  # With manage_stripe_destinations the Terraform-managed destinations' sources come first.
  partner_sources = var.enable_stripe_partner_events ? distinct(compact(concat(local.managed_partner_source_names, [var.stripe_partner_event_source_name], var.additional_stripe_partner_event_source_names))) : []
  partner_buses = {
    for name in local.partner_sources : name => {
      # Short stable id for names with length/charset limits (archive, statement ids).
      id = substr(sha1(name), 0, 8)
    }
  }
  # One rule per (partner bus, family); rule names repeat across buses (unique per bus).
  partner_rules = {
    for pair in setproduct(keys(local.partner_buses), local.families) : "${pair[0]}|${pair[1]}" => {
      source = pair[0]
      family = pair[1]
    }
  }

  # Environment contract with the Rust binaries (see README "Runtime contract").
  consumer_environment = {
    for name, _ in local.consumers : name => {
      BILLING_TABLE             = aws_dynamodb_table.billing.name
      DEDUPE_TABLE              = aws_dynamodb_table.events.name
      DEDUPE_TTL_DAYS           = tostring(var.dedupe_ttl_days)
      STRIPE_API_KEY_SECRET_ARN = aws_secretsmanager_secret.stripe_api_key.arn
      STRIPE_API_BASE           = var.stripe_api_base
      REVALIDATE_TYPES          = var.revalidate_types
      STRIPE_LIVEMODE           = var.stripe_livemode
      CONSUMER                  = name
    }
  }
  webhook_environment = {
    EVENT_BUS_NAME              = aws_cloudwatch_event_bus.stripe.name
    STRIPE_WEBHOOK_SECRET_ARN   = aws_secretsmanager_secret.stripe_webhook_secret.arn
    SIGNATURE_TOLERANCE_SECONDS = tostring(var.signature_tolerance_seconds)
    WEBHOOK_ROUTE               = split(" ", local.webhook_route_key)[1]
  }
  function_environment = merge(local.consumer_environment, { webhook = local.webhook_environment })

  lambda_log_group_arns = { for name, fn in local.function_names : name => "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${fn}" }

  webhook_route_key = "POST /stripe/webhook"
}
