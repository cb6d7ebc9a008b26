"""Export and inference, checked against the real consumers.

The LDC93S1 smoke model (DeepSpeech's bin/run-ldc93s1.sh: n_hidden 100, 200 epochs, batch 1) is trained once, then:

* the exported ``output_graph.pb`` has DeepSpeech 0.7.4's node names, shapes and metadata, and the stock
  ``deepspeech==0.7.4`` client transcribes LDC93S1 with it exactly, without and with a scorer package;
* the ``.tflite`` export loads in ``tf.lite.Interpreter`` and, with the stock ``deepspeech-tflite==0.7.4`` runtime
  (installed into a separate directory, since both wheels are the ``deepspeech`` module), transcribes exactly;
* ``python -m deepspeech_freeze.transcribe`` and ``train --one_shot_infer`` print the sentence;
* bad input ends with one ``ERROR:`` line and no traceback.
"""
import collections
import json
import os
import shutil
import subprocess
import sys
import wave

import numpy as np
import pytest
import tensorflow as tf

from conftest import ENGLISH, GERMAN, LDC_DIR, LDC_TRANSCRIPT, ROOT, run_module
import stacks

# Export targets the stock 0.7.4 clients (Python 3.7 wheels); on TF 2 it stops at start-up (test_tf2_stack.py).
pytestmark = [pytest.mark.slow,
              stacks.only_on("tf1", "export and the stock deepspeech 0.7.4 clients are the TF 1.15 stack's")]

N_HIDDEN = "100"
MODEL_FLAGS = ["--n_hidden", N_HIDDEN, "--alphabet_config_path", ENGLISH, "--noshow_progressbar"]
TFLITE_WHEEL = "deepspeech-tflite==0.7.4"

Trained = collections.namedtuple("Trained", "folder checkpoints wav csv")


@pytest.fixture(scope="session")
def ldc93s1_trained(tmp_path_factory):
    """DeepSpeech's LDC93S1 smoke test, run as users run it: bin/run-ldc93s1.sh (n_hidden 100, 200 epochs, batch 1,
    test on the training utterance)."""
    folder = tmp_path_factory.mktemp("export_ldc93s1")
    result = subprocess.run([os.path.join(ROOT, "bin", "run-ldc93s1.sh")], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, timeout=900,
                            env=dict(os.environ, LDC93S1_DIR=str(folder), DSF_VENV_PYTHON=sys.executable,
                                     PYTHONPATH=ROOT))
    assert result.returncode == 0, result.stdout[-3000:]
    return Trained(folder, folder / "checkpoints", str(folder / "LDC93S1.wav"), str(folder / "ldc93s1.csv")), \
        result.stdout


@pytest.fixture(scope="session")
def ldc93s1_model(ldc93s1_trained):
    return ldc93s1_trained[0]


def test_ldc93s1_smoke_test_decodes_the_exact_sentence(ldc93s1_trained):
    _, output = ldc93s1_trained
    assert "Test on {} - WER: 0.000000, CER: 0.000000".format(ldc93s1_trained[0].csv) in output
    assert ' - res: "{}"'.format(LDC_TRANSCRIPT) in output


@pytest.fixture(scope="session")
def exported_pb(ldc93s1_model):
    """The .pb export of the smoke model, with a chosen beam width and language to find in the metadata."""
    export_dir = ldc93s1_model.folder / "export_pb"
    result = run_module("deepspeech_freeze.export", "--checkpoint_dir", ldc93s1_model.checkpoints,
                        "--export_dir", export_dir, "--export_beam_width", "123", "--export_language", "en-US",
                        "--export_author_id", "tester", "--export_model_name", "ldc", *MODEL_FLAGS)
    assert "Models exported at" in result.output
    return export_dir


@pytest.fixture(scope="session")
def exported_tflite(ldc93s1_model):
    export_dir = ldc93s1_model.folder / "export_tflite"
    run_module("deepspeech_freeze.export", "--checkpoint_dir", ldc93s1_model.checkpoints, "--export_dir",
               export_dir, "--export_tflite", *MODEL_FLAGS)
    return export_dir


