"""The fast BlockLSTM gradient of :mod:`deepspeech_freeze.lstm` against TF's registered (stock) gradient.

Forward values must be bit-identical (the same op runs); gradients equal up to float32 rounding: the fast gradient
sums the weight gradient over all steps in one matmul, TF adds one step at a time, so only the summation order
differs. Tolerance: max |fast - stock| <= RTOL * max |stock| for each gradient tensor.
"""
import collections

import numpy as np
import pytest
import tensorflow as tf

from conftest import ENGLISH
from deepspeech_freeze import lstm, tfcompat, train
from deepspeech_freeze.alphabet import Alphabet
from deepspeech_freeze.config import Config, ModelConfig, TransferSpec
from deepspeech_freeze.errors import UserError
from deepspeech_freeze.model import N_INPUT, create_model

RTOL = 1e-4  # float32 (eps 1.2e-7) with sums over T*B terms in a different order; observed errors are ~1e-7

LOOP_OP_TYPES = {"Enter", "Exit", "NextIteration", "LoopCond", "TensorArrayV3", "TensorArrayWriteV3"}


@pytest.fixture
def gradient_kind():
    """Set :data:`lstm.GRADIENT` for one test and restore it afterwards."""
    saved = lstm.GRADIENT

    def choose(kind):
        lstm.GRADIENT = kind
    yield choose
    lstm.GRADIENT = saved


def _relative_error(fast, stock):
    scale = np.abs(stock).max()
    return np.abs(fast - stock).max() / scale if scale > 0 else np.abs(fast).max()


def _random_case(seed, time, batch, input_size, n_cell):
    rng = np.random.RandomState(seed)
    return dict(
        x=rng.randn(time, batch, input_size).astype(np.float32),
        c_prev=rng.randn(batch, n_cell).astype(np.float32),
        h_prev=(0.5 * rng.randn(batch, n_cell)).astype(np.float32),
        kernel=(0.3 * rng.randn(input_size + n_cell, 4 * n_cell)).astype(np.float32),
        bias=(0.3 * rng.randn(4 * n_cell)).astype(np.float32),
        out_weights=rng.randn(time, batch, n_cell).astype(np.float32),
        cs_weights=rng.randn(time, batch, n_cell).astype(np.float32),
        c_weights=rng.randn(batch, n_cell).astype(np.float32),
        h_weights=rng.randn(batch, n_cell).astype(np.float32))


def _raw_block_lstm(case, seq_len_max, fast):
    """TF's BlockLSTM op on ``case`` with a loss on all its h and cs outputs; returns forward values and gradients."""
    graph = tf.Graph()
    with graph.as_default():
        inputs = {name: tf.constant(case[name]) for name in ("x", "c_prev", "h_prev", "kernel", "bias")}
        no_peephole = tf.zeros([case["c_prev"].shape[1]])
        override = {"BlockLSTM": lstm._FAST_GRADIENT_NAME} if fast else {}  # pylint: disable=protected-access
        with graph.gradient_override_map(override):
            outputs = tf.raw_ops.BlockLSTM(
                seq_len_max=tf.constant(seq_len_max, tf.int64), x=inputs["x"], cs_prev=inputs["c_prev"],
                h_prev=inputs["h_prev"], w=inputs["kernel"], wci=no_peephole, wcf=no_peephole, wco=no_peephole,
                b=inputs["bias"], forget_bias=0.0, cell_clip=-1.0, use_peephole=False)
        loss = tf.reduce_sum(input_tensor=outputs.h * case["out_weights"]) + \
            tf.reduce_sum(input_tensor=outputs.cs * case["cs_weights"])
        names = sorted(inputs)
        grads = tf.gradients(ys=loss, xs=[inputs[name] for name in names])
        assert [op.type for op in graph.get_operations() if op.type.startswith("BlockLSTMGrad")] == \
            ([] if fast else ["BlockLSTMGrad"])
        with tf.compat.v1.Session(graph=graph) as session:
            forward, backward = session.run([list(outputs), grads])
    return forward, dict(zip(names, backward))


