"""Validated settings derived once from the flags: alphabet, geometry, directories, dropout, transfer spec.

Every contradiction between flags is found here, before any graph is built or file written, and reported as one
:class:`~deepspeech_freeze.errors.UserError` naming the flags involved.
"""
import os
from dataclasses import dataclass, field
from typing import List, Tuple

from .alphabet import Alphabet
from .errors import UserError
from .flags import DEFAULT_DATA_HOME, FLAGS
from .layers import format_layers, parse_layer_set, top_layers
from .model import N_CONTEXT, N_INPUT


@dataclass(frozen=True)
class TransferSpec:
    """What a training run takes from its source checkpoint and what it keeps fixed.

    Every checkpoint load goes through one of these (see :mod:`deepspeech_freeze.checkpoints`):
    ``source_dir`` is where a fresh run loads from, ``reinit_layers`` are initialised instead of loaded on that
    fresh start (``--drop_source_layers``), ``frozen_layers`` are created with ``trainable=False``.
    """
    source_dir: str
    reinit_layers: frozenset = frozenset()
    frozen_layers: frozenset = frozenset()

    def describe(self):
        """One line for the log."""
        return "source {}, re-initialise layers {}, freeze layers {}".format(
            self.source_dir or "(none)", format_layers(self.reinit_layers), format_layers(self.frozen_layers))


@dataclass
class Config:
    """Everything the trainer needs, derived from the flags and checked for consistency."""
    alphabet: Alphabet
    n_hidden: int
    n_classes: int
    sample_rate: int
    window_samples: int
    step_samples: int
    load_dir: str
    save_dir: str
    summary_dir: str
    transfer: TransferSpec
    dropout_rates: Tuple[float, ...]
    load_train: str = "auto"
    load_evaluate: str = "auto"
    force_initialize_learning_rate: bool = False
    train_files: List[str] = field(default_factory=list)
    dev_files: List[str] = field(default_factory=list)
    test_files: List[str] = field(default_factory=list)
    metrics_files: List[str] = field(default_factory=list)
    n_input: int = N_INPUT
    n_context: int = N_CONTEXT


def split_files(value):
    """``'a.csv,b.csv'`` -> ``['a.csv', 'b.csv']`` (empty entries dropped)."""
    return [item for item in (value or "").split(",") if item.strip()]


def _check_positive(name, value, allow_zero=False):
    if value < 0 or (value == 0 and not allow_zero):
        raise UserError("--{} {}: must be {}".format(name, value, "0 or more" if allow_zero else "at least 1"))


def dropout_rates():
    """The six rates fed to ``dropout_0..5``; -1 for rates 2, 3 and 6 copies ``--dropout_rate``."""
    base = FLAGS.dropout_rate

    def resolve(value):
        return base if value < 0 else value
    rates = (base, resolve(FLAGS.dropout_rate2), resolve(FLAGS.dropout_rate3), FLAGS.dropout_rate4,
             FLAGS.dropout_rate5, resolve(FLAGS.dropout_rate6))
    for name, rate in zip(("dropout_rate", "dropout_rate2", "dropout_rate3", "dropout_rate4", "dropout_rate5",
                           "dropout_rate6"), rates):
        if not 0.0 <= rate < 1.0:
            raise UserError("--{} {}: a dropout rate must be in [0, 1)".format(name, rate))
    return rates


