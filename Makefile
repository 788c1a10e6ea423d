# Odoo 18.0 must be importable by $(PYTHON); see README.md, "Prerequisites".
PYTHON ?= python3
DEV := $(PYTHON) tools/dev.py

.PHONY: run test fresh-install stop lint bench bench-time bench-dashboard stress stress-servers load

run: ## serve the demo database at http://localhost:8069 (admin / admin)
	@$(DEV) run

test: ## install into a fresh copy of the cached template database and run pytest
	@$(DEV) test $(PYTEST_ARGS)

fresh-install: ## install the add-on in one step on a new database; check a fee invoice is taxed
	@$(DEV) fresh-install

stop: ## stop the private PostgreSQL cluster
	@$(DEV) stop

lint: ## ruff and pylint-odoo, as pre-commit runs them
	@$(PYTHON) -m pre_commit run --all-files

bench: ## time the billing run on a scratch database (N retainers x M entries, default 1000 x 50)
	@$(PYTHON) tools/bench.py bench

bench-time: ## cost of 1,000 time entries with categories, counters and alerts vs plain Odoo
	@$(PYTHON) tools/bench.py time

bench-dashboard: ## the Revenue dashboard's figures on 10,000 retainers and 1,000,000 time entries
	@$(PYTHON) tools/bench.py dashboard

stress: ## two concurrent billing runs, one killed midway and restarted: counts duplicates
	@$(PYTHON) tools/bench.py stress

stress-servers: ## two Odoo servers (prefork) bill N retainers (default 400) in parallel jobs; one killed
	@$(PYTHON) tools/scale.py stress-servers

load: ## 20 portal users and 5 billing managers on 10,000 retainers, one prefork server: p50/p95
	@$(PYTHON) tools/scale.py load
