# ---------------------------------------------------------------------------
# EventBridge monitoring log group: every event on each bus (catch-all rules)
# ---------------------------------------------------------------------------
# Events are full Stripe payloads (PII): the group is KMS-encrypted and has a retention.

resource "aws_cloudwatch_log_group" "events" {
  name              = var.eventbridge_log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.stripe.arn
}

resource "aws_cloudwatch_event_rule" "monitor_custom" {
  name           = "${local.prefix}-stripe-all_events-monitoring-rule"
  description    = "Every event on ${aws_cloudwatch_event_bus.stripe.name} -> ${var.eventbridge_log_group_name}"
  event_bus_name = aws_cloudwatch_event_bus.stripe.name
  event_pattern  = jsonencode({ source = [{ prefix = "" }] })
  state          = "ENABLED"
}

resource "aws_cloudwatch_event_rule" "monitor_partner" {
  for_each = local.partner_buses

  name           = "${local.prefix}-stripe-partner_all_events-monitoring-rule"
  description    = "Every event on ${each.key} -> ${var.eventbridge_log_group_name}"
  event_bus_name = aws_cloudwatch_event_bus.partner[each.key].name
  event_pattern  = jsonencode({ source = [{ prefix = "" }] })
  state          = "ENABLED"
}

resource "aws_cloudwatch_event_target" "monitor_custom" {
  rule           = aws_cloudwatch_event_rule.monitor_custom.name
  event_bus_name = aws_cloudwatch_event_rule.monitor_custom.event_bus_name
  target_id      = "cloudwatch-logs"
  arn            = aws_cloudwatch_log_group.events.arn

  depends_on = [aws_cloudwatch_log_resource_policy.events]
}

resource "aws_cloudwatch_event_target" "monitor_partner" {
  for_each = aws_cloudwatch_event_rule.monitor_partner

  rule           = each.value.name
  event_bus_name = each.value.event_bus_name
  target_id      = "cloudwatch-logs"
  arn            = aws_cloudwatch_log_group.events.arn

  depends_on = [aws_cloudwatch_log_resource_policy.events]
}

# EventBridge writes to CloudWatch Logs under a logs resource policy (not an IAM role).
data "aws_iam_policy_document" "events_to_logs" {
  statement {
    sid       = "EventBridgeMonitoringRules"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.events.arn}:*"]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com", "delivery.logs.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values = concat(
        [aws_cloudwatch_event_rule.monitor_custom.arn],
        [for rule in aws_cloudwatch_event_rule.monitor_partner : rule.arn],
      )
    }
  }
}

resource "aws_cloudwatch_log_resource_policy" "events" {
  policy_name     = "${local.prefix}-stripe-eventbridge-to-logs"
  policy_document = data.aws_iam_policy_document.events_to_logs.json
}

# ---------------------------------------------------------------------------
# Alarms -> SNS
# ---------------------------------------------------------------------------

