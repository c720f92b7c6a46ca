# Dumont Acceptance. Two commands matter: `make acceptance` and `make test`.
# Each creates .venv from the pinned requirements the first time (and again when they change).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LANGUAGE ?= en
FEATURES := $(if $(filter pt,$(LANGUAGE)),features/pt,features/*.feature)

.PHONY: acceptance test quick sweep steps clean venv

venv: $(STAMP)

$(STAMP): requirements.txt sandbox/requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@# Make support/ and sandbox/ importable from the venv's own scripts (behave loads formatters early).
	@$(BIN)/python -c 'import site, sys; open(site.getsitepackages()[0] + "/dumont-acceptance.pth", "w").write(sys.argv[1] + "\n")' "$(CURDIR)"
	@touch $@

## Run the journeys against the embedded sandbox (or DUMONT_API_URL) and leave the reports in reports/.
acceptance: $(STAMP)
	$(BIN)/behave $(FEATURES)

## The free checks only: create nothing, spend nothing.
quick: $(STAMP)
	$(BIN)/behave --tags=quick $(FEATURES)

## Every test of the suite, the sandbox and the journeys end to end.
test: $(STAMP)
	$(BIN)/python -m pytest tests

## Delete whatever the ledger or the label listing says may still be alive.
sweep: $(STAMP)
	$(BIN)/python -m support.sweep

## Every step sentence in English and Portuguese, with its meaning.
steps: $(STAMP)
	@$(BIN)/python -m support.catalogue

clean:
	rm -rf $(VENV) reports/allure-results reports/*.json reports/*.txt reports/*.jsonl
