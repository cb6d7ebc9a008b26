"""Continuing and resuming keep the truth: best_dev only moves to a better model, and the best dev loss and the
early-stop/plateau counter survive a new invocation (DeepSpeech 0.7.4 resets them)."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import ENGLISH, ROOT, run_module
from deepspeech_freeze import checkpoints
from deepspeech_freeze.run_record import EpochEntry, RunRecord

BASE = ["--n_hidden", "32", "--noshow_progressbar", "--alphabet_config_path", ENGLISH]


def train(csv, ckpt, *extra, check=True):
    return run_module("deepspeech_freeze.train", "--train_files", csv, "--dev_files", csv, "--checkpoint_dir", ckpt,
                      "--summary_dir", str(ckpt) + "_summaries", *BASE, *extra, check=check)


def record(ckpt):
    with open(os.path.join(str(ckpt), "run.json")) as handle:
        return json.load(handle)


@pytest.mark.slow
def test_a_worse_continuation_leaves_best_dev_where_it_was(tmp_path, ldc_dir):
    csv, ckpt = str(ldc_dir / "ldc93s1.csv"), tmp_path / "ckpt"
    train(csv, ckpt, "--epochs", "3", "--learning_rate", "0.001")
    best_before = checkpoints.find_checkpoint(str(ckpt), "best")
    first = record(ckpt)
    assert first["best_dev_loss"] == min(entry["dev_loss"] for entry in first["history"])
    # A learning rate this large wrecks the model: its dev loss is far worse than the best so far.
    worse = train(csv, ckpt, "--epochs", "1", "--learning_rate", "1.0", "--force_initialize_learning_rate")
    second = record(ckpt)
    assert second["history"][-1]["dev_loss"] > first["best_dev_loss"], second["history"]
    assert "Best dev loss so far: {:f}".format(first["best_dev_loss"]) in worse.output
    assert "Saved new best validating model" not in worse.output
    assert checkpoints.find_checkpoint(str(ckpt), "best") == best_before
    assert (second["best_dev_loss"], second["best_dev_step"]) == (first["best_dev_loss"], first["best_dev_step"])
    assert second["epochs_without_improvement"] == first["epochs_without_improvement"] + 1
    # The counter goes on across invocations, so early stopping sees the whole run.
    train(csv, ckpt, "--epochs", "1", "--learning_rate", "1.0", "--force_initialize_learning_rate")
    assert record(ckpt)["epochs_without_improvement"] == first["epochs_without_improvement"] + 2


def test_run_record_round_trip_and_old_records(tmp_path):
    """The record reads back as written; a record from before the best dev state was kept recovers it from the
    history; a damaged file is one clear error."""
    item = RunRecord(frozen_layers="1-3", history=[EpochEntry(0, 5, 10.0, 1.0, 9.0), EpochEntry(1, 10, 8.0, 1.0,
                                                                                               7.5)])
    assert item.validated(1, 10, 7.5, 0.05) is True and item.best_dev_loss == 7.5
    assert item.validated(2, 15, 7.48, 0.05) is True  # better, but by less than es_min_delta
    assert item.epochs_without_improvement == 1
    item.save(str(tmp_path))
    again = RunRecord.load(str(tmp_path))
    assert again == item
    old = {"frozen_layers": "none", "history": [{"epoch": 0, "step": 3, "train_loss": 5.0, "seconds": 1.0,
                                                 "dev_loss": 4.0},
                                                {"epoch": 1, "step": 6, "train_loss": 4.0, "seconds": 1.0,
                                                 "dev_loss": 4.5}], "finished": True}
    (tmp_path / "run.json").write_text(json.dumps(old))
    recovered = RunRecord.load(str(tmp_path))
    assert (recovered.best_dev_loss, recovered.best_dev_epoch, recovered.best_dev_step) == (4.0, 0, 3)
    (tmp_path / "run.json").write_text("{not json")
    try:
        RunRecord.load(str(tmp_path))
    except Exception as err:  # noqa: BLE001  (the type is the point)
        assert type(err).__name__ == "UserError" and "run.json is damaged" in str(err)
    else:
        raise AssertionError("a damaged run.json was accepted")


@pytest.mark.slow
def test_a_second_run_into_a_live_save_dir_refuses_and_a_killed_runs_lock_does_not_block(tmp_path, ldc_dir):
    csv, ckpt = str(ldc_dir / "ldc93s1.csv"), tmp_path / "ckpt"
    command = [sys.executable, "-m", "deepspeech_freeze.train", "--train_files", csv, "--checkpoint_dir",
               str(ckpt), "--summary_dir", str(tmp_path / "s"), "--epochs", "1000", *BASE]
    live = subprocess.Popen(command, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while not checkpoints.find_checkpoint(str(ckpt), "last"):  # it is training
            assert live.poll() is None and time.time() < deadline, "the first run did not start training"
            time.sleep(0.5)
        flags_before = (ckpt / "flags.txt").read_text()
        second = train(csv, ckpt, "--epochs", "1", "--learning_rate", "0.5", check=False)
        assert second.returncode == 2, second.output[-2000:]
        assert "--save_checkpoint_dir {} is in use by another training run (pid {})".format(ckpt, live.pid) \
            in second.output
        assert "Traceback" not in second.output
        assert (ckpt / "flags.txt").read_text() == flags_before  # nothing of the live run was touched
    finally:
        live.send_signal(signal.SIGKILL)
        live.wait()
    assert (ckpt / ".lock").exists()  # left behind by the killed run...
    resumed = train(csv, ckpt, "--epochs", "1")  # ...and it does not block
    assert "Resuming the run in" in resumed.output
