"""The recurrent layer (layer 4): the only module that uses ``tf.contrib``.

Three builds of the same single-layer, unidirectional LSTM with forget bias 0 (which makes it cuDNN-compatible):

* :func:`canonical_lstm` (training on CPU and GPU, evaluation, .pb export): TF's fused ``BlockLSTM`` op over variables
  with the canonical names ``cudnn_lstm/rnn/multi_rnn_cell/cell_0/cudnn_compatible_lstm_cell/{kernel,bias}``,
  exactly the op and variables DeepSpeech 0.7's ``LSTMBlockFusedCell`` creates; or, for training on the TF 2
  stack (:func:`forward_kind`), the same maths over the same variables with the input projection as one matmul
  for all steps (:func:`_projected_forward`).
* :func:`cudnn_lstm` (``--train_cudnn``, GPU only): ``tf.contrib.cudnn_rnn.CudnnLSTM`` with its opaque kernel on
  TF 1.15; on TF 2 (no ``tf.contrib``) the same variable, op and checkpoint keys built from ``CudnnRNN`` directly
  (:func:`_cudnn_lstm_without_contrib`).
* :func:`static_lstm` (TFLite export): an unrolled cell over the same canonical variables.

Kernel layout: rows ``[0, input_size)`` multiply the input, the next ``n`` rows the previous output; gate columns are
i, j (candidate), f, o.

Gradient of :func:`canonical_lstm`. TF's registered ``BlockLSTM`` gradient adds one rank-B update per time step to the
``[input + n, 4n]`` weight gradient, which is memory-bound and dominates CPU training time. By default the op gets
:func:`_fast_block_lstm_grad` instead (a gradient override: the forward op, its inputs and its outputs are
unchanged): only the cell recurrence runs step by step, and the weight, bias and input gradients are each one large
matmul or reduction over all time steps. ``DSF_LSTM_GRADIENT=stock`` (``TrainingConfig.lstm_gradient``) selects TF's own
gradient, for comparison; the choice is read when the graph is built.

Which gradients the fast gradient builds is declared when the layer is built (:func:`canonical_lstm`'s ``trainable`` and
``input_gradient``), because a gradient function cannot see what ``tf.gradients`` differentiates for, and the
optimizer's default ``gate_gradients=GATE_OP`` groups every gradient a function returns so that all of them run when
one is used. The model derives both from the frozen layers: the weight gradient only when layer 4 trains, the input
gradient only when a layer below it trains. Each combination is its own registered gradient name.
"""
import functools
import os

from .tfcompat import tf
from tensorflow.python.ops import rnn_grad

from . import cudnn_format, tfcompat
from .config import (LSTM_FORWARD_ENV as FORWARD_ENV, LSTM_FORWARD_KINDS as FORWARD_KINDS,
                     LSTM_GRADIENT_ENV as GRADIENT_ENV, LSTM_GRADIENT_KINDS as GRADIENT_KINDS)
from .errors import UserError
from .naming import LSTM_CANONICAL_SCOPE

# The BlockLSTM gradient (``fast``, the default, or ``stock``: TF's registered one) and the training graph's LSTM
# forward (``fused`` BlockLSTM or ``projected``) are settings: ``TrainingConfig.lstm_gradient`` / ``lstm_forward``,
# which ``from_flags`` takes from ``$DSF_LSTM_GRADIENT`` / ``$DSF_LSTM_FORWARD``.
#: Overrides the Config and the environment when set to one of :data:`GRADIENT_KINDS` (tests and benchmarks).
GRADIENT = None
#: Overrides the Config and the environment when set to one of :data:`FORWARD_KINDS` (tests and benchmarks).
FORWARD = None
#: Per stack: BlockLSTM on TF 1.15 (DeepSpeech's op); on TF 2 the projected forward, the faster there as measured by
#: bench/compare_stacks.py (n_hidden 2048: 10.8 vs 12.4 s per step at 0 frozen; docs/tf2-stack.md).
DEFAULT_FORWARD = "projected" if tfcompat.IS_TF2 else "fused"
_FAST_GRADIENT_NAME = "DeepSpeechFreezeFastBlockLSTM"  # builds every gradient: the default, always correct
#: Gradient-override name for each ``(weights, input)`` pair of needed gradients. An LSTM with neither needed is never
#: reached by ``tf.gradients`` (nothing on a path to a trainable variable), so that pair gets the default.
_FAST_GRADIENT_NAMES = {
    (True, True): _FAST_GRADIENT_NAME,
    (True, False): _FAST_GRADIENT_NAME + "WeightsOnly",
    (False, True): _FAST_GRADIENT_NAME + "InputOnly",
}


