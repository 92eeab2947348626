# Two commands a new user needs: `make demo` and `make test`. Both install into .venv from the lock file.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

install: $(BIN)/.installed

demo: install  ## sandbox + seed + prospect_to_cash end to end, with a summary
	$(BIN)/p2c demo

test: install  ## the test suite (starts its own sandbox and PostgreSQL)
	$(BIN)/python -m pytest -q

ui: install  ## sandbox + its simulated business users in the background + the Dagster UI on http://127.0.0.1:3000 (Ctrl-C stops all)
	mkdir -p .dagster_home && cp -n dagster.yaml .dagster_home/
	test -f .sandbox/dataverse.db || $(BIN)/p2c-sandbox seed --data .sandbox
	$(BIN)/p2c-sandbox serve --data .sandbox & sandbox=$$!; \
	trap 'kill $$sandbox $$simulator 2>/dev/null' EXIT; \
	for i in $$(seq 100); do $(BIN)/python -c "import urllib.request as u; \
		[u.urlopen(f'http://127.0.0.1:{p}/_sandbox/health', timeout=1) for p in (8801, 8802)]" 2>/dev/null && break; \
		sleep 0.2; done; \
	$(BIN)/p2c-sandbox simulate --data .sandbox --steps 100000 --interval 120 > .sandbox/simulate.log 2>&1 & simulator=$$!; \
	DAGSTER_HOME=$(CURDIR)/.dagster_home $(BIN)/dagster dev -w workspace.yaml

lock:  ## re-pin dependencies after editing pyproject.toml
	$(BIN)/pip install --quiet uv && $(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

.PHONY: install demo test ui lock
