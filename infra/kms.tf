# One customer managed key for the whole stack's data at rest: DynamoDB tables, secrets,
# DLQs, SNS alarm topic, log groups, Lambda environment variables.
#
# The key policy delegates to IAM for principals of this account (root statement), so the
# Lambda roles get key use through their own identity policies (iam.tf, each scoped with
# kms:ViaService). Service principals that act without an IAM role of ours get explicit
# statements: CloudWatch Logs (encrypted log groups), EventBridge (delivery to the
# encrypted DLQs) and CloudWatch alarms (publishing to the encrypted SNS topic).

resource "aws_kms_key" "stripe" {
  description             = "${local.prefix} stripe-events: DynamoDB, Secrets Manager, SQS DLQs, SNS, CloudWatch Logs, Lambda env"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministrationThroughIam"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogsEncryptOwnLogGroups"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action = [
          "kms:Encrypt*",
          "kms:Decrypt*",
          "kms:ReEncrypt*",
          "kms:GenerateDataKey*",
          "kms:Describe*",
        ]
        Resource = "*"
        # aws:SourceAccount: only on behalf of this account (confused deputy), in addition to
        # the encryption context naming this account's own log groups.
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = concat(
              values(local.lambda_log_group_arns),
              [
                "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${var.eventbridge_log_group_name}",
                "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/apigateway/${local.prefix}-stripe-webhook",
              ]
            )
          }
        }
      },
      {
        # EventBridge writes undeliverable events to the KMS-encrypted DLQs.
        Sid       = "EventBridgeDeadLetterDelivery"
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
          ArnLike      = { "aws:SourceArn" = "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/*" }
        }
      },
      {
        # CloudWatch alarms publish to the KMS-encrypted SNS topic. Left without a
        # source condition, as in AWS's documented statement: whether an alarm may publish
        # is decided by the topic policy (default: this account only), not by the key.
        Sid       = "CloudWatchAlarmsPublish"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
      },
    ]
  })
}

resource "aws_kms_alias" "stripe" {
  name          = "alias/${local.prefix}-stripe-events"
  target_key_id = aws_kms_key.stripe.key_id
}
