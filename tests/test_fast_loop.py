"""`make test-fast`: the non-slow tests, with --every-module proving they exercise every module of the package.

The check itself must be able to fail: a run of one small test file exercises only a few modules, and the
check names the others and turns the run's exit status into a failure."""
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, package_modules


def run_pytest(*args):
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=600)


def test_every_module_check_names_what_a_small_run_misses():
    result = run_pytest("--every-module", "tests/test_naming.py")
    assert "passed" in result.stdout and " failed" not in result.stdout, result.stdout[-3000:]
    assert result.returncode == 1, result.stdout[-3000:]  # the tests passed; the check failed the run
    counts = re.search(r"--every-module: (\d+) of (\d+) modules", result.stdout)
    assert counts and int(counts.group(2)) == len(package_modules()) and int(counts.group(1)) < 5
    missing = re.search(r"--every-module: not exercised: (.*)", result.stdout).group(1)
    assert "deepspeech_freeze/train.py" in missing and "deepspeech_freeze/importers/common_voice.py" in missing
    assert "deepspeech_freeze/naming.py" not in missing  # what test_naming calls counts


@pytest.mark.slow
def test_every_module_check_counts_cli_subprocesses():
    # This test only runs the train CLI in a subprocess (run_module) and calls nothing of the package itself:
    # the modules that process loaded count, and nothing else does.
    result = run_pytest("--every-module", "tests/test_reliability.py", "-k", "invalid_utf8")
    assert "1 passed" in result.stdout, result.stdout[-3000:]
    missing = re.search(r"--every-module: not exercised: (.*)", result.stdout).group(1)
    for module in ("train.py", "data.py", "config.py", "flags.py", "errors.py"):
        assert "deepspeech_freeze/" + module not in missing, module
    assert "deepspeech_freeze/importers/swiss_german.py" in missing


def test_package_modules_lists_the_package():
    names = {os.path.relpath(path, ROOT) for path in package_modules()}
    assert "deepspeech_freeze/train.py" in names and "deepspeech_freeze/experiments/results.py" in names
    assert not any(name.endswith("__init__.py") for name in names)


def test_make_test_fast_runs_the_check_and_make_test_runs_everything():
    with open(os.path.join(ROOT, "Makefile")) as handle:
        makefile = handle.read()
    fast = re.search(r"^test-fast:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert '-m "not slow"' in fast and "--every-module" in fast
    full = re.search(r"^test:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "not slow" not in full and "-m " not in full
