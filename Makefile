# One task runner for the README, CI and developers.
UV ?= uv

.PHONY: install demo test test-fast lint typecheck eval bench

install:
	$(UV) sync --frozen

demo: install
	$(UV) run warroom demo

# The whole suite: lint, types, unit + integration tests (SQLite always; PostgreSQL and Redis
# when reachable, required under CI=true), then the scenario evaluation gate. Any non-zero exit
# fails the target, pytest's 5 ("no tests collected") included.
test: install
	$(UV) run ruff check .
	$(UV) run mypy
	$(UV) run pytest -q -p no:cacheprovider
	$(UV) run warroom eval scenarios/regression --gate

test-fast: install
	$(UV) run pytest -q -x -m "not integration and not slow"

lint:
	$(UV) run ruff check . && $(UV) run ruff format --check .

typecheck:
	$(UV) run mypy

bench: install
	$(UV) run warroom bench ingest

eval: install
	$(UV) run warroom eval scenarios/regression
	$(UV) run warroom eval ../shared/scenarios
