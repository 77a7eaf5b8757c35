# MeterDesk: `make demo` opens the console on the demo site; `make test` runs every check.
# Both create .venv and install the pinned dependencies (requirements.lock) by themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export QT_QPA_PLATFORM ?= offscreen

.PHONY: demo test lint typecheck layers pytest smoke screenshots benchmarks lock clean

$(STAMP): requirements.lock pyproject.toml scripts/bootstrap.sh
	@PYTHON=$(PYTHON) sh scripts/bootstrap.sh $(VENV)
	@touch $(STAMP)

demo: $(STAMP)
	env -u QT_QPA_PLATFORM $(PY) main.py --demo

test: lint typecheck layers pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

layers: $(STAMP)
	$(VENV)/bin/lint-imports

# First the Qt-free layers with no Qt loaded at all (the run fails if PySide6 gets imported),
# then the GUI tests with pytest-qt. Each runs in several processes (pytest-xdist; a file's tests
# stay in one process): most tests wait on serial lines, subprocesses and databases, not on the
# CPU. PYTEST_WORKERS=0 runs them in this process.
PYTEST_WORKERS ?= 4
GUI_WORKERS ?= 2
pytest: $(STAMP)
	METERDESK_TESTS_WITHOUT_QT=1 $(PY) -m pytest -p no:pytest-qt -W ignore::pytest.PytestConfigWarning \
	    -n $(PYTEST_WORKERS) --dist loadfile tests/unit tests/integration $(PYTEST_ARGS)
	$(PY) -m pytest -n $(GUI_WORKERS) --dist loadfile tests/gui $(PYTEST_ARGS)

smoke: $(STAMP)
	$(PY) main.py --demo --data-dir "$$(mktemp -d)" --smoke 5

screenshots: $(STAMP)
	$(PY) scripts/screenshots.py docs/screenshots

benchmarks: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lock: $(STAMP)
	@{ echo "# Every package of the environment at an exact version (make lock regenerates it)."; \
	   $(VENV)/bin/pip freeze --exclude-editable; } > requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
