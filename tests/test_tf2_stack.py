"""What only the TF 2 stack does: graph mode with oneDNN switched on, and export refused at start-up with a message
naming the TF 1.15 stack (before any training)."""
import os

import stacks
from conftest import ENGLISH, run_module

pytestmark = stacks.only_on("tf2", "checks of the TF 2 stack's own behaviour")


def test_tf2_runs_in_graph_mode_with_onednn():
    from deepspeech_freeze import tfcompat
    from deepspeech_freeze.tfcompat import tf

    assert tfcompat.IS_TF2 and tfcompat.STACK == "tf2" and not tfcompat.HAS_CONTRIB
    assert not tf.executing_eagerly()  # disable_v2_behavior ran when tfcompat was imported
    assert os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "1" and "oneDNN on" in tfcompat.describe()


def test_tf2_export_stops_at_start_up_naming_the_tf1_stack(tmp_path, ldc_dir):
    result = run_module("deepspeech_freeze.train", "--train_files", ldc_dir / "ldc93s1.csv", "--epochs", "1",
                        "--checkpoint_dir", tmp_path / "ckpt", "--export_dir", tmp_path / "export", "--n_hidden", "8",
                        "--alphabet_config_path", ENGLISH, "--noshow_progressbar", check=False)
    assert result.returncode == 2, result.output[-2000:]
    assert "export runs on the TF 1.15 stack only" in result.output and ".venv/bin/python" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "ckpt").exists() and not (tmp_path / "export").exists()  # it stopped before training


def test_tf2_export_tool_refuses_naming_the_tf1_stack(tmp_path):
    # `python -m deepspeech_freeze.export` on TF 2: the refusal is export.py's own (this is also the TF 2 test that
    # exercises the module, for `make test-fast STACK=tf2`).
    result = run_module("deepspeech_freeze.export", "--checkpoint_dir", tmp_path / "ckpt", "--export_dir",
                        tmp_path / "export", "--alphabet_config_path", ENGLISH, check=False)
    assert result.returncode == 2 and "Traceback" not in result.output, result.output[-2000:]
    error = result.output.strip().splitlines()[-1]
    assert error.startswith("ERROR: --export_dir: export runs on the TF 1.15 stack only") and "TensorFlow 2." in error
    assert not (tmp_path / "export").exists()