def canonical_variables(input_size, n_cell, trainable):
    """Create (or reuse) the canonical LSTM kernel ``[input_size + n, 4n]`` and bias ``[4n]``.

    The kernel uses TF's default glorot-uniform initialiser and the bias zeros, as LSTMBlockFusedCell does.
    ``trainable=False`` keeps them out of TRAINABLE_VARIABLES, so the optimizer neither updates them nor makes slots.
    """
    with tf.compat.v1.variable_scope(LSTM_CANONICAL_SCOPE):
        kernel = tf.compat.v1.get_variable("kernel", [input_size + n_cell, 4 * n_cell], tf.float32,
                                           initializer=tf.compat.v1.glorot_uniform_initializer(),
                                           trainable=trainable)
        bias = tf.compat.v1.get_variable("bias", [4 * n_cell], tf.float32,
                                         initializer=tf.compat.v1.zeros_initializer(), trainable=trainable)
    return kernel, bias


def recurrent_product(rows, matrix, matrix_t, form):
    """``rows @ matrix`` for the recurrence's small ``[B, k]`` operand and a ``[k, n]`` kernel half, given also as
    its transpose ``matrix_t`` ``[n, k]``, in one of the forms of :data:`tfcompat.RECURRENT_MATMUL` (``"nn"``,
    ``"nt"``, ``"tt"``): the same product, whichever the matmul library runs fastest for these shapes."""
    if form == "nn":
        return tf.matmul(rows, matrix)
    if form == "nt":
        return tf.matmul(rows, matrix_t, transpose_b=True)
    if form == "tt":
        return tf.transpose(a=tf.matmul(matrix_t, rows, transpose_b=True))
    raise ValueError("recurrent matmul form {!r}: use nn, nt or tt".format(form))


#: A graph collection that is non-empty when the graph will run under oneDNN's bfloat16 rewrite
#: (``--automatic_mixed_precision`` on a CPU with TF 2; :func:`deepspeech_freeze.precision.mark_graph`).
BFLOAT16_COLLECTION = "deepspeech_freeze_bfloat16"


def column_sums(matrix, name=None):
    """``reduce_sum(matrix, axis=0)`` of a ``[rows, n]`` matrix; in a graph marked for bfloat16
    (:data:`BFLOAT16_COLLECTION`) as the product ``ones[1, rows] @ matrix``: the rewrite makes both bfloat16, and
    oneDNN runs the product fast while a bfloat16 reduction goes through Eigen's element loop (2.66 s of a traced
    n_hidden 2048 step, batch 24 of 4 s utterances, was that one reduction). float32 graphs keep the reduction."""
    if not tf.compat.v1.get_collection(BFLOAT16_COLLECTION):
        return tf.reduce_sum(input_tensor=matrix, axis=0, name=name)
    ones = tf.ones(tf.stack([1, tf.shape(input=matrix)[0]]), dtype=matrix.dtype)
    product = tf.matmul(ones, matrix, name=None if name is None else name + "_product")
    return tf.reshape(product, [-1], name=name)


def _last_valid(sequence, initial, seq_length):
    """Element ``seq_length - 1`` of time-major ``sequence`` per batch entry (``initial`` when the length is 0)."""
    padded = tf.concat([tf.expand_dims(initial, 0), sequence], 0)
    batch = tf.shape(input=seq_length)[0]
    indices = tf.stack([tf.cast(seq_length, tf.int32), tf.range(batch)], axis=1)
    return tf.gather_nd(padded, indices)