# A stock-client run in its own process: libdeepspeech.so carries its own TensorFlow, which must not meet the one
# imported here, and the TFLite runtime is the same ``deepspeech`` module from another directory.
CLIENT = """
import json, sys, wave
import numpy as np
import deepspeech
from deepspeech import Model
model_path, wav_path, scorer = sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else ""
model = Model(model_path)
if scorer:
    model.enableExternalScorer(scorer)
with wave.open(wav_path) as handle:
    audio = np.frombuffer(handle.readframes(handle.getnframes()), np.int16)
print(json.dumps({"module": deepspeech.__file__, "sample_rate": model.sampleRate(), "beam_width": model.beamWidth(),
                  "transcript": model.stt(audio)}))
"""


def stock_client(model_path, wav, scorer="", runtime_dir=None):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if runtime_dir:
        env["PYTHONPATH"] = str(runtime_dir)
    result = subprocess.run([sys.executable, "-c", CLIENT, str(model_path), str(wav), str(scorer)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def read_int16(path):
    with wave.open(str(path)) as handle:
        return np.frombuffer(handle.readframes(handle.getnframes()), np.int16)


def load_graph_def(path):
    graph_def = tf.compat.v1.GraphDef()
    with open(str(path), "rb") as handle:
        graph_def.ParseFromString(handle.read())
    return graph_def


def placeholder_shape(node):
    return [dim.size for dim in node.attr["shape"].shape.dim]


def constant_value(node):
    return tf.make_ndarray(node.attr["value"].tensor)


# ----------------------------------------------------------------------------------------------------------------
# (a) the frozen graph


def test_pb_has_deepspeech_nodes_shapes_and_metadata(exported_pb):
    from deepspeech_freeze.alphabet import Alphabet
    nodes = {node.name: node for node in load_graph_def(exported_pb / "output_graph.pb").node}
    expected_placeholders = {"input_samples": ([512], tf.float32), "input_node": ([1, 16, 19, 26], tf.float32),
                             "input_lengths": ([1], tf.int32), "previous_state_c": ([1, 100], tf.float32),
                             "previous_state_h": ([1, 100], tf.float32)}
    placeholders = {name for name, node in nodes.items() if node.op == "Placeholder"}
    assert placeholders == set(expected_placeholders)
    for name, (shape, dtype) in expected_placeholders.items():
        assert placeholder_shape(nodes[name]) == shape, name
        assert nodes[name].attr["dtype"].type == dtype.as_datatype_enum, name
    assert nodes["logits"].op == "Softmax" and nodes["logits"].input == ["raw_logits"]
    for name in ("mfccs", "new_state_c", "new_state_h"):
        assert nodes[name].op == "Identity", name
    assert not [n.name for n in nodes.values() if n.op in ("VariableV2", "VarHandleOp", "Assign")]
    # Only ops the stock client has kernels for: static shape arithmetic is folded into constants.
    assert not [n.name for n in nodes.values() if n.op in ("StridedSlice", "Shape", "Range")]
    metadata = {name[len("metadata_"):]: constant_value(node) for name, node in nodes.items()
                if name.startswith("metadata_")}
    assert set(metadata) == {"version", "sample_rate", "feature_win_len", "feature_win_step", "beam_width",
                             "alphabet", "language"}
    assert all(value.shape == (1,) for value in metadata.values())
    assert metadata["version"][0] == 6
    assert metadata["sample_rate"][0] == 16000
    assert metadata["feature_win_len"][0] == 32 and metadata["feature_win_step"][0] == 20
    assert metadata["beam_width"][0] == 123
    assert metadata["alphabet"][0] == Alphabet(ENGLISH).serialize()
    assert metadata["language"][0] == b"en-US"

    card = (exported_pb / "tester_ldc_0.0.1.md").read_text()
    assert card.startswith("---\nauthor: tester\nmodel_name: ldc\nmodel_version: 0.0.1\n")
    assert "runtime: tensorflow\n" in card and "language: en-US\n" in card


def test_pb_graph_matches_checkpoint_model(exported_pb, ldc93s1_model):
    """Feeding the .pb chunk by chunk (state carried) gives the same probabilities as the training-style graph."""
    from deepspeech_freeze.transcribe import build_graph
    from deepspeech_freeze.config import Config, ModelConfig
    from deepspeech_freeze.alphabet import Alphabet
    from deepspeech_freeze import checkpoints
    from deepspeech_freeze.audio import wav_file_to_mfccs
    from deepspeech_freeze.model import overlapping_windows

    config = Config(ModelConfig(alphabet=Alphabet(ENGLISH), n_hidden=100, dropout_rates=(0.0,) * 6))
    with tf.Graph().as_default():
        path, probs, n_frames = build_graph(config)
        mfccs, _ = wav_file_to_mfccs(path, 512, 320, 26, 8000.0)
        windows = overlapping_windows(mfccs[None])
        with tf.compat.v1.Session() as session:
            checkpoints.restore_for_evaluation(session, str(ldc93s1_model.checkpoints))
            expected, frames, features = session.run([probs, n_frames, windows],
                                                     feed_dict={path: ldc93s1_model.wav})
    expected, frames, features = expected[0], int(frames[0]), features[0]

    with tf.Graph().as_default() as graph:
        tf.compat.v1.import_graph_def(load_graph_def(exported_pb / "output_graph.pb"), name="")
        state_c = state_h = np.zeros([1, 100], np.float32)
        got = []
        with tf.compat.v1.Session(graph=graph) as session:
            for start in range(0, frames, 16):
                chunk = features[start:start + 16]
                length = len(chunk)
                chunk = np.pad(chunk, [(0, 16 - length), (0, 0), (0, 0)])
                out, state_c, state_h = session.run(["logits:0", "new_state_c:0", "new_state_h:0"], feed_dict={
                    "input_node:0": chunk[None], "input_lengths:0": [length], "previous_state_c:0": state_c,
                    "previous_state_h:0": state_h})
                got.append(out[:length, 0])
    np.testing.assert_allclose(np.concatenate(got), expected, atol=1e-5)


def test_dynamic_shapes_follow_deepspeech(tmp_path):
    """n_steps -1: dynamic time axis; batch <= 0: dynamic batch without state I/O (and it needs n_steps -1)."""
    from deepspeech_freeze.alphabet import Alphabet
    from deepspeech_freeze.config import Config, ModelConfig
    from deepspeech_freeze.errors import UserError
    from deepspeech_freeze.export import create_inference_graph

    config = Config(ModelConfig(alphabet=Alphabet(ENGLISH), n_hidden=100, dropout_rates=(0.0,) * 6))
    with tf.Graph().as_default():
        inputs, outputs, _ = create_inference_graph(config, batch_size=1, n_steps=-1)
        assert inputs["input"].shape.as_list() == [1, None, 19, 26]
        assert set(outputs) == {"outputs", "new_state_c", "new_state_h", "mfccs"}
    with tf.Graph().as_default():
        inputs, outputs, _ = create_inference_graph(config, batch_size=0, n_steps=-1)
        assert set(inputs) == {"input", "input_lengths"} and set(outputs) == {"outputs"}
        assert inputs["input"].shape.as_list() == [None, None, 19, 26]
        names = {op.name for op in tf.compat.v1.get_default_graph().get_operations()}
        assert "previous_state_c" not in names and "new_state_c" not in names
    for kwargs in ({"batch_size": 0, "n_steps": 16}, {"batch_size": 0, "n_steps": -1, "tflite": True},
                   {"batch_size": 1, "n_steps": -1, "tflite": True}):
        with tf.Graph().as_default(), pytest.raises(UserError):
            create_inference_graph(config, **kwargs)


# ----------------------------------------------------------------------------------------------------------------
# (b) the stock client


def test_stock_client_transcribes_exported_pb(exported_pb, ldc93s1_model):
    result = stock_client(exported_pb / "output_graph.pb", ldc93s1_model.wav)
    assert "tflite" not in result["module"]
    assert result["sample_rate"] == 16000 and result["beam_width"] == 123
    assert result["transcript"] == LDC_TRANSCRIPT


def test_stock_client_with_scorer(exported_pb, ldc93s1_model, ldc_scorer):
    result = stock_client(exported_pb / "output_graph.pb", ldc93s1_model.wav, scorer=ldc_scorer)
    assert result["transcript"] == LDC_TRANSCRIPT


# ----------------------------------------------------------------------------------------------------------------
# (c) TFLite


@pytest.fixture(scope="session")
def tflite_runtime(tmp_path_factory):
    """A directory holding the stock deepspeech-tflite 0.7.4 module: $DSF_TFLITE_RUNTIME, .venv/tflite-runtime (which
    bin/install.sh --test installs), or installed with pip into a temporary directory."""
    for candidate in (os.environ.get("DSF_TFLITE_RUNTIME"), os.path.join(ROOT, ".venv", "tflite-runtime")):
        if candidate and os.path.isfile(os.path.join(candidate, "deepspeech", "__init__.py")):
            return candidate
    target = str(tmp_path_factory.mktemp("tflite_runtime"))
    try:
        result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", target,
                                 TFLITE_WHEEL], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                universal_newlines=True, timeout=300)
    except subprocess.TimeoutExpired:
        pytest.fail("pip install {} timed out: run bin/install.sh --test".format(TFLITE_WHEEL))
    assert result.returncode == 0, "{} could not be installed (run bin/install.sh --test): {}".format(
        TFLITE_WHEEL, result.stdout.strip()[-300:])
    return target


