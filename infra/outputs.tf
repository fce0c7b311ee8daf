output "event_bus_name" {
  description = "Custom bus the webhook Lambda publishes to."
  value       = aws_cloudwatch_event_bus.stripe.name
}

output "event_bus_arn" {
  description = "ARN of the custom bus ai-nexus-dev-stripe-event-bus."
  value       = aws_cloudwatch_event_bus.stripe.arn
}

output "partner_event_bus_arn" {
  description = "ARN of the partner bus of stripe_partner_event_source_name, or null while enable_stripe_partner_events = false."
  value       = try(aws_cloudwatch_event_bus.partner[var.stripe_partner_event_source_name].arn, null)
}

output "partner_event_bus_arns" {
  description = "ARN of every partner bus, keyed by partner event source name (empty while disabled)."
  value       = { for name, bus in aws_cloudwatch_event_bus.partner : name => bus.arn }
}

output "webhook_url" {
  description = "URL to register as the Stripe webhook endpoint."
  value       = "${aws_apigatewayv2_api.webhook.api_endpoint}/stripe/webhook"
}

output "dedupe_table_name" {
  description = "Dedupe/audit table (DEDUPE_TABLE)."
  value       = aws_dynamodb_table.events.name
}

output "billing_table_name" {
  description = "Billing state table (BILLING_TABLE)."
  value       = aws_dynamodb_table.billing.name
}

output "function_names" {
  description = "Lambda function names by role."
  value       = { for k, fn in aws_lambda_function.this : k => fn.function_name }
}

output "dlq_urls" {
  description = "Dead-letter queue URL per family."
  value       = { for k, q in aws_sqs_queue.dlq : k => q.url }
}

output "stripe_api_key_secret_arn" {
  description = "Secret to fill with the Stripe API key (out of band)."
  value       = aws_secretsmanager_secret.stripe_api_key.arn
}

output "stripe_webhook_secret_arn" {
  description = "Secret to fill with the webhook signing secret (out of band)."
  value       = aws_secretsmanager_secret.stripe_webhook_secret.arn
}

output "alarm_topic_arn" {
  description = "SNS topic receiving all alarms."
  value       = aws_sns_topic.alarms.arn
}

output "kms_key_arn" {
  description = "Customer managed key protecting the stack's data at rest."
  value       = aws_kms_key.stripe.arn
}

output "consumer_reserved_concurrency" {
  description = "Reserved concurrency of each consumer (billing-day sizing from the Stripe limits, or the var.reserved_concurrency override; -1 = unreserved)."
  value       = { for k, fn in aws_lambda_function.this : k => fn.reserved_concurrent_executions if local.functions[k].kind == "consumer" }
}
