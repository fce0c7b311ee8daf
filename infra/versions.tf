terraform {
  # >= 1.9: variable validation may reference other variables
  # (stripe_partner_event_source_name is checked against enable_stripe_partner_events).
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # >= 5.27: aws_cloudwatch_event_rule.state (is_enabled is deprecated).
      # >= 5.32: aws_lambda_function.logging_config.
      # < 7.0 : nothing here relies on a 6.x-only argument; the next major may break.
      version = ">= 5.32, < 7.0"
    }
    # Only used when manage_stripe_destinations = true (stripe_destinations.tf), but
    # `terraform init` installs it either way. Constraint not verified offline (README).
    stripe = {
      source = "stripe/stripe"
    }
  }
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = {
      Project     = var.project
      Environment = var.environment
      Component   = "stripe-events"
      ManagedBy   = "terraform"
    }
  }
}
