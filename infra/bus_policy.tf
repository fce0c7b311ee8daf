# Resource policy of the custom bus: only the webhook Lambda's role may put events with
# source "stripe.webhook" on it. The consumers trust that source as "verified by the webhook
# (Stripe-Signature checked)", so any other principal of the account with an events:PutEvents
# grant (an over-broad admin or CI role) must not be able to forge one.
#
# A Deny only: it grants nothing. Publishing still needs an identity-policy Allow (the
# webhook's PublishToCustomBus, iam.tf); the explicit Deny wins over any Allow elsewhere.
# ForAnyValue: events:source holds the source of every entry of a PutEvents request, so a
# batch with one stripe.webhook entry among others is denied too.
#
# Archive replays (StartReplay) are re-sent to this bus by EventBridge itself, not by a
# PutEvents call of the operator's principal, so this statement is not in their way; see
# infra/README.md "Event bus policy" for replay and the break-glass procedure.
data "aws_iam_policy_document" "event_bus" {
  statement {
    sid       = "OnlyTheWebhookPublishesStripeWebhookEvents"
    effect    = "Deny"
    actions   = ["events:PutEvents"]
    resources = [aws_cloudwatch_event_bus.stripe.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "ForAnyValue:StringEquals"
      variable = "events:source"
      values   = ["stripe.webhook"]
    }

    # Break glass: add a role ARN here (and to the Terraform test's expectation) in a
    # reviewed change; README "Event bus policy".
    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = [aws_iam_role.lambda["webhook"].arn]
    }
  }
}

resource "aws_cloudwatch_event_bus_policy" "stripe" {
  event_bus_name = aws_cloudwatch_event_bus.stripe.name
  policy         = data.aws_iam_policy_document.event_bus.json
}
