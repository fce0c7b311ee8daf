# Four Rust functions, all driven by local.functions:
#   ai-nexus-dev-stripe-{subscription,payment,customer}  EventBridge consumers (async invoke)
#   ai-nexus-dev-stripe-webhook                           HTTPS endpoint (sync invoke, webhook.tf)
# Packages: `cargo lambda build --release --arm64 --output-format zip` writes
# target/lambda/<binary>/bootstrap.zip; binary names must equal the map keys.

# Billing-day sizing of the consumers (README "Billing-day bursts", `make simulate-burst`).
# Every thin event is one Stripe GET. The rate one consumer may send is the smaller of
#   - Stripe's per-endpoint limit (var.stripe_read_rate_limit, 25/s: all of a consumer's
#     thin events hit the same retrieve endpoint, e.g. GET /v1/subscriptions/{id}), and
#   - its third of the consumers' share of the account-wide limit (0.75 x 100/s / 3 = 25/s
#     in live mode: the three consumers run at once on billing day, and a quarter of the
#     account limit stays for the product's own Stripe calls; in a sandbox, 25/s x 0.75 / 3
#     = 6.25/s).
# Little's law then gives the concurrency that sustains that rate: slots = rate x time a
# thin event holds a slot (>= the Stripe fetch latency; the DynamoDB write and the runtime
# overhead only lengthen it, so the real request rate stays below the limit). Rounded down,
# at least 1: 25/s x 0.2 s = 5 per consumer, 15 reserved in all. Snapshot events (no Stripe
# call, ~10 ms) drain at ~500/s through the same 5 slots. Events beyond the reserved
# concurrency are throttled and wait in Lambda's async queue (retried for up to
# var.lambda_async_max_event_age_seconds), they are not lost; unreserved, hundreds of
# concurrent fetches turn into a 429 storm, and an event whose three invocations all meet
# 429s ends in the DLQ (the simulation shows both).
locals {
  consumer_stripe_rate = min(
    var.stripe_read_rate_limit,
    var.stripe_account_rate_limit * var.stripe_consumers_account_share / length(local.consumers),
  )
  consumer_reserved_concurrency = max(1, floor(local.consumer_stripe_rate * var.stripe_fetch_latency_ms / 1000))
}

resource "aws_cloudwatch_log_group" "lambda" {
  for_each = local.function_names

  name              = "/aws/lambda/${each.value}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.stripe.arn
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:No VPC: the functions only call public AWS endpoints (DynamoDB, Secrets Manager, EventBridge, SQS, X-Ray) and api.stripe.com; a VPC would add NAT cost and cold-start latency for no isolation gain.
  #checkov:skip=CKV_AWS_272:Code signing (AWS Signer profile + CI signing step) is out of scope for this stack; packages are built by CI from the repository and deployed by Terraform.
  for_each = local.functions

  function_name = local.function_names[each.key]
  description   = each.value.description
  role          = aws_iam_role.lambda[each.key].arn

  runtime       = "provided.al2023"
  architectures = ["arm64"]
  handler       = "bootstrap"

  filename         = "${var.lambda_package_dir}/${each.key}/bootstrap.zip"
  source_code_hash = filebase64sha256("${var.lambda_package_dir}/${each.key}/bootstrap.zip")

  memory_size                    = var.lambda_memory_mb
  timeout                        = each.value.timeout
  reserved_concurrent_executions = lookup(var.reserved_concurrency, each.key, each.value.kind == "consumer" ? local.consumer_reserved_concurrency : -1)

  # Environment variables are encrypted at rest with the stack key. Lambda decrypts them
  # through a grant it creates when the function is deployed (the deploying principal needs
  # kms:CreateGrant/kms:Encrypt, delegated to IAM by the key policy's root statement).
  kms_key_arn = aws_kms_key.stripe.arn

  environment {
    variables = local.function_environment[each.key]
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    # JSON: Lambda sets AWS_LAMBDA_LOG_FORMAT=JSON and AWS_LAMBDA_LOG_LEVEL, which the
    # binaries follow (crates/stripe-events-lambda, init_logging): one JSON object per line
    # with the event's fields, `level` and `timestamp` (the EMF metric lines too), which
    # Lambda keeps as they are and filters at application_log_level. With Text, Lambda sets
    # AWS_LAMBDA_LOG_FORMAT=Text and the binaries write plain lines instead.
    log_format            = "JSON"
    application_log_level = upper(var.log_level)
    system_log_level      = "INFO"
    log_group             = aws_cloudwatch_log_group.lambda[each.key].name
  }

  # Consumers: events that still fail after the async retries (and events EventBridge
  # could not deliver, see eventbridge.tf) land in the family DLQ with the original
  # EventBridge event as the message body, so they can be redriven to the same function.
  # The webhook is invoked synchronously (API Gateway): Stripe's own retries are its DLQ.
  dynamic "dead_letter_config" {
    for_each = each.value.kind == "consumer" ? [aws_sqs_queue.dlq[each.key].arn] : []
    content {
      target_arn = dead_letter_config.value
    }
  }

  depends_on = [
    aws_iam_role_policy.lambda,
    aws_cloudwatch_log_group.lambda,
  ]
}

# Async invocation behaviour of the consumers (EventBridge invokes Lambda asynchronously).
resource "aws_lambda_function_event_invoke_config" "consumer" {
  for_each = local.consumers

  function_name                = aws_lambda_function.this[each.key].function_name
  maximum_retry_attempts       = var.lambda_async_max_retry_attempts
  maximum_event_age_in_seconds = var.lambda_async_max_event_age_seconds
}
