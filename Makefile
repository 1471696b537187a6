# ss: `make demo` installs what the demo needs and serves it; `make test` installs what the tests need and runs them.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast deps deps-runtime venv assets bench clean

$(STAMP): requirements.txt requirements-dev.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

deps:
	bash scripts/system-deps.sh test

deps-runtime:
	bash scripts/system-deps.sh runtime

# Generate (once) and serve the demo app on http://localhost:3000/
demo: deps-runtime venv
	test -d demo || $(PY) -m ss new demo
	cd demo && ../$(PY) -m ss start

test: deps venv
	bash scripts/ensure-redis.sh
	$(PY) -m pytest -q -p no:cacheprovider

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
	rm -rf $(VENV) demo .pytest_cache
