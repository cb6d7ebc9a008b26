"""Tune the scorer's alpha (LM weight) and beta (word bonus) on a data set (DeepSpeech 0.7.4's ``lm_optimizer.py``).

``python -m deepspeech_freeze.lm_optimizer --test_files dev.csv --checkpoint_dir CKPT --scorer_path kenlm.scorer
[--lm_alpha_max 5] [--lm_beta_max 5] [--n_trials 2400] [--write_scorer tuned.scorer]``

As DeepSpeech: an optuna study (TPE sampler, median pruner) minimises the word error rate over all ``--test_files``
pooled (Σ edit distance / Σ reference words, capped at 1.0); alpha ~ U(0, --lm_alpha_max), beta ~ U(0,
--lm_beta_max); after each file of a trial that file's WER is reported and the trial may be pruned; at the end
``Best params: lm_alpha=… and lm_beta=… with WER=…``. Decoding uses ``--beam_width``, ``--cutoff_prob`` and
``--cutoff_top_n``; the checkpoint is loaded as evaluate loads it.

Different from DeepSpeech, on purpose:

* the acoustic model runs over the set **once**; every trial only re-runs the beam search on the stored softmax
  outputs (DeepSpeech rebuilds the graph, reloads the checkpoint and recomputes the logits in every trial, which
  gives the same outputs). The speed-up is measured and printed at the end;
* ``--lm_optimizer_storage`` (an optuna storage URL, or a file path for SQLite) keeps the trials: running the same
  command again resumes the study and runs only the trials still missing to ``--n_trials``; Ctrl-C stops after
  the running trial's state is kept by optuna and prints the best so far;
* ``--lm_optimizer_seed`` seeds the sampler (DeepSpeech's study is unseeded; -1 keeps that);
* ``--write_scorer PATH`` writes a copy of the scorer package whose stored default alpha/beta are the best ones
  (DeepSpeech saves nothing), so the stock client and ``--lm_alpha``-less runs use them.
"""
import logging
import math
import mmap
import os
import shutil
import struct
import sys
import time

import numpy as np

from . import alphabet_guard, decoding, metrics
from .errors import UserError, run_cli
from .evaluate import model_outputs
from .flags import FLAGS, define_flags
from .scorer_package import VocabularyError, find_trailer

log = logging.getLogger("deepspeech_freeze")

#: Byte offset of the two doubles (default alpha, beta) inside the trailer head: magic (4), version (4), UTF-8 (1).
_WEIGHTS_OFFSET = 9
_WEIGHTS = struct.Struct("<dd")


# ----------------------------------------------------------------------------------------------------------------
# The acoustic pass (once)


def acoustic_pass(config, directory, csv_paths):
    """Run the model in ``directory`` over every CSV once; returns ``[(csv, batches)]``, each batch a dict with the
    batch-major softmax ``probs``, ``n_frames``, ``filenames`` and reference ``transcripts``."""
    results = []
    for path, frame, batches in model_outputs(config, directory, csv_paths, keys=("filenames", "probs", "n_frames")):
        transcripts = dict(zip(frame["wav_filename"], frame["transcript"]))
        stored = []
        for batch in batches:
            names = [name.decode("utf-8") for name in batch["filenames"]]
            stored.append({"probs": batch["probs"], "n_frames": batch["n_frames"], "filenames": names,
                           "transcripts": [transcripts[name] for name in names]})
        results.append((path, stored))
    return results


# ----------------------------------------------------------------------------------------------------------------
# Trials: decoding only


def decode_set(batches, decoder):
    """Scored samples (:func:`metrics.score_sample` records) of one set's stored outputs, decoded by ``decoder``
    (a :class:`~deepspeech_freeze.decoding.Decoder`)."""
    samples = []
    for batch in batches:
        hypotheses = decoder.decode(batch["probs"], batch["n_frames"])
        samples.extend(metrics.score_sample(name, src, res, 0.0)
                       for name, src, res in zip(batch["filenames"], batch["transcripts"], hypotheses))
    return samples