resource "aws_sns_topic" "alarms" {
  name              = "${local.prefix}-stripe-events-alarms"
  kms_master_key_id = aws_kms_key.stripe.arn
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count = var.alarm_email == "" ? 0 : 1

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

# Any message in a DLQ is an event that did not reach the billing state: page on the first.
resource "aws_cloudwatch_metric_alarm" "dlq_visible" {
  for_each = aws_sqs_queue.dlq

  alarm_name          = "${each.value.name}-messages-visible"
  alarm_description   = "Stripe ${each.key} events in the DLQ: inspect, fix, then redrive to ${local.function_names[each.key]} (README)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  for_each = aws_lambda_function.this

  alarm_name          = "${each.value.function_name}-errors"
  alarm_description   = "${each.value.function_name} returned errors (retried; persistent errors end in the DLQ or, for the webhook, in Stripe's retry queue)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "lambda_throttles" {
  for_each = aws_lambda_function.this

  alarm_name          = "${each.value.function_name}-throttles"
  alarm_description   = "${each.value.function_name} was throttled (account or reserved concurrency)."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = each.value.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# ---------------------------------------------------------------------------
# Pipeline outcomes (EMF, namespace StripeEvents)
# ---------------------------------------------------------------------------
# Every consumer invocation prints one Embedded Metric Format line with the count of each
# outcome (crates/stripe-events-consumer/src/outcome.rs, dimension `consumer`); the webhook
# prints one per request (crates/stripe-events-webhook/src/handler.rs: accepted / rejected /
# forward_failed, dimensions `function` and `function`+`reason`). CloudWatch extracts the
# metrics from the Lambda log groups; no PutMetricData permission is involved.

locals {
  emf_namespace = "StripeEvents"
  consumer_outcomes = [
    "applied", "duplicate", "stale", "ignored", "failed_permanent", "failed_transient",
  ]
}

# failed_permanent: an event acknowledged without reaching the billing state (bad payload,
# object that cannot be fetched). Not retried, so one is worth a look: first occurrence.
resource "aws_cloudwatch_metric_alarm" "failed_permanent" {
  for_each = local.consumers

  alarm_name          = "${local.function_names[each.key]}-failed-permanent"
  alarm_description   = "Stripe ${each.key} events acknowledged without a state change (failed_permanent): search /aws/lambda/${local.function_names[each.key]} for outcome=failed_permanent (detail says why); fix and replay/backfill (README)."
  namespace           = local.emf_namespace
  metric_name         = "failed_permanent"
  dimensions          = { consumer = each.key }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# failed_transient: DynamoDB or Stripe unavailable; the event is retried (Lambda async
# retries, then the DLQ). A blip is normal, so alarm only when it lasts 15 minutes.
resource "aws_cloudwatch_metric_alarm" "failed_transient" {
  for_each = local.consumers

  alarm_name          = "${local.function_names[each.key]}-failed-transient"
  alarm_description   = "Stripe ${each.key} events failing transiently (DynamoDB or Stripe 429/5xx/401/403) for 15 minutes: retried, then the DLQ. Check Stripe status and key, DynamoDB throttling."
  namespace           = local.emf_namespace
  metric_name         = "failed_transient"
  dimensions          = { consumer = each.key }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# forward_failed: the webhook answered 500 (PutEvents failed or timed out); Stripe retries
# for 3 days, so alarm when it lasts 15 minutes.
resource "aws_cloudwatch_metric_alarm" "webhook_forward_failed" {
  alarm_name          = "${local.function_names["webhook"]}-forward-failed"
  alarm_description   = "The webhook could not put Stripe events on ${aws_cloudwatch_event_bus.stripe.name} for 15 minutes (500s; Stripe retries for 3 days). Search /aws/lambda/${local.function_names["webhook"]} for outcome=forward_failed."
  namespace           = local.emf_namespace
  metric_name         = "forward_failed"
  dimensions          = { function = "webhook" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# One dashboard: outcomes per family, the webhook's requests (rejections by reason), Lambda
# errors/throttles and the DLQs. Path lag (partner arrival minus webhook arrival) is not a
# CloudWatch metric: it lives in the dedupe records, so the dashboard shows outcomes only and
# the lag comes from `stripe-events migrate status` / `stripe-events audit`.
resource "aws_cloudwatch_dashboard" "stripe_events" {
  dashboard_name = "${local.prefix}-stripe-events"
  dashboard_body = jsonencode({
    widgets = concat(
      [
        for i, family in sort(keys(local.consumers)) : {
          type   = "metric"
          x      = (i % 3) * 8
          y      = 0
          width  = 8
          height = 6
          properties = {
            title   = "${family}: outcomes (events / 5 min)"
            view    = "timeSeries"
            stacked = false
            region  = local.region
            stat    = "Sum"
            period  = 300
            metrics = [
              for outcome in local.consumer_outcomes : [local.emf_namespace, outcome, "consumer", family]
            ]
          }
        }
      ],
      [
        {
          type   = "metric"
          x      = 0
          y      = 6
          width  = 8
          height = 6
          properties = {
            title  = "webhook: requests (5 min)"
            view   = "timeSeries"
            region = local.region
            stat   = "Sum"
            period = 300
            metrics = [
              for m in ["accepted", "rejected", "forward_failed"] : [local.emf_namespace, m, "function", "webhook"]
            ]
          }
        },
        {
          type   = "metric"
          x      = 8
          y      = 6
          width  = 8
          height = 6
          properties = {
            title  = "webhook: rejected and forward_failed by reason"
            view   = "timeSeries"
            region = local.region
            period = 300
            metrics = [
              [{ expression = "SEARCH('{${local.emf_namespace},function,reason} function=\"webhook\" (MetricName=\"rejected\" OR MetricName=\"forward_failed\")', 'Sum', 300)", id = "reasons", label = "" }],
            ]
          }
        },
        {
          type   = "metric"
          x      = 16
          y      = 6
          width  = 8
          height = 6
          properties = {
            title  = "Lambda errors and throttles"
            view   = "timeSeries"
            region = local.region
            stat   = "Sum"
            period = 300
            metrics = concat(
              [for name, fn in local.function_names : ["AWS/Lambda", "Errors", "FunctionName", fn]],
              [for name, fn in local.function_names : ["AWS/Lambda", "Throttles", "FunctionName", fn]],
            )
          }
        },
        {
          type   = "metric"
          x      = 0
          y      = 12
          width  = 12
          height = 6
          properties = {
            title  = "DLQ messages visible"
            view   = "timeSeries"
            region = local.region
            stat   = "Maximum"
            period = 300
            metrics = [
              for family, q in aws_sqs_queue.dlq : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q.name]
            ]
          }
        },
        {
          type   = "text"
          x      = 12
          y      = 12
          width  = 12
          height = 6
          properties = {
            markdown = join("\n", [
              "## Path lag",
              "Partner arrival minus webhook arrival is recorded per event in the dedupe table (${aws_dynamodb_table.events.name}), not published as a metric, so it is not graphed here.",
              "Read it with `stripe-events migrate status` (p50/p99 per type) or `stripe-events audit` (median per type; negative = partner first).",
              "",
              "Outcomes: `failed_permanent` = acknowledged without a state change (alarm on the first); `failed_transient` = retried (alarm after 15 min).",
            ])
          }
        },
      ],
    )
  })
}
