# Optional: the two Stripe Amazon EventBridge destinations (snapshot and thin) as Terraform
# resources of the official Stripe provider, instead of `stripe-events setup`. Off by default.
#
# NOT validated here: the Stripe provider cannot be downloaded in this build environment (see
# README.md). Two applies are needed: the partner event source ARN is computed by Stripe, and
# partner buses are keyed by source name (for_each keys must be known at plan time):
#   1. manage_stripe_destinations = true, enable_stripe_partner_events = false -> destinations
#   2. enable_stripe_partner_events = true -> the partner buses get the sources' names from here
# The provider reads its key from the environment (STRIPE_API_KEY).

variable "manage_stripe_destinations" {
  description = "Create the Stripe EventBridge destinations (snapshot and thin) with the stripe/stripe provider and feed their partner event source names to the partner buses. Default false: `stripe-events setup` creates them instead."
  type        = bool
  default     = false
}

variable "stripe_snapshot_api_version" {
  description = "API version snapshot events are rendered in: the version the projections are tested with (crates/tools/stripe-events-cli/src/event_types.rs PINNED_API_VERSION)."
  type        = string
  default     = "2025-09-30.clover"
}

locals {
  # The types the three families handle, as `stripe-events setup` enables them: every Stripe
  # event type (fixtures/event-types.txt) that the family rule files (rules/*.json) match.
  stripe_event_types = [for l in split("\n", file("${path.module}/../fixtures/event-types.txt")) : trimspace(l) if trimspace(l) != ""]
  family_type_patterns = flatten([
    for f in local.families : jsondecode(file("${path.module}/rules/${f}.json")).detail.type
  ])
  family_exact_types    = [for p in local.family_type_patterns : p if can(tostring(p))]
  family_type_prefixes  = [for p in local.family_type_patterns : p.prefix if can(p.prefix)]
  stripe_handled_events = [for t in local.stripe_event_types : t if contains(local.family_exact_types, t) || anytrue([for p in local.family_type_prefixes : startswith(t, p)])]

  managed_destination_payloads = var.manage_stripe_destinations ? toset(["snapshot", "thin"]) : toset([])
  # aws.partner/stripe.com/ed_..., snapshot first (empty until the destinations exist).
  managed_partner_source_names = compact([
    for p in ["snapshot", "thin"] : try(regex("event-source/(.+)$", stripe_v2_core_event_destination.this[p].amazon_eventbridge[0].aws_event_source_arn)[0], "")
  ])
}

resource "stripe_v2_core_event_destination" "this" {
  for_each = local.managed_destination_payloads

  name                 = "${local.prefix}-stripe-billing-${each.key}"
  description          = "Stripe billing events (${each.key} payloads) to Amazon EventBridge for ${local.prefix}; managed by Terraform"
  type                 = "amazon_eventbridge"
  event_payload        = each.key
  snapshot_api_version = each.key == "snapshot" ? var.stripe_snapshot_api_version : null
  enabled_events       = each.key == "snapshot" ? local.stripe_handled_events : [for t in local.stripe_handled_events : "v1.${t}"]
  metadata = {
    managed_by = "terraform"
    deployment = local.prefix
    payload    = each.key
  }

  amazon_eventbridge {
    aws_account_id = local.account_id
    aws_region     = var.aws_region
  }
}

output "stripe_partner_event_source_names" {
  description = "Partner event source names of the Terraform-managed Stripe destinations (empty unless manage_stripe_destinations = true)."
  value       = local.managed_partner_source_names
}
