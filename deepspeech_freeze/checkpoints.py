"""Every checkpoint load and save, driven by the run's :class:`~deepspeech_freeze.config.TransferSpec`.

Loads are planned before anything is assigned: each graph variable is either *loaded* from the checkpoint or
*initialised*, for a stated reason, and everything else is an error that names the variables and the fix. No load
path can end in a raw shape error. Entry points:

* :func:`restore_for_training` — start of training: resume this run's own checkpoints, or start fresh from the
  source (re-initialising the spec's layers), or initialise everything.
* :func:`restore_best` — the LR-plateau reload: this run's best_dev checkpoint, nothing re-initialised.
* :func:`restore_for_evaluation` — test, export, inference: a trained model as is.

This module only loads and saves. A save directory with a run record (``run.json``, owned by
:mod:`~deepspeech_freeze.save_dir`) makes a restarted command resume instead of re-transferring; the frozen-weights
proof is :mod:`~deepspeech_freeze.frozen_proof`. State files name checkpoints relative to their directory, so a save
directory can be moved or copied elsewhere (a GPU box to a laptop) and still loads, evaluates and resumes.
"""
import glob
import logging
import os
import re

import numpy as np
from .tfcompat import tf

from . import advice, cudnn_format, output_rows, tfcompat
from .errors import UserError, write_failure
from .naming import format_layers, is_adam_slot, layer_of_variable
from .save_dir import remove_quietly

log = logging.getLogger(__name__)

BEST_STATE_FILE = "best_dev_checkpoint"
LAST_STATE_FILE = "checkpoint"


# ----------------------------------------------------------------------------------------------------------------
# Finding checkpoints


def find_checkpoint(directory, which):
    """Path of the ``'best'`` (best_dev) or ``'last'`` (train) checkpoint in ``directory``, or None.

    A relative path in the state file is relative to ``directory`` (how this project writes them). An absolute one
    that no longer exists (a directory written elsewhere, by DeepSpeech or an older version, then moved) is looked up
    by its file name in ``directory``. A state file that points at deleted checkpoint files counts as no checkpoint
    (with a warning).
    """
    state_file = BEST_STATE_FILE if which == "best" else LAST_STATE_FILE
    if not directory or not os.path.isfile(os.path.join(directory, state_file)):
        return None
    try:
        state = tf.compat.v1.train.get_checkpoint_state(directory, latest_filename=state_file)
    except Exception as err:  # pylint: disable=broad-except  (a corrupt state file is a text-format error)
        log.warning("Ignoring unreadable checkpoint state file %s (%s)", os.path.join(directory, state_file), err)
        return None
    if state is None or not state.model_checkpoint_path:
        return None
    # get_checkpoint_state has already joined a relative path onto ``directory``.
    path = state.model_checkpoint_path
    moved = os.path.join(directory, os.path.basename(path))
    if not os.path.isfile(path + ".index") and os.path.isfile(moved + ".index"):
        path = moved
    if not os.path.isfile(path + ".index"):
        log.warning("%s points at %s, whose files are missing", os.path.join(directory, state_file), path)
        return None
    return path


def global_step_of(path):
    """The step number in a ``train-<step>`` / ``best_dev-<step>`` path (-1 if there is none)."""
    tail = path.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else -1


#: TF's loss-scale optimizer (``--automatic_mixed_precision``) applies Adam inside a ``tf.cond``, so Adam's beta powers
#: get that scope in the graph (``cond_1/beta1_power``). Checkpoints always hold DeepSpeech's plain names, so a run
#: with the flag and one without load each other's checkpoints, and release checkpoints load with the flag (which
#: DeepSpeech 0.7.4's docs rule out). Scoped names in a checkpoint (DeepSpeech 0.7 wraps Adam with the same TF call)
#: are read as well.
_COND_SCOPED = re.compile(r"^cond(?:_\d+)?/(beta[12]_power)$")
#: The loss-scale optimizer's own state: initialised with a log line when the checkpoint was written without the flag.
LOSS_SCALE_VARIABLES = ("current_loss_scale", "good_steps")


