# Two commands for a newcomer: `make demo` and `make test`. Each builds .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck bench clean lambda-bundle build-DigestFunction build-PlanFunction build-ScanFunction build-PublishFunction

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "backupwatch needs Python >= 3.11; set PYTHON=python3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

demo: $(STAMP)
	$(BIN)/backupwatch demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/cfn-lint template.yaml

typecheck: $(STAMP)
	$(BIN)/mypy

# One worker per core; a file's tests stay on one worker (module fixtures are built once).
test: lint typecheck
	$(BIN)/python -m pytest -n auto --dist loadfile

# Naive check vs backupwatch on a moto world (a few minutes), then the client's own CPU per
# tenant against a moto server: naive, minimal, backupwatch at 1,000 and 10,000 tenants (about
# 25 minutes; BENCH_CPU_ARGS="--sizes 1000" for 5). See docs/performance.md.
BENCH_CPU_ARGS ?=
bench: $(STAMP)
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.cpu $(BENCH_CPU_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info

# `sam build` runs these (template.yaml: Metadata BuildMethod makefile), one per function, with
# ARTIFACTS_DIR set: each zip holds the library, the one handler it runs, and the runtime
# dependencies built for the function's runtime. No tests, docs, benchmarks or CLI.
# boto3 is bundled (the SDK CI tested; 21.3 MB a zip): LAMBDA_SDK=runtime uses the one in the
# Lambda runtime instead (2.9 MB). LAMBDA_DEPS=none skips the dependencies (the tests do).
LAMBDA_PYTHON ?= 3.13
LAMBDA_PLATFORM ?= manylinux2014_x86_64
LAMBDA_DEPS ?= requirements.txt
LAMBDA_SDK ?= bundled

build-DigestFunction:
	$(MAKE) --no-print-directory lambda-bundle HANDLER=daily_digest
build-PlanFunction:
	$(MAKE) --no-print-directory lambda-bundle HANDLER=plan_scopes
build-ScanFunction:
	$(MAKE) --no-print-directory lambda-bundle HANDLER=scan_scope
build-PublishFunction:
	$(MAKE) --no-print-directory lambda-bundle HANDLER=publish_digest

lambda-bundle:
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set (sam build sets it)"; exit 2; }
	@test -n "$(HANDLER)" || { echo "HANDLER is not set"; exit 2; }
	mkdir -p "$(ARTIFACTS_DIR)/handlers"
	cp -R backupwatch "$(ARTIFACTS_DIR)/"
	rm -rf "$(ARTIFACTS_DIR)/backupwatch/cli"
	find "$(ARTIFACTS_DIR)/backupwatch" -name __pycache__ -prune -exec rm -rf {} +
	cp handlers/__init__.py "handlers/$(HANDLER).py" "$(ARTIFACTS_DIR)/handlers/"
	if [ "$(LAMBDA_DEPS)" != none ]; then \
		if [ "$(LAMBDA_SDK)" = runtime ]; then grep -v '^boto3' "$(LAMBDA_DEPS)"; \
		else cat "$(LAMBDA_DEPS)"; fi > "$(ARTIFACTS_DIR)/.requirements.txt" && \
		$(PYTHON) -m pip install --quiet --no-compile --target "$(ARTIFACTS_DIR)" \
			--platform "$(LAMBDA_PLATFORM)" --implementation cp \
			--python-version "$(LAMBDA_PYTHON)" --only-binary=:all: \
			-r "$(ARTIFACTS_DIR)/.requirements.txt" && \
		rm "$(ARTIFACTS_DIR)/.requirements.txt"; \
	fi
