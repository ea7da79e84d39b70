PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NATIVE_SOURCES := setup.py pyproject.toml core/sansock/_profiles/linux_x86_64.py $(wildcard drivers/sansock_native/_build.py drivers/sansock_native/*.h)

.PHONY: test test-versions demo bench stress docs doctest typecheck pytest clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel

$(STAMP): $(BIN)/python $(NATIVE_SOURCES)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q

doctest: $(STAMP)
	$(BIN)/sphinx-build -q -W -b doctest docs docs/_build/doctest

docs: $(STAMP)
	$(BIN)/sphinx-build -q -W -b html docs docs/_build/html

test: typecheck pytest doctest test-versions

# sansock follows the socket module of the CPython it runs on (core/sansock/_pyrules.py).
# The default interpreter runs everything above; every other CPython 3.10+ found on
# PATH or under ~/.pyenv/versions runs the tests that compare with its stdlib
# (pytest -m differential) in its own .venv-3.X, and mypy checks the code for each
# supported version.  It prints what ran and what was not found; an interpreter whose
# environment cannot be built is reported and skipped.
test-versions: $(STAMP)
	$(BIN)/python tests/run_versions.py --default-bin $(BIN)

demo: $(STAMP)
	$(BIN)/python -m sansock demo
	$(BIN)/python -m sansock demo --driver fake

bench: $(STAMP)
	$(BIN)/python bench/bench_api.py
	$(BIN)/python bench/bench_driver.py
	$(BIN)/python bench/bench_fake.py

# The long reliability runs (issue 6): a million fuzzed cmsg buffers, 1000
# TCP connections, 10,000 fds passed, 1M operations under tracemalloc, 64 MiB
# under a 1 ms SIGALRM storm, the behaviour suite traced twice.  -s prints the figures.
stress: $(STAMP)
	SANSOCK_STRESS=1 $(BIN)/pytest -q -s -p no:cacheprovider tests/test_reliability_*.py

clean:
	rm -rf $(VENV) .venv-3.* build *.egg-info core/*.egg-info .mypy_cache .pytest_cache .hypothesis
	find . -name '__pycache__' -prune -exec rm -rf {} +
	rm -f drivers/sansock_native/_sansock_native*.so drivers/sansock_native/_sansock_native.c
