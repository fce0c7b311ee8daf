# ---------------------------------------------------------------------------
# Naming / placement
# ---------------------------------------------------------------------------

variable "project" {
  description = "Project name, first half of the resource prefix (<project>-<environment>)."
  type        = string
  default     = "ai-nexus"
}

variable "environment" {
  description = "Environment name, second half of the resource prefix (<project>-<environment>)."
  type        = string
  default     = "dev"
}

variable "aws_region" {
  description = "AWS region. Must be the region given to Stripe for the EventBridge destinations."
  type        = string
  default     = "us-east-2"
}

# ---------------------------------------------------------------------------
# Stripe partner event source (established variable names, kept unchanged)
# ---------------------------------------------------------------------------

variable "enable_stripe_partner_events" {
  description = "Create the partner event bus for the Stripe partner event source and the partner_* rules on it. Enable only after the Stripe destination exists and its partner event source is visible in EventBridge (see README)."
  type        = bool
  default     = false
}

variable "stripe_partner_event_source_name" {
  description = "Name of the Stripe partner event source, aws.partner/stripe.com/ed_... The partner bus gets exactly this name (AWS requires it). Required when enable_stripe_partner_events = true, unless manage_stripe_destinations = true (then the managed destinations' sources are used)."
  type        = string
  default     = ""

  validation {
    condition     = !var.enable_stripe_partner_events || (var.manage_stripe_destinations && var.stripe_partner_event_source_name == "") || can(regex("^aws\\.partner/stripe\\.com/ed_\\S+$", var.stripe_partner_event_source_name))
    error_message = "When enable_stripe_partner_events = true, stripe_partner_event_source_name must be the partner event source name, matching ^aws\\.partner/stripe\\.com/ed_ (e.g. aws.partner/stripe.com/ed_61Rxxxxxxxx)."
  }
}

variable "additional_stripe_partner_event_source_names" {
  description = "Further Stripe partner event sources to wire the same way (used only when enable_stripe_partner_events = true). Stripe snapshot and thin destinations can run side by side; each has its own partner event source, and each source needs its own partner bus of the same name, so the second one goes here. Each gets the same three partner rules, archive and monitoring rule."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for n in var.additional_stripe_partner_event_source_names : can(regex("^aws\\.partner/stripe\\.com/ed_\\S+$", n))])
    error_message = "Every additional_stripe_partner_event_source_names entry must match ^aws\\.partner/stripe\\.com/ed_."
  }
}

# ---------------------------------------------------------------------------
# Migration switches (webhook -> partner, per event family)
# ---------------------------------------------------------------------------

variable "webhook_rules_enabled" {
  description = "Per-family switch for the webhook rules on the custom bus (ai-nexus-dev-stripe-<family>_events-rule). false sets the rule state to DISABLED: webhook events of that family are no longer delivered to the consumer (the webhook Lambda still verifies and publishes them, so they stay visible in the monitoring log group and the archive). Missing keys default to true."
  type        = map(bool)
  default = {
    subscription = true
    payment      = true
    customer     = true
  }

  validation {
    condition     = alltrue([for k in keys(var.webhook_rules_enabled) : contains(["subscription", "payment", "customer"], k)])
    error_message = "webhook_rules_enabled keys must be among: subscription, payment, customer."
  }
}

variable "partner_rules_enabled" {
  description = "Per-family switch for the partner rules (only used when enable_stripe_partner_events = true). Allows rolling one family back to webhook-only without removing the partner bus. Missing keys default to true."
  type        = map(bool)
  default = {
    subscription = true
    payment      = true
    customer     = true
  }

  validation {
    condition     = alltrue([for k in keys(var.partner_rules_enabled) : contains(["subscription", "payment", "customer"], k)])
    error_message = "partner_rules_enabled keys must be among: subscription, payment, customer."
  }
}

# ---------------------------------------------------------------------------
# Lambda
# ---------------------------------------------------------------------------

variable "lambda_package_dir" {
  description = "Directory holding <function>/bootstrap.zip as produced by `cargo lambda build --output-format zip` (relative paths are resolved from the directory terraform runs in, i.e. infra/)."
  type        = string
  default     = "../target/lambda"
}

variable "lambda_memory_mb" {
  description = "Memory size of every Lambda function (MB)."
  type        = number
  default     = 128
}

