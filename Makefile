# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3
UV := $(PYTHON) -m uv
PORT ?= 8000
export UV_PYTHON_DOWNLOADS := never

.PHONY: run test test-sqlite test-postgres lint install tools migrate bench clean

tools:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Python 3.11 or newer is needed (found: $$($(PYTHON) --version))"; exit 1; }
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv \
		|| $(PYTHON) -m pip install --quiet --user --break-system-packages uv

# Bytecode is compiled here, once: where PYTHONDONTWRITEBYTECODE is set (CI's machines), every
# process would otherwise compile every module it imports, about 2 s of CPU per process start.
install: tools
	$(UV) sync --frozen --compile-bytecode
	$(UV) run --frozen python -m compileall -q common services gateway tools migrations tests bench

migrate: install
	$(UV) run --frozen python -m common.migrate

run: install
	PORT=$(PORT) $(UV) run --frozen python -m tools.run

lint: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen python -m tools.dead_code
	$(UV) run --frozen mypy

# With PostgreSQL, the two passes run side by side (tools/test_passes.py): each waits on HTTP
# most of the time, so CI takes about the longer pass's time, not the sum.
test: install lint
ifdef TEST_POSTGRES_URL
	$(PYTHON) -m tools.test_passes \
		"$(MAKE) --no-print-directory test-sqlite" "$(MAKE) --no-print-directory test-postgres"
else
	$(MAKE) --no-print-directory test-sqlite test-postgres
endif

# Both passes fuzz the API (the slowest test); with both, each runs two fuzzing clients at once
# (writes from several clients must never answer 5xx) of 8 examples per operation: 32 between
# them, beside the documented examples; the coverage phase's boundary values run in the SQLite
# pass only (the PostgreSQL pass, whose random fuzzing also sends extreme values, is the longer
# of the two side by side), which keeps CI short.
# The two passes run in two process time zones, west of UTC and UTC: business dates are Vietnam's
# whatever the server's zone (tests/test_business_dates.py runs the platform at 06:30 in Hà Nội).
test-sqlite:
	TZ=America/Los_Angeles TEST_DATABASE=sqlite \
		SCHEMATHESIS_MAX_EXAMPLES=$(if $(TEST_POSTGRES_URL),8,20) \
		SCHEMATHESIS_CLIENTS=$(if $(TEST_POSTGRES_URL),2,4) \
		$(UV) run --frozen pytest $(PYTEST_ARGS)

test-postgres:
ifdef TEST_POSTGRES_URL
	TZ=UTC TEST_DATABASE=postgres SCHEMATHESIS_MAX_EXAMPLES=8 SCHEMATHESIS_CLIENTS=2 \
		SCHEMATHESIS_FIRST_PHASES=examples $(UV) run --frozen pytest $(PYTEST_ARGS)
else
	@echo "TEST_POSTGRES_URL is not set: skipping the PostgreSQL run"
endif

bench: install
	$(UV) run --frozen python bench/gateway.py

clean:
	rm -rf var .pytest_cache .ruff_cache
