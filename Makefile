# Two commands a learner needs: `make lab` and `make test`. `make help` lists the rest.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# JupyterLab refuses to run as root unless told to (containers often run as root).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: help lab test unit slow setup timings lint format zoo doctor notebooks hooks \
	tables reference bench clean-venv

## Show this list of commands.
help:
	@awk '/^## /{text=substr($$0, 4); next} /^[a-z-]+:/{if (text) printf "  make %-13s %s\n", substr($$1, 1, length($$1)-1), text; text=""}' $(MAKEFILE_LIST)

# (Re)install when the dependency list, the lock file or JupyterLab's settings change.
# binder/overrides.json turns off JupyterLab's news pop-up and update check (Binder uses it too).
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings
$(STAMP): pyproject.toml requirements.lock binder/overrides.json
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev]"
	mkdir -p $(LAB_SETTINGS) && cp binder/overrides.json $(LAB_SETTINGS)/overrides.json
	@touch $(STAMP)

# The running data, Fashion-MNIST, unpacked and checked (from Debian's dataset-fashion-mnist
# package, or files copied into data/downloads/FashionMNIST/raw; `labkit data setup --download`
# fetches it once where there is a network).
DATA := data/downloads/FashionMNIST/raw/t10k-labels-idx1-ubyte
$(DATA): $(STAMP)
	$(BIN)/labkit data setup || echo "note: Fashion-MNIST is not set up (the message above says \
	how to get it); today's notebooks do not need it, and its tests are skipped without it"

## Create .venv, install the course, and set up its data (done by every other command when needed).
setup: $(DATA)

## Set up (first time only) and open the course in JupyterLab, on this machine only, with a token.
lab: $(DATA)
	$(BIN)/labkit doctor --brief
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 $(ROOT_FLAG) notebooks/00_welcome.ipynb

## Set up (first time only) and run every test: the fast lane first, then benchmarks and notebooks.
test: unit slow

## The fast lane (a few minutes): unit tests of labkit, exercises and house rules; no notebooks.
unit: $(DATA)
	$(BIN)/python -m pytest -q -m "not slow" tests

## The slow lane: benchmarks, every notebook (with solutions, in the browser, nbval, another CPU).
slow: $(DATA)
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || echo "note: \
	Chromium not found, so the notebooks run without a browser. To test them in JupyterLab as a \
	learner sees them: sudo apt-get install chromium"
	$(BIN)/python -m pytest -q -m slow tests
	$(NBVAL) notebooks/[0-9][0-9]_*.ipynb
	$(BIN)/python tools/fill_solutions.py build/solved
	LABKIT_STRICT_CHECKS=1 $(ANOTHER_CPU) $(NBVAL) build/solved/[0-9][0-9]_*.ipynb

# nbval runs each notebook in a fresh kernel; lax: outputs are not compared (they are measured,
# and differ between machines), but no cell may fail, and a claim that fails is an error here.
NBVAL := LABKIT_NO_NETWORK=1 LABKIT_STRICT_CLAIMS=1 HF_HUB_OFFLINE=1 \
	$(BIN)/python -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env \
	--nbval-cell-timeout=600 -o addopts="" -o testpaths=""
# Another CPU, computed here: the kernels PyTorch and oneDNN use on an AVX2-only machine (they
# round differently), and one thread, as on Binder.
ANOTHER_CPU := ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 OMP_NUM_THREADS=1 LABKIT_THREADS=1

## Run every notebook from a clean kernel; print wall time and peak memory against the budget.
timings: $(DATA)
	$(BIN)/labkit timings

## Check lint and formatting of the package, tests, notebooks and tools.
lint: $(STAMP)
	$(BIN)/ruff check labkit tests notebooks tools
	$(BIN)/ruff format --check labkit tests notebooks tools

## Format and fix what ruff can.
format: $(STAMP)
	$(BIN)/ruff format labkit tests notebooks tools
	$(BIN)/ruff check --fix labkit tests notebooks tools

## Regenerate notebooks/NN_*.ipynb from their sources in notebooks/src/ (after editing those).
notebooks: $(STAMP)
	$(BIN)/python tools/py2nb.py

## Install the git pre-commit hooks (ruff, stripped outputs, notebooks regenerated from sources).
hooks: $(STAMP)
	$(BIN)/python -m pip install --quiet pre-commit
	$(BIN)/pre-commit install

## Retrain the model zoo in data/zoo and rewrite its manifest.
zoo: $(STAMP)
	$(BIN)/labkit zoo build

## Rebuild every lesson's stored sweep (data/*_table.json; `labkit tables` lists them): long.
tables: $(STAMP)
	@for lesson in $$($(BIN)/labkit tables); do $(BIN)/labkit $$lesson build-table || exit 1; done

## Re-measure the reference timings the notebooks print (data/reference_timings.json).
reference: $(STAMP)
	$(BIN)/labkit reference record

## Every benchmark (the list comes from the lesson folders), each printing a JSON line last.
bench: $(STAMP)
	@for technique in $$($(BIN)/labkit bench --list); do \
		$(BIN)/labkit bench $$technique --json || exit 1; done

## Is this machine ready for the course?
doctor: $(STAMP)
	$(BIN)/labkit doctor

## Remove .venv (the next command reinstalls).
clean-venv:
	rm -rf $(VENV)
