"""bench/train_throughput.py at tiny sizes: it runs, prints its table and writes a complete JSON report.

Nothing here asserts a timing; only the report's structure and the freezing facts it records.
"""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench", "train_throughput.py")
sys.path.insert(0, os.path.join(ROOT, "bench"))

import train_throughput  # noqa: E402  pylint: disable=wrong-import-position


@pytest.mark.slow
def test_quick_bench_prints_table_and_writes_json(tmp_path):
    output = tmp_path / "report.json"
    environment = dict(os.environ, PYTHONPATH=ROOT)
    environment.pop("DSF_LSTM_GRADIENT", None)
    result = subprocess.run(
        [sys.executable, BENCH, "--quick", "--n_hidden", "32", "--batch", "2", "--seconds", "1.2", "--steps", "1",
         "--peak_size", "128", "--output", str(output)],
        cwd=str(tmp_path), env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        universal_newlines=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:]
    text = result.stdout
    assert "Training throughput: n_hidden 32, batch 2" in text
    for column in ("spec", "frozen", "gradient", "steps/s", "audio s/s", "x vs 0", "peak RSS"):
        assert column in text
    assert "LSTM gradient at 0 frozen: fast" in text and "float32 matmul peak (128x128)" in text
    assert "dense layers in a traced 0-frozen step" in text

    report = json.loads(output.read_text())
    for key in train_throughput.REPORT_KEYS:
        assert key in report, key
    assert report["config"]["n_hidden"] == 32 and report["config"]["frames"] == 59
    runs = report["runs"]
    assert [(run["spec"], run["gradient"]) for run in runs] == \
        [("0", "fast"), ("0", "stock")] + [(spec, "fast") for spec in train_throughput.DEFAULT_SPECS[1:]]
    for run in runs:
        for key in train_throughput.RUN_KEYS:
            assert key in run, (run["spec"], key)
        assert len(run["step_s"]) == 1 and run["steps_per_s"] > 0 and run["audio_s_per_s"] > 0
    assert report["ratio_baseline"] in ("first", "repeat")
    assert 1.0 in (runs[0]["ratio_to_0"], report["baseline_repeat"]["ratio_to_0"])
    repeat = report["baseline_repeat"]  # the first spec once more, at the end: the load drift
    assert repeat["spec"] == "0" and repeat["gradient"] == "fast" and repeat["ratio_to_0"] > 0
    assert "run again last" in text and "Ratios are to the faster" in text
    # What each spec builds of the LSTM's backward pass.
    built = {(run["spec"], run["gradient"]): run["lstm_backward"] for run in runs}
    assert built == {("0", "fast"): "dW+dx", ("0", "stock"): "stock", ("1", "fast"): "dW+dx",
                     ("1-2", "fast"): "dW+dx", ("1-3", "fast"): "dW", ("1-4", "fast"): "none",
                     ("1-3,5", "fast"): "dW", ("1-5", "fast"): "none"}
    params = {run["spec"]: run["trainable_parameters"] for run in runs}
    assert params["0"] > params["1"] > params["1-2"] > params["1-3"] > params["1-3,5"] > params["1-4"] > \
        params["1-5"] > 0
    assert report["gradient_comparison"]["stock_over_fast"] > 0
    dense = report["dense_flops"]
    assert dense["matmul_ops"] == 14 and dense["unresolved_ops"] == 0  # 5 forward, 5 dW, 4 dx (not layer 1's)
    assert dense["gflops"] > 0 and dense["fraction_of_numpy_peak"] > 0
    assert report["peak_matmul"]["numpy_gflops"] > 0 and report["peak_matmul"]["tf_gflops"] > 0
    assert report["peak_rss_mb"] > 0


def test_parse_args_quick_defaults_and_overrides():
    args = train_throughput.parse_args(["--quick"])
    assert (args.n_hidden, args.steps, args.peak_size, args.stock_steps) == (512, 2, 1024, 2)
    args = train_throughput.parse_args(["--quick", "--n_hidden", "64", "--specs", "0", "1-3,5"])
    assert args.n_hidden == 64 and args.specs == ["0", "1-3,5"]
    args = train_throughput.parse_args([])
    assert (args.n_hidden, args.batch, args.seconds, args.steps) == (2048, 24, 5.0, 3)


def _run_bench(script, *args, tmp_path):
    out = tmp_path / (script + ".json")
    result = subprocess.run([sys.executable, os.path.join(ROOT, "bench", script + ".py"), *args, "--output", str(out)],
                            cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:]
    return result.stdout, json.loads(out.read_text())


@pytest.mark.slow
def test_prefix_cache_bench_runs(tmp_path):
    output, report = _run_bench("prefix_cache", "--n_hidden", "16", "--utterances", "4", "--seconds", "1",
                                "--batch", "2", "--epochs", "2", tmp_path=tmp_path)
    assert "1-5 frozen + cache" in output and "speed-up" in output
    assert set(report["results"]) == {"0 frozen", "1-3 frozen", "1-5 frozen", "1-3 frozen + cache",
                                      "1-5 frozen + cache"}
    assert report["results"]["0 frozen"]["speedup"] == 1.0


