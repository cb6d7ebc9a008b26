"""The deployed artefact measured (issue 21, item 2): evaluate_export runs the stock deepspeech 0.7.4 clients on the
exported .pb and .tflite (float and quantised) and prints their WER/CER beside the checkpoint's.

conftest's English model (n_hidden 100) is exported three ways once per session, by the TF 1.15 stack (export and the
stock clients are its: the clients have Python 3.5-3.8 wheels only). On the TF 2 stack the tool runs with
``--client_python`` pointing at the TF 1.15 interpreter.
"""
import json
import os
import re
import subprocess
import sys

import pytest

from conftest import ENGLISH, LDC_DIR, LDC_TRANSCRIPT, run_module
import stacks

TF1_ONLY = stacks.only_on("tf1", "the stock deepspeech 0.7.4 clients run on the TF 1.15 stack's Python")

FLAGS = ["--n_hidden", "100", "--alphabet_config_path", ENGLISH]


@pytest.fixture(scope="session")
def exports(english_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("exports")
    made = {}
    for name, extra in (("pb", []), ("tflite", ["--export_tflite"]),
                        ("float", ["--export_tflite", "--noexport_quantize"])):
        stacks.run_module("tf1", "deepspeech_freeze.export", "--checkpoint_dir", english_model, "--export_dir", folder / name,
                   *extra, *FLAGS)
        made[name] = str(folder / name / ("output_graph.pb" if name == "pb" else "output_graph.tflite"))
    return made


def rates(output, label):
    found = re.search(r"^{} .*: WER ([0-9.]+), CER ([0-9.]+)$".format(label), output, re.M)
    assert found, output[-3000:]
    return float(found.group(1)), float(found.group(2))


@TF1_ONLY
def test_float_tflite_is_offered_and_larger_than_quantised(exports):
    assert os.path.getsize(exports["float"]) > 2.5 * os.path.getsize(exports["tflite"])


@TF1_ONLY
@pytest.mark.parametrize("kind", ["pb", "tflite", "float"])
def test_export_measured_by_the_stock_client_beside_the_checkpoint(kind, exports, english_model, ldc_dir,
                                                                   ldc_scorer, tmp_path):
    dump = tmp_path / "dump"
    result = run_module("deepspeech_freeze.evaluate_export", "--model", exports[kind], "--test_files",
                        ldc_dir / "ldc93s1.csv", "--scorer_path", ldc_scorer, "--checkpoint_dir", english_model,
                        "--dump", dump, *FLAGS)
    wer, _cer = rates(result.stdout, "Exported model")
    checkpoint_wer, _ = rates(result.stdout, "Checkpoint")
    assert ("TFLite client" in result.stdout) == (kind != "pb")
    # The dump holds the client's prediction; the printed WER is its error rate against the transcript.
    wav, prediction = (dump.parent / "dump.out").read_text(encoding="utf-8").rstrip("\n").split(" ", 1)
    assert wav == str(ldc_dir / "LDC93S1.wav")
    ref = LDC_TRANSCRIPT.split()
    from deepspeech_freeze.metrics import edit_distance
    assert abs(wer - min(1.0, edit_distance(ref, prediction.split()) / len(ref))) < 1e-6
    # The same prediction from the stock client called directly (a .pb needs no extra runtime).
    if kind == "pb":
        code = ("import sys, wave, numpy as np, deepspeech\nm = deepspeech.Model(sys.argv[1])\n"
                "m.enableExternalScorer(sys.argv[3])\nw = wave.open(sys.argv[2])\n"
                "print(m.stt(np.frombuffer(w.readframes(w.getnframes()), np.int16)))")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        direct = subprocess.run([sys.executable, "-c", code, exports["pb"], wav, ldc_scorer], env=env,
                                stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
        assert direct.rstrip("\n").splitlines()[-1] == prediction
        assert 0.0 <= checkpoint_wer <= 1.0


@TF1_ONLY
def test_bad_input(exports, ldc_dir, tmp_path):
    csv_path = ldc_dir / "ldc93s1.csv"
    result = run_module("deepspeech_freeze.evaluate_export", "--model", tmp_path / "none.pb", "--test_files",
                        csv_path, *FLAGS, check=False)
    assert result.returncode == 2 and "does not exist" in result.output and "Traceback" not in result.output
    result = run_module("deepspeech_freeze.evaluate_export", "--model", exports["tflite"], "--test_files", csv_path,
                        "--tflite_runtime", tmp_path, *FLAGS, check=False)
    assert result.returncode == 2 and "deepspeech-tflite==0.7.4" in result.output


@stacks.only_on("tf2", "the TF 2 stack reaches the stock client through --client_python")
def test_from_the_tf2_stack_with_the_tf1_client(exports, english_model, ldc_dir, ldc_scorer):
    common = ["--model", exports["pb"], "--test_files", ldc_dir / "ldc93s1.csv", "--scorer_path", ldc_scorer,
              "--checkpoint_dir", english_model, *FLAGS]
    result = run_module("deepspeech_freeze.evaluate_export", *common, check=False)
    assert result.returncode == 2 and "--client_python" in result.output and "Traceback" not in result.output
    result = run_module("deepspeech_freeze.evaluate_export", "--client_python", stacks.require("tf1"), *common)
    rates(result.stdout, "Exported model")
    rates(result.stdout, "Checkpoint")
