"""Shared fixtures: the LDC93S1 data, a command runner, and small models trained once per session."""
import csv
import io
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LDC_DIR = os.path.join(ROOT, "data", "smoke_test")  # LDC93S1 and its 8 kHz / 44.1 kHz stereo copies
ENGLISH = os.path.join(ROOT, "data", "alphabets", "english.txt")
GERMAN = os.path.join(ROOT, "data", "alphabets", "german.txt")
LDC_TRANSCRIPT = "she had your dark suit in greasy wash water all year"


def run_module(module, *args, check=True, env=None, timeout=900, cwd=ROOT):
    """Run ``python -m module args`` like a user would (in ``cwd``, the repository by default); returns the
    CompletedProcess (stdout+stderr text)."""
    environment = dict(os.environ, PYTHONPATH=ROOT, PYTHONIOENCODING="utf-8")
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
