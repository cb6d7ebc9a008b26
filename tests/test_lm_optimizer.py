"""Scorer tuning (issue 21, item 1): DeepSpeech 0.7.4's lm_optimizer flags, the acoustic model run once, results
that equal a full evaluation with the chosen weights, the tuned package, resuming and seeding.

Uses conftest's English model (n_hidden 100, LDC93S1) and its LDC93S1 scorer package; a few trials each.
"""
import os
import re

import numpy as np
import pytest

from conftest import ENGLISH, run_module

from deepspeech_freeze import lm_optimizer
from deepspeech_freeze.alphabet import Alphabet
from deepspeech_freeze.config import Config, DataConfig, DecodingConfig, ModelConfig, TrainingConfig


def make_config(model_dir, csv_path, scorer):
    return Config(ModelConfig(Alphabet(ENGLISH), n_hidden=100),
                  data=DataConfig(test_files=[str(csv_path)]),
                  decoding=DecodingConfig(scorer_path=str(scorer), beam_width=64),
                  training=TrainingConfig(show_progressbar=False), load_dir=str(model_dir))


@pytest.fixture(scope="module")
def two_sets(ldc_dir, tmp_path_factory):
    """Two test CSVs (pruning reports after each), the second holding the utterance twice."""
    from conftest import write_csv, LDC_TRANSCRIPT
    folder = ldc_dir
    second = write_csv(folder / "twice.csv", [("LDC93S1.wav", 93638, LDC_TRANSCRIPT)] * 2)
    return [str(folder / "ldc93s1.csv"), second]