def make_objective(decoder, sets, alpha_max, beta_max, timings):
    """The optuna objective: WER over all sets pooled, each set's WER reported (step = its index) for pruning.
    Each trial re-weights ``decoder``'s scorer (loaded once) and decodes the stored outputs."""
    import optuna  # pylint: disable=import-outside-toplevel

    def objective(trial):
        alpha = trial.suggest_float("lm_alpha", 0.0, alpha_max)
        beta = trial.suggest_float("lm_beta", 0.0, beta_max)
        decoder.reweight(alpha, beta)
        started = time.time()
        everything = []
        for index, (_path, batches) in enumerate(sets):
            samples = decode_set(batches, decoder)
            everything.extend(samples)
            trial.report(metrics.corpus_rates(samples)[0], index)
            if trial.should_prune():
                timings.append(time.time() - started)
                raise optuna.TrialPruned()
        timings.append(time.time() - started)
        return metrics.corpus_rates(everything)[0]

    return objective


# ----------------------------------------------------------------------------------------------------------------
# The tuned package


def write_tuned_scorer(source, destination, alpha, beta):
    """Copy scorer package ``source`` to ``destination`` with ``alpha``/``beta`` as its stored defaults (rounded to
    C floats, as ds_ctcdecoder stores them); everything else byte for byte. Returns the trailer's offset."""
    if not os.path.isfile(source):
        raise UserError("--scorer_path {} does not exist".format(source))
    if os.path.exists(destination):
        raise UserError("--write_scorer {} exists: choose a new file name (the original scorer is never "
                        "changed)".format(destination))
    directory = os.path.dirname(os.path.abspath(destination))
    if not os.path.isdir(directory):
        raise UserError("--write_scorer {}: directory {} does not exist".format(destination, directory))
    with open(source, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
        try:
            offset = find_trailer(view)[0]
        except VocabularyError as err:
            raise UserError("--scorer_path {} is not a scorer package: {}".format(source, err))
    temporary = destination + ".tmp"
    try:
        shutil.copyfile(source, temporary)
        with open(temporary, "r+b") as handle:
            handle.seek(offset + _WEIGHTS_OFFSET)
            handle.write(_WEIGHTS.pack(float(np.float32(alpha)), float(np.float32(beta))))
        os.replace(temporary, destination)
    except OSError as err:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise UserError("--write_scorer {}: cannot write ({})".format(destination, err))
    return offset


def stored_weights(path):
    """(alpha, beta) stored in scorer package ``path``."""
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
        return tuple(find_trailer(view)[2:4])


# ----------------------------------------------------------------------------------------------------------------
# main


def _storage(text):
    if not text or "://" in text:
        return text or None
    directory = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(directory):
        raise UserError("--lm_optimizer_storage {}: directory {} does not exist".format(text, directory))
    return "sqlite:///" + os.path.abspath(text)


def _check_flags(config):
    for name in ("lm_alpha_max", "lm_beta_max"):
        value = getattr(FLAGS, name)
        if not math.isfinite(value) or value <= 0:
            raise UserError("--{} {}: give a positive upper bound (DeepSpeech's default is 5)".format(name, value))
    if FLAGS.n_trials < 1:
        raise UserError("--n_trials {}: give at least 1 trial".format(FLAGS.n_trials))
    if FLAGS.write_scorer and not config.decoding.scorer_path:
        raise UserError("--write_scorer needs --scorer_path: the package to copy with the tuned weights")


def optimize(config, storage=None, study_name="lm_optimizer", seed=-1, n_trials=2400, alpha_max=5.0,
             beta_max=5.0, write_scorer=""):
    """Tune alpha/beta (see the module docstring); returns a dict with the best values, trial counts and the
    measured seconds of the acoustic pass and of the trials."""
    import optuna  # pylint: disable=import-outside-toplevel
    decoder = decoding.Decoder.load(config.decoding, config.model.alphabet)
    if decoder.scorer is None:
        log.warning("No --scorer_path: alpha and beta change nothing without a scorer (the study still runs, as "
                    "DeepSpeech's does)")
    started = time.time()
    sets = acoustic_pass(config, config.load_dir, config.data.test_files)
    acoustic_seconds = time.time() - started
    n_samples = sum(len(batch["filenames"]) for _path, batches in sets for batch in batches)
    log.info("Acoustic model run once over %d utterance(s) of %d set(s) in %.2f s; trials only re-decode", n_samples,
             len(sets), acoustic_seconds)

    sampler = optuna.samplers.TPESampler(seed=None if seed < 0 else seed)
    study = optuna.create_study(direction="minimize", sampler=sampler, pruner=optuna.pruners.MedianPruner(),
                                storage=storage, study_name=study_name, load_if_exists=True)
    done = [t for t in study.trials if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)]
    remaining = max(0, n_trials - len(done))
    if done:
        log.info("Resuming study %r: %d trial(s) already done, %d to run", study_name, len(done), remaining)
    timings = []
    interrupted = False
    try:
        if remaining:
            study.optimize(make_objective(decoder, sets, alpha_max, beta_max, timings), n_trials=remaining,
                           n_jobs=1, show_progress_bar=config.training.show_progressbar)
    except KeyboardInterrupt:
        interrupted = True
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not completed:
        if interrupted:
            raise KeyboardInterrupt("before any trial completed")
        raise UserError("no trial completed: nothing to report")
    best = study.best_trial
    result = {"lm_alpha": best.params["lm_alpha"], "lm_beta": best.params["lm_beta"], "wer": best.value,
              "trials_run": len(timings), "trials_done": len(completed), "acoustic_seconds": acoustic_seconds,
              "trial_seconds": timings, "interrupted": interrupted}
    print("Best params: lm_alpha={} and lm_beta={} with WER={}".format(result["lm_alpha"], result["lm_beta"],
                                                                         result["wer"]))
    if timings:
        decode = sum(timings) / len(timings)
        rerun = len(timings) * (acoustic_seconds + decode)
        once = acoustic_seconds + sum(timings)
        print("Speed-up: the acoustic pass took {:.2f} s and a trial's decoding {:.3f} s on average; re-running the "
              "model in each of these {} trial(s), as DeepSpeech does, would take {:.1f} s instead of {:.1f} s: "
              "{:.1f}x".format(acoustic_seconds, decode, len(timings), rerun, once, rerun / once))
    if write_scorer:
        scorer_path = config.decoding.scorer_path
        write_tuned_scorer(scorer_path, write_scorer, result["lm_alpha"], result["lm_beta"])
        print("Wrote {} (a copy of {} with default alpha {} and beta {})".format(
            write_scorer, scorer_path, result["lm_alpha"], result["lm_beta"]))
    if interrupted:
        print("Interrupted after {} completed trial(s); {}".format(
            len(completed), "run the same command again to resume" if storage
            else "give --lm_optimizer_storage to keep the trials of a study across runs"))
    return result


