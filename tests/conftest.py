"""Shared fixtures: the LDC93S1 data, a command runner, and small models trained once per session."""
import csv
import glob
import io
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LDC_DIR = os.path.join(ROOT, "data", "smoke_test")  # LDC93S1 and its 8 kHz / 44.1 kHz stereo copies
ENGLISH = os.path.join(ROOT, "data", "alphabets", "english.txt")
GERMAN = os.path.join(ROOT, "data", "alphabets", "german.txt")
LDC_TRANSCRIPT = "she had your dark suit in greasy wash water all year"


def run_module(module, *args, check=True, env=None, timeout=900, cwd=ROOT):
    """Run ``python -m module args`` like a user would (in ``cwd``, the repository by default); returns the
    CompletedProcess (stdout+stderr text)."""
    environment = dict(os.environ, PYTHONPATH=subprocess_pythonpath(), PYTHONIOENCODING="utf-8")
    environment.update(env or {})
    result = subprocess.run([sys.executable, "-m", module] + [str(a) for a in args], cwd=str(cwd), env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                            timeout=timeout)
    result.output = result.stdout + result.stderr
    if check and result.returncode != 0:
        raise AssertionError("{} failed ({}):\n{}".format(module, result.returncode, result.output[-4000:]))
    return result


def write_csv(path, rows, header=("wav_filename", "wav_filesize", "transcript")):
    """Write a DeepSpeech CSV with ``rows`` (tuples matching ``header``)."""
    with io.open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


@pytest.fixture(scope="session")
def ldc_dir(tmp_path_factory):
    """A folder with LDC93S1.wav and ldc93s1.csv (relative path, real transcript)."""
    folder = tmp_path_factory.mktemp("ldc93s1")
    shutil.copy(os.path.join(LDC_DIR, "LDC93S1.wav"), str(folder / "LDC93S1.wav"))
    write_csv(folder / "ldc93s1.csv", [("LDC93S1.wav", 93638, LDC_TRANSCRIPT)])
    return folder


TINY = ["--n_hidden", "100", "--noshow_progressbar", "--alphabet_config_path", ENGLISH]


@pytest.fixture(scope="session")
def english_model(tmp_path_factory, ldc_dir):
    """An English model (n_hidden 100) trained 3 epochs on LDC93S1 with dev; its checkpoint directory."""
    folder = tmp_path_factory.mktemp("english")
    csv_path = str(ldc_dir / "ldc93s1.csv")
    run_module("deepspeech_freeze.train", "--train_files", csv_path, "--dev_files", csv_path, "--epochs", "3",
               "--checkpoint_dir", folder / "ckpt", "--summary_dir", folder / "summaries", *TINY)
    return folder / "ckpt"


@pytest.fixture(scope="session")
def ldc_scorer(tmp_path_factory):
    """A scorer package (English alphabet) whose LM knows the LDC93S1 sentence (an ARPA bigram written here)."""
    import kenlm_fixtures
    from deepspeech_freeze import scorer_package
    from deepspeech_freeze.alphabet import Alphabet
    folder = tmp_path_factory.mktemp("ldc_scorer")
    words = LDC_TRANSCRIPT.split()
    arpa = folder / "ldc.arpa"
    unigrams = ["-1.0\t<unk>\t0", "-99\t<s>\t-0.3"] + ["-1.2\t{}\t-0.3".format(w) for w in words] + ["-1.2\t</s>"]
    bigrams = ["-0.05\t{}\t{}".format(a, b) for a, b in zip(["<s>"] + words, words + ["</s>"])]
    arpa.write_text("\\data\\\nngram 1={}\nngram 2={}\n\n\\1-grams:\n{}\n\n\\2-grams:\n{}\n\n\\end\\\n".format(
        len(unigrams), len(bigrams), "\n".join(unigrams), "\n".join(bigrams)))
    binary = kenlm_fixtures.arpa_to_kenlm_binary(str(arpa), str(folder / "ldc.binary"))
    return scorer_package.write_scorer_package(binary, words, Alphabet(ENGLISH), str(folder / "ldc.scorer"),
                                               0.931289039105002, 1.1834137581510284)


# ----------------------------------------------------------------------------------------------------------------
# --every-module (make test-fast): fail unless every module of the package was exercised by the tests that ran,
# through a call in this process during a test or a CLI subprocess (run_module) that loaded it.

PACKAGE_DIR = os.path.join(ROOT, "deepspeech_freeze")
MODULE_LOG_SITE = os.path.join(ROOT, "tests", "module_log")  # its sitecustomize.py records a subprocess's modules
_exercised = set()


