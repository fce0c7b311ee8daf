# Stripe webhook endpoint: API Gateway HTTP API -> webhook Lambda (payload format 2.0).
# Why an HTTP API and not a Lambda Function URL or a REST API: see README "Webhook endpoint".
#
#   POST https://<api-id>.execute-api.<region>.amazonaws.com/stripe/webhook
#
# Authentication is Stripe's: the Lambda verifies Stripe-Signature (HMAC-SHA256 with the
# whsec_ secret, 300 s tolerance) on the raw body before publishing anything. Every other
# method/path is answered 404 by API Gateway without invoking the Lambda.

resource "aws_apigatewayv2_api" "webhook" {
  name          = "${local.prefix}-stripe-webhook"
  description   = "Stripe webhook endpoint for ${local.prefix}"
  protocol_type = "HTTP"
}

resource "aws_apigatewayv2_integration" "webhook" {
  api_id                 = aws_apigatewayv2_api.webhook.id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = aws_lambda_function.this["webhook"].invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = (var.webhook_timeout_seconds + 1) * 1000
}

resource "aws_apigatewayv2_route" "webhook" {
  #checkov:skip=CKV_AWS_309:Stripe cannot sign requests with SigV4, a JWT or a Lambda authorizer token; the request is authenticated in the Lambda by the Stripe-Signature HMAC over the raw body (timestamp tolerance 300 s, constant-time compare).
  api_id             = aws_apigatewayv2_api.webhook.id
  route_key          = local.webhook_route_key
  target             = "integrations/${aws_apigatewayv2_integration.webhook.id}"
  authorization_type = "NONE"
}

resource "aws_cloudwatch_log_group" "webhook_access" {
  name              = "/aws/apigateway/${local.prefix}-stripe-webhook"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.stripe.arn
}

resource "aws_apigatewayv2_stage" "webhook" {
  api_id      = aws_apigatewayv2_api.webhook.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit  = var.webhook_throttle_rate_limit
    throttling_burst_limit = var.webhook_throttle_burst_limit
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.webhook_access.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      requestTime        = "$context.requestTime"
      sourceIp           = "$context.identity.sourceIp"
      userAgent          = "$context.identity.userAgent"
      routeKey           = "$context.routeKey"
      status             = "$context.status"
      responseLength     = "$context.responseLength"
      integrationStatus  = "$context.integrationStatus"
      integrationLatency = "$context.integrationLatency"
      integrationError   = "$context.integrationErrorMessage"
      errorMessage       = "$context.error.message"
    })
  }
}

resource "aws_lambda_permission" "webhook_api" {
  statement_id  = "AllowHttpApiWebhookRoute"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["webhook"].function_name
  principal     = "apigateway.amazonaws.com"
  # Only this API and only the webhook route (any stage).
  source_arn = "${aws_apigatewayv2_api.webhook.execution_arn}/*/POST/stripe/webhook"
}
