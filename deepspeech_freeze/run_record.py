"""The run record: ``run.json`` in a save directory, its only reader and writer.

A training run's save directory holds, next to its checkpoints, one record of what the run is and how far it got:

* what was transferred: the source checkpoint, the re-initialised and frozen layers, the alphabet and n_hidden, and
  a fingerprint of every frozen variable as it was loaded (the frozen-weights proof compares against these);
* progress: the global step at which each epoch of the current invocation ended (written *before* the epoch's
  checkpoint, so whichever checkpoint survives a crash tells how many epochs it holds) and whether the invocation
  finished;
* the validation state that decides what ``best_dev`` is: the best dev loss so far with its epoch and step, and the
  epochs without improvement that early stopping and the learning-rate plateau count. It is kept across resumes and
  continued runs, so ``best_dev`` only ever moves to a better model (DeepSpeech 0.7.4 resets it on every start);
* the per-epoch history (losses, seconds) that results tables and learning curves are made from.

Every other module goes through :class:`RunRecord`; nothing reads ``run.json`` by string key.
"""
import io
import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Dict, List, Optional

from .errors import UserError, write_failure
from .naming import format_layers

RUN_FILE = "run.json"


@dataclass
class EpochEntry:
    """One finished training epoch: its number, end step, mean train loss, seconds, and dev loss (if validated)."""
    epoch: int
    step: int
    train_loss: float
    seconds: float
    dev_loss: Optional[float] = None


