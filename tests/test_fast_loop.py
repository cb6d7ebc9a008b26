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


FAST_AND_SLOW = '''
import subprocess, sys
import pytest
from deepspeech_freeze import naming


def run(module):
    subprocess.run([sys.executable, "-c", "import " + module], check=True, env=dict(__import__("os").environ,
                   PYTHONPATH=__import__("conftest").subprocess_pythonpath()))


def test_fast():
    assert naming.format_layers({1, 2}) == "1-2"
    run("deepspeech_freeze.importers.text")


@pytest.mark.slow
def test_slow():
    from deepspeech_freeze.alphabet import parse_alphabet_text
    assert parse_alphabet_text("a\\n", "x") == ["a"]
    run("deepspeech_freeze.importers.ldc93s1")
'''


def test_ci_mode_counts_only_what_the_fast_tests_exercise(tmp_path):
    # CI runs everything, slow tests included; --every-module-fast fails that run when the fast tests alone (what
    # `make test-fast` runs, on either stack) miss a module: an in-process call or a CLI subprocess of a slow test
    # does not count. The suite's conftest is loaded as a plugin for a test file of its own.
    (tmp_path / "test_two.py").write_text(FAST_AND_SLOW)
    def missing_with(option):
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "conftest",
                                 option, str(tmp_path / "test_two.py")], cwd=str(tmp_path),
                                env=dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "tests")])),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                                timeout=600)
        assert "2 passed" in result.stdout and result.returncode == 1, result.stdout[-3000:]
        return re.search(r"{}: not exercised: (.*)".format(option), result.stdout).group(1).split(", ")
    fast = missing_with("--every-module-fast")
    assert "deepspeech_freeze/naming.py" not in fast and "deepspeech_freeze/importers/text.py" not in fast
    assert "deepspeech_freeze/alphabet.py" in fast and "deepspeech_freeze/importers/ldc93s1.py" in fast
    everything = missing_with("--every-module")
    assert "deepspeech_freeze/alphabet.py" not in everything
    assert "deepspeech_freeze/importers/ldc93s1.py" not in everything


def test_ci_checks_the_quick_loop_on_both_stacks():
    with open(os.path.join(ROOT, ".ci", "run")) as handle:
        ci = handle.read()
    calls = re.findall(r"^\s*run_suite (tf1|tf2) (.*)$", ci, re.M)
    assert sorted({stack for stack, _ in calls}) == ["tf1", "tf2"]
    assert all("--every-module-fast" in arguments for _, arguments in calls), calls