def checkpoint_name(name):
    """The checkpoint key of the graph variable ``name``: ``cond_1/beta1_power`` -> ``beta1_power``; others as is."""
    match = _COND_SCOPED.match(name)
    return match.group(1) if match else name


class CheckpointView(object):
    """A checkpoint's tensors by name, plus canonical LSTM tensors derived from a cuDNN opaque buffer when the
    checkpoint holds only the buffer (so such checkpoints load on CPU instead of failing on a missing key)."""

    def __init__(self, path):
        self.path = path
        try:
            self.reader = tf.compat.v1.train.NewCheckpointReader(path)
        except Exception as err:  # pylint: disable=broad-except  (TF raises DataLossError, NotFoundError, ...)
            raise UserError("checkpoint {} cannot be read ({}): it is damaged or incomplete; delete it or point "
                            "the state file at another checkpoint".format(path, str(err).split("\n")[0]))
        self.shapes = dict(self.reader.get_variable_to_shape_map())
        self.derived = {}
        # Only the weights: Adam moments of the summed canonical bias are not the sum of the halves' moments, so
        # missing canonical slots are initialised, as DeepSpeech's --load_cudnn does.
        opaque, kernel_name = cudnn_format.OPAQUE, cudnn_format.CANONICAL + "kernel"
        units = cudnn_format.units_of_opaque(int(np.prod(self.shapes.get(opaque, [0]))))
        if opaque in self.shapes and kernel_name not in self.shapes and units:
            kernel, bias = cudnn_format.opaque_to_canonical(self.reader.get_tensor(opaque), units, units)
            self.derived = {kernel_name: kernel, cudnn_format.CANONICAL + "bias": bias}
        if self.derived:
            log.info("Converted cuDNN opaque LSTM weights of %s to canonical form: %s", os.path.basename(path),
                     ", ".join(sorted(self.derived)))
        self.shapes.update({name: list(value.shape) for name, value in self.derived.items()})
        # Plain names for beta powers stored under a tf.cond scope (a mixed-precision run of DeepSpeech 0.7).
        plain_names = {name: checkpoint_name(name) for name in self.shapes}
        self.aliases = {plain: stored for stored, plain in plain_names.items()
                        if plain != stored and plain not in self.shapes}
        self.shapes.update({plain: self.shapes[stored] for plain, stored in self.aliases.items()})

    def get_tensor(self, name):
        """The stored (or derived) value of ``name``."""
        if name in self.derived:
            return self.derived[name]
        return self.reader.get_tensor(self.aliases.get(name, name))


# ----------------------------------------------------------------------------------------------------------------
# Planning a load


def _shape_error(path, name, ckpt_shape, graph_shape, purpose, reinit_layers=frozenset()):
    """The message for a shape mismatch. The planner checks layer 1 first and, within a layer, the bias before the
    weights, so an n_hidden change shows first on a bias, whose size is n_hidden (4 x n_hidden for the LSTM)."""
    scope = name.split("/")[0]
    if name.endswith("/bias") and scope in ("layer_1", "layer_2", "layer_3", "layer_5", "cudnn_lstm"):
        per_unit = 4 if scope == "cudnn_lstm" else 1
        source, target = ckpt_shape[0] // per_unit, graph_shape[0] // per_unit
        return UserError("checkpoint {} has n_hidden {} but the model is built with --n_hidden {}: pass --n_hidden {}"
                         .format(path, source, target, source))
    if scope == "layer_6":
        source_out, target_out = ckpt_shape[-1], graph_shape[-1]
        if purpose != "train":
            fix = "use the alphabet the model was trained with (--alphabet_config_path)"
        elif reinit_layers:  # only --reinit_layers re-initialises layers without layer 6 (and excludes --drop_*)
            fix = "re-initialise the output layer too for the new alphabet: --reinit_layers {}".format(
                format_layers(set(reinit_layers) | {6}))
        else:
            fix = "pass --drop_source_layers 1 to re-initialise the output layer for the new alphabet"
        return UserError("checkpoint {} has an output layer of {} classes ({} labels + blank) but the alphabet has "
                         "{} labels + blank = {}: {}".format(path, source_out, source_out - 1, target_out - 1,
                                                             target_out, fix))
    return UserError("checkpoint {}: variable {} has shape {} but the model needs {}".format(
        path, name, list(ckpt_shape), list(graph_shape)))


