# Developer entry points; see DEVELOPERS.md.
#   make test     pytest in .venv (created with $(PYTHON) when missing; extras test, docs, plot, release)
#   make bench    staticcall bench in .venv
#   make matrix   the whole interpreter matrix (scripts/matrix); RUNS="3.14-jit 3.11-dbg" for some
#   make clean    remove venvs, logs and build leftovers
# Extra pytest arguments: STATICCALL_TEST_ARGS='-k foo -x' make test

PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed-test
BENCH_STAMP := $(VENV)/.installed-bench
RUNS   ?=

.PHONY: test bench matrix clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# Re-install when pyproject.toml is newer than the stamp (new deps, entry points), or the
# accelerator's sources are (pip install builds it). The docs, plot and release extras too,
# so that the suite builds the documentation site, draws the benchmark chart and builds the
# wheel and sdist here (the matrix venvs have the test extra only).
$(STAMP): pyproject.toml setup.py src/staticcall/_accel.c | $(VENV)/bin/python
	$(VENV)/bin/python -m pip install -q --disable-pip-version-check -e '.[test,docs,plot,release]'
	touch $@

$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(VENV)/bin/python -m pip install -q --disable-pip-version-check -e '.[test,docs,plot,release,bench]'
	touch $@

# pytest's exit code 5 (no tests collected) is a failure too.
test: $(STAMP)
	@eval "set -- $$STATICCALL_TEST_ARGS"; \
	$(VENV)/bin/python -m pytest -q "$$@"; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests (exit 5)" >&2; fi; \
	exit $$rc

bench: $(BENCH_STAMP)
	$(VENV)/bin/staticcall bench

matrix:
	scripts/matrix $(RUNS)

clean:
	rm -rf $(VENV) .matrix build dist site .hypothesis .pytest_cache src/*.egg-info
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
