"""--automatic_mixed_precision on a CPU (deepspeech_freeze/precision.py): what the start-up log says about the CPU,
which ops oneDNN's bfloat16 rewrite converts on the TF 2 stack (and that nothing is converted without the flag or
on TF 1.15), and that a checkpoint trained with the flag is a plain float32 DeepSpeech checkpoint: it evaluates the
same on both stacks in float32, keeps frozen layers bit-identical and works with the frozen-prefix cache."""
import json
import logging
import os
import subprocess
import sys

import pytest

import stacks
from conftest import ENGLISH, ROOT
from test_checkpoint_format import expected_variables

from deepspeech_freeze import lstm, precision

CPUINFO = ("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Test CPU\n"
           "flags\t\t: fpu sse2 avx2 avx512f avx512bw {}\n\nprocessor\t: 1\nflags\t\t: fpu\n")
TINY = ["--n_hidden", "32", "--noshow_progressbar", "--alphabet_config_path", ENGLISH]


def _announce(tmp_path, monkeypatch, caplog, flags):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO.format(flags))
    monkeypatch.setattr(precision, "CPUINFO", str(cpuinfo))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="deepspeech_freeze"):
        precision.announce("bfloat16")
    return caplog.text


@pytest.mark.parametrize("flags, native", [("amx_bf16 amx_tile avx512_bf16", "amx_bf16, avx512_bf16"),
                                           ("avx512_bf16", "avx512_bf16"), ("amx_bf16", "amx_bf16")])
def test_start_up_says_the_cpu_has_native_bfloat16(tmp_path, monkeypatch, caplog, flags, native):
    text = _announce(tmp_path, monkeypatch, caplog, flags)
    assert "oneDNN's bfloat16 rewrite" in text
    assert "This CPU computes bfloat16 natively ({})".format(native) in text
    assert "slower" not in text


@pytest.mark.parametrize("flags", ["", "avx512_fp16 amx_int8 amx_tile"])
def test_start_up_warns_that_emulated_bfloat16_is_slower(tmp_path, monkeypatch, caplog, flags):
    text = _announce(tmp_path, monkeypatch, caplog, flags)
    assert "This CPU has no native bfloat16" in text and "oneDNN emulates bfloat16" in text
    assert "the flag will make training slower" in text and "natively (" not in text
    assert any(record.levelno == logging.WARNING for record in caplog.records)


