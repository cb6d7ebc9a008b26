"""Every checkpoint load and save, driven by the run's :class:`~deepspeech_freeze.config.TransferSpec`.

Loads are planned before anything is assigned: each graph variable is either *loaded* from the checkpoint or
*initialised*, for a stated reason, and everything else is an error that names the variables and the fix. No load
path can end in a raw shape error. Entry points:

* :func:`restore_for_training` — start of training: resume this run's own checkpoints, or start fresh from the
  source (re-initialising the spec's layers), or initialise everything.
* :func:`restore_best` — the LR-plateau reload: this run's best_dev checkpoint, nothing re-initialised.
* :func:`restore_for_evaluation` — test, export, inference: a trained model as is.

The save directory holds the run's :class:`~deepspeech_freeze.run_record.RunRecord` (``run.json``). It makes a
restarted command resume instead of re-transferring, and lets :func:`verify_frozen` prove at the end that frozen
layers are bit-identical to the source. State files name checkpoints relative to their directory, so a save
directory can be moved or copied elsewhere (a GPU box to a laptop) and still loads, evaluates and resumes.
"""
import errno
import fcntl
import glob
import hashlib
import logging
import os
import re
import shutil

import numpy as np
from .tfcompat import tf

from . import cudnn_format, tfcompat
from .errors import UserError, write_failure
from .naming import KIND_OF_LAYER, format_layers, is_adam_slot, layer_of_variable
from .run_record import RunRecord

log = logging.getLogger(__name__)

LOCK_FILE = ".lock"
BEST_STATE_FILE = "best_dev_checkpoint"
LAST_STATE_FILE = "checkpoint"


class FrozenLayersChanged(Exception):
    """A frozen variable differs from its source: the run's central promise was broken. Never silenced."""


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


def _shape_error(path, name, ckpt_shape, graph_shape, purpose):
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
        fix = ("pass --drop_source_layers 1 to re-initialise the output layer for the new alphabet"
               if purpose == "train" else "use the alphabet the model was trained with (--alphabet_config_path)")
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
                raise _shape_error(path, name, ckpt_shapes[name], graph_shape, purpose)
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
# The save directory


def _remove_quietly(path):
    try:
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
    except OSError:
        pass


def check_writable(directory, flag):
    """Create ``directory`` and prove a file can be written there, before any training starts."""
    probe = os.path.join(directory, ".write-test")
    try:
        os.makedirs(directory, exist_ok=True)
        with open(probe, "wb") as handle:
            handle.write(b"x" * 4096)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as err:
        raise UserError("{} {}: cannot write there ({}): choose a writable directory with free space".format(
            flag, directory, err.strerror or err))
    finally:
        _remove_quietly(probe)


class SaveDirLock(object):
    """Holds ``<save_dir>/.lock`` (an advisory ``flock``) while a training run writes to the directory, so a second
    run started into the same directory refuses instead of interleaving checkpoints. The kernel drops the lock when
    the holding process ends, however it ends (kill -9 included), so a lock file left behind never blocks."""

    def __init__(self, directory):
        self.directory = directory
        self.path = os.path.join(directory, LOCK_FILE)
        self._handle = None

    def __enter__(self):
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno not in (errno.EAGAIN, errno.EACCES):
                handle.close()
                raise UserError("--save_checkpoint_dir {}: cannot lock it ({})".format(self.directory, err))
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise UserError("--save_checkpoint_dir {} is in use by another training run (pid {}): wait for it to "
                            "finish or stop it, or choose another --save_checkpoint_dir".format(self.directory,
                                                                                               holder))
        handle.seek(0)
        handle.truncate()
        handle.write("{}\n".format(os.getpid()))
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *_exc):
        fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()
        self._handle = None


def fingerprint(value):
    """sha256 of an array's dtype, shape and bytes: equal fingerprints mean bit-identical values."""
    value = np.ascontiguousarray(value)
    digest = hashlib.sha256()
    digest.update("{}{}".format(value.dtype.str, value.shape).encode())
    digest.update(value.tobytes())
    return digest.hexdigest()


def frozen_variables(frozen_layers, graph_vars=None):
    """The graph variables of the frozen layers (weights and biases; frozen layers have no Adam slots)."""
    graph_vars = tf.compat.v1.global_variables() if graph_vars is None else graph_vars
    return [v for v in graph_vars if layer_of_variable(v.op.name) in frozen_layers and not is_adam_slot(v.op.name)]


# ----------------------------------------------------------------------------------------------------------------
# Entry points