def main(_argv):
    config = alphabet_guard.trained_model_config()
    if not config.data.test_files:
        raise UserError("--test_files is empty: give the CSV file(s) to tune alpha and beta on")
    _check_flags(config)
    result = optimize(config, storage=_storage(FLAGS.lm_optimizer_storage), study_name=FLAGS.lm_optimizer_study,
                      seed=FLAGS.lm_optimizer_seed, n_trials=FLAGS.n_trials, alpha_max=FLAGS.lm_alpha_max,
                      beta_max=FLAGS.lm_beta_max, write_scorer=FLAGS.write_scorer)
    if result["interrupted"]:
        sys.exit(130)


def entry_point():
    """``python -m deepspeech_freeze.lm_optimizer``."""
    from absl import app, flags  # pylint: disable=import-outside-toplevel
    define_flags()
    flags.DEFINE_float("lm_alpha_max", 5, "upper bound of the alpha search (alpha ~ U(0, lm_alpha_max))")
    flags.DEFINE_float("lm_beta_max", 5, "upper bound of the beta search (beta ~ U(0, lm_beta_max))")
    flags.DEFINE_integer("n_trials", 2400, "trials of the study (in all, counting those of a resumed study)")
    flags.DEFINE_string("lm_optimizer_storage", "", "optuna storage (URL, or a file path for SQLite) that keeps the "
                                                     "trials, so that the same command resumes the study")
    flags.DEFINE_string("lm_optimizer_study", "lm_optimizer", "study name within --lm_optimizer_storage")
    flags.DEFINE_integer("lm_optimizer_seed", -1, "seed of the TPE sampler (-1: unseeded, as DeepSpeech)")
    flags.DEFINE_string("write_scorer", "", "write a copy of --scorer_path with the best alpha/beta as its "
                                            "defaults to this new file")
    app.run(lambda args: run_cli(main, args))


if __name__ == "__main__":
    entry_point()
