# ---------------------------------------------------------------------------
# Buses
# ---------------------------------------------------------------------------

# Custom bus: the webhook Lambda publishes verified Stripe events here (source
# "stripe.webhook", detail = the Stripe event).
resource "aws_cloudwatch_event_bus" "stripe" {
  name = "${local.prefix}-stripe-event-bus"
}

# Partner buses. A partner event source can only be attached to a partner bus whose name
# is exactly the source's name (AWS CreateEventBus; docs/stripe-and-eventbridge-facts.md),
# so the partner rules live on these buses, not on the custom bus. Create only once the
# source exists in EventBridge (README). One bus per source: stripe_partner_event_source_name
# plus any additional_stripe_partner_event_source_names (e.g. the thin destination next to
# the snapshot one).
resource "aws_cloudwatch_event_bus" "partner" {
  for_each = local.partner_buses

  name              = each.key
  event_source_name = each.key
}

resource "aws_cloudwatch_event_archive" "stripe" {
  name             = "${local.prefix}-stripe-event-bus-archive"
  description      = "Every event on ${aws_cloudwatch_event_bus.stripe.name}, for replay"
  event_source_arn = aws_cloudwatch_event_bus.stripe.arn
  retention_days   = var.event_archive_retention_days
}

resource "aws_cloudwatch_event_archive" "partner" {
  for_each = local.partner_buses

  name             = "${local.prefix}-stripe-partner-${each.value.id}-archive"
  description      = "Every event on ${each.key}, for replay"
  event_source_arn = aws_cloudwatch_event_bus.partner[each.key].arn
  retention_days   = var.event_archive_retention_days
}

# ---------------------------------------------------------------------------
# Rules (patterns ONLY from infra/rules/*.json, see locals.tf)
# ---------------------------------------------------------------------------

# Webhook path: <prefix>-stripe-<family>_events-rule on the custom bus. Per-family switch
# var.webhook_rules_enabled only sets the rule's state: the migration itself is per type on
# the Stripe endpoint (`stripe-events migrate`); this is the optional last step or an
# emergency stop (infra/README.md).
resource "aws_cloudwatch_event_rule" "webhook" {
  for_each = local.families

  name           = "${local.prefix}-stripe-${each.key}_events-rule"
  description    = "Stripe ${each.key} events forwarded by the webhook Lambda -> ${local.function_names[each.key]}"
  event_bus_name = aws_cloudwatch_event_bus.stripe.name
  event_pattern  = local.webhook_event_patterns[each.key]
  state          = lookup(var.webhook_rules_enabled, each.key, true) ? "ENABLED" : "DISABLED"
}

# Partner path: <prefix>-stripe-partner_<family>_events-rule on each partner bus.
resource "aws_cloudwatch_event_rule" "partner" {
  for_each = local.partner_rules

  name           = "${local.prefix}-stripe-partner_${each.value.family}_events-rule"
  description    = "Stripe ${each.value.family} events from ${each.value.source} -> ${local.function_names[each.value.family]}"
  event_bus_name = aws_cloudwatch_event_bus.partner[each.value.source].name
  event_pattern  = local.partner_event_patterns[each.value.family]
  state          = lookup(var.partner_rules_enabled, each.value.family, true) ? "ENABLED" : "DISABLED"
}

# ---------------------------------------------------------------------------
# Dead-letter queues (one per family)
# ---------------------------------------------------------------------------
# Each family queue receives
#   - events EventBridge could not hand to the Lambda within the target retry policy
#     (the webhook rule and the partner rule(s) of the family), and
#   - events the Lambda still failed after its async retries (function dead_letter_config).
# In both cases the message body is the original EventBridge event, which the consumers
# accept as an SQS record, so a queue can be redriven straight to its Lambda.
#
# Encryption: the stack's customer managed key, not SQS-managed SSE. The messages are full
# Stripe payloads (customer e-mails, addresses, invoice lines); with the CMK, reading them
# needs kms:Decrypt on a key whose use is auditable in CloudTrail and revocable, not only
# sqs:ReceiveMessage. (The AWS managed aws/sqs key is not an option: EventBridge cannot use it.)