@pytest.mark.parametrize("seq_len_max", [9, 6, 0])
def test_raw_op_gradient_matches_stock(seq_len_max):
    """All inputs' gradients, with gradients flowing into every step's h and cs (also past seq_len_max)."""
    case = _random_case(1, time=9, batch=3, input_size=7, n_cell=5)
    forward_stock, stock = _raw_block_lstm(case, seq_len_max, fast=False)
    forward_fast, fast = _raw_block_lstm(case, seq_len_max, fast=True)
    # i, cs, f, o, ci, co, h: the same op on the same inputs gives bit-identical values. BlockLSTM zeroes cs and h past
    # seq_len_max but leaves the gate outputs there uninitialised, so those are compared up to seq_len_max only.
    for index, (a, b) in enumerate(zip(forward_stock, forward_fast)):
        valid = slice(None) if index in (1, 6) else slice(0, seq_len_max)
        assert np.array_equal(a[valid], b[valid])
    assert not forward_fast[1][seq_len_max:].any() and not forward_fast[6][seq_len_max:].any()
    for name in stock:
        assert fast[name].shape == stock[name].shape
        assert _relative_error(fast[name], stock[name]) <= RTOL, name
    if seq_len_max < 9:
        assert not fast["x"][seq_len_max:].any()


def _fused(case, lengths, kind, previous_state=True, weights=True, input_gradient=True, forward="fused"):
    """:func:`lstm.canonical_lstm` with gradient ``kind`` and ``forward``; loss on the masked outputs and on the final
    state.

    ``weights`` and ``input_gradient`` are the layer's declarations (``trainable``, ``input_gradient``); gradients
    are always asked for x, kernel, bias (and the previous state), so undeclared ones come back None.
    """
    lstm.GRADIENT = kind
    graph = tf.Graph()
    n_cell = case["c_prev"].shape[1]
    with graph.as_default():
        x = tf.constant(case["x"])
        state = (tf.constant(case["c_prev"]), tf.constant(case["h_prev"])) if previous_state else None
        outputs, (final_c, final_h) = lstm.canonical_lstm(x, tf.constant(lengths, tf.int32), n_cell, trainable=weights,
                                                      previous_state=state, input_gradient=input_gradient,
                                                      forward=forward)
        kernel, bias = tf.compat.v1.global_variables()
        loss = tf.reduce_sum(input_tensor=outputs * case["out_weights"]) + \
            tf.reduce_sum(input_tensor=final_c * case["c_weights"]) + \
            tf.reduce_sum(input_tensor=final_h * case["h_weights"])
        wrt = [x, kernel, bias] + (list(state) if previous_state else [])
        grads = tf.gradients(ys=loss, xs=wrt)
        lstm_ops = [(op.type, op.get_attr("forget_bias"), op.get_attr("cell_clip"), op.get_attr("use_peephole"))
                    for op in graph.get_operations() if op.type == "BlockLSTM"]
        built = [grad for grad in grads if grad is not None]
        with tf.compat.v1.Session(graph=graph) as session:
            kernel.load(case["kernel"], session)
            bias.load(case["bias"], session)
            forward, values = session.run([[outputs, final_c, final_h], built])
    values = iter(values)
    backward = [None if grad is None else next(values) for grad in grads]
    return lstm_ops, forward, backward


@pytest.mark.parametrize("lengths, previous_state", [
    ([12, 7, 1, 12, 0], True),   # seq_len_max == T, mixed lengths, one empty sequence
    ([9, 3, 5, 0, 8], True),     # seq_len_max < T
    ([12, 12, 12, 12, 12], False),  # training: zero initial state
])
def test_fused_lstm_gradient_matches_stock(gradient_kind, lengths, previous_state):
    case = _random_case(2, time=12, batch=5, input_size=11, n_cell=8)
    ops_stock, forward_stock, stock = _fused(case, lengths, "stock", previous_state)
    ops_fast, forward_fast, fast = _fused(case, lengths, "fast", previous_state)
    assert ops_stock == ops_fast == [("BlockLSTM", 0.0, -1.0, False)]
    for a, b in zip(forward_stock, forward_fast):
        assert np.array_equal(a, b)  # the same op on the same inputs: bit-identical
    errors = [_relative_error(f, s) for f, s in zip(fast, stock)]
    assert max(errors) <= RTOL, errors
    assert all(np.abs(s).max() > 0 for s in stock)