def plan_restore(graph_vars, ckpt_shapes, path, reinit_layers=frozenset(), purpose="train", force_lr=False):
    """Decide for each graph variable whether it is loaded or initialised.

    Args:
      graph_vars: the graph's variables.
      ckpt_shapes: ``{name: shape}`` of the checkpoint.
      reinit_layers: layers initialised instead of loaded (a transfer's dropped layers, with their Adam slots).
      purpose: ``'train'`` or ``'evaluate'`` (only changes the advice in messages).
      force_lr: initialise ``learning_rate`` from the flag even when the checkpoint has it.
    Returns:
      ``(load, init)``: lists of variables; ``init`` is a list of ``(variable, reason)``.
    Raises:
      UserError: a variable is missing (other than Adam slots and learning_rate) or has another shape.
    """
    load, init, missing = [], [], []
    # Check n_hidden first: it changes every shape, and one message about it is clearer than many.
    ordered = sorted(graph_vars, key=lambda v: (not v.op.name.startswith("layer_1/"), v.op.name))
    for variable in ordered:
        name = checkpoint_name(variable.op.name)
        layer = layer_of_variable(name)
        if layer in reinit_layers:
            init.append((variable, "layer {} re-initialised".format(layer)))
        elif name == "learning_rate" and (force_lr or name not in ckpt_shapes):
            init.append((variable, "from --learning_rate"))
        elif name not in ckpt_shapes:
            if is_adam_slot(name):
                init.append((variable, "Adam slot missing from checkpoint"))
            elif name in LOSS_SCALE_VARIABLES:
                init.append((variable, "mixed-precision loss scale, not in checkpoint"))
            else:
                missing.append(name)
        else:
            graph_shape = variable.shape.as_list() if variable.shape.is_fully_defined() else None
            if graph_shape is not None and list(ckpt_shapes[name]) != graph_shape:
                raise _shape_error(path, name, ckpt_shapes[name], graph_shape, purpose, reinit_layers)
            load.append(variable)
    if missing:
        raise UserError("checkpoint {} lacks {} variable(s) the model needs: {}. It was not written by "
                        "DeepSpeech 0.7 / deepspeech-freeze for this model".format(path, len(missing),
                                                                                    ", ".join(sorted(missing))))
    return load, init


def apply_restore(session, path, view, load, init):
    """Assign the planned values and run the initialisers, logging every variable (sorted by name)."""
    for variable in sorted(load, key=lambda v: v.op.name):
        log.info("Loading variable from checkpoint: %s", variable.op.name)
        variable.load(view.get_tensor(checkpoint_name(variable.op.name)), session)
    slots = [v.op.name for v, reason in init if reason.startswith("Adam slot")]
    if slots:
        log.info("Initialising %d Adam slot(s) missing from %s (e.g. layers that were frozen when it was "
                 "written): %s", len(slots), os.path.basename(path), ", ".join(sorted(slots)))
    for variable, reason in sorted(init, key=lambda item: item[0].op.name):
        log.info("Initializing variable: %s (%s)", variable.op.name, reason)
    if init:
        session.run(tf.compat.v1.variables_initializer([variable for variable, _ in init]))


def restore(session, path, reinit_layers=frozenset(), purpose="train", force_lr=False):
    """Plan and apply one checkpoint load of all global variables (see :func:`plan_restore`)."""
    view = CheckpointView(path)
    load, init = plan_restore(tf.compat.v1.global_variables(), view.shapes, path, reinit_layers, purpose, force_lr)
    try:
        apply_restore(session, path, view, load, init)
    except tfcompat.CHECKPOINT_READ_ERRORS as err:
        raise UserError("checkpoint {} cannot be read ({}): it is damaged or incomplete".format(
            path, str(err).split("\n")[0]))


