"""cuDNN's opaque LSTM buffer <-> the canonical LSTM kernel and bias, in numpy, and release-layout checkpoints.

A checkpoint written with ``--train_cudnn`` (like DeepSpeech's 0.7.4 release, ``best_dev-732522``) holds
``cudnn_lstm/opaque_kernel`` (with its Adam slots) and, through TF's CudnnLSTMSaveable, canonical copies named
``cudnn_lstm/rnn/multi_rnn_cell/cell_0/cudnn_compatible_lstm_cell/{kernel,bias}``; it has no ``learning_rate``.

Opaque layout assumed here (TF's CudnnParamsFormatConverterLSTM order; cuDNN 7 packs a single-layer,
unidirectional LSTM without padding): eight weight matrices ``W_i, W_f, W_c, W_o`` (``[n, input]``) and
``R_i, R_f, R_c, R_o`` (``[n, n]``), row-major, then eight biases (``bW_*``, ``bR_*``, each ``[n]``).
Canonical: kernel ``[input + n, 4n]`` = transpose of the gate blocks ``[W_g | R_g]`` stacked in TF's order i, c, f, o;
bias = ``bW_g + bR_g`` in the same order (converting back gives each half 0.5 * bias, as TF does).
This layout was checked by round trips and against TF's converter source, not against a real cuDNN buffer: no GPU
was available when it was written. Loading the release checkpoint on CPU never needs it (the canonical copies
are there); it serves checkpoints that hold only the opaque buffer.
"""
import collections
import os

import numpy as np

from .naming import LSTM_CANONICAL as CANONICAL, LSTM_OPAQUE as OPAQUE, is_adam_slot

#: cuDNN's order of the gate matrices in the opaque buffer, and the canonical kernel's column blocks (i, j =
#: candidate, f, o). The only copy: the in-graph conversion of ``--train_cudnn`` on TF 2 (lstm.py) runs the functions
#: below with TensorFlow's ops.
CUDNN_GATES = ("i", "f", "c", "o")
TF_GATES = ("i", "c", "f", "o")


class ArrayOps(collections.namedtuple("ArrayOps", "split reshape concat transpose")):
    """The four array operations the conversion needs: ``split(x, sizes_or_count, axis)``, ``reshape(x, shape)``,
    ``concat(list, axis)``, ``transpose(x)`` (2-D). :data:`NUMPY` here; lstm.py passes TensorFlow's."""


NUMPY = ArrayOps(split=lambda x, sizes, axis=0: np.split(x, sizes if isinstance(sizes, int) else
                                                          np.cumsum(sizes)[:-1], axis=axis),
                 reshape=np.reshape, concat=np.concatenate, transpose=np.transpose)


def opaque_size(input_size, n):
    """Floats in the opaque buffer of a one-layer LSTM."""
    return 4 * n * (input_size + n) + 8 * n


def units_of_opaque(size):
    """``n`` of a DeepSpeech LSTM (input size = n) from its opaque buffer size, or None."""
    n = int((-8 + np.sqrt(64 + 32 * size)) / 16)  # size = 8n^2 + 8n
    return n if opaque_size(n, n) == size else None


def canonical_to_opaque(kernel, bias, input_size=None, ops=NUMPY):
    """Canonical ``kernel [in+n, 4n]`` and ``bias [4n]`` -> the 1-D opaque buffer; each half of a gate's bias gets
    half of it (as TF's converter does). ``input_size``: read from the shapes when not given (numpy)."""
    if input_size is None:
        input_size = kernel.shape[0] - bias.shape[0] // 4
    blocks = dict(zip(TF_GATES, ops.split(ops.transpose(kernel), 4, 0)))  # each [n, in+n]
    halves = dict(zip(TF_GATES, ops.split(0.5 * bias, 4, 0)))
    weights = [blocks[g][:, :input_size] for g in CUDNN_GATES] + [blocks[g][:, input_size:] for g in CUDNN_GATES]
    buffer = ops.concat([ops.reshape(w, [-1]) for w in weights] + [halves[g] for g in CUDNN_GATES] * 2, 0)
    return buffer.astype(kernel.dtype) if ops is NUMPY else buffer


def opaque_to_canonical(buffer, input_size, n, ops=NUMPY):
    """The opaque buffer -> canonical ``(kernel [in+n, 4n], bias [4n])``; the bias is ``bW + bR`` per gate."""
    if ops is NUMPY and buffer.size != opaque_size(input_size, n):
        raise ValueError("opaque buffer has {} floats, expected {} for input {} and {} units".format(
            buffer.size, opaque_size(input_size, n), input_size, n))
    parts = ops.split(buffer, [n * input_size] * 4 + [n * n] * 4 + [n] * 8, 0)
    inputs = dict(zip(CUDNN_GATES, [ops.reshape(part, [n, input_size]) for part in parts[:4]]))
    recurrent = dict(zip(CUDNN_GATES, [ops.reshape(part, [n, n]) for part in parts[4:8]]))
    biases = {gate: parts[8 + k] + parts[12 + k] for k, gate in enumerate(CUDNN_GATES)}
    kernel = ops.transpose(ops.concat([ops.concat([inputs[g], recurrent[g]], 1) for g in TF_GATES], 0))
    if ops is NUMPY:
        kernel = np.ascontiguousarray(kernel)
    return kernel, ops.concat([biases[g] for g in TF_GATES], 0)


def write_release_layout(source_path, target_dir, drop_learning_rate=True):
    """Copy checkpoint ``source_path`` into ``target_dir`` laid out like DeepSpeech's 0.7.4 release checkpoint.

    Adds ``cudnn_lstm/opaque_kernel`` and its ``/Adam``, ``/Adam_1`` (converted from the canonical tensors),
    removes the canonical LSTM's Adam slots (a cuDNN-trained checkpoint has none) and ``learning_rate``. Saved as
    ``best_dev-<step>`` with the ``best_dev_checkpoint`` state file. Returns the new checkpoint path.
    """
    from .tfcompat import tf  # pylint: disable=import-outside-toplevel
    reader = tf.compat.v1.train.NewCheckpointReader(source_path)
    values = {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}
    for suffix in ("", "/Adam", "/Adam_1"):
        kernel, bias = values.get(CANONICAL + "kernel" + suffix), values.get(CANONICAL + "bias" + suffix)
        if kernel is not None and bias is not None:
            values[OPAQUE + suffix] = canonical_to_opaque(kernel, bias)
    values = {name: value for name, value in values.items()
              if not (name.startswith(CANONICAL) and is_adam_slot(name))}
    if drop_learning_rate:
        values.pop("learning_rate", None)
    step = int(values["global_step"])
    graph = tf.Graph()
    with graph.as_default():
        variables = [tf.compat.v1.Variable(value, name=name) for name, value in sorted(values.items())]
        saver = tf.compat.v1.train.Saver(variables)
        os.makedirs(target_dir, exist_ok=True)
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            return saver.save(session, os.path.join(target_dir, "best_dev"), global_step=step,
                              latest_filename="best_dev_checkpoint")
