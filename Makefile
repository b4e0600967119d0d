# `make design` and `make test` each create .venv if it is missing and install the project into it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev

.PHONY: design test install clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Load the shipped perov_5 model (no training needed) and sample candidates from it.
design: $(STAMP)
	$(BIN)/designer sample perov5 -n 200 --seed 0 --out outputs/perov5_design

test: $(STAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf outputs .pytest_cache
