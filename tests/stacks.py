"""The two software stacks as the tests see them: which one runs this test, and the other one's interpreter.

The suite runs under either stack's venv (``make test`` / ``make test STACK=tf2``). Cross-stack tests launch the
other stack's Python as a subprocess, found through ``$DSF_TF1_PYTHON`` / ``$DSF_TF2_PYTHON`` (the Makefile sets
both), else the repository's ``.venv`` / ``.venv-tf2``. When it is missing the test is skipped with a message saying
how to install it; with ``DSF_REQUIRE_BOTH_STACKS=1`` (what ``.ci/run`` sets) a missing stack is a failure instead.
"""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENVS = {"tf1": ".venv", "tf2": ".venv-tf2"}
ENV_OF = {"tf1": "DSF_TF1_PYTHON", "tf2": "DSF_TF2_PYTHON"}


def current_stack():
    """``'tf1'`` or ``'tf2'``: the stack of the interpreter running the tests (read without importing TF)."""
    return "tf1" if sys.version_info[:2] < (3, 9) else "tf2"


def other_stack():
    return "tf2" if current_stack() == "tf1" else "tf1"


def python_of(stack):
    """The interpreter of ``stack`` (its path), or None when that stack is not installed."""
    if stack == current_stack():
        return sys.executable
    candidate = os.environ.get(ENV_OF[stack]) or os.path.join(ROOT, VENVS[stack], "bin", "python")
    return candidate if os.path.isfile(candidate) and os.access(candidate, os.X_OK) else None


def require(stack):
    """The interpreter of ``stack``; skips the test (or fails it under ``DSF_REQUIRE_BOTH_STACKS=1``) when missing."""
    python = python_of(stack)
    if python is None:
        message = ("the {} stack is not installed (no {} and no {}/bin/python): run `bin/install.sh --stack {}` to "
                   "run the cross-stack tests".format(stack, ENV_OF[stack], VENVS[stack], stack))
        if os.environ.get("DSF_REQUIRE_BOTH_STACKS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return python


# Importing TF 2 sets these in its process's environment; a TF 1.15 child must not inherit them (TF2_BEHAVIOR=1
# switches TF 1.15 to eager execution).
_TF2_SET_VARIABLES = ("TF2_BEHAVIOR", "TPU_ML_PLATFORM", "TPU_ML_PLATFORM_VERSION", "ENABLE_RUNTIME_UPTIME_TELEMETRY")


def child_environment(env=None):
    """The environment for another stack's process: the repository first on the path, TF 2's own variables out."""
    environment = {key: value for key, value in os.environ.items() if key not in _TF2_SET_VARIABLES}
    environment.update(PYTHONPATH=ROOT, PYTHONIOENCODING="utf-8")
    environment.update(env or {})
    return environment


def run_python(stack, code, *args, timeout=900, env=None):
    """Run ``code`` with ``stack``'s interpreter (repository first on the path); returns its stdout.
    A non-zero exit fails the test with the output's end."""
    environment = child_environment(env)
    result = subprocess.run([require(stack), "-c", code] + [str(arg) for arg in args], cwd=ROOT, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                            timeout=timeout)
    if result.returncode != 0:
        raise AssertionError("{} python failed ({}):\n{}".format(stack, result.returncode,
                                                                 (result.stdout + result.stderr)[-4000:]))
    return result.stdout


def run_module(stack, module, *args, check=True, env=None, timeout=900):
    """``python -m module args`` on ``stack``; returns the CompletedProcess with ``.output`` (stdout + stderr)."""
    environment = child_environment(env)
    result = subprocess.run([require(stack), "-m", module] + [str(arg) for arg in args], cwd=ROOT, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                            timeout=timeout)
    result.output = result.stdout + result.stderr
    if check and result.returncode != 0:
        raise AssertionError("{} on {} failed ({}):\n{}".format(module, stack, result.returncode,
                                                               result.output[-4000:]))
    return result


def last_json_line(text):
    """The last line of ``text`` that parses as JSON (scripts print their result that way)."""
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith(("{", "[")):
            return json.loads(line)
    raise AssertionError("no JSON line in:\n" + text[-2000:])


def only_on(stack, reason):
    """A ``pytestmark`` for tests of one stack only; the skip message on the other names the stack and why."""
    return pytest.mark.skipif(current_stack() != stack, reason="{}-only: {}".format(stack, reason))