def canonical_lstm(x, seq_length, n_cell, trainable=True, previous_state=None, input_gradient=True, forward="fused",
               gradient=""):
    """Run the LSTM over time-major ``x`` ``[T, B, input]``; returns outputs ``[T, B, n]`` and ``(c, h)``.

    ``forward``: ``'fused'``, TF's fused ``BlockLSTM`` op (as DeepSpeech), or ``'projected'``
    (:func:`_projected_forward`: the same maths with the input projection as one matmul over all steps; always
    with the fast gradient). Both use the same variables.

    Outputs past each sequence's length are zero and the returned state is the one at its last valid step, as
    with LSTMBlockFusedCell. ``previous_state`` is an optional ``(c, h)`` pair of ``[B, n]`` tensors.

    With the fast gradient, ``trainable=False`` builds no weight gradient and ``input_gradient=False`` no gradient
    for ``x``: ``tf.gradients`` then returns None for those, so pass False only when nothing will ask for them (the
    model: layer 4 frozen; no trainable layer below it). The gradients of ``previous_state`` are always built; they
    come out of the recurrence, which runs whenever any gradient is needed. ``gradient``: the configured BlockLSTM
    gradient (:func:`gradient_kind`).
    """
    input_size = x.shape[-1].value
    kernel, bias = canonical_variables(input_size, n_cell, trainable)
    batch = tf.shape(input=x)[1]
    if previous_state is None:
        zeros = tf.zeros(tf.stack([batch, n_cell]), dtype=tf.float32)
        previous_state = (zeros, zeros)
    c_prev, h_prev = previous_state
    no_peephole = tf.zeros([n_cell], dtype=tf.float32)
    max_len = tf.cast(tf.reduce_max(input_tensor=seq_length), tf.int64)
    if forward == "projected":
        cell_states, outputs = _projected_forward(x, c_prev, h_prev, kernel, bias, max_len, trainable,
                                                  input_gradient)
    else:
        fast_name = _FAST_GRADIENT_NAMES.get((bool(trainable), bool(input_gradient)), _FAST_GRADIENT_NAME)
        override = {"BlockLSTM": fast_name} if gradient_kind(gradient) == "fast" else {}
        with tf.compat.v1.get_default_graph().gradient_override_map(override):
            _, cell_states, _, _, _, _, outputs = tf.raw_ops.BlockLSTM(
                seq_len_max=max_len, x=x, cs_prev=c_prev, h_prev=h_prev, w=kernel, wci=no_peephole,
                wcf=no_peephole, wco=no_peephole, b=bias, forget_bias=0.0, cell_clip=-1.0, use_peephole=False)
    mask = tf.sequence_mask(seq_length, tf.shape(input=x)[0], dtype=tf.float32)  # [B, T]
    outputs = outputs * tf.expand_dims(tf.transpose(a=mask), -1)
    final_c = _last_valid(cell_states, c_prev, seq_length)
    final_h = _last_valid(outputs, h_prev, seq_length)
    return outputs, (final_c, final_h)


