"""The frozen-weights proof's failure path: a frozen tensor that differs from the source, in the save directory's
checkpoint or in the source checkpoint, ends the real training command with exit status 3 and a message naming the
variable and its layer. (Every freezing test elsewhere checks the success path.)"""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import ENGLISH, run_module
from deepspeech_freeze import cudnn_format
from deepspeech_freeze.checkpoints import find_checkpoint

TINY = ["--n_hidden", "32", "--noshow_progressbar", "--alphabet_config_path", ENGLISH]
LSTM_KERNEL = cudnn_format.CANONICAL + "kernel"


def tamper(path, name):
    """Rewrite checkpoint ``path`` in place (same files, state file untouched) with ``name`` nudged by 0.5 in one
    element: every other tensor keeps its bytes."""
    reader = tf.compat.v1.train.NewCheckpointReader(path)
    values = {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()}
    values[name] = values[name].copy()
    values[name].flat[0] += 0.5
    graph = tf.Graph()
    with graph.as_default():
        variables = [tf.compat.v1.Variable(value, name=n) for n, value in sorted(values.items())]
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.train.Saver(variables).save(session, path, write_state=False, write_meta_graph=False)
    assert not np.array_equal(tf.compat.v1.train.NewCheckpointReader(path).get_tensor(name), reader.get_tensor(name))


def source_model(tmp_path, csv):
    source = tmp_path / "source"
    run_module("deepspeech_freeze.train", "--train_files", csv, "--epochs", "1", "--checkpoint_dir", source,
               "--summary_dir", tmp_path / "source_summaries", *TINY)
    return source


def transfer(tmp_path, source, csv, freeze, check=True):
    return run_module("deepspeech_freeze.train", "--load_checkpoint_dir", source, "--save_checkpoint_dir",
                      tmp_path / "target", "--summary_dir", tmp_path / "target_summaries", "--train_files", csv,
                      "--epochs", "1", "--freeze_layers", freeze, *TINY, check=check)


def assert_proof_failed(result, *names):
    assert result.returncode == 3, result.output[-3000:]
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("E ")]
    assert len(errors) == 1, result.output[-3000:]
    for name in names:
        assert name in errors[0], errors[0]
    return errors[0]


@pytest.mark.slow
def test_a_frozen_tensor_changed_in_the_save_directory_fails_the_proof(tmp_path, ldc_dir):
    csv = str(ldc_dir / "ldc93s1.csv")
    source = source_model(tmp_path, csv)
    first = transfer(tmp_path, source, csv, "1-4")
    assert "frozen layers 1-4 unchanged (bit-identical)" in first.output
    # A frozen LSTM weight changes in the run's own checkpoint; rerunning the command resumes from it, trains an
    # epoch (a frozen variable keeps whatever it was loaded with) and proves the frozen layers against the source.
    tamper(find_checkpoint(str(tmp_path / "target"), "last"), LSTM_KERNEL)
    rerun = transfer(tmp_path, source, csv, "1-4", check=False)
    assert "Resuming the run in" in rerun.output
    error = assert_proof_failed(rerun, "frozen layers 1-4 CHANGED during training",
                                LSTM_KERNEL + " (layer 4, LSTM) in train-")
    assert "layer_1/" not in error and "layer_2/" not in error and "layer_3/" not in error  # only what changed


@pytest.mark.slow
def test_a_source_checkpoint_changed_on_disk_fails_the_proof(tmp_path, ldc_dir):
    csv = str(ldc_dir / "ldc93s1.csv")
    source = source_model(tmp_path, csv)
    first = transfer(tmp_path, source, csv, "3")
    assert "frozen layers 1-3 unchanged (bit-identical)" in first.output
    with open(str(tmp_path / "target" / "run.json")) as handle:
        loaded = json.load(handle)["source_checkpoint"]
    assert os.path.dirname(loaded) == str(source)
    tamper(loaded, "layer_2/bias")
    rerun = transfer(tmp_path, source, csv, "3", check=False)
    assert_proof_failed(rerun, "source checkpoint {} changed on disk".format(loaded),
                        "layer_2/bias (layer 2, dense)")
