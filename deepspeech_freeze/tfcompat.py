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
import tensorflow as tf

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
