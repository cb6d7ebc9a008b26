"""The Config: the only reader of the flags; each section validates itself, so a hand-built Config is checked the
same way, and :func:`train.fit` runs in-process from one without absl having parsed anything."""
import pytest

from conftest import ENGLISH
from deepspeech_freeze import train
from deepspeech_freeze.alphabet import Alphabet
from deepspeech_freeze.config import (Config, DataConfig, ModelConfig, TrainingConfig, TransferSpec)
from deepspeech_freeze.errors import UserError
from deepspeech_freeze.flags import FLAGS


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
