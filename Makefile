# The README's two commands. Both create/reuse .venv, build the native core and install every
# dependency and real asset (scripts/setup.sh), then run.
PY := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: setup demo test test-fast clean-build

setup:
	bash scripts/setup.sh

demo: setup
	bash scripts/demo.sh

test: setup
	cd native && PYO3_PYTHON=$(CURDIR)/.venv/bin/python cargo test --release -q
	$(PY) -m pytest -q $(PYTEST_ARGS)

# unit tests only (no real-asset tests), for quick iteration
test-fast: setup
	$(PY) -m pytest -q -m "not real and not slow" $(PYTEST_ARGS)

clean-build:
	rm -rf native/target .venv/.tokkit-native-*
