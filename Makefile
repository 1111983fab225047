# qc — one command to run it, one to test it. Only Python 3.11 is assumed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run stop test lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m qc.devstack run

stop: $(STAMP)
	$(PY) -m qc.devstack stop

lint: $(STAMP)
	$(VENV)/bin/ruff check qc services tests

test: $(STAMP) lint
	$(PY) -m pytest -q

clean: stop
	rm -rf var
