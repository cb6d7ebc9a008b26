"""Beyond the paper: per-layer weight-change introspection and greedy top-down training, on tiny models."""
import json

import pytest

from conftest import ENGLISH, run_module

BASE = ["--n_hidden", "32", "--noshow_progressbar", "--alphabet_config_path", ENGLISH]


def train(csv, ckpt, epochs, *extra):
    return run_module("deepspeech_freeze.train", "--train_files", csv, "--dev_files", csv, "--checkpoint_dir", ckpt,
                      "--summary_dir", str(ckpt) + "_s", "--epochs", epochs, *BASE, *extra)


@pytest.mark.slow
def test_inspect_reports_zero_for_frozen_layers(tmp_path, ldc_dir):
    csv = str(ldc_dir / "ldc93s1.csv")
    train(csv, tmp_path / "src", "2")
    run_module("deepspeech_freeze.train", "--load_checkpoint_dir", tmp_path / "src", "--save_checkpoint_dir",
               tmp_path / "dst", "--summary_dir", tmp_path / "s", "--train_files", csv, "--epochs", "2",
               "--freeze_layers", "1-3,5", *BASE)
    result = run_module("deepspeech_freeze.weight_change", "--source", tmp_path / "src", "--target", tmp_path / "dst",
                        "--png", tmp_path / "change.png", "--json", tmp_path / "change.json")
    rows = {row["layer"]: row for row in json.loads((tmp_path / "change.json").read_text())["layers"]}
    for layer in (1, 2, 3, 5):
        assert rows[layer]["relative_change"] == 0.0 and rows[layer]["max_abs_change"] == 0.0
        assert rows[layer]["cosine"] == 1.0 and rows[layer]["note"] == "unchanged (bit-identical)"
    for layer in (4, 6):
        assert rows[layer]["relative_change"] > 0 and rows[layer]["cosine"] < 1
    assert rows[1]["parameters"] == 494 * 32 + 32
    assert "Weight change per layer" in result.output
    assert (tmp_path / "change.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_inspect_marks_a_reinitialised_output_layer(tmp_path, english_model, ldc_dir):
    from conftest import GERMAN
    csv = str(ldc_dir / "ldc93s1.csv")
    run_module("deepspeech_freeze.train", "--load_checkpoint_dir", english_model, "--save_checkpoint_dir",
               tmp_path / "de", "--summary_dir", tmp_path / "s", "--train_files", csv, "--epochs", "1",
               "--drop_source_layers", "1", "--n_hidden", "100", "--noshow_progressbar", "--alphabet_config_path",
               GERMAN)
    result = run_module("deepspeech_freeze.weight_change", "--source", english_model, "--target", tmp_path / "de")
    assert "shape changed (re-initialised)" in result.output


def test_topdown_keeps_improving_rounds(tmp_path, ldc_dir):
    """A weak starting model (1 epoch): retraining the bottom layers for 8 epochs beats it."""
    csv = str(ldc_dir / "ldc93s1.csv")
    train(csv, tmp_path / "start", "1")
    result = run_module("deepspeech_freeze.topdown", "--load_checkpoint_dir", tmp_path / "start",
                        "--save_checkpoint_dir", tmp_path / "td", "--train_files", csv, "--dev_files", csv,
                        "--epochs", "8", "--topdown_rounds", "2", *BASE)
    rows = json.loads((tmp_path / "td" / "topdown.json").read_text())
    assert [row["round"] for row in rows] == [0, 1, 2]
    assert rows[1]["frozen"] == "6" and rows[1]["retrained"] == "1-5" and rows[1]["kept"] == "yes"
    assert rows[2]["frozen"] == "5-6" and rows[2]["retrained"] == "1-4"
    assert rows[1]["dev_loss"] < rows[0]["dev_loss"]
    assert "frozen layers 6 unchanged (bit-identical)" in result.output
    assert "frozen layers 5-6 unchanged (bit-identical)" in result.output
    assert "| round | frozen (top) | retrained | dev loss | kept |" in result.output
    # Resumable: a rerun finds the finished rounds and trains nothing.
    again = run_module("deepspeech_freeze.topdown", "--load_checkpoint_dir", tmp_path / "start",
                       "--save_checkpoint_dir", tmp_path / "td", "--train_files", csv, "--dev_files", csv,
                       "--epochs", "8", "--topdown_rounds", "2", *BASE)
    assert "Round 1 already finished" in again.output and "STARTING Optimization" not in again.output


@pytest.mark.slow
def test_topdown_stops_when_dev_loss_gets_worse(tmp_path, ldc_dir):
    """A well-trained starting model: one epoch of retraining re-initialised layers 1-5 cannot match it."""
    csv = str(ldc_dir / "ldc93s1.csv")
    train(csv, tmp_path / "start", "60")
    result = run_module("deepspeech_freeze.topdown", "--load_checkpoint_dir", tmp_path / "start",
                        "--save_checkpoint_dir", tmp_path / "td", "--train_files", csv, "--dev_files", csv,
                        "--epochs", "1", *BASE)
    rows = json.loads((tmp_path / "td" / "topdown.json").read_text())
    assert len(rows) == 2 and rows[1]["kept"] == "no (worse: stop)"
    assert rows[1]["dev_loss"] > rows[0]["dev_loss"]
    assert not (tmp_path / "td" / "round-2").exists()
    assert "best model {}".format(tmp_path / "start") in result.output
