"""The GPU image runs Python 3.8 (NVIDIA's TF1 container); the CPU install runs 3.7. Static checks that the code
stays valid for both: vermin's minimum-version analysis, and a byte-compile with a real Python 3.8."""
import glob
import os
import subprocess
import sys

from conftest import ROOT

SOURCES = [os.path.join(ROOT, folder) for folder in ("deepspeech_freeze", "bench", "tests")]


def test_vermin_minimum_version_is_at_most_3_7():
    vermin = os.path.join(os.path.dirname(sys.executable), "vermin")
    result = subprocess.run([vermin, "--no-tips", "--violations", "--target=3.7-", "--eval-annotations"] + SOURCES,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert result.returncode == 0, result.stdout


def test_compiles_with_python_3_8():
    candidates = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.8*/bin/python3.8"))) + \
        sorted(glob.glob("/usr/bin/python3.8"))
    assert candidates, "no Python 3.8 found (pyenv's 3.8.x is part of this machine kind)"
    for folder in SOURCES:
        result = subprocess.run([candidates[-1], "-m", "compileall", "-q", "-f", "-d", "check", folder],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                                env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONPYCACHEPREFIX="/tmp/py38c"))
        assert result.returncode == 0, result.stdout