# ----------------------------------------------------------------------------------------------------------------
# Entry points


#: DeepSpeech's ``--load_train`` order over the source directory.
LOAD_ORDER = {"auto": ["best", "last", "init"], "best": ["best"], "last": ["last"], "init": ["init"]}


def restore_for_training(session, config, record):
    """Initialise the training graph's variables by the first load method that applies, in order; returns
    ``(path, resumed)``: the checkpoint loaded (None when everything was initialised) and whether it is the save
    directory's own. ``record``: the save directory's run record, None when it has none.

    1. ``resume`` (when ``record`` exists and ``--load_train`` is not ``init``): the save directory's own
       checkpoints, nothing re-initialised: ``auto`` takes the newest (best_dev or train, whichever has the higher
       step; on a tie best_dev), ``best``/``last`` that one. Epochs already done by an interrupted run are not
       repeated.
    2. DeepSpeech's ``--load_train`` order over the source directory (:data:`LOAD_ORDER`: auto = best, last,
       init), with the spec's layers re-initialised when a checkpoint is loaded.
    """
    spec, load_train = config.transfer, config.training.load_train
    force_lr = config.training.force_initialize_learning_rate
    methods = (["resume"] if record is not None and load_train != "init" else []) + LOAD_ORDER[load_train]
    for method in methods:
        if method == "resume":
            path = _own_checkpoint(config, record)
            if path is None:
                continue
            restore(session, path, purpose="train", force_lr=force_lr)
            return path, True
        if method == "init":
            if spec.frozen_layers:
                raise UserError(advice.freeze_without_source(format_layers(spec.frozen_layers), spec.source_dir,
                                                             config.save_dir, load_train,
                                                             bool(find_checkpoint(spec.source_dir, "best")
                                                                  or find_checkpoint(spec.source_dir, "last"))))
            log.info("Initializing all variables.")
            session.run(tf.compat.v1.global_variables_initializer())
            return None, False
        path = find_checkpoint(spec.source_dir, method)
        if path is None:
            log.info("Could not find %s checkpoint.", "best validating" if method == "best" else "most recent")
            continue
        log.info("%s %s", "Loading best validating checkpoint from" if method == "best"
                 else "Loading most recent checkpoint from", path)
        log.info("Transfer: %s", spec.describe())
        restore(session, path, reinit_layers=spec.reinit_layers, purpose="train", force_lr=force_lr)
        if spec.reuse_output_rows:
            output_rows.reuse(session, path, output_rows.source_labels(spec.source_dir, spec.source_alphabet_path),
                              list(config.model.alphabet.labels))
        return path, False
    other = find_checkpoint(spec.source_dir, "last" if load_train == "best" else "best")
    raise UserError(advice.nothing_to_load(load_train, spec.source_dir, config.save_dir, bool(other)))


def _own_checkpoint(config, record):
    """The save directory's checkpoint to resume from per ``--load_train``, or None when it has none."""
    load_train = config.training.load_train
    best, last = find_checkpoint(config.save_dir, "best"), find_checkpoint(config.save_dir, "last")
    candidates = [path for path in (best, last) if path]
    if not candidates:
        return None
    spec = config.transfer
    conflict = advice.resume_conflict(config.save_dir, record, spec.source_dir, spec.reinit_layers,
                                      config.model.alphabet.labels)
    if conflict:
        raise UserError(conflict)
    record.check_resumable(config.save_dir, config.transfer.frozen_layers)
    if load_train == "auto":
        path = max(candidates, key=lambda p: (global_step_of(p), p == best))
    else:
        path = best if load_train == "best" else last
        if path is None:
            raise UserError("--load_train {}: {} has no {} checkpoint".format(
                load_train, config.save_dir, "best_dev" if load_train == "best" else "train"))
    log.info("Resuming the run in %s (its own checkpoints come before --load_checkpoint_dir; layers are "
             "re-initialised only when a run starts from its source)", config.save_dir)
    log.info("%s %s", "Loading best validating checkpoint from" if path == best
             else "Loading most recent checkpoint from", path)
    return path


