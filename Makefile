# NeulbomCare: the two commands a newcomer needs are `make run` and `make test`.
# Both install what is missing first (a virtualenv from requirements-dev.txt, Azurite from npm).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PY_STAMP   := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.DEFAULT_GOAL := help
.PHONY: help deps chromium poppler run test lint format bench bench-scale clean openapi

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(PY_STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "Python 3.11 is required (set PYTHON=...)")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

deps: $(PY_STAMP) $(NODE_STAMP) chromium poppler ## install Python and Node dependencies (and Chromium, poppler-utils)

# Debian's Chromium, for the test that renders the API docs page (tests/integration/
# test_api_docs.py): installed when missing and we are root (as CI is, on a clean machine);
# otherwise a note says how, and that test fails until it is installed (it never skips).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "note: /usr/bin/chromium is missing; install Debian's chromium package (as root)" >&2; \
	  fi; \
	fi

# Debian's poppler-utils (pdftoppm, pdftotext), for the tests that read the monthly visit record's
# PDF as a person would (tests/integration/test_visit_records_pdf.py): installed like Chromium.
poppler:
	@if ! command -v pdftoppm >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils; \
	  else \
	    echo "note: pdftoppm is missing; install Debian's poppler-utils package (as root)" >&2; \
	  fi; \
	fi

run: deps ## serve the app with demo data on http://127.0.0.1:7071
	$(PY) manage.py dev

test: deps lint-infra ## lint and type-check, then the whole test suite (PostgreSQL, Azurite and HTTPS fakes included)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m pytest

lint: deps lint-infra ## ruff check and format check, mypy, and the deployment files' checks
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

format: deps ## apply ruff's formatting and safe fixes
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

bench: deps ## run the benchmarks (numbers, not pass/fail)
	$(PY) benchmarks/import_time.py
	$(PY) benchmarks/model_quality.py
	$(PY) benchmarks/matching_latency.py
	$(PY) benchmarks/import_csv.py
	$(PY) benchmarks/index_usage.py
	$(PY) benchmarks/backup_restore.py
	$(PY) benchmarks/concurrency.py

bench-scale: deps ## issue 16 at national size (long; SCALE=0.05 for a quick run)
	$(PY) benchmarks/scale.py --scale $(or $(SCALE),1.0)

# The conformance fuzzing, wider than `make test`'s one seed (tests/fuzz/test_fuzz.py): every
# operation with FUZZ_EXAMPLES generated requests for each seed of FUZZ_SEEDS, and schemathesis's
# stateful phase over the OpenAPI links (FUZZ_STATEFUL_EXAMPLES scenarios), as the demo guardian
# and as an admin. `make test` deselects these tests; `-m fuzz` selects them. Nightly in CI.
FUZZ_SEEDS    ?= 1 2 3 4 5
FUZZ_EXAMPLES ?= 200
FUZZ_STATEFUL_EXAMPLES ?= 50
.PHONY: fuzz
fuzz: deps ## fuzz the API contract: several seeds, more examples, stateful links (slow)
	FUZZ_SEEDS="$(FUZZ_SEEDS)" FUZZ_EXAMPLES="$(FUZZ_EXAMPLES)" \
	  FUZZ_STATEFUL_EXAMPLES="$(FUZZ_STATEFUL_EXAMPLES)" \
	  $(PY) -m pytest -m fuzz -q tests/fuzz

openapi: $(PY_STAMP) ## regenerate docs/openapi.json (the snapshot the tests compare with)
	env -u APP_VERSION LOCAL_SETTINGS_PATH=/dev/null $(PY) manage.py openapi --output docs/openapi.json

clean: ## remove the virtualenv, node_modules and local data
	rm -rf $(VENV) node_modules .local .pytest_cache .ruff_cache

# Deployment files (infra/, .github/workflows/, scripts/), checked offline: no Bicep compiler can
# be installed from the package registries, so tests/unit/test_infra_files.py parses the Bicep
# (pycep) and cross-checks it with the parameter files and shared/config.py (alerts, networking,
# roles included); tests/unit/test_alert_event_shape.py checks the events the log alerts parse.
.PHONY: lint-infra audit
lint-infra: deps ## shellcheck, workflow schema, Bicep/parameter/workflow consistency
	$(VENV)/bin/shellcheck scripts/*.sh
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(PY) -m pytest -q tests/unit/test_infra_files.py tests/unit/test_workflows.py \
	  tests/unit/test_alert_event_shape.py

audit: $(PY_STAMP) ## pip-audit the pinned dependencies (needs PyPI's vulnerability API)
	$(PY) -m pip_audit --strict --progress-spinner off -r requirements-dev.txt