def test_tflite_export_loads_in_interpreter(exported_tflite):
    path = exported_tflite / "output_graph.tflite"
    assert path.is_file() and not (exported_tflite / "output_graph.pb").exists()
    assert "runtime: tflite\n" in (exported_tflite / "author_model_0.0.1.md").read_text()
    interpreter = tf.lite.Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    inputs = {d["name"]: list(d["shape"]) for d in interpreter.get_input_details()}
    outputs = {d["name"]: d for d in interpreter.get_output_details()}
    assert inputs == {"input_node": [1, 16, 19, 26], "previous_state_c": [1, 100], "previous_state_h": [1, 100],
                      "input_samples": [512]}
    assert list(outputs["logits"]["shape"]) == [16, 29]  # batch axis squeezed
    assert {"new_state_c", "new_state_h", "mfccs", "metadata_version", "metadata_alphabet"} <= set(outputs)
    interpreter.invoke()
    assert interpreter.get_tensor(outputs["metadata_version"]["index"])[0] == 6
    assert interpreter.get_tensor(outputs["metadata_sample_rate"]["index"])[0] == 16000


def test_stock_tflite_runtime_transcribes(exported_tflite, ldc93s1_model, tflite_runtime):
    result = stock_client(exported_tflite / "output_graph.tflite", ldc93s1_model.wav, runtime_dir=tflite_runtime)
    assert result["module"].startswith(str(tflite_runtime))
    assert result["transcript"] == LDC_TRANSCRIPT


