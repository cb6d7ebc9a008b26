"""The epoch loop as DeepSpeech 0.7.4 runs it: load order and its log lines, best_dev, early stop, LR plateau,
summaries, resuming after an interruption, reproducibility."""
import glob
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from conftest import ENGLISH, ROOT, run_module  # noqa: F401 (fixtures come from conftest)

BASE = ["--n_hidden", "32", "--noshow_progressbar", "--alphabet_config_path", ENGLISH]


def train(csv, ckpt, *extra, check=True):
    return run_module("deepspeech_freeze.train", "--train_files", csv, "--checkpoint_dir", ckpt, "--summary_dir",
                      str(ckpt) + "_summaries", *BASE, *extra, check=check)


@pytest.mark.slow
def test_load_train_modes_log_as_deepspeech(tmp_path, ldc_dir):
    csv, ckpt = str(ldc_dir / "ldc93s1.csv"), tmp_path / "ckpt"
    first = train(csv, ckpt, "--dev_files", csv, "--epochs", "1")
    assert "Could not find best validating checkpoint." in first.output
    assert "Could not find most recent checkpoint." in first.output
    assert "Initializing all variables." in first.output
    again = train(csv, ckpt, "--dev_files", csv, "--epochs", "1")
    assert "Loading best validating checkpoint from {}".format(ckpt / "best_dev-1") in again.output
    last = train(csv, ckpt, "--epochs", "1", "--load_train", "last")
    assert "Loading most recent checkpoint from" in last.output
    init = train(csv, ckpt, "--epochs", "1", "--load_train", "init")
    assert "Initializing all variables." in init.output
    bad = train(csv, ckpt, "--load_train", "sometimes", check=False)
    assert bad.returncode == 2 and "--load_train sometimes" in bad.output
    missing = train(csv, tmp_path / "empty", "--load_train", "best", check=False)
    assert missing.returncode == 2 and "All initialization methods failed" in missing.output


@pytest.mark.slow
def test_early_stop_and_plateau(tmp_path, ldc_dir):
    csv = str(ldc_dir / "ldc93s1.csv")
    # es_min_delta 1e9: no epoch counts as an improvement, so both triggers fire on schedule.
    result = train(csv, tmp_path / "ckpt", "--dev_files", csv, "--epochs", "10", "--early_stop", "--es_epochs", "4",
                   "--es_min_delta", "1e9", "--reduce_lr_on_plateau", "--plateau_epochs", "2",
                   "--plateau_reduction", "0.5")
    assert result.output.count("Encountered a plateau, reducing learning rate to") == 1
    assert "reducing learning rate to 0.0005" in result.output
    assert "Reloading best validating checkpoint from" in result.output
    assert "Early stop triggered as the loss did not improve the last 4 epochs" in result.output
    # Epoch 0 always improves on inf; epochs 1-4 do not: the stop comes after epoch 4.
    assert "Finished training epoch 4 " in result.output and "Finished training epoch 5 " not in result.output
    reader = tf.compat.v1.train.NewCheckpointReader(tf.compat.v1.train.latest_checkpoint(
        str(tmp_path / "ckpt"), latest_filename="best_dev_checkpoint"))
    assert float(reader.get_tensor("learning_rate")) == pytest.approx(0.0005, rel=1e-6)


@pytest.mark.slow
def test_summaries_are_written(tmp_path, ldc_dir):
    csv = str(ldc_dir / "ldc93s1.csv")
    train(csv, tmp_path / "ckpt", "--dev_files", csv, "--epochs", "2")
    tags = {}
    for kind in ("train", "dev"):
        for path in glob.glob(str(tmp_path / "ckpt_summaries" / kind / "events.*")):
            for event in tf.compat.v1.train.summary_iterator(path):
                for value in event.summary.value:
                    tags.setdefault(kind, set()).add(value.tag)
    assert tags["train"] == {"step_loss", "epoch_loss"}
    assert tags["dev"] == {"step_loss", "epoch_loss"}


@pytest.mark.slow
def test_same_seed_same_losses(tmp_path, ldc_dir):
    csv = str(ldc_dir / "ldc93s1.csv")
    runs = [train(csv, tmp_path / name, "--epochs", "3").output for name in ("a", "b")]
    losses = [[line for line in run.splitlines() if "Finished training epoch" in line] for run in runs]
    assert losses[0] == losses[1] and len(losses[0]) == 3