@pytest.mark.slow
def test_input_pipeline_and_threads_benches_run(tmp_path):
    output, report = _run_bench("input_pipeline", "--n_hidden", "16", "--batch", "2", "--seconds", "1",
                                "--utterances", "4", "--epochs", "1", "--train_steps", "1", "--rounds", "1",
                                tmp_path=tmp_path)
    assert report and "batch" in output
    output, report = _run_bench("threads", "--n_hidden", "16", "--batch", "2", "--seconds", "1", "--steps", "1",
                                "--settings", "1,1", "4,4", "--rounds", "2", tmp_path=tmp_path)
    assert len(report["settings"]) == 2 and "intra 1 inter 1" in output and "one process per run" in output
    # TF sizes its thread pools once per process, so each run has a process of its own, and its pools are the
    # ones its setting asked for: 4 intra-op + 4 inter-op threads make more OS threads than 1 + 1 (TF 1.15 starts
    # 4 more; TF 2.21, which shares some of its pools, 3 more: measured, 10 vs 13).
    one, four = report["settings"]
    pids = one["pids"] + four["pids"]
    assert len(set(pids)) == 4 and report["environment"]["parent_pid"] not in pids
    assert min(four["os_threads"]) >= max(one["os_threads"]) + 3, (one["os_threads"], four["os_threads"])


def test_recurrent_matmul_bench_times_every_form_and_names_the_one_used(tmp_path):
    from deepspeech_freeze import tfcompat
    output, report = _run_bench("recurrent_matmul", "--n_hidden", "16", "--batch", "3", "--steps", "4",
                                "--rounds", "1", tmp_path=tmp_path)
    for direction in ("forward", "backward"):
        result = report["results"][direction]
        assert set(result["ms_per_step"]) == {"nn", "nt", "tt"}
        assert result["used"] == tfcompat.RECURRENT_MATMUL[direction]
        assert all(ms > 0 for ms in result["ms_per_step"].values())
    assert output.count("<- this stack uses it") == 2 and report["stack"] == tfcompat.STACK


@pytest.mark.slow
def test_cross_stack_decoders_bench_runs(tmp_path, english_model, ldc_dir):
    """bench/decoders.py end to end: the model's outputs once, then ds_ctcdecoder (TF 1.15 stack) and flashlight
    (TF 2 stack) on them, each with its WER, its difference to ds_ctcdecoder and its speed."""
    import stacks
    from conftest import ENGLISH
    from test_decoder_modern import VOCABULARY, WRITE_PACKAGE
    from test_decoding_metrics import ARPA

    (tmp_path / "lm.arpa").write_text(ARPA)
    (tmp_path / "words.txt").write_text("\n".join(VOCABULARY))
    package = str(tmp_path / "lm.scorer")
    stacks.run_python("tf1", WRITE_PACKAGE, tmp_path / "lm.arpa", tmp_path / "words.txt", package, ENGLISH,
                      os.path.dirname(os.path.abspath(__file__)))
    command = ["--checkpoint_dir", str(english_model), "--test_files", str(ldc_dir / "ldc93s1.csv"), "--scorer_path",
               package, "--alphabet_config_path", ENGLISH, "--n_hidden", "100", "--beam_width", "8",
               "--no_pyctcdecode", "--flashlight_beams", "16", "--tf1_python", stacks.require("tf1"),
               "--tf2_python", stacks.require("tf2")]
    output, report = _run_bench("decoders", *command, tmp_path=tmp_path)
    assert report["utterances"] == 1 and "WER-ds pts" in output and "same as ds" in output
    ds, flashlight = report["decoders"]["ds_ctcdecoder"], report["decoders"]["flashlight"]
    assert ds["wer_minus_ds_points"] == 0.0 and 0.0 <= flashlight["wer"] <= 1.0 and flashlight["ms_per_utterance"] > 0
    assert ds["identical_to_ds"] == 1 and "flashlight-b16" in report["decoders"]


@pytest.mark.slow
def test_cross_stack_compare_stacks_bench_runs(tmp_path):
    """bench/compare_stacks.py at a tiny size: one process per stack and TF 2 LSTM forward, a ratio for each."""
    import stacks

    command = ["--n_hidden", "16", "--batch", "2", "--seconds", "1", "--steps", "1", "--specs", "0", "1-4",
               "--tf1_python", stacks.require("tf1"), "--tf2_python", stacks.require("tf2")]
    output, report = _run_bench("compare_stacks", *command, tmp_path=tmp_path)
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import compare_stacks  # pylint: disable=import-outside-toplevel

    assert set(report) == set(compare_stacks.REPORT_KEYS)
    assert {name: run["lstm_forward"] for name, run in report["stacks"].items()} == {
        "tf1": "fused", "tf2 fused": "fused", "tf2 projected": "projected"}
    assert report["stacks"]["tf1"]["environment"]["tensorflow"].startswith("1.15")
    assert report["stacks"]["tf2 projected"]["environment"]["tensorflow"].startswith("2.")
    assert [row["spec"] for row in report["specs"]] == ["0", "1-4"]
    for row in report["specs"]:
        assert row["tf1 / tf2 projected"] == pytest.approx(row["tf1"] / row["tf2 projected"])
    assert report["goal"]["target"] == 1.5 and "goal (0 frozen" in output and "tf2 projected" in output


@pytest.mark.slow
def test_augmentation_bench_runs(tmp_path):
    output, report = _run_bench("augmentation", "--widths", "16", "--batch", "2", "--steps", "2", "--clips", "2",
                                "--sets", "none", "ds", tmp_path=tmp_path)
    assert "DeepSpeech's example set / none" in output and "one process per setting" in output
    assert set(report["step_seconds"]["16"]) == {"none", "ds"}
    assert len({run["pid"] for run in report["step_seconds"]["16"].values()}) == 2  # each in its own process
    assert set(report["cost_ms_per_audio_second"]) >= {"overlay", "reverb", "resample", "codec", "volume", "pitch",
                                                       "tempo", "frequency_mask", "time_mask", "dropout", "add",
                                                       "multiply"}
