"""Transfer learning and freezing end to end: drop, freeze any layer set, prove bit-identity, two-step workflow,
release-layout (cuDNN) checkpoints, and clear messages instead of shape errors."""

import numpy as np
import pytest
import tensorflow as tf

from conftest import ENGLISH, GERMAN, TINY, run_module
from deepspeech_freeze import cudnn_format
from deepspeech_freeze.checkpoints import CheckpointView
from deepspeech_freeze.naming import SCOPE_OF_LAYER, is_adam_slot, layer_of_variable

TINY_GERMAN = ["--n_hidden", "100", "--noshow_progressbar", "--alphabet_config_path", GERMAN]


def tensors(directory):
    path = tf.compat.v1.train.latest_checkpoint(str(directory))
    reader = tf.compat.v1.train.NewCheckpointReader(path)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def layer_weights(values, layer):
    return {n: v for n, v in values.items() if layer_of_variable(n) == layer and not is_adam_slot(n)
            and not n.startswith(cudnn_format.OPAQUE)}


def transfer(source, target, csv, *extra, alphabet=TINY_GERMAN, epochs=2, check=True):
    return run_module("deepspeech_freeze.train", "--load_checkpoint_dir", source, "--save_checkpoint_dir", target,
                      "--summary_dir", str(target) + "_summaries", "--train_files", csv, "--dev_files", csv,
                      "--epochs", epochs, *alphabet, *extra, check=check)


@pytest.mark.parametrize("spec, frozen, drop, alphabet", [
    ("3", {1, 2, 3}, "1", TINY_GERMAN),
    ("1-3,5", {1, 2, 3, 5}, "1", TINY_GERMAN),
    ("6", {6}, "0", TINY),  # top-down style: the output layer kept, the rest retrained
])
def test_frozen_layers_are_bit_identical_and_others_change(tmp_path, english_model, ldc_dir, spec, frozen, drop,
                                                           alphabet):
    csv = str(ldc_dir / "ldc93s1.csv")
    result = transfer(english_model, tmp_path / "target", csv, "--freeze_layers", spec, "--drop_source_layers",
                      drop, alphabet=alphabet)
    label = {"3": "1-3", "1-3,5": "1-3,5", "6": "6"}[spec]
    assert "frozen layers {} unchanged (bit-identical)".format(label) in result.output
    source, target = tensors(english_model), tensors(tmp_path / "target")
    for layer in range(1, 7):
        before, after = layer_weights(source, layer), layer_weights(target, layer)
        assert before.keys() == after.keys() and before
        if layer in frozen:
            for name in before:
                assert before[name].tobytes() == after[name].tobytes(), name
                assert name + "/Adam" not in target and name + "/Adam_1" not in target, "frozen var has slots"
        elif not (drop == "1" and layer == 6):
            assert any(not np.array_equal(before[n], after[n]) for n in before), "layer {} did not train".format(
                layer)
    # global_step carries over from the source, as in DeepSpeech.
    assert int(target["global_step"]) == int(source["global_step"]) + 2


@pytest.mark.slow
def test_transfer_to_new_alphabet_tests_the_new_model_then_two_step(tmp_path, english_model, ldc_dir):
    csv = str(ldc_dir / "ldc93s1.csv")
    step1 = transfer(english_model, tmp_path / "de", csv, "--drop_source_layers", "1", "--freeze_layers", "3",
                     "--test_files", csv, "--scorer_path", "")
    assert "Loading best validating checkpoint from {}".format(tmp_path / "de") in step1.output
    assert "Test on {} - WER:".format(csv) in step1.output
    values = tensors(tmp_path / "de")
    assert values["layer_6/bias"].shape == (32,)
    assert not any(layer_of_variable(n) in (1, 2, 3) and is_adam_slot(n) for n in values)

    # Step 2: everything trainable, starting from step 1's checkpoint: the missing Adam slots are initialised.
    step2 = transfer(tmp_path / "de", tmp_path / "de2", csv, epochs=1)
    assert "Initialising 12 Adam slot(s) missing" in step2.output  # 6 variables x (Adam, Adam_1)
    assert "layer_1/weights/Adam" in step2.output
    assert all(name + "/Adam" in tensors(tmp_path / "de2") for name in ("layer_1/weights", "layer_3/bias"))