@pytest.mark.slow
def test_sigterm_saves_and_rerun_resumes(tmp_path, ldc_dir):
    csv, ckpt = str(ldc_dir / "ldc93s1.csv"), tmp_path / "ckpt"
    command = [sys.executable, "-m", "deepspeech_freeze.train", "--train_files", csv, "--checkpoint_dir", str(ckpt),
               "--summary_dir", str(tmp_path / "s"), "--epochs", "100000", *BASE]
    process = subprocess.Popen(command, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, universal_newlines=True)
    deadline = time.time() + 120
    while time.time() < deadline and not glob.glob(str(ckpt / "train-3.index")):
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 2 and "Traceback" not in output
    assert "interrupted (SIGTERM): saved" in output and "run the same command again to resume" in output
    step = int(tf.compat.v1.train.latest_checkpoint(str(ckpt)).rsplit("-", 1)[1])
    # One sample, batch 1: a step is an epoch. The epochs the checkpoint holds are those whose end was recorded
    # (run.json) at or before its step; an epoch interrupted between its step and that record is redone.
    with open(str(ckpt / "run.json")) as handle:
        ends = [s for s in json.load(handle)["epoch_end_steps"] if s <= step]
    assert len(ends) in (step - 1, step)
    rerun = subprocess.run(command[:command.index("--epochs") + 1] + [str(step + 2)] + BASE, cwd=ROOT,
                           env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout[-2000:]
    assert "Resuming the run in" in rerun.stdout
    assert "Loading most recent checkpoint from {}".format(ckpt / "train-{}".format(step)) in rerun.stdout
    assert "continuing with epoch {}".format(len(ends)) in rerun.stdout
    assert "Finished training epoch {} ".format(step + 1) in rerun.stdout
    assert "Finished training epoch 0 " not in rerun.stdout


@pytest.mark.slow
def test_two_towers_train_like_one_double_batch(tmp_path, ldc_dir):
    """Towers as in DeepSpeech: each tower takes its own batch, gradients are averaged on the CPU. With two
    equal-length samples and no dropout (random masks differ per tower), 2 towers x batch 1 must give the same
    losses as 1 tower x batch 2."""
    import shutil
    from conftest import LDC_TRANSCRIPT, write_csv
    for name in ("a.wav", "b.wav"):
        shutil.copy(str(ldc_dir / "LDC93S1.wav"), str(tmp_path / name))
    csv = write_csv(tmp_path / "two.csv", [("a.wav", 93638, LDC_TRANSCRIPT), ("b.wav", 93638, LDC_TRANSCRIPT)])
    towers = train(csv, tmp_path / "towers", "--epochs", "3", "--cpu_towers", "2", "--train_batch_size", "1",
                   "--dropout_rate", "0")
    single = train(csv, tmp_path / "single", "--epochs", "3", "--train_batch_size", "2", "--dropout_rate", "0")
    def losses(run):
        return [float(line.rsplit(" ", 1)[1]) for line in run.output.splitlines() if "Finished training epoch" in line]
    assert len(losses(towers)) == 3
    assert losses(towers) == pytest.approx(losses(single), rel=1e-4)
    step = tf.compat.v1.train.NewCheckpointReader(tf.compat.v1.train.latest_checkpoint(str(tmp_path / "towers")))
    assert step.get_tensor("global_step") == 3  # one optimizer step per pair of tower batches


@pytest.mark.slow
def test_feature_cache_is_marked_complete_and_a_partial_one_rebuilt(tmp_path, ldc_dir):
    csv, cache = str(ldc_dir / "ldc93s1.csv"), str(tmp_path / "cache" / "features")
    first = train(csv, tmp_path / "a", "--epochs", "2", "--feature_cache", cache)
    assert os.path.exists(cache + ".complete") and os.path.exists(cache + ".index")
    # What a crash in the first epoch leaves: cache files without the marker. They must not be trusted.
    os.remove(cache + ".complete")
    with open(cache + ".index", "wb") as handle:
        handle.write(b"")
    rerun = train(csv, tmp_path / "b", "--epochs", "2", "--feature_cache", cache)
    assert "Deleting incomplete feature cache" in rerun.output
    def losses(run):
        return [line.rsplit(" ", 1)[1] for line in run.output.splitlines() if "Finished training epoch" in line]
    assert losses(rerun) == losses(first)  # same seed, same features: same losses (not 0 steps, not loss 0)
    assert os.path.exists(cache + ".complete")


def test_evaluate_command(tmp_path, english_model, ldc_dir):
    import json
    csv = str(ldc_dir / "ldc93s1.csv")
    result = run_module("deepspeech_freeze.evaluate", "--test_files", csv, "--checkpoint_dir", english_model,
                        "--test_output_file", tmp_path / "out.json", "--n_hidden", "100", "--beam_width", "16",
                        "--alphabet_config_path", ENGLISH)
    assert "Loading best validating checkpoint from" in result.output
    assert "Test on {} - WER: ".format(csv) in result.output and "Best WER:" in result.output
    samples = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert samples[0]["src"] == "she had your dark suit in greasy wash water all year"
    assert set(samples[0]) >= {"wav_filename", "res", "loss", "wer", "cer"}


def _checkpoint_names(directory):
    reader = tf.compat.v1.train.NewCheckpointReader(tf.compat.v1.train.latest_checkpoint(str(directory)))
    return reader, set(reader.get_variable_to_shape_map())


def _rename_checkpoint(source_dir, target_dir, renames):
    """Copy the newest checkpoint of ``source_dir`` to ``target_dir/train-<step>`` with keys renamed."""
    reader, names = _checkpoint_names(source_dir)
    graph = tf.Graph()
    with graph.as_default():
        variables = [tf.compat.v1.Variable(reader.get_tensor(name), name=renames.get(name, name)) for name in names]
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.train.Saver(variables).save(session, str(target_dir / "train"),
                                                     global_step=int(reader.get_tensor("global_step")))


@pytest.mark.slow
def test_mixed_precision_checkpoints_load_both_ways(tmp_path, ldc_dir):
    """TF's loss-scale optimizer (the flag on TF 1.15 without a GPU) puts Adam's beta powers under a tf.cond scope and
    adds its own state. Checkpoints keep DeepSpeech's plain names; a plain checkpoint loads into a mixed-precision
    run (the loss scale is initialised) and a checkpoint holding the scoped names (DeepSpeech 0.7 with the flag)
    loads into a plain run. On the TF 2 stack the flag is bfloat16 on a CPU, without loss scaling (test_bfloat16):
    the checkpoint is then a plain one, and the scoped names still load."""
    from deepspeech_freeze.tfcompat import IS_TF2
    csv = str(ldc_dir / "ldc93s1.csv")
    train(csv, tmp_path / "plain", "--epochs", "1")
    amp = train(csv, tmp_path / "plain", "--save_checkpoint_dir", tmp_path / "amp", "--epochs", "1",
                "--automatic_mixed_precision", "--freeze_layers", "3")
    assert "frozen layers 1-3 unchanged (bit-identical)" in amp.output
    _, names = _checkpoint_names(tmp_path / "amp")
    assert {"beta1_power", "beta2_power"} <= names
    assert not [name for name in names if name.startswith("cond")]
    resumed = train(csv, tmp_path / "amp", "--epochs", "2", "--automatic_mixed_precision", "--freeze_layers", "3")
    assert "Finished training epoch 1 " in resumed.output
    if IS_TF2:
        assert "oneDNN's bfloat16 rewrite" in amp.output
        assert not {"current_loss_scale", "good_steps"} & names
    else:
        assert "TF 1.15 has no bfloat16 rewrite" in amp.output and "only the dynamic loss scaling" in amp.output
        assert "Initializing variable: current_loss_scale (mixed-precision loss scale, not in checkpoint)" \
            in amp.output
        assert {"current_loss_scale", "good_steps"} <= names
        assert "Loading variable from checkpoint: current_loss_scale" in resumed.output
    # A plain run from a checkpoint with the scoped names: the stored beta powers are the ones loaded.
    (tmp_path / "scoped").mkdir()
    _rename_checkpoint(tmp_path / "amp", tmp_path / "scoped", {"beta1_power": "cond_1/beta1_power",
                                                               "beta2_power": "cond_1/beta2_power"})
    scoped, names = _checkpoint_names(tmp_path / "scoped")
    assert {"cond_1/beta1_power", "cond_1/beta2_power"} <= names and "beta1_power" not in names
    plain = train(csv, tmp_path / "scoped", "--save_checkpoint_dir", tmp_path / "again", "--epochs", "1")
    assert "Loading variable from checkpoint: beta1_power" in plain.output
    beta1 = float(scoped.get_tensor("cond_1/beta1_power"))
    again, _ = _checkpoint_names(tmp_path / "again")
    assert float(again.get_tensor("beta1_power")) == pytest.approx(beta1 * 0.9, rel=1e-6)  # one more Adam step
