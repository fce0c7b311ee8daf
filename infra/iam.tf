# One execution role per function. Every action is one the function's code issues (or one the
# Lambda service issues with the role on the function's behalf: logs, X-Ray, DLQ, redrive);
# the table in infra/README.md ("IAM: every action and its call site") names each call site,
# and crates/stripe-events-store/tests/terraform_schema.rs fails if a grant widens.
#   consumers: UpdateItem on the dedupe table (own `<consumer>#` keys only) and the billing
#              table, Query on the by_object_id GSI (customer and payment consumers),
#              GetSecretValue on the API key secret, SendMessage on their own DLQ, own log
#              group, X-Ray.
#   webhook:   PutEvents on the custom bus, GetSecretValue on the webhook secret, own log
#              group, X-Ray. The bus policy (bus_policy.tf) makes it the only publisher of
#              source "stripe.webhook".
# KMS use is limited to the stack key and, through kms:ViaService, to the services that
# need it on the function's behalf.

locals {
  # Consumers whose code queries the billing table's by_object_id GSI: DynamoStore::locate
  # (crates/stripe-events-store/src/dynamo.rs), called by Consumer::file_unfiled for writes
  # whose event names no owner (stripe-events-core project.rs): a payment method's
  # (payment_method.*, customer family) and the deletion marker of a tax id or discount
  # (customer.tax_id/discount.deleted, customer family) or of an invoice (invoice.deleted,
  # payment family) gone from the API. The Terraform test checks these facts; a family that
  # starts filing writes joins here.
  object_index_consumers = toset(["customer", "payment"])
}

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

  # TransactWriteItems is not an IAM action: a transaction is authorized per contained
  # operation (Update -> UpdateItem, Put -> PutItem, ConditionCheck -> ConditionCheckItem,
  # ...). The code's transactions (DynamoStore::try_commit) hold Update items only, and its
  # other writes are UpdateItem (mark_done, record_delivery). Asking for ALL_OLD, through
  # ReturnValues or ReturnValuesOnConditionCheckFailure, is part of UpdateItem: no GetItem.
  # The reads of DynamoStore (dedupe_record, state_item, partition, by_index,
  # dedupe_records: GetItem/Query/Scan) serve the operator CLI and tests, never a Lambda,
  # so no consumer gets them. No PutItem, DeleteItem, BatchWriteItem or Scan either.

  # Dedupe/audit records: pk = "<consumer>#<event key>" (Delivery::consumer_dedupe_key), and
  # each.key is that consumer's name, so a consumer can only touch its own records.
  statement {
    sid       = "OwnDedupeRecords"
    actions   = ["dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.events.arn]

    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = ["${each.key}#*"]
    }
  }

  # Billing state: no LeadingKeys condition, on purpose. The billing pk is not family-scoped:
  # a customer's partition (CUSTOMER#cus_...) holds its profile (customer consumer), its
  # subscriptions (subscription consumer) and its invoices/payments (payment consumer), and
  # items without a customer sit under their own or their parent's id (INVOICE#..., CHARGE#...,
  # UNFILED#pm_...). Any pattern that lets each consumer write its items matches the others'
  # partitions too, so the grant stays table-wide, UpdateItem only, version-guarded in code.
  statement {
    sid       = "BillingStateUpdates"
    actions   = ["dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.billing.arn]
  }

  # EventStore::locate: Query on the by_object_id GSI only (not the table, not by_user_id).
  dynamic "statement" {
    for_each = contains(local.object_index_consumers, each.key) ? [1] : []
    content {
      sid       = "LocateByObjectId"
      actions   = ["dynamodb:Query"]
      resources = ["${aws_dynamodb_table.billing.arn}/index/by_object_id"]
    }
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
