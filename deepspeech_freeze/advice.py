"""Advice that depends on what the user typed: the messages whose way out differs with the flags already given.

A message must never recommend a flag the user already gave, or a value already set (the developers' guide: "never
advice the user already followed"). The messages here need more than one fact to say the right thing, so they are
decided in one place, as plain functions of the facts (no TensorFlow, no flags), which the tests call directly.
"""
import os

from .naming import format_layers


def _shown(path):
    """``path`` as a user would type it: relative to the current folder when it lies below it."""
    path = os.path.abspath(path)
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path
    return path if relative.startswith(os.pardir) else relative


def _started_from(record, source_dir):
    """Whether the run of ``record`` started from a checkpoint in ``source_dir``."""
    source = record.source_checkpoint
    return bool(source) and os.path.dirname(os.path.abspath(source)) == os.path.abspath(source_dir)


def resume_conflict(save_dir, record, source_dir, reinit_layers, alphabet_labels):
    """The message when ``save_dir`` holds a run (``record``) that the command would resume although the command
    asks for a transfer that run did not start with; None when resuming is what the command means.

    A transfer is asked for by layers to re-initialise (``--drop_source_layers`` / ``--reinit_layers``), an
    alphabet other than the run's, or a ``--load_checkpoint_dir`` other than the one the run started from. Resuming
    re-initialises nothing (the run's own checkpoints come first), so without this message the user would read the
    resumed load's shape error ("pass --drop_source_layers 1"), advice they already followed.
    """
    asked = []
    reinit = format_layers(reinit_layers)
    if reinit_layers and reinit != record.reinit_layers:
        asked.append("re-initialising layer(s) {}".format(reinit))
    if record.alphabet and list(alphabet_labels) != list(record.alphabet):
        asked.append("an alphabet of {} labels (the run's has {})".format(len(alphabet_labels), len(record.alphabet)))
    same_folder = os.path.abspath(source_dir or save_dir) == os.path.abspath(save_dir)
    if not same_folder and not _started_from(record, source_dir):
        asked.append("loading from {}".format(_shown(source_dir)))
    if not asked:
        return None
    save = _shown(save_dir)
    new_dir = _shown(os.path.abspath(save_dir).rstrip(os.sep) + "_transfer")
    what = ("{} already holds a training run, which this command would resume: a resumed run re-initialises "
            "nothing, but the command asks for a transfer ({})".format(save, "; ".join(asked)))
    if same_folder:
        return ("{}. To transfer from the model in {}, load from it and save elsewhere: --load_checkpoint_dir {} "
                "--save_checkpoint_dir {} (instead of --checkpoint_dir {})".format(what, save, save, new_dir, save))
    return ("{}. To transfer from {}, choose a --save_checkpoint_dir that holds no run (e.g. {}); to resume the "
            "run in {}, give the flags it started with".format(what, _shown(source_dir), new_dir, save))


def freeze_without_source(frozen, source_dir, save_dir, load_train, source_has_checkpoint):
    """The message when ``--freeze_layers`` is given but the run would initialise every layer, so the frozen layers
    would stay random. ``frozen``: the layers as text; ``source_has_checkpoint``: whether ``source_dir`` holds one."""
    what = "--freeze_layers {} but ".format(frozen)
    if load_train == "init" and source_has_checkpoint:
        return (what + "--load_train init initialises every layer, so the frozen ones would stay random: drop "
                "--load_train init to load them from {}".format(_shown(source_dir)))
    if load_train == "init":
        return (what + "--load_train init initialises every layer, so the frozen ones would stay random: drop "
                "--load_train init and set --load_checkpoint_dir to the source model")
    if source_dir and os.path.abspath(source_dir) != os.path.abspath(save_dir or source_dir):
        return (what + "--load_checkpoint_dir {} holds no checkpoint to take those layers from (they would stay "
                "random): point it at the source model's folder (the one with its checkpoint or "
                "best_dev_checkpoint file)".format(_shown(source_dir)))
    return (what + "no checkpoint was found in {} to take those layers from (they would stay random): set "
            "--load_checkpoint_dir to the source model".format(_shown(source_dir) if source_dir else "(none)"))


def nothing_to_load(load_train, source_dir, save_dir, other_kind_found):
    """The message when ``--load_train best`` or ``last`` finds no such checkpoint in ``source_dir``;
    ``other_kind_found``: whether the other kind (train for best, best_dev for last) is there."""
    kind = "best_dev" if load_train == "best" else "train"
    # DeepSpeech's words first (its users search for them), then what is missing and the way out.
    what = "All initialization methods failed (['{}']): --load_train {} found no {} checkpoint in {}".format(
        load_train, load_train, kind, _shown(source_dir) if source_dir else "(none)")
    if other_kind_found:
        return "{}, but it has a {} checkpoint: use --load_train {} (or auto) to load it".format(
            what, "train" if load_train == "best" else "best_dev", "last" if load_train == "best" else "best")
    given_dir = source_dir and os.path.abspath(source_dir) != os.path.abspath(save_dir or source_dir)
    return "{}: use --load_train init to start from scratch, or point --load_checkpoint_dir at {}".format(
        what, "another folder, one with a checkpoint" if given_dir else "the folder of a checkpoint")


def batch_too_large(samples, batch, towers, processes):
    """The message when one training step needs more samples than the training set has (training drops incomplete
    batches, so no step would run). The way out is a batch that fits; with ``--train_batch_size`` already 1, fewer
    towers or processes."""
    what = ("the training set has {} usable samples but one step takes {} (--train_batch_size {} x {} tower(s) x {} "
            "process(es)); training drops incomplete batches, so no step would run: ".format(
                samples, batch * towers * processes, batch, towers, processes))
    fits = samples // (towers * processes)
    if fits >= 1:
        return what + "lower --train_batch_size to {}".format(fits)
    if batch == 1:
        return what + "--train_batch_size is already 1: use fewer GPUs or Horovod processes, or more samples"
    return what + ("even --train_batch_size 1 needs {} samples: use fewer GPUs or Horovod processes, or more "
                   "samples".format(towers * processes))
