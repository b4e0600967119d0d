# `make design` and `make test` each create .venv if it is missing and install the project into it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev

.PHONY: design test install clean browser-deps

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The embedded default: the shipped perov_5 model (no training needed) -> latent BO -> ranked CIFs.
design: $(STAMP)
	$(BIN)/designer design pipelines/perov5.yaml --run perov5 --out outputs/perov5_design

# The report's browser test needs Debian's Chromium and Node's playwright-core; each is installed where this
# machine allows it (root with apt; npm), else the test is skipped with the reason.
BROWSER_DRIVER := tests/browser/node_modules/playwright-core/package.json

$(BROWSER_DRIVER): tests/browser/package-lock.json
	-@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null || \
	    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }; }; } || \
	  echo "no Chromium here (Debian: apt-get install chromium): the report's browser test will be skipped"
	-@command -v npm >/dev/null 2>&1 && npm ci --prefix tests/browser --no-audit --no-fund --silent || \
	  echo "no npm here: the report's browser test will be skipped"

browser-deps: $(BROWSER_DRIVER)

test: $(STAMP) browser-deps
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist loadfile

clean:
	rm -rf outputs .pytest_cache