@pytest.mark.slow
def test_alphabet_mismatch_without_drop_names_sizes_and_flag(tmp_path, english_model, ldc_dir):
    result = transfer(english_model, tmp_path / "de", str(ldc_dir / "ldc93s1.csv"), check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.output
    message = [line for line in result.output.splitlines() if line.startswith("ERROR")]
    assert len(message) == 1
    assert "29 classes" in message[0] and "= 32" in message[0] and "--drop_source_layers 1" in message[0]
    assert not (tmp_path / "de" / "checkpoint").exists()


@pytest.mark.slow
def test_n_hidden_mismatch_is_one_clear_message(tmp_path, english_model, ldc_dir):
    result = run_module("deepspeech_freeze.train", "--load_checkpoint_dir", english_model, "--save_checkpoint_dir",
                        tmp_path / "x", "--train_files", str(ldc_dir / "ldc93s1.csv"), "--epochs", "1",
                        "--n_hidden", "64", "--noshow_progressbar", "--alphabet_config_path", ENGLISH, check=False)
    assert result.returncode == 2 and "Traceback" not in result.output
    assert "n_hidden 100" in result.output and "--n_hidden 100" in result.output


@pytest.mark.slow
def test_freezing_a_dropped_layer_is_rejected(tmp_path, english_model, ldc_dir):
    result = transfer(english_model, tmp_path / "x", str(ldc_dir / "ldc93s1.csv"), "--drop_source_layers", "2",
                      "--freeze_layers", "1-5", check=False)
    assert result.returncode == 2 and "overlap on layer(s) 5" in result.output
    both = transfer(english_model, tmp_path / "x", str(ldc_dir / "ldc93s1.csv"), "--drop_source_layers", "1",
                    "--reinit_layers", "1", check=False)
    assert both.returncode == 2 and "give only one" in both.output


def test_release_layout_checkpoint_loads_on_cpu(tmp_path, english_model, ldc_dir):
    source = tf.compat.v1.train.latest_checkpoint(str(english_model))
    release = cudnn_format.write_release_layout(source, str(tmp_path / "release"))
    names = set(tf.compat.v1.train.NewCheckpointReader(release).get_variable_to_shape_map())
    assert cudnn_format.OPAQUE in names and cudnn_format.OPAQUE + "/Adam_1" in names
    assert "learning_rate" not in names and cudnn_format.CANONICAL + "kernel/Adam" not in names

    result = transfer(tmp_path / "release", tmp_path / "de", str(ldc_dir / "ldc93s1.csv"), "--load_cudnn",
                      "--drop_source_layers", "1", "--freeze_layers", "1-4", "--learning_rate", "0.0005", epochs=1)
    assert "Initializing variable: learning_rate (from --learning_rate)" in result.output
    assert "frozen layers 1-4 unchanged (bit-identical)" in result.output
    assert float(tensors(tmp_path / "de")["learning_rate"]) == pytest.approx(0.0005)


def test_opaque_only_checkpoint_is_converted(tmp_path, english_model):
    source = tf.compat.v1.train.latest_checkpoint(str(english_model))
    original = tensors(english_model)
    release = cudnn_format.write_release_layout(source, str(tmp_path / "release"))
    view = CheckpointView(release)
    assert not view.derived  # canonical copies present: used as they are
    # Strip the canonical copies: the view derives them from the opaque buffer.
    reader = tf.compat.v1.train.NewCheckpointReader(release)
    graph = tf.Graph()
    with graph.as_default():
        kept = [tf.compat.v1.Variable(reader.get_tensor(n), name=n) for n in reader.get_variable_to_shape_map()
                if not n.startswith(cudnn_format.CANONICAL)]
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            path = tf.compat.v1.train.Saver(kept).save(session, str(tmp_path / "opaque" / "best_dev"), global_step=3)
    view = CheckpointView(path)
    for name in ("kernel", "bias"):
        np.testing.assert_allclose(view.get_tensor(cudnn_format.CANONICAL + name),
                                   original[cudnn_format.CANONICAL + name], rtol=0, atol=1e-6)
    assert view.shapes[cudnn_format.CANONICAL + "kernel"] == [200, 400]


@pytest.mark.slow
def test_drop_source_layers_five_keeps_beta2_power(tmp_path, english_model, ldc_dir):
    """DeepSpeech's substring match re-initialised beta2_power with N=5; scope matching does not."""
    result = transfer(english_model, tmp_path / "t", str(ldc_dir / "ldc93s1.csv"), "--drop_source_layers", "5",
                      alphabet=TINY, epochs=1)
    assert "Loading variable from checkpoint: beta2_power" in result.output
    assert "Initializing variable: beta2_power" not in result.output
    for layer in range(2, 7):
        assert "Initializing variable: {}/".format(SCOPE_OF_LAYER[layer]) in result.output
    assert "Loading variable from checkpoint: layer_1/weights" in result.output