@dataclass
class RunRecord:
    """What a save directory's run is and how far it got (see the module docstring)."""
    source_checkpoint: Optional[str] = None
    reinit_layers: str = "none"
    frozen_layers: str = "none"
    alphabet: List[str] = field(default_factory=list)
    n_hidden: int = 0
    frozen_fingerprints: Dict[str, str] = field(default_factory=dict)
    epoch_end_steps: List[int] = field(default_factory=list)
    history: List[EpochEntry] = field(default_factory=list)
    #: True once a training invocation of the run completed its epochs; a record that never trained is not finished.
    finished: bool = False
    best_dev_loss: Optional[float] = None
    best_dev_epoch: Optional[int] = None
    best_dev_step: Optional[int] = None
    epochs_without_improvement: int = 0
    train_audio_seconds: Optional[float] = None
    #: The latest invocation's resolved settings (:meth:`~deepspeech_freeze.config.Config.as_record`) and stack.
    config: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def new(cls, config, source, frozen_fingerprints):
        """The record of a run that starts now from checkpoint ``source`` (None: initialised) with the frozen
        variables' fingerprints as loaded (:func:`~deepspeech_freeze.fingerprints.of_layers`)."""
        spec = config.transfer
        return cls(source_checkpoint=os.path.abspath(source) if source else None,
                   reinit_layers=format_layers(spec.reinit_layers), frozen_layers=format_layers(spec.frozen_layers),
                   alphabet=list(config.model.alphabet.labels), n_hidden=config.model.n_hidden,
                   frozen_fingerprints=dict(frozen_fingerprints))

    def check_resumable(self, save_dir, frozen_layers):
        """Refuse to resume this run with other frozen layers than it started with."""
        if format_layers(frozen_layers) != self.frozen_layers:
            raise UserError("{} holds a run started with --freeze_layers {} but this command freezes {}: use the same "
                            "flags to resume, or a new --save_checkpoint_dir".format(
                                save_dir, self.frozen_layers, format_layers(frozen_layers)))

    # ------------------------------------------------------------------------------------------------------------
    # Files

    @staticmethod
    def path(save_dir):
        """Where the record of ``save_dir`` lives."""
        return os.path.join(save_dir, RUN_FILE)

    @classmethod
    def load(cls, save_dir):
        """The record of ``save_dir``, or None when it has none. A damaged file is a :class:`UserError`."""
        path = cls.path(save_dir)
        if not os.path.isfile(path):
            return None
        try:
            with io.open(path, encoding="utf-8") as handle:
                raw = json.load(handle)
            known = {item.name for item in fields(cls)}
            values = {key: value for key, value in raw.items() if key in known}
            values["history"] = [EpochEntry(**entry) for entry in values.get("history", [])]
            record = cls(**values)
        except (ValueError, TypeError, AttributeError) as err:
            raise UserError("{} is damaged ({}): delete it to start the run afresh".format(path, err))
        if record.best_dev_loss is None:
            # Records written before the best dev state was kept: recover it from the history.
            record._recover_best_dev()
        return record

    def save(self, save_dir):
        """Write the record atomically: a temporary file, flushed to disk, then renamed over the old one."""
        path = self.path(save_dir)
        temporary = path + ".tmp"
        try:
            with io.open(temporary, "w", encoding="utf-8") as handle:
                json.dump(asdict(self), handle, indent=2, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except OSError as err:
            try:
                os.remove(temporary)
            except OSError:
                pass
            raise UserError(write_failure(save_dir, err))

    # ------------------------------------------------------------------------------------------------------------
    # Progress

    def start_invocation(self, step):
        """Begin a training invocation whose restored checkpoint is at global ``step``; returns the epochs of an
        interrupted invocation that this checkpoint already holds (0 for a finished or new run, whose next
        invocation trains ``--epochs`` more, as DeepSpeech does). History past ``step`` (epochs whose checkpoint
        was lost) is dropped."""
        if self.finished:
            self.epoch_end_steps = []
        self.epoch_end_steps = [end for end in self.epoch_end_steps if end <= step]
        self.history = [entry for entry in self.history if entry.step <= step]
        self.finished = False
        return len(self.epoch_end_steps)

    def end_epoch(self, epoch, step, train_loss, seconds):
        """Record a finished training epoch (call before its checkpoint is written)."""
        self.epoch_end_steps.append(int(step))
        self.history.append(EpochEntry(epoch=epoch, step=int(step), train_loss=float(train_loss),
                                       seconds=round(float(seconds), 3)))

    def validated(self, epoch, step, dev_loss, min_delta):
        """Record the epoch's dev loss; returns True when it is a new best (save ``best_dev``).

        An epoch counts as "without improvement" for early stopping and the plateau unless it beats the best by
        more than ``min_delta``, as DeepSpeech counts; ``best_dev`` moves on any strict improvement.
        """
        dev_loss = float(dev_loss)
        if self.history:
            self.history[-1].dev_loss = dev_loss
        best = math.inf if self.best_dev_loss is None else self.best_dev_loss
        if not dev_loss <= best - min_delta:  # a NaN loss is no improvement either
            self.epochs_without_improvement += 1
        else:
            self.epochs_without_improvement = 0
        if dev_loss < best:
            self.best_dev_loss, self.best_dev_epoch, self.best_dev_step = dev_loss, epoch, int(step)
            return True
        return False

    def early_stop_due(self, es_epochs):
        """True when ``--early_stop`` stops now: the dev loss has not improved for ``es_epochs`` epochs."""
        return self.epochs_without_improvement == es_epochs

    def plateau_due(self, plateau_epochs):
        """True when ``--reduce_lr_on_plateau`` reduces now: each further ``plateau_epochs`` without improvement."""
        waited = self.epochs_without_improvement
        return waited > 0 and waited % plateau_epochs == 0

    def _recover_best_dev(self):
        scored = [entry for entry in self.history if entry.dev_loss is not None]
        if scored:
            best = min(scored, key=lambda entry: entry.dev_loss)
            self.best_dev_loss, self.best_dev_epoch, self.best_dev_step = best.dev_loss, best.epoch, best.step

    # ------------------------------------------------------------------------------------------------------------
    # Derived facts (for results tables)

    @property
    def train_seconds(self):
        """Seconds spent in training epochs (validation excluded), summed over the kept history."""
        return sum(entry.seconds for entry in self.history)
