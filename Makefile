# The README's two commands: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
PORTAL := $(BIN)/portal
PYTEST_ARGS ?=

.PHONY: run test lint bench clean translations

# The compiled catalogues (.mo) are built from the committed .po files, never committed.
PO_FILES := $(wildcard portal/translations/*/LC_MESSAGES/messages.po)
MO_FILES := $(PO_FILES:.po=.mo)

# Two installs: `make run` gets what serving needs (the package, pkilint for the lint before
# signing, the PostgreSQL driver); `make test`, `lint` and `bench` add the test extra
# (pytest, Playwright, hypothesis, py-spy...). `.installed` is the full one, as before.
$(BIN)/.installed-run: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[postgres]'
	touch $@

## translations: compile the catalogues (portal/translations/<lang>/LC_MESSAGES/messages.mo)
translations: $(MO_FILES)

%.mo: %.po
	$(BIN)/pybabel compile --domain messages --input-file $< --output-file $@

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,postgres]'
	touch $@

# axe-core, which the browser tests inject into every page they visit (pinned in tests/).
AXE := tests/node_modules/axe-core/axe.min.js
$(AXE): tests/package.json tests/package-lock.json
	npm ci --prefix tests --no-audit --no-fund --loglevel=error
	touch $@

## run: set everything up (virtualenv, database, a CA, a first admin) and serve the portal
run: $(BIN)/.installed-run
	$(MAKE) translations
	$(PORTAL) init
	$(PORTAL) serve

## test: set up and run the whole suite
test: $(BIN)/.installed $(AXE)
	$(MAKE) translations
	$(BIN)/ruff check .
	$(BIN)/pytest -n auto --dist loadfile $(PYTEST_ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check .

## bench: the speed and memory benchmarks (ratios against a baseline measured in the same run)
bench: $(BIN)/.installed
	status=0; for script in $$(ls benchmarks/*.py | grep -v common.py); do \
		echo "== $$script"; $(BIN)/python $$script || status=1; \
	done; exit $$status

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
