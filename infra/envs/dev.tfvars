# terraform -chdir=infra apply -var-file=envs/dev.tfvars
project     = "ai-nexus"
environment = "dev"
aws_region  = "us-east-2"

# Step 1 of the rollout: partner events off until the Stripe destination's partner event
# source exists in EventBridge. Then set both values (README "Apply order").
enable_stripe_partner_events     = false
stripe_partner_event_source_name = ""
# enable_stripe_partner_events     = true
# stripe_partner_event_source_name = "aws.partner/stripe.com/ed_REPLACE_WITH_DESTINATION_ID"

# Per-family rule switches. The migration is per type on the Stripe endpoint
# (`stripe-events migrate`); false here is the optional last step once the endpoint is
# deleted, or an emergency stop (infra/README.md).
webhook_rules_enabled = {
  subscription = true
  payment      = true
  customer     = true
}

lambda_package_dir = "../target/lambda"
lambda_memory_mb   = 128
log_level          = "info"
log_retention_days = 365

stripe_api_base  = "https://api.stripe.com"
revalidate_types = ""
# A dev stack takes Stripe test-mode events only (prod: "live").
stripe_livemode = "test"
dedupe_ttl_days = 30

event_archive_retention_days = 30

# Dev: shorter recovery windows so a torn-down dev stack can be recreated sooner.
secret_recovery_window_days = 7
kms_deletion_window_days    = 7

alarm_email = ""
