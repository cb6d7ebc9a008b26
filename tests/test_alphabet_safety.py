"""Alphabet safety (issue 21, item 4): a model is used with the alphabet recorded in its run.json, never with another
one of the same size in another order; and check_characters lists a corpus's characters and writes an alphabet.

The English model of conftest (n_hidden 100, LDC93S1) is reused; the "other" alphabet is English with two labels
swapped: the same size, so only the recorded labels can tell it apart.
"""
import json
import os
import shutil

import pytest

from conftest import ENGLISH, GERMAN, LDC_TRANSCRIPT, run_module, write_csv

from deepspeech_freeze import check_characters
from deepspeech_freeze.alphabet import Alphabet


def english_labels():
    return Alphabet(ENGLISH).labels


@pytest.fixture()
def swapped(tmp_path):
    """English with 'a' and 'b' swapped (same size, other order)."""
    labels = english_labels()
    i, j = labels.index("a"), labels.index("b")
    labels[i], labels[j] = labels[j], labels[i]
    path = tmp_path / "swapped.txt"
    path.write_text("".join(label + "\n" for label in labels), encoding="utf-8")
    return str(path)


def one_error(result):
    assert result.returncode == 2, result.output[-3000:]
    assert "Traceback" not in result.output, result.output[-3000:]
    errors = [line for line in result.output.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1, result.output[-3000:]
    return errors[0]


def test_evaluate_refuses_same_size_alphabet_in_another_order(english_model, ldc_dir, swapped):
    result = run_module("deepspeech_freeze.evaluate", "--checkpoint_dir", english_model, "--test_files",
                        ldc_dir / "ldc93s1.csv", "--n_hidden", "100", "--alphabet_config_path", swapped, check=False)
    error = one_error(result)
    assert "alphabet mismatch" in error and swapped in error and os.path.join(str(english_model), "run.json") in error
    assert "label 1 is 'a' there but 'b' here" in error
    # The unchanged alphabet still evaluates (the check is not a blanket refusal).
    run_module("deepspeech_freeze.evaluate", "--checkpoint_dir", english_model, "--test_files",
               ldc_dir / "ldc93s1.csv", "--n_hidden", "100", "--alphabet_config_path", ENGLISH)


def test_transcribe_refuses_a_different_alphabet(english_model, swapped):
    from conftest import LDC_DIR
    result = run_module("deepspeech_freeze.transcribe", "--checkpoint_dir", english_model, "--audio",
                        os.path.join(LDC_DIR, "LDC93S1.wav"), "--n_hidden", "100", "--alphabet_config_path", swapped,
                        check=False)
    assert "alphabet mismatch" in one_error(result)


def test_export_refuses_a_different_alphabet(english_model, swapped, tmp_path):
    result = run_module("deepspeech_freeze.export", "--checkpoint_dir", english_model, "--export_dir",
                        tmp_path / "out", "--n_hidden", "100", "--alphabet_config_path", swapped, check=False)
    assert "alphabet mismatch" in one_error(result)
    assert not (tmp_path / "out").exists()


def test_without_the_flag_the_recorded_alphabet_is_used(english_model, ldc_dir, swapped, tmp_path, ldc_scorer):
    """A model whose record says it was trained with the swapped alphabet: without --alphabet_config_path, the
    recorded labels decode it, with a scorer too (the log says so); given the default English file explicitly, it
    is refused."""
    copy = tmp_path / "model"
    shutil.copytree(str(english_model), str(copy))
    record = json.loads((copy / "run.json").read_text(encoding="utf-8"))
    record["alphabet"] = Alphabet(swapped).labels
    (copy / "run.json").write_text(json.dumps(record), encoding="utf-8")
    result = run_module("deepspeech_freeze.evaluate", "--checkpoint_dir", copy, "--test_files",
                        ldc_dir / "ldc93s1.csv", "--n_hidden", "100", "--noshow_progressbar", "--scorer_path",
                        ldc_scorer, "--beam_width", "16")
    assert "Using the alphabet recorded in {}".format(copy / "run.json") in result.output
    assert "Test on {} - WER".format(ldc_dir / "ldc93s1.csv") in result.output
    result = run_module("deepspeech_freeze.evaluate", "--checkpoint_dir", copy, "--test_files",
                        ldc_dir / "ldc93s1.csv", "--n_hidden", "100", "--alphabet_config_path", ENGLISH, check=False)
    assert "alphabet mismatch" in one_error(result)


def test_continued_run_and_transfer_keeping_layer_6_refuse_another_alphabet(english_model, ldc_dir, swapped,
                                                                            tmp_path):
    csv_path = ldc_dir / "ldc93s1.csv"
    common = ["--train_files", csv_path, "--epochs", "1", "--n_hidden", "100", "--noshow_progressbar",
              "--alphabet_config_path", swapped]
    copy = tmp_path / "continued"
    shutil.copytree(str(english_model), str(copy))
    error = one_error(run_module("deepspeech_freeze.train", "--checkpoint_dir", copy, *common, check=False))
    assert "alphabet mismatch" in error and "new --save_checkpoint_dir" in error
    error = one_error(run_module("deepspeech_freeze.train", "--load_checkpoint_dir", english_model,
                                 "--save_checkpoint_dir", tmp_path / "transfer", *common, check=False))
    assert "alphabet mismatch" in error and "--drop_source_layers 1" in error
    assert not (tmp_path / "transfer").exists()


def test_size_mismatch_message_keeps_class_counts(english_model, ldc_dir):
    error = one_error(run_module("deepspeech_freeze.evaluate", "--checkpoint_dir", english_model, "--test_files",
                                 ldc_dir / "ldc93s1.csv", "--n_hidden", "100", "--alphabet_config_path", GERMAN,
                                 check=False))
    assert "28 labels + blank = 29 classes" in error and "= 32 classes" in error


# ----------------------------------------------------------------------------------------------------------------
# check_characters


def test_check_characters_lists_and_writes_an_alphabet(tmp_path, capsys):
    first = write_csv(tmp_path / "a.csv", [("x.wav", 1, LDC_TRANSCRIPT)])
    second = write_csv(tmp_path / "b.csv", [("y.wav", 1, "grüße #1")])
    out = tmp_path / "alphabet.txt"
    assert check_characters.main(["-csv", "{},{}".format(first, second), "-alpha", "--output", str(out)]) == 0
    expected = sorted(set(LDC_TRANSCRIPT + "grüße #1"))
    printed = capsys.readouterr().out.splitlines()
    start = printed.index("### The following unique characters were found in your transcripts: ###") + 1
    assert printed[start:start + len(expected)] == expected
    assert Alphabet(str(out)).labels == expected  # '#' and ' ' survive the round trip
    # A second write refuses to overwrite the file.
    assert check_characters.main(["-csv", first, "--output", str(out)]) == 2
    assert Alphabet(str(out)).labels == expected


def test_check_characters_refuses_nfkc_variants_unless_told(tmp_path, capsys):
    decomposed = "gru\u0308n"  # u + combining diaeresis: NFKC makes it one code point
    path = write_csv(tmp_path / "a.csv", [("x.wav", 1, "ok"), ("y.wav", 1, decomposed)])
    assert check_characters.main(["-csv", path]) == 2
    error = capsys.readouterr().err
    assert "{} row 3".format(path) in error and "--disable-unicode-variants" in error
    assert check_characters.main(["--csv-files", path, "--disable-unicode-variants"]) == 0
    assert "'\u0308'" in capsys.readouterr().out


def test_check_characters_bad_csv(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("wav_filename,text\nx.wav,hello\n", encoding="utf-8")
    assert check_characters.main(["-csv", str(path)]) == 2
    assert "no 'transcript' column" in capsys.readouterr().err
    assert check_characters.main(["-csv", str(tmp_path / "missing.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err