@pytest.mark.parametrize("lengths, previous_state", [
    ([12, 7, 1, 12, 0], True),
    ([9, 3, 5, 0, 8], True),
    ([12, 12, 12, 12, 12], False),
    ([0, 0, 0, 0, 0], True),  # nothing to run: zero outputs, the state passes through
])
def test_projected_forward_matches_block_lstm(gradient_kind, lengths, previous_state):
    """The projected forward (input projection as one matmul, own while loop) computes BlockLSTM's outputs and
    final state, and its custom gradient equals TF's stock BlockLSTM gradient, to float rounding."""
    case = _random_case(5, time=12, batch=5, input_size=11, n_cell=8)
    _, forward_stock, stock = _fused(case, lengths, "stock", previous_state)
    ops, forward_projected, projected = _fused(case, lengths, "fast", previous_state, forward="projected")
    assert ops == []  # no BlockLSTM op in that graph
    for a, b in zip(forward_stock, forward_projected):
        assert a.shape == b.shape and np.allclose(a, b, rtol=1e-5, atol=1e-6)
    errors = [_relative_error(p, s) for p, s in zip(projected, stock) if np.abs(s).max() > 0]
    assert errors and max(errors) <= RTOL, errors


@pytest.mark.parametrize("forward_form", ["nn", "nt", "tt"])
@pytest.mark.parametrize("backward_form", ["nn", "nt", "tt"])
def test_every_recurrent_matmul_form_gives_block_lstms_outputs_and_stock_gradients(gradient_kind, monkeypatch,
                                                                                  forward_form, backward_form):
    """The forms of tfcompat.RECURRENT_MATMUL (chosen per stack by speed) are the same product: with any of them
    the projected forward and the fast gradient match BlockLSTM and TF's stock gradient."""
    monkeypatch.setitem(tfcompat.RECURRENT_MATMUL, "forward", forward_form)
    monkeypatch.setitem(tfcompat.RECURRENT_MATMUL, "backward", backward_form)
    case = _random_case(8, time=9, batch=4, input_size=6, n_cell=5)
    _, forward_stock, stock = _fused(case, [9, 4, 0, 7], "stock")
    _, forward_projected, projected = _fused(case, [9, 4, 0, 7], "fast", forward="projected")
    for a, b in zip(forward_stock, forward_projected):
        assert np.allclose(a, b, rtol=1e-5, atol=1e-6)
    assert max(_relative_error(p, s) for p, s in zip(projected, stock) if np.abs(s).max() > 0) <= RTOL


def test_an_unknown_recurrent_matmul_form_is_refused(gradient_kind, monkeypatch):
    monkeypatch.setitem(tfcompat.RECURRENT_MATMUL, "backward", "tn")
    case = _random_case(8, time=4, batch=2, input_size=3, n_cell=2)
    with pytest.raises(ValueError, match="form 'tn'"):
        _fused(case, [4, 2], "fast", forward="projected")


@pytest.mark.parametrize("weights, input_gradient", [(True, False), (False, True)])
def test_projected_forward_declared_gradients_only(gradient_kind, weights, input_gradient):
    case = _random_case(6, time=10, batch=4, input_size=6, n_cell=7)
    _, _, stock = _fused(case, [10, 4, 7, 1], "stock")
    _, _, projected = _fused(case, [10, 4, 7, 1], "fast", weights=weights, input_gradient=input_gradient,
                             forward="projected")
    assert [grad is not None for grad in projected] == [input_gradient, weights, weights, True, True]
    assert max(_relative_error(p, s) for p, s in zip(projected, stock) if p is not None) <= RTOL


def test_forward_switch(gradient_kind, monkeypatch):
    saved = lstm.FORWARD
    try:
        lstm.FORWARD = None
        monkeypatch.delenv(lstm.FORWARD_ENV, raising=False)
        assert lstm.forward_kind() == lstm.DEFAULT_FORWARD
        monkeypatch.setenv(lstm.FORWARD_ENV, "Projected")
        assert lstm.forward_kind() == "projected"
        lstm.FORWARD = "fused"
        assert lstm.forward_kind() == "fused"
        lstm.FORWARD = "projected"
        gradient_kind("stock")  # TF's own gradient exists for the BlockLSTM op only
        assert lstm.forward_kind() == "fused"
        gradient_kind("fast")
        assert lstm.forward_kind() == "projected"
        lstm.FORWARD = "unrolled"
        with pytest.raises(UserError, match="DSF_LSTM_FORWARD"):
            lstm.forward_kind()
    finally:
        lstm.FORWARD = saved


