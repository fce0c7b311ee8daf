# The project's verbs. `make demo` and `make test` are the README's two commands: they install
# what they need (pinned Python tools into .venv) and start/stop the local services themselves.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo
VENV := .venv
STACK := infra/local/stack.sh
FUNCTIONS := subscription payment customer webhook
FUNCTION ?=
EVENT ?=

.PHONY: help venv test test-rust lint fmt fmt-check tf-check fixtures-check bench demo demo-setup package deploy invoke clean simulate-burst burst-local

help:
	@echo "make demo                      the main job on the local stack (moto + localstripe)"
	@echo "make demo-setup                setup -> status -> ping -> migrate on the local stack (Stripe fakes)"
	@echo "make test                      every check and test (fmt, clippy, terraform fmt, checkov, cargo test)"
	@echo "make bench                     benchmarks: cold start, CPU per warm invocation (+ callgrind breakdown), handler cost, round trips, SQS batch, sizes"
	@echo "make simulate-burst            billing-day burst model with the Terraform defaults (no services)"
	@echo "make burst-local               the real subscription binary through a 5/s Stripe limiter (local stack)"
	@echo "make package                   target/lambda/<fn>/bootstrap.zip for every function"
	@echo "make deploy FUNCTION=<fn>      package and update one function's code (fn: $(FUNCTIONS))"
	@echo "make invoke FUNCTION=<fn> EVENT=<fixture>   run one Lambda (subscription, payment, customer, webhook) locally"
	@echo "make fmt | lint"

venv:
	@infra/local/venv.sh

fmt:
	$(CARGO) fmt --all
	terraform fmt -recursive infra

fmt-check:
	$(CARGO) fmt --all -- --check
	terraform fmt -check -recursive infra

lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Terraform: format and checkov (validate/plan need the AWS provider, which cannot be
# downloaded here; see infra/README.md).
tf-check: venv
	$(VENV)/bin/checkov -d infra --framework terraform --skip-download --quiet --compact

# Every test, with moto and localstripe started on 127.0.0.1 for the run and stopped after.
# The moto-backed test targets of the pipeline crates (compiled only with these features).
STACK_TEST_FEATURES := stripe-events-consumer/local-stack,stripe-events-store/local-stack

test-rust: venv
	$(STACK) run -- $(CARGO) test --workspace --no-fail-fast --features $(STACK_TEST_FEATURES)

# The committed fixtures are exactly what generate.py builds (stdlib Python, no network).
fixtures-check:
	python3 fixtures/generate.py --check

test: fmt-check lint tf-check fixtures-check test-rust
	@echo "make test: all checks passed"

bench: venv
	crates/tools/stripe-events-bench/run.sh

# Billing-day bursts (infra/README.md): the model, fed from infra/variables.tf...
simulate-burst:
	$(CARGO) run --release -p burst-sim

# ...and the real consumer binary, scaled down: a few hundred thin events through a 5 req/s
# limiting proxy in front of localstripe (a smaller variant runs in `make test`).
burst-local: venv
	$(STACK) run -- $(CARGO) test -p subscription --test burst -- --ignored --nocapture

demo: venv
	$(STACK) run -- infra/local/demo.sh

# The partner-event setup and per-type migration commands (stripe-events setup/ping/migrate).
demo-setup: venv
	$(STACK) run -- infra/local/demo_setup.sh

package: venv
	infra/local/package.sh $(FUNCTIONS)

deploy: venv
	@test -n "$(FUNCTION)" || { echo "usage: make deploy FUNCTION=<$(FUNCTIONS)>"; exit 2; }
	infra/local/package.sh $(FUNCTION)
	infra/local/deploy.sh $(FUNCTION)

# The arguments are checked (FUNCTION one of $(FUNCTIONS), EVENT a file) before the venv and
# the stack start.
invoke:
	@INVOKE_CHECK_ONLY=1 infra/local/invoke.sh "$(FUNCTION)" "$(EVENT)"
	@infra/local/venv.sh
	$(STACK) run -- infra/local/invoke.sh $(FUNCTION) $(EVENT)

clean:
	$(CARGO) clean
	rm -rf .local