variable "consumer_timeout_seconds" {
  description = "Timeout of the subscription/payment/customer Lambdas (covers a Stripe API fetch for thin events plus retries)."
  type        = number
  default     = 30
}

variable "webhook_timeout_seconds" {
  description = "Timeout of the webhook Lambda (verify signature + one PutEvents). Must stay below the API Gateway integration limit (30 s)."
  type        = number
  default     = 10

  validation {
    condition     = var.webhook_timeout_seconds >= 1 && var.webhook_timeout_seconds <= 29
    error_message = "webhook_timeout_seconds must be between 1 and 29 (HTTP API integration timeout is 30 s)."
  }
}

variable "reserved_concurrency" {
  description = "Explicit reserved concurrency per function (keys: subscription, payment, customer, webhook), overriding the billing-day sizing. Consumers without a key get the concurrency derived from the Stripe limits below (lambda.tf, README \"Billing-day bursts\"); the webhook without a key, or any function set to -1, is unreserved. Reserving needs an account concurrency quota above the 100-unit unreserved floor plus the sum reserved, which new accounts (quota 10) do not have."
  type        = map(number)
  default     = {}
}

# Billing-day sizing (README "Billing-day bursts"; the burst simulation, `make simulate-burst`,
# reads these defaults from this file). Each thin event costs one Stripe GET; on the first of
# the month tens of thousands arrive within minutes, so each consumer's reserved concurrency
# is sized to Stripe's rate limits by Little's law: concurrency = rate x latency.

variable "stripe_read_rate_limit" {
  description = "Stripe requests/s one consumer may send: Stripe's per-endpoint limit (25/s unless the endpoint is noted otherwise, docs.stripe.com/rate-limits). GET /v1/subscriptions/{id} is one endpoint whatever the id, so a consumer's thin events all share it. Lower it for a sandbox account (25/s account-wide)."
  type        = number
  default     = 25

  validation {
    condition     = var.stripe_read_rate_limit > 0
    error_message = "stripe_read_rate_limit must be positive (requests per second)."
  }
}

variable "stripe_account_rate_limit" {
  description = "Stripe's global limit for the whole account in requests/s: 100 in live mode, 25 in a sandbox (docs.stripe.com/rate-limits). Shared by the three consumers and everything else using the same Stripe account."
  type        = number
  default     = 100

  validation {
    condition     = var.stripe_account_rate_limit > 0
    error_message = "stripe_account_rate_limit must be positive (requests per second)."
  }
}

variable "stripe_consumers_account_share" {
  description = "Fraction of stripe_account_rate_limit the three consumers together may use during a burst; the rest stays for the product's own Stripe calls (checkout, portal, dashboards). 0.75 x 100/s / 3 consumers = 25/s each, the per-endpoint limit."
  type        = number
  default     = 0.75

  validation {
    condition     = var.stripe_consumers_account_share > 0 && var.stripe_consumers_account_share <= 1
    error_message = "stripe_consumers_account_share must be in (0, 1]."
  }
}

variable "stripe_fetch_latency_ms" {
  description = "Typical (p50) duration of one Stripe retrieve from the Lambda's region, in ms: the time a thin event holds a concurrency slot. 200 ms is an estimate, not a measurement from this stack (see README \"Billing-day bursts\"): measure it (`curl -w '%%{time_total}'` from the region, or the consumers' logs) and set it. Erring low is the safe side: a slower Stripe only slows the drain."
  type        = number
  default     = 200

  validation {
    condition     = var.stripe_fetch_latency_ms > 0
    error_message = "stripe_fetch_latency_ms must be positive."
  }
}

variable "log_level" {
  description = "Application log level of every function (Lambda's JSON log format: it filters the lines and sets AWS_LAMBDA_LOG_LEVEL, which the binaries follow): trace, debug, info, warn, error or fatal."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], upper(var.log_level))
    error_message = "log_level must be one of trace, debug, info, warn, error, fatal (Lambda's application log levels)."
  }
}

variable "log_retention_days" {
  description = "Retention of the Lambda, API access and EventBridge monitoring log groups."
  type        = number
  default     = 365
}

variable "stripe_api_base" {
  description = "STRIPE_API_BASE for the consumers (hydration of thin events)."
  type        = string
  default     = "https://api.stripe.com"
}

