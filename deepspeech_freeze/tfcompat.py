"""Every difference between the two supported TensorFlow stacks, decided in this one module.

The project runs the same ``tf.compat.v1`` graph-mode code on two stacks:

* ``tf1``: Python 3.7 + TensorFlow 1.15.5, the faithful default (DeepSpeech 0.7.4's own stack);
* ``tf2``: Python 3.11+ + TensorFlow 2.x (see ``requirements-tf2.txt``), run in graph mode.

Modules that build graphs import ``tf`` from here (``from .tfcompat import tf``) instead of importing TensorFlow
themselves, so that TF 2's eager/v2 behaviour is switched off before the first graph is built, whichever module is
imported first. Anything that must be done differently on TF 2 is a function here; no other module compares
version numbers.

oneDNN (``TF_ENABLE_ONEDNN_OPTS``) is switched on by the package's ``__init__`` because TF reads it when it is first
imported; TF 1.15's stock wheel does not know the variable.
"""
import logging as _logging
import os as _os
import re as _re
import sys as _sys
import threading as _threading


class _HeldBack(_logging.Filter):
    """Keeps what TensorFlow's Python logger says while it starts (TF 1.15: the deprecation notice of
    ``disable_resource_variables``, three lines before the command's own first one) instead of printing it;
    ``logs.setup_logging`` shows it at ``--log_level 0`` only. Errors are never held back."""

    def __init__(self):
        super().__init__()
        self.records = []

    def filter(self, record):
        if record.levelno >= _logging.ERROR:
            return True
        self.records.append(record)
        return False


# TF 2's C++ start-up lines: absl's preamble and INFO/WARNING lines written before TF applies TF_CPP_MIN_LOG_LEVEL
# (TF 2.21 prints "oneDNN custom operations are on" twice whatever the variable says). TF 1.15 honours the variable.
_CPP_STARTUP_NOISE = _re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
                                 r"STDERR|[IW]\d{4} [\d:.]+\s+\d+ \S+:\d+\] )")
_LOG_LINE_START = _re.compile(r"^([IWEF]\d{4} |[A-Z]+:|WARNING|ERROR|Traceback|\S+:\d+: )")


def _import_tensorflow():
    """``import tensorflow``, with TF 2's C++ start-up notices held back unless the user asked for TF's lines
    (``TF_CPP_MIN_LOG_LEVEL=0``, which ``--log_level 0`` sets). Everything else TF writes to stderr meanwhile (an
    error line, a Python warning) is passed on at once, as it comes; returns the module and the held-back lines."""
    held = []
    # Before the import the version is not known; the stacks are tied to their Pythons (TF 1.15 runs on 3.8 at
    # most), and TF 1.15 honours TF_CPP_MIN_LOG_LEVEL for every line.
    if _sys.version_info < (3, 9) or _os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") == "0":
        import tensorflow  # pylint: disable=import-outside-toplevel
        return tensorflow, held
    try:
        _sys.stderr.flush()
        saved = _os.dup(2)
        read_end, write_end = _os.pipe()
    except (OSError, ValueError):  # no usable stderr: nothing to keep quiet
        import tensorflow  # pylint: disable=import-outside-toplevel
        return tensorflow, held

    def forward():
        continuing = False  # a line without a log prefix right after a held one belongs to it
        with _os.fdopen(read_end, "rb") as pipe:
            for raw in pipe:
                line = raw.decode("utf-8", "replace")
                if _CPP_STARTUP_NOISE.match(line) or (continuing and not _LOG_LINE_START.match(line)):
                    held.append(line)
                    continuing = True
                else:
                    _os.write(saved, raw)
                    continuing = False

    reader = _threading.Thread(target=forward, name="tf-startup-stderr", daemon=True)
    reader.start()
    _os.dup2(write_end, 2)
    _os.close(write_end)
    try:
        import tensorflow  # pylint: disable=import-outside-toplevel
    finally:
        _sys.stderr.flush()
        _os.dup2(saved, 2)  # closes the pipe's last write end: the reader sees its end and stops
        reader.join()
        _os.close(saved)
    return tensorflow, held


_held_back = _HeldBack()
_logging.getLogger("tensorflow").addFilter(_held_back)

tf, _CPP_HELD_BACK = _import_tensorflow()

#: TensorFlow's major version (1 or 2) and the name of the stack it belongs to.
TF_MAJOR = int(tf.__version__.split(".")[0])
IS_TF2 = TF_MAJOR >= 2
STACK = "tf2" if IS_TF2 else "tf1"

#: Whether ``tf.contrib`` exists (TF 1.15); lstm.py builds ``--train_cudnn`` from ``CudnnRNN`` directly without it.
HAS_CONTRIB = not IS_TF2

# Graph mode, v1 control flow, v1 TensorShape (``shape[i].value``), resource variables off: the graph (and so the
# checkpoint keys and the op types) is the one TF 1.15 builds. On TF 1.15 this is its default anyway, except when the
# process inherited TF2_BEHAVIOR=1 (importing TF 2 sets it, so a TF 1.15 process started from a TF 2 one would
# otherwise run eagerly).
tf.compat.v1.disable_v2_behavior()

_logging.getLogger("tensorflow").removeFilter(_held_back)
#: TensorFlow's own log records from its start-up (deprecation notices), held back for ``--log_level 0``.
STARTUP_RECORDS = tuple(_held_back.records)
#: TF 2's C++ start-up notices (text lines), held back for ``--log_level 0``.
STARTUP_LINES = tuple(_CPP_HELD_BACK)