def test_gradient_switch(gradient_kind, monkeypatch):
    monkeypatch.delenv(lstm.GRADIENT_ENV, raising=False)
    gradient_kind(None)
    assert lstm.gradient_kind() == "fast"
    monkeypatch.setenv(lstm.GRADIENT_ENV, "stock")
    assert lstm.gradient_kind() == "stock"
    gradient_kind("fast")
    assert lstm.gradient_kind() == "fast"
    gradient_kind("slow")
    with pytest.raises(UserError):
        lstm.gradient_kind()


# ----------------------------------------------------------------------------------------------------------------
# In the model: same training, and no LSTM backward work where nothing needs it

N_HIDDEN = 24
N_CLASSES = 29


def _config(frozen):
    """A hand-built Config: English alphabet (N_CLASSES = 28 labels + blank), N_HIDDEN wide."""
    config = Config(ModelConfig(Alphabet(ENGLISH), n_hidden=N_HIDDEN),
                    transfer=TransferSpec(frozen_layers=frozenset(frozen)))
    assert config.model.n_classes == N_CLASSES
    return config


def _batch(seed=3, batch=3, time=40, label_length=8):
    rng = np.random.RandomState(seed)
    features = rng.randn(batch, time, N_INPUT).astype(np.float32)
    n_frames = np.array([time, time - 9, time - 17][:batch], np.int32)
    labels = rng.randint(0, N_CLASSES - 1, size=(batch, label_length)).astype(np.int32)
    label_lengths = np.array([label_length, label_length - 3, label_length - 5][:batch], np.int32)
    names = np.array([b"a.wav", b"b.wav", b"c.wav"][:batch])
    return names, features, n_frames, labels, label_lengths


def _train(kind, initial, steps=2, forward="fused"):
    """Train the tiny model ``steps`` Adam steps from ``initial`` values (None: initialise and return them)."""
    lstm.GRADIENT, lstm.FORWARD = kind, forward
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.set_random_seed(7)
        batch = [tf.constant(value) for value in _batch()]
        loss, _, _ = train.batch_loss(batch, _config(()), dropout=None)
        optimizer = tf.compat.v1.train.AdamOptimizer(learning_rate=0.01)
        train_op = optimizer.minimize(loss, var_list=tf.compat.v1.trainable_variables())
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            variables = tf.compat.v1.trainable_variables()
            if initial is None:
                initial = {v.op.name: value for v, value in zip(variables, session.run(variables))}
            else:
                for variable in variables:
                    variable.load(initial[variable.op.name], session)
            losses = []
            for _ in range(steps):
                losses.append(session.run([loss, train_op])[0])
            losses.append(session.run(loss))
            final = {v.op.name: value for v, value in zip(variables, session.run(variables))}
    return initial, losses, final


def test_training_matches_stock(gradient_kind):
    initial, stock_losses, stock_final = _train("stock", None)
    _, fast_losses, fast_final = _train("fast", initial)
    assert np.allclose(fast_losses, stock_losses, rtol=1e-5, atol=0), (fast_losses, stock_losses)
    assert stock_losses[2] < stock_losses[0]  # it did train
    for name, value in stock_final.items():
        # Adam normalises each update, so compare the change from the start rather than the raw values.
        change = value - initial[name]
        assert np.abs(fast_final[name] - value).max() <= 1e-3 * np.abs(change).max() + 1e-7, name