def test_export_zip_and_remove_export(ldc93s1_model, tmp_path):
    export_dir = tmp_path / "en"
    export_dir.mkdir()
    (export_dir / "stale.txt").write_text("old")
    result = run_module("deepspeech_freeze.export", "--checkpoint_dir", ldc93s1_model.checkpoints, "--export_dir",
                        export_dir, "--export_zip", *MODEL_FLAGS, check=False)
    assert result.returncode == 2 and "ERROR: --export_zip needs an empty --export_dir" in result.output
    assert (export_dir / "stale.txt").exists()
    run_module("deepspeech_freeze.export", "--checkpoint_dir", ldc93s1_model.checkpoints, "--export_dir",
               export_dir, "--export_zip", "--remove_export", *MODEL_FLAGS)
    assert not (export_dir / "stale.txt").exists()
    assert (export_dir / "output_graph.tflite").is_file()
    import zipfile
    with zipfile.ZipFile(str(tmp_path / "en.zip")) as archive:
        assert {"output_graph.tflite", "author_model_0.0.1.md"} <= set(archive.namelist())


# ----------------------------------------------------------------------------------------------------------------
# (d) transcription from a checkpoint


def test_transcribe_cli_file_directory_and_jsonl(ldc93s1_model, tmp_path):
    result = run_module("deepspeech_freeze.transcribe", "--checkpoint_dir", ldc93s1_model.checkpoints, "--audio",
                        ldc93s1_model.wav, *MODEL_FLAGS)
    assert result.stdout.strip().splitlines() == [LDC_TRANSCRIPT]

    folder = tmp_path / "wavs"
    folder.mkdir()
    for name in ("b.wav", "a.wav"):
        shutil.copy(ldc93s1_model.wav, str(folder / name))
    (folder / "notes.txt").write_text("not audio")
    output = tmp_path / "out.jsonl"
    result = run_module("deepspeech_freeze.transcribe", "--checkpoint_dir", ldc93s1_model.checkpoints, "--audio",
                        folder, "--output", output, *MODEL_FLAGS)
    assert result.stdout.strip().splitlines() == ["{}\t{}".format(folder / name, LDC_TRANSCRIPT)
                                                  for name in ("a.wav", "b.wav")]
    lines = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert lines == [{"wav_filename": str(folder / name), "transcript": LDC_TRANSCRIPT} for name in ("a.wav", "b.wav")]