def pytest_addoption(parser):
    parser.addoption("--every-module", action="store_true",
                     help="fail unless every module of deepspeech_freeze/ was exercised by a test that ran")
    parser.addoption("--every-module-fast", action="store_true",
                     help="in a run that includes slow tests (CI's), fail unless the tests not marked slow alone "
                          "exercised every module of deepspeech_freeze/, as `make test-fast` requires")


def _fast_only(config):
    """--every-module-fast: only the tests not marked slow (and the fixtures they use) count."""
    return config.getoption("--every-module-fast", default=False)


def _checking(config):
    return config.getoption("--every-module", default=False) or _fast_only(config)


def _is_slow(item):
    return item.get_closest_marker("slow") is not None


def subprocess_pythonpath():
    """PYTHONPATH for a CLI run: the repository, plus the module recorder while --every-module is on."""
    return ROOT + (os.pathsep + MODULE_LOG_SITE if os.environ.get("DSF_TEST_MODULE_LOG") else "")


def package_modules():
    """Every module file of the package (``__init__`` files hold no behaviour and are left out)."""
    found = glob.glob(os.path.join(PACKAGE_DIR, "**", "*.py"), recursive=True)
    return sorted(path for path in found if os.path.basename(path) != "__init__.py")


def pytest_configure(config):
    if _checking(config):
        config._dsf_module_log = tempfile.mkdtemp(prefix="dsf-module-log-")
        os.environ["DSF_TEST_MODULE_LOG"] = config._dsf_module_log
    if _fast_only(config):  # switched on only while a fast test or a fixture one of them uses runs
        del os.environ["DSF_TEST_MODULE_LOG"]


def pytest_collection_finish(session):
    # The fixtures the fast tests use: a session fixture first set up for a slow test still counts, as it would
    # in `make test-fast`, where a fast test sets it up.
    session.config._dsf_fast_fixtures = {name for item in session.items if not _is_slow(item)
                                         for name in getattr(item, "fixturenames", ())}


def _log_subprocesses(config, on):
    if on:
        os.environ["DSF_TEST_MODULE_LOG"] = config._dsf_module_log
    else:
        os.environ.pop("DSF_TEST_MODULE_LOG", None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    fast_only = _fast_only(item.config)
    if fast_only:
        _log_subprocesses(item.config, not _is_slow(item))
    try:
        yield
    finally:
        if fast_only:
            _log_subprocesses(item.config, False)


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    config = request.config
    fast_only = _fast_only(config)
    if fast_only:
        was_on = "DSF_TEST_MODULE_LOG" in os.environ
        _log_subprocesses(config, was_on or fixturedef.argname in getattr(config, "_dsf_fast_fixtures", ()))
    try:
        yield
    finally:
        if fast_only:
            _log_subprocesses(config, was_on)


def _record_call(frame, event, arg):
    # A global trace function sees one 'call' per new Python frame; returning None turns line tracing off.
    if frame.f_code.co_filename.startswith(PACKAGE_DIR):
        _exercised.add(os.path.abspath(frame.f_code.co_filename))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    tracing = item.config.getoption("--every-module") or (_fast_only(item.config) and not _is_slow(item))
    if tracing:
        sys.settrace(_record_call)
    try:
        yield
    finally:
        if tracing:
            sys.settrace(None)


def pytest_sessionfinish(session, exitstatus):
    folder = getattr(session.config, "_dsf_module_log", None)
    if not folder:
        return
    for path in glob.glob(os.path.join(folder, "*.txt")):
        with open(path) as handle:
            _exercised.update(line for line in handle.read().splitlines() if line)
    shutil.rmtree(folder, ignore_errors=True)
    modules = package_modules()
    missing = [os.path.relpath(path, ROOT) for path in modules if path not in _exercised]
    session.config._dsf_module_report = (len(modules) - len(missing), len(modules), missing)
    if missing and exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    report = getattr(config, "_dsf_module_report", None)
    if report is None:
        return
    done, total, missing = report
    name, which = ("--every-module-fast", "the tests not marked slow (as `make test-fast` requires)") \
        if _fast_only(config) else ("--every-module", "the tests that ran")
    terminalreporter.write_line("{}: {} of {} modules of deepspeech_freeze/ exercised by {}".format(
        name, done, total, which))
    if missing:
        terminalreporter.write_line("{}: not exercised: {}".format(name, ", ".join(missing)))