def test_training_with_projected_forward_matches_fused(gradient_kind):
    """The training graph (train.batch_loss) with ``DSF_LSTM_FORWARD=projected`` trains as with BlockLSTM."""
    saved = lstm.FORWARD
    try:
        initial, fused_losses, fused_final = _train("fast", None)
        _, projected_losses, projected_final = _train("fast", initial, forward="projected")
    finally:
        lstm.FORWARD = saved
    assert np.allclose(projected_losses, fused_losses, rtol=1e-5, atol=0), (projected_losses, fused_losses)
    for name, value in fused_final.items():
        # Adam's step for a gradient near zero follows its rounding (measured: up to 0.3 % of the largest change
        # on TF 1.15, where the matmuls group the sums differently).
        change = value - initial[name]
        assert np.abs(projected_final[name] - value).max() <= 1e-2 * np.abs(change).max() + 1e-7, name


def _training_graph(frozen):
    """The model, CTC loss and an Adam step over the trainable variables, as build_training_graph makes them."""
    graph = tf.Graph()
    with graph.as_default():
        features = tf.compat.v1.placeholder(tf.float32, [None, None, N_INPUT])
        n_frames = tf.compat.v1.placeholder(tf.int32, [None])
        output = create_model(features, n_frames, _config(()).model, frozen_layers=frozenset(frozen))
        loss = tf.reduce_mean(input_tensor=output.logits)
        optimizer = tf.compat.v1.train.AdamOptimizer()
        trainable = tf.compat.v1.trainable_variables()
        grads = optimizer.compute_gradients(loss, var_list=trainable)
        train_op = optimizer.apply_gradients(grads)
    return graph, train_op


def _needed_ops(fetch):
    """Every op a session runs for ``fetch``: its transitive inputs and control inputs."""
    seen, stack = set(), [fetch]
    while stack:
        op = stack.pop()
        if op in seen:
            continue
        seen.add(op)
        stack.extend(tensor.op for tensor in op.inputs)
        stack.extend(op.control_inputs)
    return seen


LstmBackward = collections.namedtuple("LstmBackward", "in_graph recurrence kernel_grad input_grad")


def _lstm_backward(frozen):
    graph, train_op = _training_graph(frozen)
    needed = _needed_ops(train_op)
    grad_ops = [op for op in graph.get_operations() if "BlockLSTM_grad" in op.name or op.type == "BlockLSTMGrad"]

    def needs(suffix):
        return any(op.name.endswith(suffix) for op in needed if "BlockLSTM_grad" in op.name)
    return LstmBackward(bool(grad_ops) or any(op.type in LOOP_OP_TYPES for op in graph.get_operations()),
                        needs("fast_block_lstm_grad/recurrence/MatMul"), needs("kernel_grad"), needs("input_grad"))


@pytest.mark.parametrize("frozen", [{1, 2, 3, 4}, {1, 2, 3, 4, 5}])
@pytest.mark.parametrize("kind", ["fast", "stock"])
def test_frozen_lstm_builds_no_backward(gradient_kind, frozen, kind):
    """LSTM frozen and nothing below it trains: not a single LSTM gradient op (nor any loop) is in the graph."""
    gradient_kind(kind)
    assert _lstm_backward(frozen) == LstmBackward(False, False, False, False)


def test_fast_gradient_runs_only_what_is_needed(gradient_kind):
    gradient_kind("fast")
    # Everything trains: the recurrence, the kernel gradient and the input gradient.
    assert _lstm_backward(set()) == LstmBackward(True, True, True, True)
    # Layers 1-3 frozen: the kernel needs its gradient, the LSTM's input does not.
    assert _lstm_backward({1, 2, 3}) == LstmBackward(True, True, True, False)
    # LSTM frozen but layers below train: the input gradient only.
    assert _lstm_backward({4}) == LstmBackward(True, True, False, True)


@pytest.mark.parametrize("weights, input_gradient", [(True, False), (False, True)])
def test_declared_gradients_only(gradient_kind, weights, input_gradient):
    """A layer built without its weight or input gradient returns None for it; the others keep their values."""
    case = _random_case(4, time=10, batch=4, input_size=6, n_cell=7)
    _, _, stock = _fused(case, [10, 4, 7, 1], "stock")
    _, _, fast = _fused(case, [10, 4, 7, 1], "fast", weights=weights, input_gradient=input_gradient)
    wanted = [input_gradient, weights, weights, True, True]  # x, kernel, bias, c_prev, h_prev
    assert [grad is not None for grad in fast] == wanted
    assert max(_relative_error(f, s) for f, s in zip(fast, stock) if f is not None) <= RTOL
