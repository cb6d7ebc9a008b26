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
from .naming import KIND_OF_LAYER, LAYERS, SCOPE_OF_LAYER, dropout_of_layer

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


def dense_variables(name, input_size, units, trainable):
    """Create (or reuse) dense layer ``name``'s weights (Glorot uniform) and bias (zeros); returns both."""
    with tf.compat.v1.variable_scope(name):
        bias = _variable_on_cpu("bias", [units], tf.compat.v1.zeros_initializer(), trainable)
        weights = _variable_on_cpu(
            "weights", [input_size, units],
            tf.compat.v1.variance_scaling_initializer(scale=1.0, mode="fan_avg", distribution="uniform"), trainable)
    return weights, bias


def dense(name, x, units, dropout_rate=None, relu_clip=RELU_CLIP, trainable=True):
    """Fully connected layer ``name`` (:func:`dense_variables`), ReLU clipped at ``relu_clip`` (None: no ReLU, the
    output layer), then dropout."""
    weights, bias = dense_variables(name, x.shape[-1], units, trainable)
    output = tf.nn.bias_add(tf.matmul(x, weights), bias)
    if relu_clip is not None:
        output = tf.minimum(tf.nn.relu(output), relu_clip)
    if dropout_rate is not None:
        output = tf.nn.dropout(output, rate=dropout_rate)
    return output


def _flat_input(features, start_after, overlap, n_hidden, layers):
    """The first computed layer's input, time-major and flat (``[T * B, width]``), and the batch size."""
    if start_after:  # layer k's stored outputs, batch-major [B, T, n_hidden]
        batch = tf.shape(input=features)[0]
        return tf.reshape(tf.transpose(a=features, perm=[1, 0, 2]), [-1, n_hidden]), batch
    if overlap:
        features = overlapping_windows(features)
    layers["input"] = features
    batch = tf.shape(input=features)[0]
    return tf.reshape(tf.transpose(a=features, perm=[1, 0, 2, 3]), [-1, (2 * N_CONTEXT + 1) * N_INPUT]), batch


def _lstm_layer(x, seq_length, n_hidden, batch, frozen_layers, start_after, previous_state, lstm_impl,
                lstm_gradient):
    """Layer 4 on flat ``x``: time-major outputs ``[T, B, n]`` and the final state (None for cuDNN)."""
    x = tf.reshape(x, [-1, batch, n_hidden])
    trainable = 4 not in frozen_layers
    if lstm_impl in ("fused", "projected"):
        # The LSTM's input needs a gradient only if a layer below it trains (none is computed when cached).
        below_trains = any(number > start_after and number not in frozen_layers for number in (1, 2, 3))
        return lstm.canonical_lstm(x, seq_length, n_hidden, trainable=trainable, previous_state=previous_state,
                               input_gradient=below_trains, forward=lstm_impl, gradient=lstm_gradient)
    if lstm_impl == "cudnn":
        return lstm.cudnn_lstm(x, n_hidden, trainable=trainable), None
    if lstm_impl == "static":
        outputs, state = lstm.static_lstm(tf.unstack(x, num=x.shape[0].value, axis=0), n_hidden, previous_state)
        return tf.stack(outputs, 0), state
    raise ValueError("unknown lstm_impl {!r}".format(lstm_impl))


def create_model(features, seq_length, model, dropout=None, frozen_layers=frozenset(), overlap=True,
                 previous_state=None, lstm_impl="fused", start_after=0, stop_after=6, lstm_gradient=""):
    """Build the six layers and return :class:`ModelOutput` with time-major ``raw_logits`` ``[T, B, n_classes]``.

    One pass over the layers 1-6: each creates its variables, and is computed only where the inputs start.

    Args:
      features: ``[B, T, 26]`` MFCCs (``overlap=True``) or pre-windowed ``[B, T, 19, 26]`` (``overlap=False``).
      seq_length: ``[B]`` true frame counts.
      model: the :class:`~deepspeech_freeze.config.ModelConfig`: ``n_hidden`` (width of layers 1, 2, 3, 5 and the
        LSTM), ``n_classes`` (alphabet size + 1, the CTC blank last) and ``relu_clip`` (the dense layers' ceiling).
      dropout: six rates (tensors or floats) for ``dropout_0..5``, applied per
        :data:`~deepspeech_freeze.naming.DROPOUT_INDEX_OF_LAYER` (as DeepSpeech: the LSTM and the output layer have
        none). None builds no dropout op (evaluation, export).
      frozen_layers: layer numbers whose variables are created with ``trainable=False``.
      previous_state: optional LSTM ``(c, h)`` input (export).
      lstm_impl: ``'fused'`` (BlockLSTM), ``'projected'`` (the same maths, input projection as one matmul:
        :func:`~deepspeech_freeze.lstm.canonical_lstm`), ``'cudnn'`` (GPU training) or ``'static'`` (TFLite export).
      start_after: 0, or k in 1..5 for the frozen-prefix cache: ``features`` are then layer k's stored outputs,
        batch-major ``[B, T, n_hidden]``; layers 1..k are created (checkpoints keep them) but not computed.
      stop_after: build up to this layer only (the cache's forward pass); ``logits`` is then None.
      lstm_gradient: the BlockLSTM gradient (``TrainingConfig.lstm_gradient``; see :func:`lstm.gradient_kind`).
    """
    n_hidden, n_classes, relu_clip = model.n_hidden, model.n_classes, model.relu_clip
    layers, state, x, batch = {}, None, None, None
    rates = dropout if dropout is not None else [None] * 6
    for number in LAYERS:
        kind = KIND_OF_LAYER[number]
        if number <= start_after:
            # Cached below here: the variables exist (checkpoints keep them) but nothing is computed.
            if kind == "LSTM":
                lstm.canonical_variables(n_hidden, n_hidden, trainable=False)
            else:
                input_size = (2 * N_CONTEXT + 1) * N_INPUT if number == 1 else n_hidden
                dense_variables(SCOPE_OF_LAYER[number], input_size, n_hidden, trainable=False)
        else:
            if x is None:
                x, batch = _flat_input(features, start_after, overlap, n_hidden, layers)
            if kind == "LSTM":
                x, state = _lstm_layer(x, seq_length, n_hidden, batch, frozen_layers, start_after, previous_state,
                                       lstm_impl, lstm_gradient)
                layers[number] = x
                x = tf.reshape(x, [-1, n_hidden])
            else:
                output = kind == "output"
                x = dense(SCOPE_OF_LAYER[number], x, n_classes if output else n_hidden,
                          dropout_rate=dropout_of_layer(number, rates), relu_clip=None if output else relu_clip,
                          trainable=number not in frozen_layers)
                layers[number] = x
        if number == stop_after < 6:
            return ModelOutput(logits=None, layers=layers, state=state)
    logits = tf.reshape(x, [-1, batch, n_classes], name="raw_logits")
    return ModelOutput(logits=logits, layers=layers, state=state)