def restore_for_training(session, config):
    """Initialise the training graph's variables; returns the :class:`RunRecord` to keep updating.

    * ``save_dir`` has a run record and a checkpoint: resume from it, nothing re-initialised: ``auto`` takes the
      newest (best_dev or train, whichever has the higher step; on a tie best_dev), ``best``/``last`` that one.
      Epochs already done by an interrupted run are not repeated.
    * otherwise: DeepSpeech's ``--load_train`` order over the source directory (auto = best, last, init), with the
      spec's layers re-initialised when a checkpoint is loaded.
    """
    spec, load_train = config.transfer, config.training.load_train
    force_lr = config.training.force_initialize_learning_rate
    record = RunRecord.load(config.save_dir)
    if record is not None and load_train != "init":
        best, last = find_checkpoint(config.save_dir, "best"), find_checkpoint(config.save_dir, "last")
        candidates = [path for path in (best, last) if path]
        if candidates:
            if format_layers(spec.frozen_layers) != record.frozen_layers:
                raise UserError("{} holds a run started with --freeze_layers {} but this command freezes {}: use "
                                "the same flags to resume, or a new --save_checkpoint_dir".format(
                                    config.save_dir, record.frozen_layers, format_layers(spec.frozen_layers)))
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
            restore(session, path, purpose="train", force_lr=force_lr)
            if record.best_dev_loss is not None:
                log.info("Best dev loss so far: %f (epoch %s, step %s); best_dev only moves to a better model",
                         record.best_dev_loss, record.best_dev_epoch, record.best_dev_step)
            return record

    methods = {"auto": ["best", "last", "init"], "best": ["best"], "last": ["last"], "init": ["init"]}
    tried = []
    for method in methods[load_train]:
        if method == "init":
            if spec.frozen_layers:
                raise UserError("--freeze_layers {} but no checkpoint was found in {} to take those layers from "
                                "(they would stay random): set --load_checkpoint_dir to the source model".format(
                                    format_layers(spec.frozen_layers), spec.source_dir))
            log.info("Initializing all variables.")
            session.run(tf.compat.v1.global_variables_initializer())
            return _new_record(session, config, source=None)
        path = find_checkpoint(spec.source_dir, method)
        tried.append(method)
        if path is None:
            log.info("Could not find %s checkpoint.", "best validating" if method == "best" else "most recent")
            continue
        log.info("%s %s", "Loading best validating checkpoint from" if method == "best"
                 else "Loading most recent checkpoint from", path)
        log.info("Transfer: %s", spec.describe())
        restore(session, path, reinit_layers=spec.reinit_layers, purpose="train", force_lr=force_lr)
        if spec.reuse_output_rows:
            from . import output_rows  # pylint: disable=import-outside-toplevel
            output_rows.reuse(session, path, output_rows.source_labels(spec.source_dir, spec.source_alphabet_path),
                              list(config.model.alphabet.labels))
        return _new_record(session, config, source=path)
    raise UserError("All initialization methods failed ({}): no checkpoint in {}; use --load_train init to start "
                    "from scratch or point --load_checkpoint_dir at a checkpoint".format(tried, spec.source_dir))


def _new_record(session, config, source):
    spec = config.transfer
    record = RunRecord(
        source_checkpoint=os.path.abspath(source) if source else None,
        reinit_layers=format_layers(spec.reinit_layers), frozen_layers=format_layers(spec.frozen_layers),
        alphabet=list(config.model.alphabet.labels), n_hidden=config.model.n_hidden,
        frozen_fingerprints={v.op.name: fingerprint(session.run(v)) for v in frozen_variables(spec.frozen_layers)})
    os.makedirs(config.save_dir, exist_ok=True)
    record.save(config.save_dir)
    return record


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
                _remove_quietly(leftover)
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


def verify_frozen(record, save_dir):
    """Prove that every frozen variable in this run's newest checkpoints is bit-identical to the source.

    Compares the fingerprints recorded when the source was loaded with the variables stored in the newest
    ``train-`` and ``best_dev-`` checkpoints, and with the source checkpoint itself when it still exists.
    Returns the log line; raises :class:`FrozenLayersChanged` on any difference.
    """
    fingerprints = record.frozen_fingerprints
    if not fingerprints:
        return None
    checked = [p for p in (find_checkpoint(save_dir, "last"), find_checkpoint(save_dir, "best")) if p]
    source = record.source_checkpoint
    if source and os.path.isfile(source + ".index"):
        source_view = CheckpointView(source)
        changed = [_describe_variable(name) for name, digest in sorted(fingerprints.items())
                   if fingerprint(source_view.get_tensor(name)) != digest]
        if changed:
            raise FrozenLayersChanged("source checkpoint {} changed on disk since the run started: {}".format(
                source, ", ".join(changed)))
    changed = []
    for path in checked:
        reader = tf.compat.v1.train.NewCheckpointReader(path)
        changed += ["{} in {}".format(_describe_variable(name), os.path.basename(path))
                    for name, digest in sorted(fingerprints.items()) if fingerprint(reader.get_tensor(name)) != digest]
    if changed:
        raise FrozenLayersChanged("frozen layers {} CHANGED during training: {}".format(
            record.frozen_layers, ", ".join(changed)))
    return "frozen layers {} unchanged (bit-identical): {} variables in {} match {}".format(
        record.frozen_layers, len(fingerprints), ", ".join(os.path.basename(p) for p in checked),
        source or "the loaded values")


def _describe_variable(name):
    layer = layer_of_variable(name)
    return "{} (layer {}, {})".format(name, layer, KIND_OF_LAYER[layer]) if layer else name
