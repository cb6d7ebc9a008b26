"""The release-checkpoint verifier against the release's variable list, which is data (from the DeepSpeech facts),
not something the code computes: a checkpoint with exactly those names and shapes passes; one variable missing,
one too many, or one of another shape fails with a message naming it."""
import os
import subprocess
import sys

import pytest
import tensorflow as tf

from conftest import ENGLISH, ROOT
from deepspeech_freeze import cudnn_format
from deepspeech_freeze.alphabet import Alphabet
from deepspeech_freeze.errors import UserError
from deepspeech_freeze.release import VARIABLES_FILE, read_release_variables, verify_release

CHECKPOINT, RELEASE = read_release_variables()


def write_checkpoint(folder, shapes, name=CHECKPOINT):
    """A real TF checkpoint holding ``shapes`` (zeros) under ``folder/name`` with a best_dev_checkpoint state file.

    The verifier reads names and shapes only, so the tensors are uint8: the release's 175 million values then
    take 175 MB instead of 700 MB.
    """
    prefix, _, step = name.rpartition("-")
    graph = tf.Graph()
    with graph.as_default():
        variables = [tf.compat.v1.get_variable(n, shape, dtype=tf.uint8, initializer=tf.compat.v1.zeros_initializer())
                     for n, shape in sorted(shapes.items())]
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.train.Saver(variables).save(session, os.path.join(str(folder), prefix),
                                                     global_step=int(step), latest_filename="best_dev_checkpoint")
    return str(folder)


def changed(**changes):
    """The release's shapes with ``changes`` applied (a shape, or None to remove the variable)."""
    shapes = dict(RELEASE)
    for name, shape in changes.items():
        name = name.replace("__", "/")
        if shape is None:
            shapes.pop(name)
        else:
            shapes[name] = shape
    return shapes


def test_the_list_is_the_release_layout():
    """The data file as the facts describe it: 38 variables, no learning_rate, 29 outputs, slots like their
    variables, and an opaque buffer of cuDNN's size for 2048 units (the one computed entry)."""
    assert CHECKPOINT == "best_dev-732522" and len(RELEASE) == 38
    assert "learning_rate" not in RELEASE
    assert RELEASE["layer_6/bias"] == [Alphabet(ENGLISH).size + 1]
    for name, shape in RELEASE.items():
        if name.endswith(("/Adam", "/Adam_1")):
            assert RELEASE[name.rsplit("/", 1)[0]] == shape, name
    assert RELEASE[cudnn_format.OPAQUE] == [cudnn_format.opaque_size(2048, 2048)]
    assert not any(name.startswith(cudnn_format.CANONICAL) and name.endswith(("/Adam", "/Adam_1"))
                   for name in RELEASE)


def test_release_layout_writer_produces_the_listed_names(tmp_path, english_model):
    """cudnn_format.write_release_layout (used to test loading a release-like checkpoint) writes exactly the
    release's variable names; its shapes are the small model's."""
    source = tf.compat.v1.train.latest_checkpoint(str(english_model))
    path = cudnn_format.write_release_layout(source, str(tmp_path / "release"))
    assert set(tf.compat.v1.train.NewCheckpointReader(path).get_variable_to_shape_map()) == set(RELEASE)


@pytest.fixture(scope="module")
def release_like(tmp_path_factory):
    return write_checkpoint(tmp_path_factory.mktemp("release"), RELEASE)


def test_matching_checkpoint_passes_and_the_cli_says_ok(release_like):
    assert verify_release(release_like) == os.path.join(release_like, CHECKPOINT)
    result = subprocess.run([sys.executable, "-m", "deepspeech_freeze.release", "--checkpoint_dir", release_like],
                            cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "OK: {} is DeepSpeech's 0.7.4 release checkpoint (38 variables)".format(
        os.path.join(release_like, CHECKPOINT)) in result.stdout


SLOW = pytest.mark.slow  # each case writes a 175 MB checkpoint; make test-fast keeps one per kind of problem


@pytest.mark.parametrize("shapes, problem", [
    (changed(layer_5__bias__Adam_1=None), "missing layer_5/bias/Adam_1"),
    pytest.param(changed(beta2_power=None), "missing beta2_power", marks=SLOW),
    (changed(learning_rate=[]), "not in the release learning_rate"),
    pytest.param(changed(**{"layer_4__weights": [2048, 2048]}), "not in the release layer_4/weights", marks=SLOW),
    (changed(layer_6__weights=[2048, 32]), "wrong shape layer_6/weights [2048, 32] (release: [2048, 29])"),
    pytest.param(changed(layer_1__weights__Adam=[26, 2048]),
                 "wrong shape layer_1/weights/Adam [26, 2048] (release: [494, 2048])", marks=SLOW),
], ids=["missing-slot", "missing-beta2", "extra-learning-rate", "extra-layer-4", "wrong-output", "wrong-slot"])
def test_one_variable_off_fails_naming_it(tmp_path, shapes, problem):
    folder = write_checkpoint(tmp_path, shapes)
    with pytest.raises(UserError) as err:
        verify_release(folder)
    message = str(err.value)
    assert problem in message and "is not DeepSpeech's 0.7.4 release checkpoint" in message
    assert message.count(";") == 1  # exactly one problem reported, then the advice


def test_wrong_checkpoint_or_no_state_file(tmp_path):
    folder = write_checkpoint(tmp_path / "step", {"global_step": []}, name="best_dev-3")
    with pytest.raises(UserError, match="best_dev-3 is not best_dev-732522"):
        verify_release(folder)
    with pytest.raises(UserError, match="no best_dev_checkpoint state file"):
        verify_release(str(tmp_path))


@pytest.mark.slow
def test_cli_reports_a_wrong_checkpoint_in_one_line(tmp_path):
    folder = write_checkpoint(tmp_path, changed(layer_2__bias=[100]))
    result = subprocess.run([sys.executable, "-m", "deepspeech_freeze.release", "--checkpoint_dir", folder],
                            cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and "wrong shape layer_2/bias [100] (release: [2048])" in errors[0]


def test_the_variables_file_is_in_the_package():
    assert os.path.dirname(VARIABLES_FILE) == os.path.join(ROOT, "deepspeech_freeze")
    assert "release_0.7.4_variables.txt" in open(os.path.join(ROOT, "setup.py")).read()
