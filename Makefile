# Two commands a new user needs: `make demo` and `make test`. Both install into .venv from the lock file:
# p2c_assets (this folder) and the sandbox (sandbox/, its own package, kept out of a production install),
# both editable, with the `dev` extra (tests, dg, the Dagster UI).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# dg runs the project's code in .venv and warns when another venv (or none) is active, so it runs as
# from an activated .venv. DAGSTER_HOME is this folder, so the project's dagster.yaml is the instance's
# (Dagster reads it only from DAGSTER_HOME; one elsewhere in the current folder draws a warning): run
# history survives restarts under .dagster_home/, p2c demo's runs show in the UI, telemetry stays off.
DG := . $(CURDIR)/$(BIN)/activate && DAGSTER_HOME=$(CURDIR) dg

$(BIN)/.installed: requirements.lock pyproject.toml sandbox/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e . -e ./sandbox
	touch $@

install: $(BIN)/.installed

demo: install  ## sandbox + seed + prospect_to_cash end to end, with a summary
	$(BIN)/p2c demo

test: install  ## the test suite (starts its own sandbox and PostgreSQL)
	$(BIN)/python -m pytest -q

check-defs: install  ## the definitions load as a Dagster code location (CI runs it before the tests)
	$(DG) check defs

ui: install  ## sandbox + its simulated business users in the background + `dg dev` on http://127.0.0.1:3000 (Ctrl-C stops all)
	test -f .sandbox/dataverse.db || $(BIN)/p2c-sandbox seed --data .sandbox
	$(BIN)/p2c-sandbox serve --data .sandbox & sandbox=$$!; \
	trap 'kill $$sandbox $$simulator 2>/dev/null' EXIT INT TERM; \
	for i in $$(seq 100); do $(BIN)/python -c "import urllib.request as u; \
		[u.urlopen(f'http://127.0.0.1:{p}/_sandbox/health', timeout=1) for p in (8801, 8802)]" 2>/dev/null && break; \
		sleep 0.2; done; \
	$(BIN)/p2c-sandbox simulate --data .sandbox --steps 100000 --interval 120 > .sandbox/simulate.log 2>&1 & simulator=$$!; \
	$(DG) dev

lock: install  ## re-pin dependencies after editing pyproject.toml or sandbox/pyproject.toml (uv from the lock)
	$(BIN)/uv pip compile pyproject.toml sandbox/pyproject.toml --extra dev --no-emit-package p2c-assets \
		--python-version 3.11 -o requirements.lock

.PHONY: install demo test check-defs ui lock
