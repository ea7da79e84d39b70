PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NATIVE_SOURCES := setup.py pyproject.toml core/sansock/_profiles/linux_x86_64.py $(wildcard drivers/sansock_native/_build.py drivers/sansock_native/*.h)

.PHONY: test test-versions demo bench stress docs doctest typecheck pytest clean cpython-suite

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel

# The default editable mode (an import hook): this checkout's own mypy reads the
# sources through mypy_path, and a new module is picked up without reinstalling.
# (editable_mode=compat cannot map the two source roots core/ and drivers/;
# editable_mode=strict, which users' type checkers need, see README, must be
# re-run for every new file.)
$(STAMP): $(BIN)/python $(NATIVE_SOURCES)
	@echo "installing sansock (editable) and the test tools; compiling the native driver's C extension (CFFI, about 10 s)..."
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q

# -n: nitpicky (every cross-reference must resolve; the stdlib's through the
# inventory shipped in docs/).  The doctest builder's totals are printed.
doctest: $(STAMP)
	$(BIN)/sphinx-build -q -n -W -b doctest docs docs/_build/doctest
	@sed -n '/^Doctest summary/,$$p' docs/_build/doctest/output.txt

docs: $(STAMP)
	$(BIN)/sphinx-build -q -n -W -b html docs docs/_build/html

# The other interpreters' runs (test-versions, mostly one core's work) go on
# beside the main pytest run, their output held back and printed after it.
test: typecheck
	@log=$$(mktemp); \
	$(MAKE) --no-print-directory test-versions >$$log 2>&1 & versions=$$!; \
	status=0; $(MAKE) --no-print-directory pytest || status=1; \
	wait $$versions || status=1; \
	echo "--- make test-versions (ran beside pytest) ---"; cat $$log; rm -f $$log; \
	$(MAKE) --no-print-directory doctest || status=1; \
	exit $$status

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

# Every bench runs even when one misses a floor; the target fails at the end if
# any did.  BENCH_ARGS passes options to all four (e.g. BENCH_ARGS=--clock=cpu
# on a machine shared with other work: see bench/_harness.py).
bench: $(STAMP)
	@status=0; \
	$(BIN)/python bench/bench_api.py $(BENCH_ARGS) || status=1; \
	$(BIN)/python bench/bench_driver.py $(BENCH_ARGS) || status=1; \
	$(BIN)/python bench/bench_fake.py $(BENCH_ARGS) || status=1; \
	$(BIN)/python bench/bench_asyncio.py $(BENCH_ARGS) || status=1; \
	$(BIN)/python bench/bench_network.py $(BENCH_ARGS) || status=1; \
	if [ $$status -ne 0 ]; then echo "make bench: a loop missed its floor (FLOOR MISSED above) or a bench failed"; fi; \
	exit $$status

# The long reliability runs (issue 6): a million fuzzed cmsg buffers, 1000
# TCP connections, 10,000 fds passed, 1M operations under tracemalloc, 64 MiB
# under a 1 ms SIGALRM storm, four behaviour test files traced twice.  -s prints the figures.
stress: $(STAMP)
	SANSOCK_STRESS=1 $(BIN)/pytest -q -s -p no:cacheprovider tests/test_reliability_*.py

# CPython's own test_socket with the socket module replaced by a binding, on
# each driver (not part of `make test`; several minutes).  Prints the counts.
cpython-suite: $(STAMP)
	$(BIN)/python tests/cpython/run_test_socket.py --driver native
	$(BIN)/python tests/cpython/run_test_socket.py --driver fake

clean:
	rm -rf $(VENV) .venv-3.* build *.egg-info core/*.egg-info .mypy_cache .pytest_cache .hypothesis
	find . -name '__pycache__' -prune -exec rm -rf {} +
	rm -f drivers/sansock_native/_sansock_native*.so drivers/sansock_native/_sansock_native.c
