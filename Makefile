# deepspeech-freeze developer entry points. Everything runs from .venv,
# which bin/install.sh creates (and skips quickly when up to date).

SHELL := /bin/bash
PYTHON := .venv/bin/python
PYTEST := $(PYTHON) -m pytest -q

.PHONY: install install-test demo test test-fast bench clean

install:
	bin/install.sh

install-test:
	bin/install.sh --test

demo: install
	bin/run-demo.sh

# Runs everything, including tests marked `slow` (that is what CI does).
# pytest's exit status 5 ("no tests collected") counts as a failure.
test: install-test
	@$(PYTEST) tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; \
	exit $$rc

# Quick loop (under 5 minutes on the 2-core development machine): skips tests marked `slow`, and fails unless the
# tests that ran exercised every module of deepspeech_freeze/ (--every-module, see tests/conftest.py).
test-fast: install-test
	$(PYTEST) -m "not slow" --every-module tests

bench: install
	$(PYTHON) bench/train_throughput.py

# Removes the virtualenv (incl. the KenLM build) and Python build leftovers.
clean:
	rm -rf .venv build dist *.egg-info .pytest_cache
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