def test_transcribe_with_scorer(ldc93s1_model, ldc_scorer):
    result = run_module("deepspeech_freeze.transcribe", "--checkpoint_dir", ldc93s1_model.checkpoints, "--audio",
                        ldc93s1_model.wav, "--scorer_path", ldc_scorer, *MODEL_FLAGS)
    assert result.stdout.strip().splitlines() == [LDC_TRANSCRIPT]


def test_one_shot_infer(ldc93s1_model):
    result = run_module("deepspeech_freeze.train", "--checkpoint_dir", ldc93s1_model.checkpoints,
                        "--one_shot_infer", ldc93s1_model.wav, *MODEL_FLAGS)
    assert result.stdout.strip().splitlines()[-1] == LDC_TRANSCRIPT


# ----------------------------------------------------------------------------------------------------------------
# (e) bad input


def one_error_line(result):
    errors = [line for line in result.output.splitlines() if line.startswith("ERROR")]
    assert result.returncode == 2, result.output[-3000:]
    assert "Traceback" not in result.output, result.output[-3000:]
    assert len(errors) == 1, result.output[-3000:]
    return errors[0]


def test_export_without_checkpoint(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    error = one_error_line(run_module("deepspeech_freeze.export", "--checkpoint_dir", empty, "--export_dir",
                                      tmp_path / "out", *MODEL_FLAGS, check=False))
    assert "no checkpoint found in {}".format(empty) in error
    assert not (tmp_path / "out").exists()


def test_export_with_wrong_alphabet(ldc93s1_model, tmp_path):
    result = run_module("deepspeech_freeze.export", "--checkpoint_dir", ldc93s1_model.checkpoints, "--export_dir",
                        tmp_path / "out", "--n_hidden", N_HIDDEN, "--alphabet_config_path", GERMAN, check=False)
    error = one_error_line(result)
    assert "29 classes" in error and "= 32" in error and "alphabet" in error
    assert not (tmp_path / "out").exists()


def test_export_bad_shape_flags(ldc93s1_model, tmp_path):
    error = one_error_line(run_module("deepspeech_freeze.export", "--checkpoint_dir", ldc93s1_model.checkpoints,
                                      "--export_dir", tmp_path / "out", "--export_batch_size", "0", *MODEL_FLAGS,
                                      check=False))
    assert "--n_steps -1" in error


@pytest.mark.parametrize("kind", ["random_bytes", "missing", "wrong_rate"])
def test_transcribe_unreadable_audio(ldc93s1_model, tmp_path, kind):
    path = tmp_path / "bad.wav"
    if kind == "random_bytes":
        path.write_bytes(np.random.RandomState(0).bytes(4000))
    elif kind == "wrong_rate":
        shutil.copy(os.path.join(LDC_DIR, "LDC93S1_pcms16le_1_8000.wav"), str(path))
    result = run_module("deepspeech_freeze.transcribe", "--checkpoint_dir", ldc93s1_model.checkpoints, "--audio",
                        path, *MODEL_FLAGS, check=False)
    error = one_error_line(result)
    assert "audio file {}".format(path) in error
    assert {"random_bytes": "not a PCM WAV file", "missing": "does not exist", "wrong_rate": "8000 Hz"}[kind] in error


def test_transcribe_without_checkpoint_or_with_wrong_alphabet(ldc93s1_model, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    error = one_error_line(run_module("deepspeech_freeze.transcribe", "--checkpoint_dir", empty, "--audio",
                                      ldc93s1_model.wav, *MODEL_FLAGS, check=False))
    assert "no checkpoint found" in error
    error = one_error_line(run_module("deepspeech_freeze.transcribe", "--checkpoint_dir",
                                      ldc93s1_model.checkpoints, "--audio", ldc93s1_model.wav, "--n_hidden",
                                      N_HIDDEN, "--alphabet_config_path", GERMAN, check=False))
    assert "29 classes" in error and "alphabet" in error