def build_config(training=True):
    """Validate the flags and derive a :class:`Config`. ``training`` enables the training-only checks."""
    if FLAGS.utf8:
        raise UserError("--utf8 is not supported by deepspeech-freeze; use an alphabet file")
    if FLAGS.augment:
        raise UserError("--augment is not supported by deepspeech-freeze (the reproduced paper used no "
                        "augmentation); remove the flag")
    for name in ("n_hidden", "train_batch_size", "dev_batch_size", "test_batch_size", "feature_win_len",
                 "feature_win_step", "audio_sample_rate", "max_to_keep", "beam_width"):
        _check_positive(name, getattr(FLAGS, name))
    for name in ("epochs", "checkpoint_secs", "cache_for_epochs", "report_count"):
        _check_positive(name, getattr(FLAGS, name), allow_zero=True)
    if FLAGS.load_train not in ("auto", "best", "last", "init"):
        raise UserError("--load_train {}: use auto, best, last or init".format(FLAGS.load_train))
    if FLAGS.load_evaluate not in ("auto", "best", "last"):
        raise UserError("--load_evaluate {}: use auto, best or last".format(FLAGS.load_evaluate))
    if FLAGS.load_cudnn and FLAGS.train_cudnn:
        raise UserError("--load_cudnn and --train_cudnn contradict each other: --load_cudnn is for loading a cuDNN "
                        "checkpoint without cuDNN; with --train_cudnn the cuDNN weights load directly. Drop one")

    window = FLAGS.audio_sample_rate * FLAGS.feature_win_len / 1000.0
    step = FLAGS.audio_sample_rate * FLAGS.feature_win_step / 1000.0
    if window != int(window) or step != int(step):
        raise UserError("--feature_win_len {} ms and --feature_win_step {} ms must be whole numbers of samples at "
                        "--audio_sample_rate {}".format(FLAGS.feature_win_len, FLAGS.feature_win_step,
                                                        FLAGS.audio_sample_rate))

    alphabet = Alphabet(FLAGS.alphabet_config_path)
    checkpoint_dir = FLAGS.checkpoint_dir or os.path.join(DEFAULT_DATA_HOME, "checkpoints")
    load_dir = FLAGS.load_checkpoint_dir or checkpoint_dir
    save_dir = FLAGS.save_checkpoint_dir or checkpoint_dir

    if not 0 <= FLAGS.drop_source_layers <= 5:
        raise UserError("--drop_source_layers {}: use 1 (layer 6) to 5 (layers 2-6); layer 1 is always loaded "
                        "when a source is given".format(FLAGS.drop_source_layers))
    frozen = parse_layer_set(FLAGS.freeze_layers)
    if len(frozen) == 6:
        raise UserError("--freeze_layers {}: freezes all six layers, which leaves nothing to train"
                        .format(FLAGS.freeze_layers))
    reinit = top_layers(FLAGS.drop_source_layers)
    if FLAGS.reinit_layers:
        if FLAGS.drop_source_layers:
            raise UserError("--reinit_layers and --drop_source_layers both choose the layers to re-initialise: "
                            "give only one")
        reinit = parse_layer_set(FLAGS.reinit_layers, "--reinit_layers")
        if len(reinit) == 6:
            raise UserError("--reinit_layers {}: re-initialises every layer; use --load_train init to start from "
                            "scratch".format(FLAGS.reinit_layers))
    both = frozen & reinit
    if training and both:
        raise UserError("--freeze_layers {} and the re-initialised layers {} overlap on layer(s) {}: a "
                        "re-initialised layer that is frozen would stay random. Freeze fewer layers or re-initialise "
                        "fewer".format(FLAGS.freeze_layers, format_layers(reinit), format_layers(both)))

    return Config(
        alphabet=alphabet, n_hidden=FLAGS.n_hidden, n_classes=alphabet.size + 1,
        sample_rate=FLAGS.audio_sample_rate, window_samples=int(window), step_samples=int(step),
        load_dir=load_dir, save_dir=save_dir,
        summary_dir=FLAGS.summary_dir or os.path.join(DEFAULT_DATA_HOME, "summaries"),
        transfer=TransferSpec(source_dir=load_dir, reinit_layers=reinit, frozen_layers=frozen),
        dropout_rates=dropout_rates(), load_train=FLAGS.load_train, load_evaluate=FLAGS.load_evaluate,
        force_initialize_learning_rate=FLAGS.force_initialize_learning_rate,
        train_files=split_files(FLAGS.train_files), dev_files=split_files(FLAGS.dev_files),
        test_files=split_files(FLAGS.test_files), metrics_files=split_files(FLAGS.metrics_files))
