"""--train_cudnn's graph, built (not run: cuDNN kernels need a GPU) on CPU: a frozen layer 4 stays out of the
optimizer even though CudnnLSTM creates its opaque kernel without honouring trainable=False."""
import subprocess
import sys

from conftest import ENGLISH, ROOT

SCRIPT = r'''
import sys
import tensorflow as tf
from deepspeech_freeze import flags as F, train
from deepspeech_freeze.config import build_config
F.define_flags()
F.FLAGS(["x", "--train_cudnn", "--n_hidden", "8", "--freeze_layers", sys.argv[1], "--alphabet_config_path", sys.argv[2]])
config = build_config(training=True)
types = (tf.string, tf.float32, tf.int32, tf.int32, tf.int32)
shapes = (tf.TensorShape([None]), tf.TensorShape([None, None, 26]), tf.TensorShape([None]),
          tf.TensorShape([None, None]), tf.TensorShape([None]))
graph = train.build_training_graph(config, types, shapes, ["/cpu:0"])
names = sorted(v.op.name for v in tf.compat.v1.global_variables())
print("TRAINABLE", ",".join(sorted(v.op.name for v in graph.trainable)))
print("ALL", ",".join(names))
'''


def build(spec):
    result = subprocess.run([sys.executable, "-c", SCRIPT, spec, ENGLISH], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, env={"PYTHONPATH": ROOT})
    assert result.returncode == 0, result.stdout[-3000:]
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if line.startswith(("TRAINABLE", "ALL")))
    return lines["TRAINABLE"].split(","), lines["ALL"].split(",")


def test_frozen_cudnn_lstm_has_no_slots_and_is_not_trained():
    trainable, everything = build("1-4")
    assert "cudnn_lstm/opaque_kernel" in everything
    assert not any(name.startswith("cudnn_lstm") for name in trainable)
    assert not any(name.startswith("cudnn_lstm") and name.endswith(("/Adam", "/Adam_1")) for name in everything)
    assert sorted(trainable) == ["layer_5/bias", "layer_5/weights", "layer_6/bias", "layer_6/weights"]


def test_trainable_cudnn_lstm_gets_slots():
    trainable, everything = build("1-3")
    assert "cudnn_lstm/opaque_kernel" in trainable
    assert "cudnn_lstm/opaque_kernel/Adam" in everything and "cudnn_lstm/opaque_kernel/Adam_1" in everything
