# minsheng 民生 — `make run` serves the API and pages; `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# what the install is made from (setup.py builds the compiled module _money.c): a change reinstalls
INSTALL_FROM := pyproject.toml setup.py src/minsheng/batch/_money.c
STAMP  := $(VENV)/.installed-$(shell cat $(INSTALL_FROM) | cksum | cut -d' ' -f1)
EXTRAS := dev,service,batch,web,spark

.PHONY: install run test lint typecheck bench clean browser wrk

$(STAMP): $(INSTALL_FROM)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[$(EXTRAS)]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/minsheng serve --demo --host 127.0.0.1 --port 8000

lint: install
	$(PY) -m ruff check src tests bench

typecheck: install
	$(PY) -m mypy

test: install lint typecheck browser
	$(PY) -m pytest -q

# Browser tests (tests/e2e) drive Debian's Chromium with its Chinese interface and a Chinese font;
# installed once with apt-get when missing (as root, else with sudo).
CHROMIUM_FILES := /usr/bin/chromium /usr/lib/chromium/locales/zh-CN.pak /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

browser:
	@for f in $(CHROMIUM_FILES); do test -e $$f || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Chromium for the browser tests (apt-get) ..."; \
	  $(SUDO) apt-get update -qq >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-l10n fonts-wqy-microhei >/dev/null; \
	fi

# Benchmarks print JSON lines (see docs/performance.md); wrk, a C load generator, keeps the
# client's share of this 2-core machine small: installed once with apt-get when missing.
wrk:
	@command -v wrk >/dev/null || { echo "installing wrk (apt-get) ..."; \
	  $(SUDO) apt-get update -qq >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk >/dev/null; }

bench: install wrk
	$(PY) bench/calc.py --workers 2
	$(PY) bench/service.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info src/minsheng/batch/*.so
