# deepspeech-freeze developer entry points. Everything runs from the stack's venv,
# which bin/install.sh creates (and skips quickly when up to date).
#
# STACK=tf1 (default): .venv, Python 3.7 + TensorFlow 1.15.5 + ds_ctcdecoder.
# STACK=tf2:           .venv-tf2, Python 3.12/3.11 + TensorFlow 2 (graph mode, oneDNN) + flashlight-text.
# The tests find both interpreters through DSF_TF1_PYTHON / DSF_TF2_PYTHON (cross-stack tests).

SHELL := /bin/bash
STACK ?= tf1
ifeq ($(STACK),tf1)
VENV := .venv
else ifeq ($(STACK),tf2)
VENV := .venv-tf2
else
$(error STACK=$(STACK): use tf1 or tf2)
endif
PYTHON := $(VENV)/bin/python
PYTEST := $(PYTHON) -m pytest -q
export DSF_TF1_PYTHON ?= $(CURDIR)/.venv/bin/python
export DSF_TF2_PYTHON ?= $(CURDIR)/.venv-tf2/bin/python
export DSF_VENV_PYTHON := $(CURDIR)/$(PYTHON)

.PHONY: install install-test demo test test-fast bench bench-stacks clean

install:
	bin/install.sh --stack $(STACK)

install-test:
	bin/install.sh --stack $(STACK) --test

demo: install
	bin/run-demo.sh

# Runs everything, including tests marked `slow` (that is what CI does).
# pytest's exit status 5 ("no tests collected") counts as a failure.
# PYTEST_ARGS adds pytest options (e.g. -k); .ci/run uses it to run the cross-stack tests once, not per stack.
test: install-test
	@$(PYTEST) $(PYTEST_ARGS) tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; \
	exit $$rc

# Quick loop (under 5 minutes on the 2-core development machine): skips tests marked `slow`, and fails unless the
# tests that ran exercised every module of deepspeech_freeze/ (--every-module, see tests/conftest.py).
test-fast: install-test
	$(PYTEST) -m "not slow" --every-module tests

bench: install
	$(PYTHON) bench/train_throughput.py

# Both stacks on the same workload, a subprocess per stack (needs both venvs).
bench-stacks:
	bin/install.sh --stack tf1 && bin/install.sh --stack tf2
	$(PYTHON) bench/compare_stacks.py

# Removes the virtualenv (incl. the KenLM build) and Python build leftovers.
clean:
	rm -rf .venv .venv-tf2 build dist *.egg-info .pytest_cache
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