def _projected_forward(x, c_prev, h_prev, kernel, bias, max_len, weights, inputs):
    """The LSTM recurrence with its input projection ``x @ W_x + b`` as one ``[L * B, input] x [input, 4n]`` matmul
    for all ``L = max_len`` steps, then per step only ``h @ W_h``; returns ``(cell_states, outputs)`` ``[T, B, n]``,
    zero from step L on, as BlockLSTM's.

    BlockLSTM multiplies ``[x_t, h]`` by the whole kernel at every step, so each step streams the input half of the
    kernel from memory again for a ``[B, input]`` operand. The gates, their order (i, j, f, o), forget bias 0 and
    the saved activations are BlockLSTM's, so :func:`_recurrence_gradient` is the gradient (a custom gradient: the
    forward while loop is never differentiated)."""
    input_size = x.shape[-1].value
    n_cell = h_prev.shape[-1].value
    length = tf.cast(max_len, tf.int32)
    steps = tf.shape(input=x)[0]

    @tf.custom_gradient
    def recurrence(x, c_prev, h_prev, kernel, bias):
        batch = tf.shape(input=x)[1]
        projected = tf.matmul(tf.reshape(x[:length], [-1, input_size]), kernel[:input_size]) + bias
        projected = tf.reshape(projected, tf.stack([length, batch, 4 * n_cell]))
        w_h = kernel[input_size:]
        form = tfcompat.RECURRENT_MATMUL["forward"]
        w_h_t = tf.transpose(a=w_h) if form != "nn" else None  # once per run, outside the loop
        arrays = [tf.TensorArray(tf.float32, size=length, element_shape=tf.TensorShape([None, n_cell]))
                  for _ in range(7)]

        def step(t, c, h, arrays):
            recurrent = recurrent_product(h, w_h, w_h_t, form)
            gate_i, gate_j, gate_f, gate_o = tf.split(projected[t] + recurrent, 4, axis=1)
            i, ci, f, o = tf.sigmoid(gate_i), tf.tanh(gate_j), tf.sigmoid(gate_f), tf.sigmoid(gate_o)
            cs = ci * i + c * f
            co = tf.tanh(cs)
            h = co * o
            return t + 1, cs, h, [array.write(t, value) for array, value in zip(arrays, (i, cs, f, o, ci, co, h))]

        _, _, _, arrays = tf.compat.v1.while_loop(lambda t, *_: t < length, step, [0, c_prev, h_prev, arrays],
                                                  back_prop=False, name="projected_recurrence")
        # TensorArray.stack cannot make an empty array of a partly unknown shape, hence the cond.
        gates = [tf.cond(pred=length > 0, true_fn=array.stack,
                         false_fn=lambda: tf.zeros(tf.stack([0, batch, n_cell]))) for array in arrays]
        padding = [[0, steps - length], [0, 0], [0, 0]]
        cell_states, outputs = tf.pad(tensor=gates[1], paddings=padding), tf.pad(tensor=gates[6], paddings=padding)

        def gradient(cs_grad, h_grad):
            return _recurrence_gradient(length, x, c_prev, h_prev, kernel, gates,
                                        None if cs_grad is None else cs_grad[:length], h_grad[:length], weights,
                                        inputs)

        return (cell_states, outputs), gradient

    with tf.compat.v1.name_scope("projected_lstm"):  # one name for its forward ops, and so for their gradient's
        return recurrence(x, c_prev, h_prev, tf.identity(kernel), tf.identity(bias))


def forward_kind(configured="", gradient=""):
    """``'fused'`` or ``'projected'``, the training graph's LSTM forward (:func:`canonical_lstm`): :data:`FORWARD` if
    set, else the ``configured`` one (``TrainingConfig.lstm_forward``), else ``$DSF_LSTM_FORWARD``, else this stack's
    default (:data:`DEFAULT_FORWARD`). With TF's stock gradient (:func:`gradient_kind` of the configured
    ``gradient``) it is ``'fused'``: that gradient belongs to the BlockLSTM op."""
    kind = FORWARD if FORWARD is not None else (configured or os.environ.get(FORWARD_ENV) or DEFAULT_FORWARD)
    kind = kind.strip().lower()
    if kind not in FORWARD_KINDS:
        raise UserError("{}={!r}: use one of {}".format(FORWARD_ENV, kind, ", ".join(FORWARD_KINDS)))
    return "fused" if gradient_kind(gradient) == "stock" else kind


def gradient_kind(configured=""):
    """``'fast'`` or ``'stock'``: :data:`GRADIENT` if set, else the ``configured`` one
    (``TrainingConfig.lstm_gradient``), else ``$DSF_LSTM_GRADIENT``, else ``'fast'``."""
    kind = GRADIENT if GRADIENT is not None else (configured or os.environ.get(GRADIENT_ENV) or "fast")
    kind = kind.strip().lower()
    if kind not in GRADIENT_KINDS:
        raise UserError("{}={!r}: use one of {}".format(GRADIENT_ENV, kind, ", ".join(GRADIENT_KINDS)))
    return kind


