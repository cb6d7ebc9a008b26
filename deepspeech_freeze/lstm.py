"""The recurrent layer (layer 4): the only module that uses ``tf.contrib``.

Three builds of the same single-layer, unidirectional LSTM with forget bias 0 (which makes it cuDNN-compatible):

* :func:`fused_lstm` (training on CPU and GPU, evaluation, .pb export): TF's fused ``BlockLSTM`` op over variables
  with the canonical names ``cudnn_lstm/rnn/multi_rnn_cell/cell_0/cudnn_compatible_lstm_cell/{kernel,bias}``,
  exactly the op and variables DeepSpeech 0.7's ``LSTMBlockFusedCell`` creates.
* :func:`cudnn_lstm` (``--train_cudnn``, GPU only): ``tf.contrib.cudnn_rnn.CudnnLSTM`` with its opaque kernel.
* :func:`static_lstm` (TFLite export): an unrolled cell over the same canonical variables.

Kernel layout: rows ``[0, input_size)`` multiply the input, the next ``n`` rows the previous output; gate columns are
i, j (candidate), f, o.
"""
import tensorflow as tf

CANONICAL_SCOPE = "cudnn_lstm/rnn/multi_rnn_cell/cell_0/cudnn_compatible_lstm_cell"
OPAQUE_KERNEL = "cudnn_lstm/opaque_kernel"


def canonical_variables(input_size, n_cell, trainable):
    """Create (or reuse) the canonical LSTM kernel ``[input_size + n, 4n]`` and bias ``[4n]``.

    The kernel uses TF's default glorot-uniform initialiser and the bias zeros, as LSTMBlockFusedCell does.
    ``trainable=False`` keeps them out of TRAINABLE_VARIABLES, so the optimizer neither updates them nor makes slots.
    """
    with tf.compat.v1.variable_scope(CANONICAL_SCOPE):
        kernel = tf.compat.v1.get_variable("kernel", [input_size + n_cell, 4 * n_cell], tf.float32,
                                           initializer=tf.compat.v1.glorot_uniform_initializer(),
                                           trainable=trainable)
        bias = tf.compat.v1.get_variable("bias", [4 * n_cell], tf.float32,
                                         initializer=tf.compat.v1.zeros_initializer(), trainable=trainable)
    return kernel, bias


def _last_valid(sequence, initial, seq_length):
    """Element ``seq_length - 1`` of time-major ``sequence`` per batch entry (``initial`` when the length is 0)."""
    padded = tf.concat([tf.expand_dims(initial, 0), sequence], 0)
    batch = tf.shape(input=seq_length)[0]
    indices = tf.stack([tf.cast(seq_length, tf.int32), tf.range(batch)], axis=1)
    return tf.gather_nd(padded, indices)


def fused_lstm(x, seq_length, n_cell, trainable=True, previous_state=None):
    """Run the LSTM over time-major ``x`` ``[T, B, input]``; returns outputs ``[T, B, n]`` and ``(c, h)``.

    Outputs past each sequence's length are zero and the returned state is the one at its last valid step, as
    with LSTMBlockFusedCell. ``previous_state`` is an optional ``(c, h)`` pair of ``[B, n]`` tensors.
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
    _, cell_states, _, _, _, _, outputs = tf.raw_ops.BlockLSTM(
        seq_len_max=max_len, x=x, cs_prev=c_prev, h_prev=h_prev, w=kernel, wci=no_peephole, wcf=no_peephole,
        wco=no_peephole, b=bias, forget_bias=0.0, cell_clip=-1.0, use_peephole=False)
    mask = tf.sequence_mask(seq_length, tf.shape(input=x)[0], dtype=tf.float32)  # [B, T]
    outputs = outputs * tf.expand_dims(tf.transpose(a=mask), -1)
    final_c = _last_valid(cell_states, c_prev, seq_length)
    final_h = _last_valid(outputs, h_prev, seq_length)
    return outputs, (final_c, final_h)


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
