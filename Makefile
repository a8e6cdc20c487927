# The two commands of the quick start: `make demo` and `make test`. Both create the virtual
# environment when it is missing and install what they need; nothing is installed by hand.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# The risk state modules that setup.py compiles with mypyc (centime.risk.native.COMPILED).
RISK_NATIVE := $(addprefix src/centime/risk/,windows.py sketch.py graph.py features.py field.py)

# The model's trees, a C extension setup.py builds beside them (centime.risk.trees).
TREES_NATIVE := src/centime/risk/_trees.c

.PHONY: demo test lint typecheck bench install clean chromium axe node-deps

# setup.py compiles src/centime/ledger/core.py with mypyc: an edited core is rebuilt here (and
# until then runs as Python: centime.ledger.native checks the build against the source).
$(INSTALLED): pyproject.toml setup.py src/centime/ledger/core.py $(RISK_NATIVE) $(TREES_NATIVE) src/centime/risk/_cstate.c src/centime/ledger/_records.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -c "$$NATIVE_REPORT"
	touch $(INSTALLED)

# Said after every install: a build that fell back to pure Python (it never fails) is visible.
define NATIVE_REPORT
from centime.ledger.native import core_is_compiled
import centime.risk.field  # noqa: the import chooses the compiled module when current
from centime.risk.native import risk_is_compiled, state_module
from centime.risk.trees import trees_is_compiled
from centime.ledger.records import records_extension
print("compiled ledger core:", core_is_compiled(), "; compiled risk state:", risk_is_compiled(),
      "; C risk state:", state_module() is not None, "; native model trees:", trees_is_compiled(),
      "; C ledger records:", records_extension() is not None)
endef
export NATIVE_REPORT

install: $(INSTALLED)

demo: $(INSTALLED)
	$(BIN)/centime demo

lint: $(INSTALLED)
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts

typecheck: $(INSTALLED)
	$(BIN)/mypy
	$(BIN)/mypy --strict scripts

# The browser tests drive Debian's Chromium; installed here when missing (needs root or sudo),
# with a CJK font so that the Korean pages' screenshots show Hangul.
CHROMIUM := /usr/bin/chromium
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
BROWSER_PACKAGES := chromium fonts-noto-cjk

$(CHROMIUM) $(CJK_FONT):
	command -v apt-get >/dev/null && { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES) || sudo apt-get install -y -qq $(BROWSER_PACKAGES); } || echo "chromium missing: the browser tests will skip"

chromium:
	test -x $(CHROMIUM) && test -f $(CJK_FONT) || $(MAKE) $(CHROMIUM) $(CJK_FONT)

# axe-core (package.json, pinned in package-lock.json) for the browser tests' accessibility
# checks: installed with npm ci; without npm the browser tests skip those checks, saying so.
AXE := node_modules/axe-core/axe.min.js

$(AXE): package.json package-lock.json
	command -v npm >/dev/null && npm ci --no-audit --no-fund || echo "npm missing: the accessibility checks will skip"

axe: $(AXE)

# The official Open Payments client (npm, pinned by package-lock.json) for
# tests/openpayments/test_official_client.py; without npm that test skips and says why.
OP_NODE := tests/openpayments/node

$(OP_NODE)/node_modules/.package-lock.json: $(OP_NODE)/package-lock.json
	if command -v npm >/dev/null; then cd $(OP_NODE) && npm ci --no-audit --no-fund; else echo "npm missing: the Open Payments client test will skip"; fi

node-deps: $(OP_NODE)/node_modules/.package-lock.json

test: lint typecheck chromium axe node-deps
	$(BIN)/pytest -n auto

bench: $(INSTALLED)
	$(BIN)/centime bench ledger
	$(BIN)/centime bench api

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis demo.db* tour.db* test-artifacts node_modules