def _fast_block_lstm_grad(op, *grads, weights=True, inputs=True):
    """Gradient of a ``BlockLSTM`` op (no peepholes, no cell clipping), equal to TF's ``BlockLSTMGrad`` up to float
    rounding: :func:`_recurrence_gradient` on the op's inputs and saved gates."""
    if op.get_attr("use_peephole") or op.get_attr("cell_clip") > 0:
        return rnn_grad._block_lstm_grad(op, *grads)  # pylint: disable=protected-access
    seq_len_max, x, c_prev, h_prev, kernel = op.inputs[:5]
    x_grad, c_prev_grad, h_prev_grad, kernel_grad, bias_grad = _recurrence_gradient(
        tf.cast(seq_len_max, tf.int32), x, c_prev, h_prev, kernel, op.outputs, grads[1], grads[6], weights, inputs)
    return (None, x_grad, c_prev_grad, h_prev_grad, kernel_grad, None, None, None, bias_grad)


def _recurrence_gradient(length, x, c_prev, h_prev, kernel, gates, cs_grad, h_grad, weights=True, inputs=True):
    """``(dx, dc_prev, dh_prev, dkernel, dbias)`` of the LSTM over the first ``length`` steps of ``x``, from the
    forward pass's saved ``gates = (i, cs, f, o, ci, co, h)`` (time-major, at least ``length`` steps) and the
    gradients of the cell states ``cs_grad`` and outputs ``h_grad``.

    Per step ``t`` from ``seq_len_max - 1`` down to 0, with the op's saved post-activation gates ``i, f, o``
    (sigmoid), ``ci`` (tanh), ``co = tanh(cs)``::

        dh  = dh_out[t] + dh_rec            dcs = dcs_out[t] + dcs_rec + dh * o * (1 - co^2)
        di  = dcs * ci * i * (1 - i)        dci = dcs * i * (1 - ci^2)
        df  = dcs * cs[t-1] * f * (1 - f)   do  = dh * co * o * (1 - o)
        dcs_rec = dcs * f                   dh_rec = [di, dci, df, do] @ W_h^T

    Only ``dh_rec``'s matmul and a few ``[B, n]`` element-wise ops are in the loop; the element-wise factors that do
    not depend on the recurrence are computed for all steps at once beforehand. The gate gradients of all steps are
    then stacked into ``[L, B, 4n]`` (``L = seq_len_max``) and ``dW = [x, h[t-1]]^T @ dgates``, ``db = sum(dgates)``
    and ``dx = dgates @ W_x^T`` are one op each; ``weights`` and ``inputs`` say whether the first two and the last
    are built (see the module docstring). Steps at or past ``seq_len_max`` get no gradient (the op does not compute
    them), as in TF's gradient.
    """
    i, cs, f, o, ci, co, h = gates
    # BlockLSTM leaves i, f, o, ci, co uninitialised past seq_len_max (cs and h are zeroed): only steps < L are read.
    cs_grad = tf.zeros_like(cs) if cs_grad is None else tf.convert_to_tensor(value=cs_grad)
    h_grad = tf.convert_to_tensor(value=h_grad)
    input_size = x.shape[-1].value
    n_cell = h_prev.shape[-1].value
    if input_size is None or n_cell is None:
        input_size = tf.shape(input=x)[2]
        n_cell = tf.shape(input=h_prev)[1]

    with tf.compat.v1.name_scope("fast_block_lstm_grad"):
        w_h = kernel[input_size:]
        form = tfcompat.RECURRENT_MATMUL["backward"]
        w_h_t = tf.transpose(a=w_h) if form == "nn" else None  # once per run, outside the loop
        # Factors of the recurrence known before it runs, for all steps at once.
        cs_before = tf.concat([tf.expand_dims(c_prev, 0), cs[:-1]], 0)
        dcs_per_dh = o * (1.0 - co * co)
        gate_factors = tf.concat([ci * i * (1.0 - i), i * (1.0 - ci * ci), cs_before * f * (1.0 - f),
                                  co * o * (1.0 - o)], axis=2)
        gates_array = tf.TensorArray(tf.float32, size=length, element_shape=tf.TensorShape([None, None]))

        def step(t, dh_rec, dcs_rec, gates_array):
            dh = h_grad[t] + dh_rec
            dcs = cs_grad[t] + dcs_rec + dh * dcs_per_dh[t]
            dgates = tf.concat([dcs, dcs, dcs, dh], 1) * gate_factors[t]
            gates_array = gates_array.write(t, dgates)
            return t - 1, recurrent_product(dgates, w_h_t, w_h, form), dcs * f[t], gates_array

        zeros = tf.zeros_like(h_prev)
        _, h_prev_grad, c_prev_grad, gates_array = tf.compat.v1.while_loop(
            lambda t, *_: t >= 0, step, [length - 1, zeros, zeros, gates_array], back_prop=False,
            name="recurrence")
        batch = tf.shape(input=x)[1]
        # [L * B, 4n]; TensorArray.stack cannot make an empty array of a partly unknown shape, hence the cond.
        dgates = tf.cond(pred=length > 0, true_fn=gates_array.stack,
                         false_fn=lambda: tf.zeros(tf.stack([0, batch, 4 * n_cell])))
        dgates = tf.reshape(dgates, [-1, 4 * n_cell])

        # Each one matmul or reduction over all L * B rows.
        kernel_grad = bias_grad = x_grad = None
        if weights:
            h_before = tf.concat([tf.expand_dims(h_prev, 0), h], 0)[:length]
            cell_inputs = tf.reshape(tf.concat([x[:length], h_before], 2), [-1, input_size + n_cell])
            kernel_grad = tf.matmul(cell_inputs, dgates, transpose_a=True, name="kernel_grad")
            bias_grad = column_sums(dgates, name="bias_grad")
        if inputs:
            w_x_t = tf.transpose(a=kernel[:input_size])
            x_grad = tf.reshape(tf.matmul(dgates, w_x_t), [length, batch, input_size])
            x_grad = tf.pad(tensor=x_grad, paddings=[[0, tf.shape(input=x)[0] - length], [0, 0], [0, 0]],
                            name="input_grad")
    return x_grad, c_prev_grad, h_prev_grad, kernel_grad, bias_grad