def restore_best(session, config):
    """The LR-plateau reload: this run's best_dev checkpoint from the save directory, nothing re-initialised."""
    path = find_checkpoint(config.save_dir, "best")
    if path is None:
        raise UserError("no best_dev checkpoint in {} to reload on the plateau".format(config.save_dir))
    log.info("Reloading best validating checkpoint from %s", path)
    restore(session, path, purpose="train")


def restore_for_evaluation(session, directory, method="auto"):
    """Load a trained model as is (test, export, inference): best_dev, else train, per ``--load_evaluate``."""
    order = {"auto": ["best", "last"], "best": ["best"], "last": ["last"]}[method]
    for which in order:
        path = find_checkpoint(directory, which)
        if path is not None:
            log.info("%s %s", "Loading best validating checkpoint from" if which == "best"
                     else "Loading most recent checkpoint from", path)
            restore(session, path, purpose="evaluate")
            return path
        log.info("Could not find %s checkpoint.", "best validating" if which == "best" else "most recent")
    raise UserError("no checkpoint found in {} (looked for {}): train first or point --load_checkpoint_dir / "
                    "--checkpoint_dir at a directory with checkpoints".format(
                        directory, " and ".join(BEST_STATE_FILE if w == "best" else LAST_STATE_FILE for w in order)))


class Savers(object):
    """The two savers of a training run: ``train-<step>`` (``--max_to_keep``) and ``best_dev-<step>`` (one)."""

    def __init__(self, save_dir, max_to_keep, enabled=True):
        self.save_dir = save_dir
        self.enabled = enabled  # False on Horovod ranks other than 0: they never write
        var_list = _saveables_by_checkpoint_name()
        # Relative paths in the state files keep the directory relocatable.
        self.train = tf.compat.v1.train.Saver(var_list, max_to_keep=max_to_keep, save_relative_paths=True)
        self.best = tf.compat.v1.train.Saver(var_list, max_to_keep=1, save_relative_paths=True)

    def save_train(self, session, global_step):
        """Save ``train-<step>``; TF writes the data files before it updates the state file."""
        return self._save(self.train, session, "train", global_step, LAST_STATE_FILE)

    def save_best(self, session, global_step):
        """Save ``best_dev-<step>`` with state file ``best_dev_checkpoint``."""
        return self._save(self.best, session, "best_dev", global_step, BEST_STATE_FILE)

    def _save(self, saver, session, name, global_step, state_file):
        # TF writes shards into a temporary folder, merges them, and only then rewrites the state file, so a
        # failed save leaves the previous checkpoint and its state file as they were; the partial files go.
        if not self.enabled:
            return None
        try:
            return saver.save(session, os.path.join(self.save_dir, name), global_step=global_step,
                              latest_filename=state_file)
        except (tf.errors.OpError, OSError) as err:
            for leftover in glob.glob(os.path.join(glob.escape(self.save_dir), name + "-*_temp*")):
                remove_quietly(leftover)
            raise UserError(write_failure(self.save_dir, err))


def _saveables_by_checkpoint_name():
    """What a default Saver saves, keyed by :func:`checkpoint_name`; None (the default) when no name changes, so
    only ``--automatic_mixed_precision`` graphs get an explicit list."""
    variables = tf.compat.v1.global_variables()
    if all(checkpoint_name(v.op.name) == v.op.name for v in variables):
        return None
    saveables = {checkpoint_name(v.op.name): v for v in variables}
    # Saveables that are not variables (CudnnLSTM's canonical-weights view), under their own names as by default.
    saveables.update({s.name: s for s in tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.SAVEABLE_OBJECTS)})
    return saveables


