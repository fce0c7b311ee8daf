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
