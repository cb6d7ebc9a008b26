"""The Config: the only reader of the flags; each section validates itself, so a hand-built Config is checked the
same way, and :func:`train.fit` runs in-process from one without absl having parsed anything."""
import os
import subprocess
import sys

import pytest

from conftest import ENGLISH
from deepspeech_freeze import lstm, tfcompat, train
from deepspeech_freeze.alphabet import Alphabet
from deepspeech_freeze.config import (Config, DataConfig, ModelConfig, TrainingConfig, TransferSpec)
from deepspeech_freeze.errors import UserError
from deepspeech_freeze.flags import FLAGS
from deepspeech_freeze.run_record import RunRecord


def test_transfer_spec_validates_itself():
    TransferSpec("src", reinit_layers=frozenset({6}), frozen_layers=frozenset({1, 2, 3}))
    with pytest.raises(UserError, match="freezes all six layers"):
        TransferSpec("src", frozen_layers=frozenset(range(1, 7)))
    with pytest.raises(UserError, match="re-initialises every layer"):
        TransferSpec("src", reinit_layers=frozenset(range(1, 7)))
    with pytest.raises(UserError, match="overlap on layer"):
        TransferSpec("src", reinit_layers=frozenset({3, 4}), frozen_layers=frozenset({1, 2, 3}))
    with pytest.raises(UserError, match="numbered 1-6"):
        TransferSpec("src", frozen_layers=frozenset({7}))


def test_sections_validate_themselves():
    with pytest.raises(UserError, match="--n_hidden 0"):
        ModelConfig(Alphabet(ENGLISH), n_hidden=0)
    with pytest.raises(UserError, match="--dropout_rate2 1.0"):
        ModelConfig(Alphabet(ENGLISH), dropout_rates=(0.1, 1.0, 0.1, 0.0, 0.0, 0.1))
    with pytest.raises(UserError, match="--learning_rate -1"):
        TrainingConfig(learning_rate=-1)
    with pytest.raises(UserError, match="--train_batch_size 0"):
        DataConfig(train_batch_size=0)
    assert DataConfig(sample_rate=8000).window_samples == 256


def test_fit_runs_in_process_from_a_hand_built_config(tmp_path, ldc_dir):
    assert not FLAGS.is_parsed()  # nothing below may read a flag
    csv, ckpt = str(ldc_dir / "ldc93s1.csv"), str(tmp_path / "ckpt")
    config = Config(ModelConfig(Alphabet(ENGLISH), n_hidden=16),
                    data=DataConfig(train_files=(csv,), dev_files=(csv,)),
                    training=TrainingConfig(epochs=2, show_progressbar=False),
                    transfer=TransferSpec(source_dir=ckpt), load_dir=ckpt, save_dir=ckpt,
                    summary_dir=str(tmp_path / "summaries"))
    record = train.fit(config)
    assert record.finished and [entry.epoch for entry in record.history] == [0, 1]
    assert record.best_dev_loss == min(entry.dev_loss for entry in record.history)
    assert not FLAGS.is_parsed()
    # The record keeps the resolved settings: absolute paths, the stack, the LSTM kinds this stack built.
    kept = RunRecord.load(ckpt).config
    assert kept == record.config and kept["stack"] == tfcompat.STACK and kept["save_dir"] == ckpt
    assert kept["data"]["train_files"] == [csv] and kept["model"]["alphabet"] == os.path.abspath(ENGLISH)
    assert kept["training"]["lstm_forward"] == lstm.forward_kind() and kept["training"]["lstm_gradient"] == "fast"


#: Builds a Config from a command line in a fresh process (absl's flags are process-wide) and prints some fields.
FROM_FLAGS = ("import sys; from deepspeech_freeze.flags import FLAGS, define_flags; define_flags(); FLAGS(sys.argv); "
              "from deepspeech_freeze.config import from_flags; c = from_flags(); "
              "print(c.data.sample_rate, c.runtime.inter_op_threads, c.export.zip, c.export.beam_width, c.beam, "
              "c.data.dev_files[0], c.training.lstm_forward, c.training.lstm_gradient)"
              .replace("c.beam", "c.decoding.beam_width"))


def _from_flags(args, **env):
    environment = dict(os.environ, **env)
    for name in ("DSF_LSTM_FORWARD", "DSF_LSTM_GRADIENT"):
        if name not in env:
            environment.pop(name, None)
    return subprocess.run([sys.executable, "-c", FROM_FLAGS] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, env=environment, cwd=os.path.dirname(ENGLISH))


def test_sections_are_built_from_the_flags_by_name():
    """Renamed fields read their flag (--audio_sample_rate, --export_zip, ...), paths are made absolute, and the
    LSTM choice comes from the environment into the Config."""
    result = _from_flags(["--alphabet_config_path", ENGLISH, "--audio_sample_rate", "8000", "--feature_win_len",
                          "32", "--feature_win_step", "20", "--inter_op_parallelism_threads", "3", "--export_zip",
                          "--export_beam_width", "7", "--beam_width", "9", "--dev_files", "d.csv"],
                         DSF_LSTM_FORWARD="Projected", DSF_LSTM_GRADIENT="stock")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["8000", "3", "True", "7", "9", os.path.join(os.path.dirname(ENGLISH), "d.csv"),
                                     "projected", "stock"]


def test_a_bad_lstm_choice_is_refused_naming_the_variable():
    result = _from_flags(["--alphabet_config_path", ENGLISH], DSF_LSTM_FORWARD="unrolled")
    assert result.returncode != 0 and "DSF_LSTM_FORWARD='unrolled': use one of fused, projected" in result.stderr
