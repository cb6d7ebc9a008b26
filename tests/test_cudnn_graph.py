"""--train_cudnn's graph, built (not run: cuDNN kernels need a GPU) on CPU: a frozen layer 4 stays out of the
optimizer even though CudnnLSTM creates its opaque kernel without honouring trainable=False."""
import subprocess
import sys

import pytest

from conftest import ENGLISH, ROOT

SCRIPT = r'''
import sys
import tensorflow as tf
from tensorflow.python.training.saving import saveable_object_util
from deepspeech_freeze import checkpoints, flags as F, train
from deepspeech_freeze.config import from_flags
F.define_flags()
F.FLAGS(["x", "--train_cudnn", "--n_hidden", "8", "--freeze_layers", sys.argv[1], "--alphabet_config_path", sys.argv[2]]
        + sys.argv[3:])
config = from_flags()
# One batch shaped like data.create_dataset's: (file names, MFCCs [B, T, 26], frames, labels, label lengths).
batch = tf.data.Dataset.from_tensors((tf.constant(["a.wav"]), tf.zeros([1, 7, 26]), tf.constant([7]),
                                      tf.constant([[1, 2]]), tf.constant([2])))
graph = train.build_training_graph(config, {"train": batch}, ["/cpu:0"])
names = sorted(v.op.name for v in tf.compat.v1.global_variables())
print("TRAINABLE", ",".join(sorted(v.op.name for v in tf.compat.v1.trainable_variables())))
print("ALL", ",".join(names))
# The checkpoint keys the training run's savers write (a Saver is built as train.fit builds it).
savers = checkpoints.Savers("unused", 1)
var_list = savers.train._var_list  # what the Saver was built from (TF fills in the default list when given None)
if not isinstance(var_list, dict):  # TF 2's validate_and_slice_inputs takes only the dict form
    var_list = saveable_object_util.op_list_to_dict(var_list)
saved = (spec.name for saveable in saveable_object_util.validate_and_slice_inputs(var_list) for spec in saveable.specs)
print("SAVED", ",".join(sorted(saved)))
'''


def build(spec, *flags):
    """Build the graph; returns the trainable variables, all variables and the checkpoint keys, as name lists."""
    result = subprocess.run([sys.executable, "-c", SCRIPT, spec, ENGLISH] + list(flags), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                            env={"PYTHONPATH": ROOT})
    assert result.returncode == 0, result.stdout[-3000:]
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines()
                 if line.startswith(("TRAINABLE", "ALL", "SAVED")))
    return lines["TRAINABLE"].split(","), lines["ALL"].split(","), lines["SAVED"].split(",")


def test_frozen_cudnn_lstm_has_no_slots_and_is_not_trained():
    trainable, everything, _ = build("1-4")
    assert "cudnn_lstm/opaque_kernel" in everything
    assert not any(name.startswith("cudnn_lstm") for name in trainable)
    assert not any(name.startswith("cudnn_lstm") and name.endswith(("/Adam", "/Adam_1")) for name in everything)
    assert sorted(trainable) == ["layer_5/bias", "layer_5/weights", "layer_6/bias", "layer_6/weights"]


@pytest.mark.slow
def test_trainable_cudnn_lstm_gets_slots():
    trainable, everything, saved = build("1-3")
    assert "cudnn_lstm/opaque_kernel" in trainable
    assert "cudnn_lstm/opaque_kernel/Adam" in everything and "cudnn_lstm/opaque_kernel/Adam_1" in everything
    # Like the release checkpoint: the opaque buffer and the canonical weights (CudnnLSTM's saveable) both.
    assert {"cudnn_lstm/opaque_kernel", "cudnn_lstm/rnn/multi_rnn_cell/cell_0/cudnn_compatible_lstm_cell/kernel",
            "cudnn_lstm/rnn/multi_rnn_cell/cell_0/cudnn_compatible_lstm_cell/bias", "beta1_power"} <= set(saved)


@pytest.mark.slow
def test_mixed_precision_cudnn_graph_saves_the_same_keys():
    """With --automatic_mixed_precision the beta powers live under a tf.cond scope in the graph; the savers still
    write the plain names, the canonical LSTM view, and the loss scale's state."""
    _, everything, plain = build("1-3")
    _, everything_amp, saved = build("1-3", "--automatic_mixed_precision")
    assert "beta1_power" not in everything_amp and any(n.endswith("/beta1_power") for n in everything_amp)
    assert set(saved) == set(plain) | {"current_loss_scale", "good_steps"}


def build_on(stack, spec, *flags):
    """:func:`build` with ``stack``'s interpreter (tests/stacks.py)."""
    import stacks

    output = stacks.run_python(stack, SCRIPT, spec, ENGLISH, *flags)
    lines = dict(line.split(" ", 1) for line in output.splitlines() if line.startswith(("TRAINABLE", "ALL", "SAVED")))
    return lines["TRAINABLE"].split(","), lines["ALL"].split(","), lines["SAVED"].split(",")


def test_cross_stack_cudnn_graph_has_the_same_variables_and_checkpoint_keys():
    """TF 2 has no tf.contrib: its --train_cudnn graph (CudnnRNN over the same opaque variable, with a saveable for
    the canonical weights) must have the variables, trainables and checkpoint keys of TF 1.15's CudnnLSTM."""
    for spec in ("1-3", "1-4"):
        assert build_on("tf1", spec) == build_on("tf2", spec), spec


CONVERT = r'''
import json, sys
import numpy as np
from deepspeech_freeze import cudnn_format, lstm
from deepspeech_freeze.tfcompat import tf
rng = np.random.RandomState(3)
n, size = 5, 7
kernel, bias = rng.randn(size + n, 4 * n).astype(np.float32), rng.randn(4 * n).astype(np.float32)
opaque = cudnn_format.canonical_to_opaque(kernel, bias)
with tf.compat.v1.Session() as session:
    k, b = session.run(lstm.opaque_to_canonical(tf.constant(opaque), size, n))
    back = session.run(lstm.canonical_to_opaque(tf.constant(kernel), tf.constant(bias), size))
ref_k, ref_b = cudnn_format.opaque_to_canonical(opaque, size, n)
print(json.dumps({"kernel": float(np.max(np.abs(k - ref_k))), "bias": float(np.max(np.abs(b - ref_b))),
                  "opaque": float(np.max(np.abs(back - opaque))), "roundtrip": float(np.max(np.abs(k - kernel)))}))
'''


def test_in_graph_opaque_conversion_equals_numpy_layout():
    """The TF-op conversion the TF 2 saveable uses is cudnn_format's numpy layout, both ways (runs on CPU)."""
    import json

    result = subprocess.run([sys.executable, "-c", CONVERT], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, env={"PYTHONPATH": ROOT})
    assert result.returncode == 0, result.stdout[-3000:]
    errors = json.loads(result.stdout.strip().splitlines()[-1])
    assert errors["kernel"] == 0 and errors["opaque"] == 0 and errors["roundtrip"] == 0
    assert errors["bias"] < 1e-6  # bW + bR of two halves: one float addition