variable "stripe_livemode" {
  description = "STRIPE_LIVEMODE for the consumers: live = only live-mode events apply, test = only test-mode events, any = both. An event of the other mode is failed_permanent and never applied."
  type        = string
  default     = "any"
  validation {
    condition     = contains(["live", "test", "any"], var.stripe_livemode)
    error_message = "stripe_livemode must be live, test or any."
  }
}

variable "revalidate_types" {
  description = "REVALIDATE_TYPES for the consumers: comma-separated Stripe event types whose snapshot is re-fetched from the API before projecting. Empty = none."
  type        = string
  default     = ""
}

variable "dedupe_ttl_days" {
  description = "DEDUPE_TTL_DAYS: lifetime of dedupe/audit records (DynamoDB TTL on expires_at). Keep above Stripe's 3-day retry window."
  type        = number
  default     = 30

  validation {
    condition     = var.dedupe_ttl_days >= 4
    error_message = "dedupe_ttl_days must be at least 4 (Stripe retries deliveries for up to 3 days)."
  }
}

variable "signature_tolerance_seconds" {
  description = "SIGNATURE_TOLERANCE_SECONDS for the webhook Lambda (Stripe-Signature timestamp tolerance)."
  type        = number
  default     = 300
}

variable "lambda_async_max_retry_attempts" {
  description = "Lambda async retries after a consumer returns an error (0-2). After that the event goes to the family DLQ."
  type        = number
  default     = 2
}

variable "lambda_async_max_event_age_seconds" {
  description = "Maximum age of an event in the Lambda async queue (60-21600 s) before it goes to the family DLQ."
  type        = number
  default     = 21600
}

# ---------------------------------------------------------------------------
# EventBridge
# ---------------------------------------------------------------------------

variable "target_max_event_age_seconds" {
  description = "EventBridge target retry policy: maximum age (60-86400 s) of an event EventBridge keeps trying to hand to the Lambda before it goes to the DLQ."
  type        = number
  default     = 86400
}

variable "target_max_retry_attempts" {
  description = "EventBridge target retry policy: maximum delivery attempts (0-185)."
  type        = number
  default     = 185
}

variable "event_archive_retention_days" {
  description = "Retention of the EventBridge archives on the custom and partner buses (0 = indefinite)."
  type        = number
  default     = 30
}

variable "eventbridge_log_group_name" {
  description = "CloudWatch log group receiving every event of the buses (catch-all monitoring rules)."
  type        = string
  default     = "/aws/events/stripe-billing"
}

variable "dlq_message_retention_seconds" {
  description = "Retention of the dead-letter queues (max 14 days)."
  type        = number
  default     = 1209600
}

variable "dlq_redrive_enabled" {
  description = "Per-family operator switch: true attaches the family DLQ to its consumer as an SQS event source (partial batch failures reported) and grants the role receive/delete on that queue only, so parked events are reprocessed. Switch on after fixing the cause, watch the queue drain, switch off. Missing keys default to false."
  type        = map(bool)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.dlq_redrive_enabled) : contains(["subscription", "payment", "customer"], k)])
    error_message = "dlq_redrive_enabled keys must be among: subscription, payment, customer."
  }
}

# ---------------------------------------------------------------------------
# Webhook endpoint (API Gateway HTTP API)
# ---------------------------------------------------------------------------

variable "webhook_throttle_rate_limit" {
  description = "Steady-state requests per second allowed on the webhook route (excess gets 429; Stripe retries)."
  type        = number
  default     = 50
}

variable "webhook_throttle_burst_limit" {
  description = "Burst allowed on the webhook route."
  type        = number
  default     = 100
}

# ---------------------------------------------------------------------------
# Data protection / operations
# ---------------------------------------------------------------------------

variable "dynamodb_deletion_protection" {
  description = "deletion_protection_enabled on both tables."
  type        = bool
  default     = true
}

variable "secret_recovery_window_days" {
  description = "Recovery window of the Secrets Manager secrets on deletion (7-30)."
  type        = number
  default     = 30
}

variable "kms_deletion_window_days" {
  description = "Deletion window of the customer managed KMS key (7-30)."
  type        = number
  default     = 30
}

variable "alarm_email" {
  description = "Optional e-mail address subscribed to the alarm topic (confirmation mail must be accepted). Empty = no subscription."
  type        = string
  default     = ""
}
