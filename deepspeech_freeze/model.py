"""The DeepSpeech 0.7 acoustic model: 494 windowed MFCC inputs -> 3 dense -> LSTM -> dense -> output.

This module builds the graph and decides which variables are trainable; it knows nothing about checkpoints.
Variables of frozen layers are created with ``trainable=False`` so the optimizer computes no gradient for them,
creates no Adam slots, and TF skips every backward op below the lowest trainable layer.
"""
import collections

import numpy as np
from .tfcompat import tf

from . import lstm
from .geometry import N_CONTEXT, N_INPUT, RELU_CLIP  # noqa: F401  (N_INPUT is also read from here by callers)
from .naming import SCOPE_OF_LAYER, dropout_of_layer

ModelOutput = collections.namedtuple("ModelOutput", "logits layers state")


def overlapping_windows(features, n_input=N_INPUT, n_context=N_CONTEXT):
    """``[B, T, n_input]`` -> ``[B, T, 2*n_context+1, n_input]``: each frame with its 9 neighbours either side.

    A 1-D convolution with an identity filter, SAME padding (zeros beyond both ends). Output window position k holds
    frame t - n_context + k, so the flattened vector is frame-major, coefficient-minor, as in DeepSpeech.
    """
    width = 2 * n_context + 1
    identity = np.eye(width * n_input, dtype=np.float32).reshape(width, n_input, width * n_input)
    windows = tf.nn.conv1d(features, filters=tf.constant(identity), stride=1, padding="SAME")
    batch = tf.shape(input=features)[0]
    return tf.reshape(windows, [batch, -1, width, n_input])


def _variable_on_cpu(name, shape, initializer, trainable):
    # Variables live on the CPU so that GPU towers share one copy (gradients are averaged there).
    with tf.device("/cpu:0"):
        return tf.compat.v1.get_variable(name=name, shape=shape, initializer=initializer, trainable=trainable)


def dense(name, x, units, dropout_rate=None, relu_clip=RELU_CLIP, trainable=True):
    """Fully connected layer ``name``: weights (Glorot uniform) and bias (zeros), ReLU clipped at ``relu_clip``
    (None: no ReLU, the output layer), then dropout."""
    with tf.compat.v1.variable_scope(name):
        bias = _variable_on_cpu("bias", [units], tf.compat.v1.zeros_initializer(), trainable)
        weights = _variable_on_cpu(
            "weights", [x.shape[-1], units],
            tf.compat.v1.variance_scaling_initializer(scale=1.0, mode="fan_avg", distribution="uniform"), trainable)
    output = tf.nn.bias_add(tf.matmul(x, weights), bias)
    if relu_clip is not None:
        output = tf.minimum(tf.nn.relu(output), relu_clip)
    if dropout_rate is not None:
        output = tf.nn.dropout(output, rate=dropout_rate)
    return output


def dense_variables(name, input_size, units, trainable):
    """Create (or reuse) a dense layer's variables without computing anything."""
    with tf.compat.v1.variable_scope(name):
        _variable_on_cpu("bias", [units], tf.compat.v1.zeros_initializer(), trainable)
        _variable_on_cpu("weights", [input_size, units],
                         tf.compat.v1.variance_scaling_initializer(scale=1.0, mode="fan_avg", distribution="uniform"),
                         trainable)


