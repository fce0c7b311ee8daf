# Secret containers only. Values are set out of band (README "Secrets"), so no secret
# material ever enters Terraform state or this repository. Lambdas read them at cold start
# through the *_SECRET_ARN environment variables.

resource "aws_secretsmanager_secret" "stripe_api_key" {
  #checkov:skip=CKV2_AWS_57:Stripe API keys are rolled in the Stripe Dashboard, not by a Secrets Manager rotation Lambda; the README documents the roll + put-secret-value procedure.
  name                    = "${local.prefix}/stripe/api-key"
  description             = "Stripe secret/restricted API key (sk_... or rk_...) used by the consumers to hydrate thin events. Value set out of band."
  kms_key_id              = aws_kms_key.stripe.arn
  recovery_window_in_days = var.secret_recovery_window_days
}

resource "aws_secretsmanager_secret" "stripe_webhook_secret" {
  #checkov:skip=CKV2_AWS_57:Webhook signing secrets (whsec_...) are rolled in the Stripe Dashboard (old and new secret both sign during the overlap); no Secrets Manager rotation Lambda can do it. Procedure in README.
  name                    = "${local.prefix}/stripe/webhook-secret"
  description             = "Stripe webhook endpoint signing secret (whsec_...) used by the webhook Lambda. Value set out of band."
  kms_key_id              = aws_kms_key.stripe.arn
  recovery_window_in_days = var.secret_recovery_window_days
}