def test_start_up_says_when_the_cpu_flags_cannot_be_read(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(precision, "CPUINFO", str(tmp_path / "missing"))
    with caplog.at_level(logging.INFO, logger="deepspeech_freeze"):
        precision.announce("bfloat16")
    assert "Could not read this CPU's feature flags" in caplog.text


def test_the_fused_forward_is_named_as_staying_float32(monkeypatch):
    monkeypatch.setattr(lstm, "FORWARD", "fused")
    assert any("stays float32" in line for _, line in precision.cpu_report("bfloat16", {"amx_bf16"}, "fused"))
    assert not any("stays float32" in line for _, line in precision.cpu_report("bfloat16", {"amx_bf16"},
                                                                                 "projected"))


def test_what_the_flag_means_per_device_and_stack():
    assert precision.mode(False, ["/cpu:0"]) == "float32"
    assert precision.mode(True, ["/cpu:0"], is_tf2=True) == "bfloat16"
    assert precision.mode(True, ["/cpu:0", "/cpu:1"], is_tf2=True) == "bfloat16"  # --cpu_towers
    assert precision.mode(True, ["/cpu:0"], is_tf2=False) == "loss_scaling_only"
    for is_tf2 in (True, False):
        assert precision.mode(True, ["/device:GPU:0"], is_tf2=is_tf2) == "float16"
        assert precision.mode(True, ["/cpu:0"], gpu_graph=True, is_tf2=is_tf2) == "float16"  # --train_cudnn
    assert "TF 1.15" in precision.cpu_report("loss_scaling_only", set())[0][1]


def test_the_session_option_is_the_rewriters_field():
    from deepspeech_freeze.config import RuntimeConfig
    from deepspeech_freeze.tfcompat import session_config
    from deepspeech_freeze.tfcompat import IS_TF2
    options = precision.configure_session(session_config(RuntimeConfig()), "float32")
    assert "auto_mixed_precision" not in str(options.graph_options.rewrite_options)
    if not IS_TF2:
        return
    assert precision.rewrite_field() == "auto_mixed_precision_onednn_bfloat16"
    options = precision.configure_session(session_config(RuntimeConfig()), "bfloat16")
    assert options.graph_options.rewrite_options.auto_mixed_precision_onednn_bfloat16 == 1  # ON


def _bench(stack, tmp_path, *flags):
    """bench/train_throughput.py at n_hidden 16 on ``stack``: its JSON report (one traced 0-frozen step)."""
    output = tmp_path / "{}-{}.json".format(stack, len(flags))
    result = subprocess.run(
        [stacks.require(stack), os.path.join(ROOT, "bench", "train_throughput.py"), "--n_hidden", "16", "--batch",
         "2", "--seconds", "1", "--steps", "1", "--specs", "0", "--no_stock", "--no_repeat", "--peak_size", "64",
         "--output", str(output)] + list(flags),
        cwd=str(tmp_path), env=stacks.child_environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        universal_newlines=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:]
    return json.loads(output.read_text()), result.stdout


@pytest.mark.slow
def test_the_rewrite_converts_the_hot_path_on_tf2_only(tmp_path):
    """TF 2 with the flag: every dense matmul (forward and gradient), the projected LSTM forward's input projection
    and its per-step product inside the loop, and the fast gradient's per-step product, weight and input gradients
    run in bfloat16; the CTC loss and Adam stay float32. Without the flag, and on TF 1.15 with it, nothing is."""
    report, output = _bench("tf2", tmp_path, "--automatic_mixed_precision")
    ops = report["bfloat16_ops"]
    assert report["precision"]["mode"] == "bfloat16" and "bfloat16 ops in that step" in output
    for category in ("dense matmul (forward)", "dense matmul (gradient)"):
        assert ops[category]["ops"] >= 5 and ops[category]["bfloat16"] == ops[category]["ops"], category
    forward, backward = ops["LSTM forward"]["bfloat16_matmuls"], ops["LSTM backward"]["bfloat16_matmuls"]
    assert any("projected_recurrence/" in name for name in forward), forward  # h @ W_h, every step
    assert len(forward) == 2, forward  # and x @ W_x for all steps
    assert any("fast_block_lstm_grad/recurrence/" in name for name in backward), backward
    assert any(name.endswith("kernel_grad") for name in backward), backward
    # The bias gradient is a product too in a bfloat16 graph (lstm.column_sums): a bfloat16 Sum would be slow.
    assert any(name.endswith("bias_grad_product") for name in backward) and len(backward) == 4, backward
    assert "Sum" not in ops["LSTM backward"]["types"]
    assert ops["CTC loss"]["bfloat16"] == 0 and ops["CTC loss"]["ops"] >= 1
    assert ops["Adam"]["bfloat16"] == 0 and ops["Adam"]["ops"] >= 1
    assert all(loss == loss for loss in report["runs"][0]["losses"])  # finite, not NaN

    plain, _ = _bench("tf2", tmp_path)
    assert plain["precision"]["mode"] == "float32"
    assert sum(entry["bfloat16"] for entry in plain["bfloat16_ops"].values()) == 0
    tf1, _ = _bench("tf1", tmp_path, "--automatic_mixed_precision")
    assert tf1["precision"]["mode"] == "loss_scaling_only"
    assert sum(entry["bfloat16"] for entry in tf1["bfloat16_ops"].values()) == 0


def _train(stack, *args):
    return stacks.run_module(stack, "deepspeech_freeze.train", *(list(args) + TINY))


def _test_samples(stack, checkpoint, csv, out):
    stacks.run_module(stack, "deepspeech_freeze.evaluate", "--checkpoint_dir", checkpoint, "--test_files", csv,
                      "--test_output_file", out, *TINY)
    with open(str(out)) as handle:
        return {sample["wav_filename"]: (sample["loss"], sample["res"]) for sample in json.load(handle)}


def _finished_losses(output):
    return [float(line.rsplit(" ", 1)[1]) for line in output.splitlines() if "Finished training epoch" in line]


@pytest.mark.slow
def test_a_bfloat16_checkpoint_is_float32_on_both_stacks(tmp_path, ldc_dir):
    """Trained on TF 2 with the flag: float32 variables with DeepSpeech's names (no loss-scale state), evaluated in
    float32 to the same loss and transcript on both stacks; a transfer run with the flag keeps frozen layers
    bit-identical, and with the frozen-prefix cache it trains to nearly the same losses."""
    stacks.require("tf1")
    csv = str(ldc_dir / "ldc93s1.csv")
    source = tmp_path / "source"
    trained = _train("tf2", "--train_files", csv, "--epochs", "2", "--checkpoint_dir", source, "--summary_dir",
                     tmp_path / "s0", "--automatic_mixed_precision")
    assert "oneDNN's bfloat16 rewrite" in trained.output
    found = stacks.last_json_line(stacks.run_python("tf1", r'''
import json, sys
from deepspeech_freeze.tfcompat import tf
reader = tf.compat.v1.train.NewCheckpointReader(tf.compat.v1.train.latest_checkpoint(sys.argv[1]))
shapes, dtypes = reader.get_variable_to_shape_map(), reader.get_variable_to_dtype_map()
print(json.dumps({name: [list(shapes[name]), dtypes[name].name] for name in shapes}))
''', source))
    # Exactly DeepSpeech 0.7.4's 40 entries (names, shapes, dtypes): no loss-scale state, nothing in bfloat16, so
    # DeepSpeech 0.7.4's own Saver, which restores by this table, loads it.
    assert {name: tuple(entry) for name, entry in found.items()} == expected_variables(32, 29)

    on_tf2 = _test_samples("tf2", source, csv, tmp_path / "tf2.json")
    on_tf1 = _test_samples("tf1", source, csv, tmp_path / "tf1.json")
    assert on_tf2.keys() == on_tf1.keys()
    for name, (loss, _) in on_tf2.items():  # (the stacks' decoders differ: flashlight-text on TF 2)
        assert loss == pytest.approx(on_tf1[name][0], rel=1e-5), name

    transfer = ["--load_checkpoint_dir", source, "--train_files", csv, "--epochs", "2", "--freeze_layers", "1-3",
                "--dropout_rate", "0", "--automatic_mixed_precision"]
    plain = _train("tf2", *transfer, "--save_checkpoint_dir", tmp_path / "plain", "--summary_dir", tmp_path / "s1")
    assert "frozen layers 1-3 unchanged (bit-identical)" in plain.output
    cached = _train("tf2", *transfer, "--save_checkpoint_dir", tmp_path / "cached", "--summary_dir",
                    tmp_path / "s2", "--frozen_prefix_cache", tmp_path / "cache")
    assert "Computing layers 1-3 once" in cached.output
    assert "frozen layers 1-3 unchanged (bit-identical)" in cached.output
    assert len(_finished_losses(cached.output)) == 2
    assert _finished_losses(cached.output) == pytest.approx(_finished_losses(plain.output), rel=2e-2)
