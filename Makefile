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

# The embedded default: the shipped perov_5 model (no training needed) -> latent BO -> ranked CIFs.
design: $(STAMP)
	$(BIN)/designer design pipelines/perov5.yaml --run perov5 --out outputs/perov5_design

test: $(STAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf outputs .pytest_cache
