# Dumont Acceptance. Two commands matter: `make acceptance` and `make test`.
# Each creates .venv the first time (and anew when pyproject.toml or constraints.txt change): the
# project installed in editable mode with its sandbox and dev extras, at the exact versions of
# the lock file, constraints.txt (`make lock` regenerates it).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LANGUAGE ?= en
FEATURES := $(if $(filter pt,$(LANGUAGE)),features/pt,features/*.feature)

.PHONY: acceptance test lint quick sweep steps clean venv bench lock soak prior

CHECK_PYTHON = @$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed, found " + sys.version.split()[0]'

venv: $(STAMP)

# A new venv each time, so that it holds exactly what the lock says (nothing left from an older one).
$(STAMP): pyproject.toml constraints.txt
	$(CHECK_PYTHON)
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[sandbox,dev]"
	@touch $@

## Regenerate constraints.txt from a clean install of pyproject.toml in a throwaway venv.
## Keeps the current pins and resolves only what is new; `make lock UPGRADE=1` takes the newest of everything.
UPGRADE ?=
lock:
	$(CHECK_PYTHON)
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/pip" install --quiet --disable-pip-version-check $(if $(UPGRADE),,-c constraints.txt) -e ".[sandbox,dev]"; \
	{ sed -n '/^#/p' constraints.txt; "$$tmp/venv/bin/pip" freeze --exclude-editable --disable-pip-version-check; } > "$$tmp/constraints.txt"; \
	mv "$$tmp/constraints.txt" constraints.txt
	@echo "constraints.txt regenerated: review the diff, then run make test"

JOBS ?= 3
# SHARD=i/n runs this machine's share of the scenarios (see README, "Beyond one machine").
SHARD ?=

## Run the journeys side by side against the embedded sandbox (or DUMONT_API_URL); reports in reports/.
acceptance: $(STAMP)
	$(BIN)/python -m support.parallel --jobs $(JOBS) $(if $(SHARD),--shard $(SHARD)) $(FEATURES)

## The free checks only: create nothing, spend nothing. The journeys --tags leaves out are not printed.
quick: $(STAMP)
	$(BIN)/behave --tags=quick --no-skipped $(FEATURES)

## The linter (ruff, configured in pyproject.toml) over the whole repository.
lint: $(STAMP)
	$(BIN)/ruff check .

## The linter, then every test of the suite, the sandbox and the journeys end to end.
PYTEST_ARGS ?= tests
test: lint node-packages
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Harness overhead, timing error, API calls, cost and parallel speed against the sandbox's ground truth.
bench: $(STAMP)
	$(BIN)/python -m bench

## The checked-in prior of where each phase's events fall (support/prior/phase-prior.json), from bench runs
## of each journey alone (a few minutes): a first run is then not blind. `make prior FROM=reports/bench`
## makes it from the runs the last `make bench` left, without running anything.
FROM ?=
prior: $(STAMP)
	$(BIN)/python -m bench.prior $(if $(FROM),--from $(FROM))

## The soak: RUNS journeys under faults, interrupts and load drawn from SEED, each judged against the
## sandbox's truth (leaks, false passes, brackets); <reports>/soak/summary.json. Run k alone, exactly as
## in the full soak: make soak SEED=S RUNS=1 START=k. JOBS runs at a time (2 unless JOBS is given).
RUNS ?= 12
SEED ?= 7
START ?= 1
soak: $(STAMP)
	$(BIN)/python -m soak --runs $(RUNS) --seed $(SEED) --start $(START) \
		--jobs $(if $(filter command line environment,$(origin JOBS)),$(JOBS),2)

## Delete whatever the ledger or the label listing says may still be alive.
sweep: $(STAMP)
	$(BIN)/python -m support.sweep

## The HTML report of the last run (Allure 3, pinned in package.json, run with npx):
## <reports>/allure-report/index.html, with history in <reports>/history.jsonl while reports/ is kept.
.PHONY: report open-report node-packages
NODE_STAMP := node_modules/.package-lock.json
REPORTS_DIR = $(shell $(BIN)/python -c 'from support.config import reports_dir; print(reports_dir())')
report: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m support.allure_out prepare
	@# A fresh output directory: Allure 3 writes into a per-plugin subdirectory when it is not empty.
	rm -rf "$(REPORTS_DIR)/allure-report"
	DUMONT_REPORTS_DIR="$(REPORTS_DIR)" npx --no-install allure generate --config allurerc.mjs
	@echo "HTML report: $(REPORTS_DIR)/allure-report/index.html (view it with: make open-report)"

## Serve the HTML report on http://127.0.0.1:<free port>/ until Ctrl-C (REPORT_PORT=8080 picks the port).
## The page fetches its data, so it must be served: opened as a file it shows only a spinner.
## Builds it first (make report) when it is missing or older than the last run's results.
REPORT_PORT ?=
open-report: $(STAMP)
	@$(BIN)/python -m support.report_server --up-to-date "$(REPORTS_DIR)" || $(MAKE) --no-print-directory report
	@$(BIN)/python -m support.report_server $(if $(REPORT_PORT),--port $(REPORT_PORT)) "$(REPORTS_DIR)/allure-report"

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund

# The npm packages, before the tests: the HTML report tests build with Allure 3 and the CI workflow tests
# parse YAML with its parser, so on a fresh clone they would otherwise skip. Nothing to do when installed.
# Without npm, or where npm ci fails (offline), only a warning: the tests run, and those needing the
# packages skip saying why.
node-packages:
	@if command -v npm >/dev/null 2>&1; then \
		$(MAKE) -q $(NODE_STAMP) || $(MAKE) --no-print-directory $(NODE_STAMP) || echo "make: warning: npm ci failed: the tests that need the npm packages will skip or fail" >&2; \
	else \
		echo "make: warning: npm not found: the tests that need Node.js (HTML report, CI workflow) will skip" >&2; \
	fi

## Every step sentence in English and Portuguese, with its meaning.
steps: $(STAMP)
	@$(BIN)/python -m support.catalogue

## Delete the venv and the generated reports; the next run writes them again. Kept: the ledger
## (reports/ledger.jsonl), which `make sweep` reads after a kill -9 to find machines that may still be
## billing, and the Allure history (reports/history.jsonl), which no run can rebuild.
clean:
	rm -rf $(VENV) *.egg-info
	rm -rf reports/allure-results reports/allure-report reports/junit reports/workers
	rm -f reports/metrics.json reports/report-*.txt reports/*.svg reports/*.png reports/allure-generate.json
