# The front door. `make book` and `make test` create .venv (pinned, torch 2.13.0 CPU) when it is missing.
# VENV names another environment to install into and run from, e.g. a conda one: make test VENV=$CONDA_PREFIX
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
# `make reproduce CHAPTER=samrec` trains the missing runs behind a chapter (a resumable queue; seqrec/experiments/);
# HOURS=2.5 starts only the runs expected to finish within 2.5 hours (a machine that ends with the session).
CHAPTER ?= sasrec
PROFILE ?= cpu
JOBS ?= 2

.PHONY: book test unit notebooks nbval build-book execute reproduce bench clean

$(BIN)/.installed: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -c requirements.lock -e ".[dev]"
	touch $@

# Build the HTML book from the committed, executed notebooks (executes nothing, changes no tracked file).
book: build-book

# Re-execute every notebook in place from the records in results/ (trains nothing); run it after new records
# land and commit the notebooks with the records (nbval compares the stored outputs with what the records give).
execute: $(BIN)/.installed
	for nb in $(NOTEBOOKS); do $(BIN)/papermill --no-progress-bar --cwd notebooks $$nb $$nb || exit 1; done

build-book: $(BIN)/.installed
	$(BIN)/jupyter-book build . --builder html -W -n --keep-going
	@echo "book: _build/html/index.html"

# Unit tests, a papermill smoke run of every notebook, nbval on the committed notebooks, a strict book build.
test: unit notebooks nbval build-book

unit: $(BIN)/.installed
	$(BIN)/python -m pytest tests/unit -q

notebooks: $(BIN)/.installed
	$(BIN)/python -m pytest tests/notebooks -q

nbval: $(BIN)/.installed
	$(BIN)/python -m pytest --nbval-lax -p no:cacheprovider -q $(NOTEBOOKS)

reproduce: $(BIN)/.installed
	$(BIN)/python -m seqrec reproduce --chapter $(CHAPTER) --profile $(PROFILE) --jobs $(JOBS) $(if $(HOURS),--hours $(HOURS))

bench: $(BIN)/.installed
	$(BIN)/python -m seqrec bench --save --parallel

clean:
	rm -rf _build
