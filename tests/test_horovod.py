"""Horovod on CPU, on either stack: two processes under horovodrun train a frozen transfer; both end with
bit-identical weights, rank 0 alone writes, and the frozen layers are proved unchanged."""
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ENGLISH, LDC_TRANSCRIPT, ROOT, run_module, write_csv

BASE = ["--n_hidden", "32", "--noshow_progressbar", "--alphabet_config_path", ENGLISH]


@pytest.mark.slow
def test_two_ranks_identical_weights_and_frozen_layers(tmp_path, ldc_dir):
    for name in ("a.wav", "b.wav"):
        shutil.copy(str(ldc_dir / "LDC93S1.wav"), str(tmp_path / name))
    csv = write_csv(tmp_path / "two.csv", [("a.wav", 93638, LDC_TRANSCRIPT), ("b.wav", 93638, LDC_TRANSCRIPT)])
    run_module("deepspeech_freeze.train", "--train_files", csv, "--checkpoint_dir", tmp_path / "src",
               "--summary_dir", tmp_path / "s0", "--epochs", "2", *BASE)
    horovodrun = os.path.join(os.path.dirname(sys.executable), "horovodrun")
    command = [horovodrun, "-np", "2", "-H", "localhost:2", "--gloo", sys.executable, "-m",
               "deepspeech_freeze.train", "--horovod", "--load_checkpoint_dir", str(tmp_path / "src"),
               "--save_checkpoint_dir", str(tmp_path / "dst"), "--summary_dir", str(tmp_path / "s1"),
               "--train_files", csv, "--dev_files", csv, "--epochs", "3", "--freeze_layers", "1-3"] + BASE
    result = subprocess.run(command, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:]
    digests = dict(re.findall(r"rank (\d) of 2: weights sha256 ([0-9a-f]{64})", result.stdout))
    assert set(digests) == {"0", "1"} and digests["0"] == digests["1"]
    assert "Weights identical on all 2 ranks" in result.stdout
    assert "frozen layers 1-3 unchanged (bit-identical)" in result.stdout
    # Each rank trained on its own sample: one optimizer step per epoch for the pair.
    assert "best_dev-7" in result.stdout and os.path.exists(str(tmp_path / "dst" / "train-7.index"))
    # Only rank 0 logs its progress.
    assert "[0]<stderr>:I Finished training epoch 2" in result.stdout
    assert "[1]<stderr>:I Finished training epoch" not in result.stdout