for (_weights, _inputs), _name in _FAST_GRADIENT_NAMES.items():
    try:
        tf.RegisterGradient(_name)(functools.partial(_fast_block_lstm_grad, weights=_weights, inputs=_inputs))
    except KeyError:  # this module was reloaded: the registrations of its first import are kept
        pass


def static_lstm(x_steps, n_cell, previous_state):
    """Unrolled LSTM for TFLite export over a list of ``[B, input]`` steps; same variables, same maths."""
    input_size = x_steps[0].shape[-1].value
    kernel, bias = canonical_variables(input_size, n_cell, trainable=False)
    c, h = previous_state
    outputs = []
    for x in x_steps:
        gates = tf.matmul(tf.concat([x, h], 1), kernel) + bias
        i, j, f, o = tf.split(gates, 4, axis=1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(j)
        h = tf.sigmoid(o) * tf.tanh(c)
        outputs.append(h)
    return outputs, (c, h)


def cudnn_lstm(x, n_cell, trainable=True):
    """``--train_cudnn``: cuDNN's LSTM (GPU only). Returns time-major outputs; no state input, as in DeepSpeech.

    CudnnLSTM creates ``cudnn_lstm/opaque_kernel`` without honouring ``trainable``, and saves canonical copies
    beside it. A frozen layer 4 is therefore taken out of TRAINABLE_VARIABLES here, so the optimizer never sees it.
    """
    if not tfcompat.HAS_CONTRIB:
        return _cudnn_lstm_without_contrib(x, n_cell, trainable)
    from tensorflow.contrib import cudnn_rnn  # pylint: disable=import-outside-toplevel

    layer = cudnn_rnn.CudnnLSTM(num_layers=1, num_units=n_cell, input_mode="linear_input",
                                direction="unidirectional", dtype=tf.float32, name="cudnn_lstm")
    outputs, _ = layer(inputs=x, training=True)
    if not trainable:
        trainables = tf.compat.v1.get_collection_ref(tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES)
        for variable in layer.variables:
            if variable in trainables:
                trainables.remove(variable)
    return outputs


# ----------------------------------------------------------------------------------------------------------------
# --train_cudnn without tf.contrib (TF 2)

#: cudnn_format's conversion, run with TensorFlow's ops (one copy of the layout and its gate orders).
_TF_OPS = cudnn_format.ArrayOps(split=lambda x, sizes, axis=0: tf.split(x, sizes, axis), reshape=tf.reshape,
                                concat=lambda parts, axis: tf.concat(parts, axis),
                                transpose=lambda x: tf.transpose(a=x))


def opaque_to_canonical(buffer, input_size, n_cell):
    """In-graph: cuDNN's opaque buffer -> canonical ``(kernel [input + n, 4n], bias [4n])``
    (:func:`deepspeech_freeze.cudnn_format.opaque_to_canonical` on tensors)."""
    return cudnn_format.opaque_to_canonical(buffer, input_size, n_cell, ops=_TF_OPS)


def canonical_to_opaque(kernel, bias, input_size):
    """In-graph inverse of :func:`opaque_to_canonical` (:func:`deepspeech_freeze.cudnn_format.canonical_to_opaque`
    on tensors)."""
    return cudnn_format.canonical_to_opaque(kernel, bias, input_size, ops=_TF_OPS)


class _CanonicalCudnnSaveable(tfcompat.SaveableObject):
    """Saves ``cudnn_lstm/opaque_kernel`` also as the canonical kernel and bias (the keys CudnnLSTM's saveable
    writes on TF 1.15, so the checkpoints load on CPU and in DeepSpeech); restoring them rebuilds the buffer."""

    def __init__(self, opaque, input_size, n_cell):
        self._opaque, self._input_size = opaque, input_size
        kernel, bias = opaque_to_canonical(opaque.read_value(), input_size, n_cell)
        specs = [tfcompat.SaveSpec(kernel, "", LSTM_CANONICAL_SCOPE + "/kernel"),
                 tfcompat.SaveSpec(bias, "", LSTM_CANONICAL_SCOPE + "/bias")]
        super(_CanonicalCudnnSaveable, self).__init__(opaque, specs, opaque.op.name + "_canonical")

    def restore(self, restored_tensors, restored_shapes):
        del restored_shapes
        kernel, bias = restored_tensors
        return tf.compat.v1.assign(self._opaque, canonical_to_opaque(kernel, bias, self._input_size))


def _cudnn_lstm_without_contrib(x, n_cell, trainable):
    """``CudnnRNN`` over variable ``cudnn_lstm/opaque_kernel``, with the canonical saveable; time-major outputs.

    The buffer starts as a Glorot-uniform canonical kernel and zero bias converted to cuDNN's layout (CudnnLSTM
    draws Glorot per gate matrix: the same kind of start, not the same numbers). ``trainable=False`` keeps it out of
    the optimizer. Graph construction works anywhere; running it needs a GPU with cuDNN."""
    input_size = x.shape[-1].value
    with tf.compat.v1.variable_scope("cudnn_lstm"):
        def initial(shape, dtype=tf.float32, partition_info=None):
            del shape, partition_info
            kernel = tf.compat.v1.glorot_uniform_initializer()([input_size + n_cell, 4 * n_cell], dtype)
            return canonical_to_opaque(kernel, tf.zeros([4 * n_cell], dtype), input_size)

        opaque = tf.compat.v1.get_variable("opaque_kernel", [4 * n_cell * (input_size + n_cell) + 8 * n_cell],
                                           tf.float32, initializer=initial, trainable=trainable)
    tf.compat.v1.add_to_collection(tf.compat.v1.GraphKeys.SAVEABLE_OBJECTS,
                                   _CanonicalCudnnSaveable(opaque, input_size, n_cell))
    zeros = tf.zeros(tf.stack([1, tf.shape(input=x)[1], n_cell]), dtype=tf.float32)
    outputs, _, _, _ = tf.raw_ops.CudnnRNN(input=x, input_h=zeros, input_c=zeros, params=opaque, rnn_mode="lstm",
                                           input_mode="linear_input", direction="unidirectional", dropout=0.0,
                                           seed=0, seed2=0, is_training=True, name="cudnn_lstm/CudnnRNN")
    return outputs