resource "aws_sqs_queue" "dlq" {
  for_each = local.families

  name                              = "${local.prefix}-stripe-${each.key}-dlq"
  message_retention_seconds         = var.dlq_message_retention_seconds
  visibility_timeout_seconds        = 6 * var.consumer_timeout_seconds # >= function timeout, needed for redrive
  kms_master_key_id                 = aws_kms_key.stripe.arn
  kms_data_key_reuse_period_seconds = 300
}

data "aws_iam_policy_document" "dlq" {
  for_each = local.families

  statement {
    sid       = "EventBridgeRulesOfThisFamily"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq[each.key].arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values = concat(
        [aws_cloudwatch_event_rule.webhook[each.key].arn],
        [for k, rule in aws_cloudwatch_event_rule.partner : rule.arn if local.partner_rules[k].family == each.key],
      )
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.dlq[each.key].arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "dlq" {
  for_each = local.families

  queue_url = aws_sqs_queue.dlq[each.key].id
  policy    = data.aws_iam_policy_document.dlq[each.key].json
}

# ---------------------------------------------------------------------------
# Targets + invoke permissions
# ---------------------------------------------------------------------------

resource "aws_cloudwatch_event_target" "webhook" {
  for_each = aws_cloudwatch_event_rule.webhook

  rule           = each.value.name
  event_bus_name = each.value.event_bus_name
  target_id      = "${each.key}-consumer"
  arn            = aws_lambda_function.this[each.key].arn

  retry_policy {
    maximum_event_age_in_seconds = var.target_max_event_age_seconds
    maximum_retry_attempts       = var.target_max_retry_attempts
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq[each.key].arn
  }

  depends_on = [aws_sqs_queue_policy.dlq]
}

resource "aws_cloudwatch_event_target" "partner" {
  for_each = aws_cloudwatch_event_rule.partner

  rule           = each.value.name
  event_bus_name = each.value.event_bus_name
  target_id      = "${local.partner_rules[each.key].family}-consumer"
  arn            = aws_lambda_function.this[local.partner_rules[each.key].family].arn

  retry_policy {
    maximum_event_age_in_seconds = var.target_max_event_age_seconds
    maximum_retry_attempts       = var.target_max_retry_attempts
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq[local.partner_rules[each.key].family].arn
  }

  depends_on = [aws_sqs_queue_policy.dlq]
}

resource "aws_lambda_permission" "webhook_rule" {
  for_each = aws_cloudwatch_event_rule.webhook

  statement_id  = "AllowEventBridgeWebhookRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[each.key].function_name
  principal     = "events.amazonaws.com"
  source_arn    = each.value.arn
}

resource "aws_lambda_permission" "partner_rule" {
  for_each = aws_cloudwatch_event_rule.partner

  statement_id  = "AllowEventBridgePartnerRule-${local.partner_buses[local.partner_rules[each.key].source].id}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[local.partner_rules[each.key].family].function_name
  principal     = "events.amazonaws.com"
  source_arn    = each.value.arn
}

# Operator-triggered redrive (var.dlq_redrive_enabled): the DLQ feeds its consumer directly.
# The consumers accept SQS batches whose bodies are EventBridge events and report
# batchItemFailures; already-applied events are skipped by the dedupe table.
resource "aws_lambda_event_source_mapping" "dlq_redrive" {
  for_each = { for f in local.families : f => f if lookup(var.dlq_redrive_enabled, f, false) }

  function_name                      = aws_lambda_function.this[each.key].arn
  event_source_arn                   = aws_sqs_queue.dlq[each.key].arn
  batch_size                         = 10
  maximum_batching_window_in_seconds = 5
  function_response_types            = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = 2
  }

  depends_on = [aws_iam_role_policy.lambda]
}