def test_acoustic_model_runs_once_and_trials_only_decode(english_model, ldc_dir, ldc_scorer, monkeypatch):
    calls = []
    real = lm_optimizer.acoustic_pass

    def counted(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(lm_optimizer, "acoustic_pass", counted)
    result = lm_optimizer.optimize(make_config(english_model, ldc_dir / "ldc93s1.csv", ldc_scorer), seed=1,
                                   n_trials=4, alpha_max=3.0, beta_max=2.0)
    assert len(calls) == 1
    assert result["trials_run"] == 4 and result["trials_done"] >= 1
    assert 0 <= result["lm_alpha"] <= 3.0 and 0 <= result["lm_beta"] <= 2.0


def test_a_study_without_a_scorer_runs(english_model, ldc_dir):
    """Without --scorer_path alpha and beta change nothing, but the study still runs, as DeepSpeech's does (the
    trials once stopped at re-weighting a scorer that was not there)."""
    result = lm_optimizer.optimize(make_config(english_model, ldc_dir / "ldc93s1.csv", ""), seed=1, n_trials=2)
    assert result["trials_run"] == 2 and result["trials_done"] == 2
    assert 0.0 <= result["wer"] <= 1.0


def test_best_wer_equals_a_full_evaluation_with_those_weights(english_model, ldc_dir, ldc_scorer, two_sets):
    """The CLI as a DeepSpeech user types it; the WER it reports is what evaluate measures with the chosen weights
    (the stored softmax outputs are the model's)."""
    result = run_module("deepspeech_freeze.lm_optimizer", "--test_files", ",".join(two_sets), "--checkpoint_dir",
                        english_model, "--scorer_path", ldc_scorer, "--n_trials", "3", "--lm_alpha_max", "2",
                        "--lm_beta_max", "2", "--lm_optimizer_seed", "7", "--beam_width", "64", "--n_hidden", "100",
                        "--alphabet_config_path", ENGLISH, "--noshow_progressbar")
    best = re.search(r"Best params: lm_alpha=(\S+) and lm_beta=(\S+) with WER=(\S+)", result.stdout)
    assert best, result.output[-3000:]
    assert re.search(r"Speed-up: .* \d+\.\dx", result.stdout)
    alpha, beta, wer = (float(value) for value in best.groups())
    evaluated = run_module("deepspeech_freeze.evaluate", "--test_files", ",".join(two_sets), "--checkpoint_dir",
                           english_model, "--scorer_path", ldc_scorer, "--lm_alpha", repr(alpha), "--lm_beta",
                           repr(beta), "--beam_width", "64", "--n_hidden", "100", "--alphabet_config_path", ENGLISH)
    rates = [float(value) for value in re.findall(r"Test on \S+ - WER: ([0-9.]+), CER", evaluated.output)]
    words = [1, 2]  # the second set holds the sentence twice: pooled WER weights it double
    assert len(rates) == 2
    assert np.isclose(wer, sum(r * w for r, w in zip(rates, words)) / sum(words), atol=2e-6)


def test_tuned_scorer_copy(ldc_scorer, tmp_path):
    from deepspeech_freeze import decoding
    before = open(ldc_scorer, "rb").read()
    tuned = str(tmp_path / "tuned.scorer")
    offset = lm_optimizer.write_tuned_scorer(ldc_scorer, tuned, 0.25, 3.5)
    assert lm_optimizer.stored_weights(tuned) == (0.25, 3.5)
    after = open(tuned, "rb").read()
    assert len(after) == len(before) and after[:offset + 9] == before[:offset + 9]
    assert after[offset + 25:] == before[offset + 25:] and after != before
    assert open(ldc_scorer, "rb").read() == before  # the original is untouched
    assert lm_optimizer.stored_weights(ldc_scorer) == (np.float32(0.931289039105002), np.float32(1.1834137581510284))
    assert decoding.load_scorer(tuned, Alphabet(ENGLISH), 0.25, 3.5) is not None  # the decoder loads the copy
    with pytest.raises(Exception, match="exists"):
        lm_optimizer.write_tuned_scorer(ldc_scorer, tuned, 1.0, 1.0)


def test_resumed_study_runs_only_the_missing_trials_and_seed_repeats(english_model, ldc_dir, ldc_scorer, tmp_path):
    config = make_config(english_model, ldc_dir / "ldc93s1.csv", ldc_scorer)
    storage = lm_optimizer._storage(str(tmp_path / "study.db"))
    first = lm_optimizer.optimize(config, storage=storage, seed=3, n_trials=2)
    second = lm_optimizer.optimize(config, storage=storage, seed=3, n_trials=3)
    assert first["trials_run"] == 2 and second["trials_run"] == 1
    import optuna
    assert len(optuna.load_study(study_name="lm_optimizer", storage=storage).trials) == 3
    # Seeded in-memory studies propose the same weights.
    again = [lm_optimizer.optimize(config, seed=11, n_trials=2) for _ in range(2)]
    assert (again[0]["lm_alpha"], again[0]["lm_beta"]) == (again[1]["lm_alpha"], again[1]["lm_beta"])


def test_bad_flags(english_model, ldc_dir, ldc_scorer, tmp_path):
    common = ["--checkpoint_dir", english_model, "--n_hidden", "100", "--alphabet_config_path", ENGLISH]
    result = run_module("deepspeech_freeze.lm_optimizer", *common, check=False)
    assert result.returncode == 2 and "--test_files is empty" in result.output
    result = run_module("deepspeech_freeze.lm_optimizer", "--test_files", ldc_dir / "ldc93s1.csv", "--lm_alpha_max",
                        "0", *common, check=False)
    assert result.returncode == 2 and "--lm_alpha_max 0.0" in result.output and "Traceback" not in result.output
    existing = tmp_path / "exists.scorer"
    existing.write_bytes(b"x")
    result = run_module("deepspeech_freeze.lm_optimizer", "--test_files", ldc_dir / "ldc93s1.csv", "--scorer_path",
                        ldc_scorer, "--n_trials", "1", "--write_scorer", existing, *common, check=False)
    assert result.returncode == 2 and "exists" in result.output and existing.read_bytes() == b"x"


def test_ctrl_c_keeps_the_trials_and_the_same_command_resumes(english_model, ldc_dir, ldc_scorer, tmp_path):
    import signal
    import subprocess
    import sys
    from conftest import subprocess_pythonpath
    storage = tmp_path / "study.db"
    args = [sys.executable, "-m", "deepspeech_freeze.lm_optimizer", "--test_files", str(ldc_dir / "ldc93s1.csv"),
            "--checkpoint_dir", str(english_model), "--scorer_path", ldc_scorer, "--n_trials", "100000",
            "--lm_optimizer_storage", str(storage), "--beam_width", "16", "--n_hidden", "100",
            "--alphabet_config_path", ENGLISH, "--noshow_progressbar"]
    env = dict(os.environ, PYTHONPATH=subprocess_pythonpath(), PYTHONIOENCODING="utf-8")
    # A suite started as a background job inherits SIGINT ignored; a user's terminal delivers it.
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                               env=env, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = []
    for line in process.stdout:
        seen.append(line)
        if "Trial 2 finished" in line:
            process.send_signal(signal.SIGINT)
            break
    rest, _ = process.communicate(timeout=300)
    output = "".join(seen) + rest
    assert process.returncode == 130, output[-3000:]
    assert "Best params: lm_alpha=" in output and "run the same command again to resume" in output
    assert "Traceback" not in output
    import optuna
    done = [t for t in optuna.load_study(study_name="lm_optimizer", storage="sqlite:///" + str(storage)).trials
            if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)]
    assert len(done) >= 3
    args[args.index("100000")] = str(len(done) + 1)
    resumed = run_module("deepspeech_freeze.lm_optimizer", *args[3:])
    assert "{} trial(s) already done, 1 to run".format(len(done)) in resumed.output