def create_model(features, seq_length, n_hidden, n_classes, dropout=None, frozen_layers=frozenset(),
                 overlap=True, previous_state=None, lstm_impl="fused", start_after=0, stop_after=6,
                 relu_clip=RELU_CLIP, lstm_gradient=""):
    """Build the six layers and return :class:`ModelOutput` with time-major ``raw_logits`` ``[T, B, n_classes]``.

    Args:
      features: ``[B, T, 26]`` MFCCs (``overlap=True``) or pre-windowed ``[B, T, 19, 26]`` (``overlap=False``).
      seq_length: ``[B]`` true frame counts.
      n_hidden: width of layers 1, 2, 3, 5 and the LSTM.
      n_classes: alphabet size + 1 (the CTC blank is the last class).
      dropout: six rates (tensors or floats) for ``dropout_0..5``, applied per
        :data:`~deepspeech_freeze.naming.DROPOUT_INDEX_OF_LAYER` (as DeepSpeech: the LSTM and the output layer have
        none). None builds no dropout op (evaluation, export).
      frozen_layers: layer numbers whose variables are created with ``trainable=False``.
      previous_state: optional LSTM ``(c, h)`` input (export).
      lstm_impl: ``'fused'`` (BlockLSTM), ``'projected'`` (the same maths, input projection as one matmul:
        :func:`~deepspeech_freeze.lstm.fused_lstm`), ``'cudnn'`` (GPU training) or ``'static'`` (TFLite export).
      start_after: 0, or k in 1..5 for the frozen-prefix cache: ``features`` are then layer k's stored outputs,
        batch-major ``[B, T, n_hidden]``; layers 1..k are created (checkpoints keep them) but not computed.
      stop_after: build up to this layer only (the cache's forward pass); ``logits`` is then None.
      relu_clip: the dense layers' ReLU ceiling (``--relu_clip``).
      lstm_gradient: the BlockLSTM gradient (``TrainingConfig.lstm_gradient``; see :func:`lstm.gradient_kind`).
    """
    layers, state = {}, None
    rates = dropout if dropout is not None else [None] * 6
    width = (2 * N_CONTEXT + 1) * N_INPUT
    if start_after:
        for number in range(1, min(start_after, 3) + 1):
            dense_variables(SCOPE_OF_LAYER[number], width if number == 1 else n_hidden, n_hidden, trainable=False)
        if start_after >= 4:
            lstm.canonical_variables(n_hidden, n_hidden, trainable=False)
        if start_after >= 5:
            dense_variables(SCOPE_OF_LAYER[5], n_hidden, n_hidden, trainable=False)
        batch = tf.shape(input=features)[0]
        x = tf.reshape(tf.transpose(a=features, perm=[1, 0, 2]), [-1, n_hidden])  # time-major, flat
    else:
        if overlap:
            features = overlapping_windows(features)
        layers["input"] = features
        batch = tf.shape(input=features)[0]
        # Time-major and flat: [T * B, 494].
        x = tf.reshape(tf.transpose(a=features, perm=[1, 0, 2, 3]), [-1, width])

    for number in (1, 2, 3):
        if number > start_after:
            x = dense(SCOPE_OF_LAYER[number], x, n_hidden, dropout_rate=dropout_of_layer(number, rates),
                      relu_clip=relu_clip, trainable=number not in frozen_layers)
            layers[number] = x
        if number == stop_after:
            return ModelOutput(logits=None, layers=layers, state=None)

    if start_after < 4:
        x = tf.reshape(x, [-1, batch, n_hidden])
        lstm_trainable = 4 not in frozen_layers
        if lstm_impl in ("fused", "projected"):
            # The LSTM's input needs a gradient only if a layer below it trains (none is computed when cached).
            below_trains = any(number > start_after and number not in frozen_layers for number in (1, 2, 3))
            x, state = lstm.fused_lstm(x, seq_length, n_hidden, trainable=lstm_trainable,
                                       previous_state=previous_state, input_gradient=below_trains,
                                       forward=lstm_impl, gradient=lstm_gradient)
        elif lstm_impl == "cudnn":
            x = lstm.cudnn_lstm(x, n_hidden, trainable=lstm_trainable)
        elif lstm_impl == "static":
            steps = tf.unstack(x, num=x.shape[0].value, axis=0)
            outputs, state = lstm.static_lstm(steps, n_hidden, previous_state)
            x = tf.stack(outputs, 0)
        else:
            raise ValueError("unknown lstm_impl {!r}".format(lstm_impl))
        layers[4] = x
        x = tf.reshape(x, [-1, n_hidden])
    if stop_after == 4:
        return ModelOutput(logits=None, layers=layers, state=state)

    if start_after < 5:
        x = dense(SCOPE_OF_LAYER[5], x, n_hidden, dropout_rate=dropout_of_layer(5, rates), relu_clip=relu_clip,
                  trainable=5 not in frozen_layers)
        layers[5] = x
    if stop_after == 5:
        return ModelOutput(logits=None, layers=layers, state=state)
    x = dense(SCOPE_OF_LAYER[6], x, n_classes, relu_clip=None, trainable=6 not in frozen_layers)
    layers[6] = x

    logits = tf.reshape(x, [-1, batch, n_classes], name="raw_logits")
    return ModelOutput(logits=logits, layers=layers, state=state)
