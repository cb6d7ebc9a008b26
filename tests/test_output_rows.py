"""--reuse_output_rows (issue 21, item 5): layer 6's rows of characters both alphabets share, and the blank, start
from the source's rows, bit for bit; the new characters' rows are initialised; it works with freezing and the
frozen proof, and the export runs in the stock client. English (28 labels) -> German (31: adds ä ö ü, and moves the
apostrophe from index 27 to 30), from conftest's English model.
"""
import os
import re

import numpy as np
import pytest

from conftest import ENGLISH, GERMAN, run_module
import stacks

from deepspeech_freeze import checkpoints, output_rows
from deepspeech_freeze.alphabet import Alphabet
from deepspeech_freeze.model import dense_variables
from deepspeech_freeze.tfcompat import tf


def test_shared_rows_equal_the_source_bit_for_bit_and_new_rows_are_initialised(english_model):
    source, target = Alphabet(ENGLISH).labels, Alphabet(GERMAN).labels
    path = checkpoints.find_checkpoint(str(english_model), "best") or checkpoints.find_checkpoint(
        str(english_model), "last")
    reader = tf.compat.v1.train.NewCheckpointReader(path)
    weights_src, bias_src = reader.get_tensor("layer_6/weights"), reader.get_tensor("layer_6/bias")
    with tf.Graph().as_default():
        dense_variables("layer_6", weights_src.shape[0], len(target) + 1, trainable=True)
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            variables = {v.op.name: v for v in tf.compat.v1.global_variables()}
            initial = session.run(variables["layer_6/weights"])
            shared = output_rows.reuse(session, path, source, target)
            weights, bias = session.run([variables["layer_6/weights"], variables["layer_6/bias"]])
    assert shared == [label for label in target if label in source] and len(shared) == 28
    for j, label in enumerate(target):
        if label in source:
            i = source.index(label)
            assert weights[:, j].tobytes() == weights_src[:, i].tobytes() and bias[j] == bias_src[i]
        else:  # ä ö ü: DeepSpeech's initialisation (Glorot uniform, zero bias), untouched
            assert label in "äöü"
            assert np.array_equal(weights[:, j], initial[:, j]) and bias[j] == 0.0 and np.any(weights[:, j] != 0)
    assert weights[:, -1].tobytes() == weights_src[:, -1].tobytes() and bias[-1] == bias_src[-1]  # the blank
    # The apostrophe moved (27 -> 30): its row followed it.
    assert weights[:, 30].tobytes() == weights_src[:, 27].tobytes()


def test_row_map_and_bad_source_alphabet(english_model, tmp_path):
    assert output_rows.row_map(["a", "b", "c"], ["c", "x", "a"]) == [(0, 2), (2, 0), (3, 3)]
    with pytest.raises(Exception, match="--source_alphabet_config_path"):
        output_rows.source_labels(str(tmp_path))  # no run record there


def test_transfer_with_reuse_freezing_proof_and_stock_client(english_model, ldc_dir, tmp_path):
    csv_path = ldc_dir / "ldc93s1.csv"
    save = tmp_path / "german"
    result = run_module("deepspeech_freeze.train", "--train_files", csv_path, "--epochs", "1", "--n_hidden", "100",
                        "--noshow_progressbar", "--load_checkpoint_dir", english_model, "--save_checkpoint_dir",
                        save, "--alphabet_config_path", GERMAN, "--drop_source_layers", "1", "--freeze_layers", "1-3",
                        "--reuse_output_rows")
    assert "Reused output rows: 28 of 31 labels" in result.output
    assert re.search(r"frozen layers 1-3 unchanged \(bit-identical\)", result.output), result.output[-3000:]
    # Without layer 6 re-initialised the option is refused before anything runs.
    refused = run_module("deepspeech_freeze.train", "--train_files", csv_path, "--epochs", "1", "--n_hidden", "100",
                         "--load_checkpoint_dir", english_model, "--save_checkpoint_dir", tmp_path / "x",
                         "--alphabet_config_path", ENGLISH, "--reuse_output_rows", check=False)
    assert refused.returncode == 2 and "--drop_source_layers 1" in refused.output
    # The export of the transferred model runs in the stock client (its Python is the TF 1.15 stack's).
    export_dir = tmp_path / "export"
    stacks.run_module("tf1", "deepspeech_freeze.export", "--checkpoint_dir", save, "--export_dir", export_dir,
                      "--n_hidden", "100")
    measured = run_module("deepspeech_freeze.evaluate_export", "--model", export_dir / "output_graph.pb",
                          "--test_files", csv_path, "--n_hidden", "100", "--client_python", stacks.require("tf1"))
    assert re.search(r"^Exported model .*: WER [0-9.]+, CER [0-9.]+$", measured.stdout, re.M)


@pytest.mark.parametrize("freeze", ["", "1-5"])
def test_reuse_with_no_and_with_the_most_freezing(freeze, english_model, ldc_dir, tmp_path):
    """Transfer 0 frozen and layers 1-5 frozen (1-3 is above); the proof covers every frozen layer."""
    extra = ["--freeze_layers", freeze] if freeze else []
    result = run_module("deepspeech_freeze.train", "--train_files", ldc_dir / "ldc93s1.csv", "--epochs", "1",
                        "--n_hidden", "100", "--noshow_progressbar", "--load_checkpoint_dir", english_model,
                        "--save_checkpoint_dir", tmp_path / "de", "--alphabet_config_path", GERMAN,
                        "--drop_source_layers", "1", "--reuse_output_rows", *extra)
    assert "Reused output rows: 28 of 31 labels" in result.output
    assert ("frozen layers 1-5 unchanged (bit-identical)" in result.output) == bool(freeze)
