# ss: `make demo` installs what the demo needs and serves it; `make test` installs what the tests need and runs them.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TOOLS := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed

.PHONY: demo test test-fast lint deps deps-runtime venv assets bench audit lock clean

# requirements-dev.txt is the whole locked tree (runtime + test tools) with hashes, made by
# scripts/lock-deps.sh from requirements.in and requirements-dev.in; ss itself is built with
# the setuptools and wheel locked there, so nothing unhashed is fetched.
$(STAMP): requirements-dev.txt setup.py pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

venv: $(STAMP)

# pip-tools and pip-audit, locked too, kept out of .venv. --no-deps: the lock is the whole tree, and
# the pip a new venv starts with (23.x) rejects pip-audit's CacheControl[filecache] in hash mode.
$(TOOLS_STAMP): requirements-tools.txt
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install -q --require-hashes --no-deps -r requirements-tools.txt
	touch $(TOOLS_STAMP)

# Known vulnerabilities in the locked Python and npm packages; needs the vulnerability services
# on the network, so it is not part of `make test` (docs/security.md, "Supply chain").
audit: $(TOOLS_STAMP)
	$(TOOLS)/bin/python scripts/audit.py

# Regenerate requirements*.txt from the .in files (after editing a pin)
lock:
	bash scripts/lock-deps.sh

deps:
	bash scripts/system-deps.sh test

deps-runtime:
	bash scripts/system-deps.sh runtime

# Generate (once) and serve the demo app on http://localhost:3000/
demo: deps-runtime venv
	test -d demo || $(PY) -m ss new demo
	cd demo && ../$(PY) -m ss start

test: deps venv lint
	bash scripts/ensure-redis.sh
	$(PY) -m pytest -q -p no:cacheprovider

# ruff (pyflakes, pycodestyle, bugbear, async pitfalls) and mypy (strict for the wire layer,
# the error model and rpc): configured in pyproject.toml; make test runs this first.
lint: venv
	$(PY) -m ruff check ss tests scripts bench
	$(PY) -m mypy

# Unit tests only (no browser, no server processes)
test-fast: venv
	$(PY) -m pytest -q -p no:cacheprovider -m "not e2e"

# Production pack of the demo app
assets: deps-runtime venv
	test -d demo || $(PY) -m ss new demo
	cd demo && SS_ENV=production ../$(PY) -m ss assets

bench: deps venv
	bash scripts/ensure-redis.sh
	$(MAKE) -C bench PY=$(abspath $(PY))

clean:
	rm -rf $(VENV) $(TOOLS) demo .pytest_cache
