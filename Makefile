# payment-journey: `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv demo test soak test-unit test-integration lint typecheck bench report events state-schemas check-deploy clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP) ## Create .venv with the project and its dev tools

demo: $(STAMP) ## Run the main job: embedded broker, worker, simulated traffic, summary
	$(BIN)/journey demo

test: $(STAMP) ## Run lint, types and every test (unit, codec, integration on the embedded broker, CLI)
	$(BIN)/ruff check pipeline agents tests bench tools examples
	$(BIN)/mypy
	$(BIN)/mypy examples
	$(BIN)/pytest

soak: $(STAMP) ## Long kill-and-backlog run: 12 SIGKILLs on 400 customers (make test runs a short one)
	JOURNEY_SOAK_KILLS=$${JOURNEY_SOAK_KILLS:-12} JOURNEY_SOAK_CUSTOMERS=$${JOURNEY_SOAK_CUSTOMERS:-400} \
		$(BIN)/pytest -q tests/integration/pipeline/worker/test_kill.py

test-unit: $(STAMP) ## Run only the tests that need no broker
	$(BIN)/pytest -m "not integration"

test-integration: $(STAMP) ## Run only the tests on the embedded broker
	$(BIN)/pytest -m integration

lint: $(STAMP) ## ruff
	$(BIN)/ruff check pipeline agents tests bench tools examples

typecheck: $(STAMP) ## mypy on the packages
	$(BIN)/mypy
	$(BIN)/mypy examples

bench: $(STAMP) ## End-to-end throughput and latency against a raw aiokafka pass-through
	$(BIN)/python -m bench.e2e

report: $(STAMP) ## Regenerate the decision-quality report in docs/
	$(BIN)/python -m bench.quality --out docs/quality-report.md

events: $(STAMP) ## Regenerate agents/rules/events.py from schemas/*.avsc
	$(BIN)/python tools/gen_events.py

state-schemas: $(STAMP) ## Add the state dataclasses' current Avro schemas to schemas/state/ (commit them)
	$(BIN)/python tools/state_schemas.py

check-deploy: $(STAMP) ## Validate docker-compose.yml and deploy/ files with what runs here
	$(BIN)/python tools/check_deploy.py

clean: ## Remove the venv and local data
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