#: How the LSTM recurrence computes its per-step product ``rows @ M`` of a small ``[batch, k]`` operand by a large
#: ``[k, n]`` kernel half (forward: ``h @ W_h``; backward: ``dgates @ W_h^T``): ``"nn"`` as written; ``"nt"``
#: ``rows @ (M^T)^T`` from M stored transposed; ``"tt"`` ``(M^T @ rows^T)^T``. The maths is the same; the kernels the
#: matmul libraries pick for a 24-row operand are not. ``python bench/recurrent_matmul.py --rounds 7`` at n_hidden
#: 2048, batch 24, ms per step (nn / nt / tt), two runs each: TF 2.21 + oneDNN forward 17.8-15.1 / 13.5-11.5 /
#: 12.1-12.7, backward 11.6-13.6 / 11.3-11.0 / 9.2-10.9; TF 1.15 (Eigen) forward 15.9-13.9 / 44-43 / 13.4-12.3,
#: backward 11.4-10.9 / 47-47 / 13.3-11.2. TF 1.15's default forward is the fused BlockLSTM op, so there only the
#: projected forward (``DSF_LSTM_FORWARD=projected``) uses the forward form.
RECURRENT_MATMUL = {"forward": "tt", "backward": "tt" if IS_TF2 else "nn"}


# The checkpoint-saving hooks a custom saveable subclasses; the module moved between the versions.
try:
    from tensorflow.python.training.saving.saveable_object import SaveableObject, SaveSpec  # noqa: E402
except ImportError:  # pragma: no cover - layouts before TF 1.15
    from tensorflow.python.training.saver import BaseSaverBuilder  # noqa: E402
    SaveableObject, SaveSpec = BaseSaverBuilder.SaveableObject, BaseSaverBuilder.SaveSpec


#: What reading a damaged checkpoint raises: TF 1.15's reader raises ``DataLossError`` (an ``OpError``); TF 2's
#: ``CheckpointReader.get_tensor`` raises ``IndexError`` ("Read less bytes than requested") for a short data file.
CHECKPOINT_READ_ERRORS = (tf.errors.OpError, IndexError) if IS_TF2 else (tf.errors.OpError,)


def iterator_shapes(dataset):
    """``dataset``'s output shapes with the batch (first) dimension left unknown, for an iterator shared by sets.

    TF 2 gives a batched dataset a static batch size when it can tell every batch is full (e.g. 4 samples in
    batches of 4); an iterator built from that structure then refuses another set's batches of 2. TF 1.15 never
    did, so relaxing the first dimension gives both versions TF 1.15's graph."""
    def relax(shape):
        return shape if shape.ndims is None or shape.ndims == 0 else \
            tf.TensorShape([None]).concatenate(shape[1:])

    return tf.nest.map_structure(relax, tf.compat.v1.data.get_output_shapes(dataset))


def describe():
    """One line naming the stack, for logs and benchmark reports: e.g. ``tf2 (TensorFlow 2.15.1, oneDNN on)``."""
    import os  # pylint: disable=import-outside-toplevel

    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "")
    extra = ", oneDNN {}".format("on" if onednn == "1" else "off") if IS_TF2 else ""
    return "{} (TensorFlow {}{})".format(STACK, tf.__version__, extra)


def mixed_precision_rewrite(optimizer):
    """``--automatic_mixed_precision``: wrap ``optimizer`` in TF's graph rewrite (and its dynamic loss scaling).

    TF 1.15 keeps the rewrite under ``tf.compat.v1.train.experimental``; TF 2 moved it to
    ``tf.compat.v1.mixed_precision``.
    """
    if IS_TF2:
        return tf.compat.v1.mixed_precision.enable_mixed_precision_graph_rewrite(optimizer)
    return tf.compat.v1.train.experimental.enable_mixed_precision_graph_rewrite(optimizer)


def export_unsupported_reason():
    """Why ``.pb``/``.tflite`` export cannot run on this stack (the message saying what to do), or '' when it can.

    Export targets the stock ``deepspeech==0.7.4`` clients, whose runtime is TensorFlow 1.15's; the project proves
    its exports with those clients (tests/test_export.py), which install on Python 3.7 only, so export is kept to
    the TF 1.15 stack. The checkpoints are the same on both stacks.
    """
    if not IS_TF2:
        return ""
    return ("--export_dir: export runs on the TF 1.15 stack only (it writes graphs for the stock deepspeech 0.7.4 "
            "clients, which run TensorFlow 1.15; this is TensorFlow {}). Checkpoints are shared by the stacks: "
            "train here without --export_dir, then export with the TF 1.15 stack: `make install && "
            ".venv/bin/python -m deepspeech_freeze.train --checkpoint_dir DIR --export_dir OUT` with the same "
            "--n_hidden and --alphabet_config_path".format(tf.__version__))


def session_config(runtime):
    """TF session options for a :class:`~deepspeech_freeze.config.RuntimeConfig` (every command's session is made
    with these)."""
    options = tf.compat.v1.ConfigProto(allow_soft_placement=True, log_device_placement=runtime.log_placement,
                                       inter_op_parallelism_threads=runtime.inter_op_threads,
                                       intra_op_parallelism_threads=runtime.intra_op_threads,
                                       device_count={"CPU": max(1, runtime.cpu_towers)})
    options.gpu_options.allow_growth = runtime.allow_growth
    return options
