# minsheng 民生 — `make run` serves the API and pages; `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
EXTRAS := dev,service,batch,web

.PHONY: install run test lint typecheck bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[$(EXTRAS)]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/minsheng serve --host 127.0.0.1 --port 8000

lint: install
	$(PY) -m ruff check src tests bench

typecheck: install
	$(PY) -m mypy

test: install lint typecheck
	$(PY) -m pytest -q

bench: install
	$(PY) bench/calc.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
