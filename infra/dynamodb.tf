# Dedupe / audit table. One item per (consumer, Stripe event): pk = "{consumer}#{key}" where
# key = snapshot detail.id, or for thin events snapshot_event when present, else its own id.
# Items expire through TTL on expires_at (Number, unix epoch seconds).
resource "aws_dynamodb_table" "events" {
  name                        = "${local.prefix}-stripe-events"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  deletion_protection_enabled = var.dynamodb_deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.stripe.arn
  }
}

# Billing state. Single-table design owned by the Rust store crate: items keyed (pk, sk).
# Sparse GSIs: only items that carry user_id / object_id are indexed.
#   by_user_id   : customer by the app's user id (Stripe customer metadata.user_id)
#   by_object_id : any Stripe object (subscription, invoice, ...) by its id
resource "aws_dynamodb_table" "billing" {
  name                        = "${local.prefix}-stripe-billing"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.dynamodb_deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  attribute {
    name = "user_id"
    type = "S"
  }

  attribute {
    name = "object_id"
    type = "S"
  }

  global_secondary_index {
    name            = "by_user_id"
    hash_key        = "user_id"
    projection_type = "ALL"
  }

  global_secondary_index {
    name            = "by_object_id"
    hash_key        = "object_id"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.stripe.arn
  }
}
