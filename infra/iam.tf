# One execution role per function, least privilege:
#   consumers: item-level DynamoDB actions on the two tables only (+ Query on the billing
#              table and its GSIs), GetSecretValue on the API key secret only, SendMessage
#              on their own DLQ only, own log group, X-Ray.
#   webhook:   PutEvents on the custom bus only, GetSecretValue on the webhook secret only,
#              own log group, X-Ray.
# KMS use is limited to the stack key and, through kms:ViaService, to the services that
# need it on the function's behalf.

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    sid     = "LambdaAssume"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "lambda" {
  for_each = local.functions

  name               = "${local.function_names[each.key]}-role"
  description        = "Execution role of ${local.function_names[each.key]}"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "consumer" {
  for_each = local.consumers

  # TransactWriteItems / TransactGetItems are not IAM actions: a transaction is authorized
  # per contained operation (Put -> PutItem, Update -> UpdateItem, ConditionCheck ->
  # ConditionCheckItem, Get -> GetItem). DeleteItem, BatchWriteItem and Scan are not granted:
  # deleted customers / canceled subscriptions are kept with their final status.
  statement {
    sid = "BillingAndDedupeItems"
    actions = [
      "dynamodb:GetItem",
      "dynamodb:BatchGetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:ConditionCheckItem",
    ]
    resources = [
      aws_dynamodb_table.events.arn,
      aws_dynamodb_table.billing.arn,
    ]
  }

  statement {
    sid     = "BillingQuery"
    actions = ["dynamodb:Query"]
    resources = [
      aws_dynamodb_table.billing.arn,
      "${aws_dynamodb_table.billing.arn}/index/*",
    ]
  }

  statement {
    sid       = "StripeApiKey"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.stripe_api_key.arn]
  }

  statement {
    sid       = "OwnDeadLetterQueue"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq[each.key].arn]
  }

  # Only while var.dlq_redrive_enabled[<family>] is true (DLQ -> Lambda event source mapping).
  dynamic "statement" {
    for_each = lookup(var.dlq_redrive_enabled, each.key, false) ? [aws_sqs_queue.dlq[each.key].arn] : []
    content {
      sid = "RedriveOwnDeadLetterQueue"
      actions = [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
      ]
      resources = [statement.value]
    }
  }

  statement {
    sid = "StackKeyForDynamoDb"
    actions = [
      "kms:Decrypt",
      "kms:Encrypt",
      "kms:GenerateDataKey*",
      "kms:ReEncrypt*",
      "kms:DescribeKey",
    ]
    resources = [aws_kms_key.stripe.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${local.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "StackKeyForSecretsManager"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.stripe.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "StackKeyForDeadLetterQueue"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.stripe.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["sqs.${local.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda[each.key].arn}:*"]
  }

  statement {
    # X-Ray segment upload does not support resource-level permissions.
    sid       = "XRay"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

data "aws_iam_policy_document" "webhook" {
  statement {
    sid       = "PublishToCustomBus"
    actions   = ["events:PutEvents"]
    resources = [aws_cloudwatch_event_bus.stripe.arn]
  }

  statement {
    sid       = "StripeWebhookSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.stripe_webhook_secret.arn]
  }

  statement {
    sid       = "StackKeyForSecretsManager"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.stripe.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda["webhook"].arn}:*"]
  }

  statement {
    sid       = "XRay"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "lambda" {
  for_each = local.functions

  name   = "${local.function_names[each.key]}-policy"
  role   = aws_iam_role.lambda[each.key].id
  policy = each.value.kind == "consumer" ? data.aws_iam_policy_document.consumer[each.key].json : data.aws_iam_policy_document.webhook.json
}
