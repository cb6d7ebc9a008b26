"""Run the rows of a scheme, one training run each, and write one ``result.json`` per row.

::

    python -m deepspeech_freeze.experiments.run --scheme experiments/eberhard2021 --data DIR \\
        --source CKPT_DIR --alphabet data/alphabets/german.txt --out RUNS_DIR \\
        [--only NAME[,NAME]] [--scorer PATH] [--set key=value ...] [--seeds 1,2,3]

``DIR`` holds ``train.csv``, ``dev.csv`` and ``test.csv``. Each row runs as a subprocess
``python -m deepspeech_freeze.train`` with the merged flags (common < row < ``--set``) and

* ``--save_checkpoint_dir RUNS/NAME``, ``--summary_dir RUNS/NAME/summaries``, ``--load_checkpoint_dir CKPT_DIR``
  (rows that transfer; a from-scratch row gets its own folder, so it resumes like the others);
* the test after training on the best-dev checkpoint (``--load_evaluate best``), every sample written to
  ``RUNS/NAME/test_samples.json``; the trainer's full output goes to ``RUNS/NAME/train.log``.

Then ``RUNS/NAME/result.json`` is written: WER, CER and loss on the test set (corpus rates of
:mod:`deepspeech_freeze.metrics`), best dev loss and its (0-indexed) epoch, the training time (the sum of the
epochs' training seconds in ``run.json``, validation excluded), audio hours trained per hour, the learning curve,
the frozen-layers proof and, for transfer rows, how far each layer moved from the source
(:func:`deepspeech_freeze.weight_change.compare` of the source checkpoint and the tested checkpoint).

With ``--seeds 1,2,3`` every selected row runs once per seed, with the trainer's ``--random_seed`` set to it (weight
initialisation and dropout), into ``RUNS/seed-S/NAME``; each ``result.json`` records its ``seed``. ``--source`` may
then contain ``{seed}``, replaced by the seed, so that each seed's transfer rows load the source model trained with
that seed (e.g. ``--source runs/english/seed-{seed}/baseline``); without ``{seed}`` every seed loads the same
source. A scheme or ``--set`` that sets ``random_seed`` itself cannot be combined with ``--seeds``.

Re-running the command skips rows that have a ``result.json``. A row interrupted during training resumes where it
stopped (the trainer resumes from its save folder); a row whose training finished but whose test did not is only
tested. Delete ``RUNS/NAME`` to run a row again from the start.
"""
import argparse
import csv
import dataclasses
import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections import OrderedDict

from .. import metrics
from ..errors import UserError, run_cli
from ..run_record import RunRecord
from . import schemes

RESULT_FILE = "result.json"
SAMPLES_FILE = "test_samples.json"
LOG_FILE = "train.log"
SPLITS = ("train", "dev", "test")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Lines of the trainer's output echoed to the console (the rest stays in train.log).
ECHO = ("Finished training epoch", "Finished validating epoch", "Test on ", "frozen layers", "ERROR", "Traceback",
        "FINISHED optimization", "interrupted")

# The runner's own defaults, below the scheme's flags (a scheme or --set can change them).
RUNNER_DEFAULTS = OrderedDict([("show_progressbar", False)])


def _say(text):
    sys.stdout.write("[run] {}\n".format(text))
    sys.stdout.flush()


def flag_arguments(flags):
    """``{name: value}`` -> ``["--name=value", ...]`` (switches as --name=true/false; a list, the value of a
    repeatable flag such as augment, as one ``--name=item`` per item, in list order)."""
    arguments = []
    for name, value in flags.items():
        for item in value if isinstance(value, list) else [value]:
            arguments.append("--{}={}".format(name, schemes.flag_text(item)))
    return arguments


def data_files(data_dir):
    """``{split: absolute csv path}``; a UserError naming what is missing."""
    files = {split: os.path.abspath(os.path.join(data_dir, split + ".csv")) for split in SPLITS}
    missing = [path for path in files.values() if not os.path.isfile(path)]
    if missing:
        raise UserError("--data {}: missing {} (an importer or the synth module writes train.csv, dev.csv and "
                        "test.csv)".format(data_dir, ", ".join(missing)))
    return files


def check_batch_sizes(train_csv, rows):
    """A UserError when a row's training batch is larger than the training set: the trainer drops the last
    partial batch (as DeepSpeech 0.7.4 does), so it would run no step at all and report a loss of 0."""
    with io.open(train_csv, encoding="utf-8-sig", newline="") as handle:
        count = max(0, sum(1 for _ in csv.reader(handle)) - 1)
    for row in rows:
        batch = int(row.flags.get("train_batch_size", 1))
        if batch > count:
            raise UserError("{} has {} samples but row {} trains with train_batch_size {}: the last partial batch "
                            "is dropped, so no training step would run. Use --set train_batch_size={} or "
                            "less".format(train_csv, count, row.name, batch, max(1, count)))


def check_source(source, rows):
    """The source directory, checked to hold a checkpoint when a selected row transfers from it."""
    from ..checkpoints import find_checkpoint  # pylint: disable=import-outside-toplevel
    transfer = [row.name for row in rows if not row.from_scratch]
    if not transfer:
        return os.path.abspath(source) if source else None
    if not source:
        raise UserError("rows {} transfer from a source model: give its checkpoint folder with --source".format(
            ", ".join(transfer)))
    if not (find_checkpoint(source, "best") or find_checkpoint(source, "last")):
        raise UserError("--source {} holds no checkpoint (no best_dev_checkpoint or checkpoint state file "
                        "pointing at existing files)".format(source))
    return os.path.abspath(source)


def parse_seeds(text):
    """``"1,2,3"`` -> ``[1, 2, 3]`` (the runner's ``--seeds``); empty -> None (one run per row, no seed folders)."""
    if not text or not text.strip():
        return None
    seeds = []
    for item in text.split(","):
        item = item.strip()
        if not item.isdigit():
            raise UserError("--seeds {}: {!r} is not a seed; give comma-separated non-negative integers, e.g. "
                            "--seeds 1,2,3".format(text, item))
        if int(item) in seeds:
            raise UserError("--seeds {}: seed {} is given twice".format(text, item))
        seeds.append(int(item))
    return seeds


def seed_source(source, seed):
    """``source`` with ``{seed}`` replaced by ``seed`` (no other brace is interpreted)."""
    return source.replace("{seed}", str(seed)) if source else source


def read_result(path):
    """The record of one ``result.json`` (the one place the runner and the results tables read it)."""
    try:
        with io.open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except ValueError as err:
        raise UserError("{} is not valid JSON ({}): delete it and run the row again".format(path, err))


def row_dir(out, row):
    return os.path.join(os.path.abspath(out), row.name)


def train_command(row, files, source, alphabet, scorer, out):
    """The trainer's command line for ``row`` (list of arguments)."""
    folder = row_dir(out, row)
    flags = OrderedDict(RUNNER_DEFAULTS)
    flags.update(row.flags)
    if row.from_scratch:
        # A fresh start with --load_train init; an interrupted one resumes from its own folder (--load_train init
        # would start it over). --load_checkpoint_dir is the row's own folder, never a default location.
        resuming = os.path.isfile(RunRecord.path(folder))
        flags["load_train"] = "auto" if resuming else "init"
        load_dir = folder
    else:
        load_dir = source
    flags.update([
        ("train_files", files["train"]), ("dev_files", files["dev"]), ("test_files", files["test"]),
        ("alphabet_config_path", os.path.abspath(alphabet)), ("scorer_path", os.path.abspath(scorer) if scorer
                                                                else ""),
        ("load_checkpoint_dir", load_dir), ("save_checkpoint_dir", folder),
        ("summary_dir", os.path.join(folder, "summaries")), ("load_evaluate", "best"),
        ("test_output_file", os.path.join(folder, SAMPLES_FILE)),
    ])
    return [sys.executable, "-m", "deepspeech_freeze.train"] + flag_arguments(flags)


def test_command(row, files, alphabet, scorer, out):
    """The evaluation command for a row whose training finished but whose test did not."""
    folder = row_dir(out, row)
    flags = OrderedDict(RUNNER_DEFAULTS)
    flags.update(row.flags)
    for name in ("load_train", "drop_source_layers", "reinit_layers", "freeze_layers", "epochs", "load_cudnn",
                 "reuse_output_rows", "augment"):
        flags.pop(name, None)
    flags.update([
        ("test_files", files["test"]), ("alphabet_config_path", os.path.abspath(alphabet)),
        ("scorer_path", os.path.abspath(scorer) if scorer else ""), ("checkpoint_dir", folder),
        ("load_evaluate", "best"), ("test_output_file", os.path.join(folder, SAMPLES_FILE)),
    ])
    return [sys.executable, "-m", "deepspeech_freeze.evaluate"] + flag_arguments(flags)


def run_logged(command, log_path, prefix):
    """Run ``command``, appending its output to ``log_path`` and echoing the interesting lines; returns its exit
    status. Ctrl-C reaches the child too (same process group); the child saves and exits, then we stop."""
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("PYTHONIOENCODING", "utf-8")
    env["PYTHONUNBUFFERED"] = "1"
    with io.open(log_path, "a", encoding="utf-8") as log:
        log.write("\n$ {}\n".format(" ".join(command)))
        log.flush()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
                                   universal_newlines=True, encoding="utf-8", errors="replace")
        try:
            for line in process.stdout:
                log.write(line)
                if any(marker in line for marker in ECHO):
                    sys.stdout.write("  {} | {}".format(prefix, line.lstrip()))
                    sys.stdout.flush()
            return process.wait()
        except KeyboardInterrupt:
            process.send_signal(signal.SIGINT)
            process.wait()
            raise


def _tail(path, lines=25):
    with io.open(path, encoding="utf-8", errors="replace") as handle:
        return "".join(handle.readlines()[-lines:])


def weight_change(source_checkpoint, tested_checkpoint):
    """Per-layer rows of :func:`deepspeech_freeze.weight_change.compare` (source -> tested), or None without a source."""
    if not source_checkpoint or not os.path.isfile(source_checkpoint + ".index"):
        return None
    from ..weight_change import compare  # pylint: disable=import-outside-toplevel  (imports TensorFlow)
    return compare(source_checkpoint, tested_checkpoint)


def build_result(row, scheme, folder, command):
    """The ``result.json`` record of a finished and tested row."""
    from .. import checkpoints, frozen_proof  # pylint: disable=import-outside-toplevel
    record = RunRecord.load(folder)
    if record is None or not record.finished:
        raise UserError("{} has no finished run.json: the training did not complete".format(folder))
    with io.open(os.path.join(folder, SAMPLES_FILE), encoding="utf-8") as handle:
        samples, wer, cer, test_loss = metrics.score_samples(json.load(handle))
    history = [dataclasses.asdict(entry) for entry in record.history]
    train_seconds = record.train_seconds
    audio_seconds = record.train_audio_seconds
    tested = checkpoints.find_checkpoint(folder, "best")
    try:
        proof = frozen_proof.verify_frozen(record, folder)
    except frozen_proof.FrozenLayersChanged as err:
        raise UserError("{}: {}; no result is written".format(row.name, err))
    source = record.source_checkpoint
    return OrderedDict([
        ("scheme", row.name), ("label", row.label), ("order", row.order), ("scheme_folder", scheme.path),
        ("compare_with", row.compare_with or None),
        ("wer", wer), ("cer", cer), ("test_loss", test_loss), ("test_samples", len(samples)),
        ("best_dev_loss", record.best_dev_loss), ("best_dev_epoch", record.best_dev_epoch),
        ("epochs_run", len(history)), ("train_seconds", round(train_seconds, 3)),
        ("train_audio_seconds", audio_seconds),
        ("audio_hours_per_hour", audio_seconds * len(history) / train_seconds
         if audio_seconds and train_seconds else None),
        ("frozen_layers", record.frozen_layers), ("reinit_layers", record.reinit_layers),
        ("frozen_proof", proof), ("source_checkpoint", source), ("tested_checkpoint", tested),
        ("weight_change", weight_change(source, tested) if source else None),
        ("history", history), ("flags", row.flags), ("command", command),
    ])


def write_json(path, value):
    temporary = path + ".tmp"
    with io.open(temporary, "w", encoding="utf-8") as handle:
        json.dump(value, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    os.replace(temporary, path)


def run_row(row, scheme, files, source, alphabet, scorer, out, seed=None):
    """Train (or resume), test and summarise one row (``seed``: recorded in the result); returns its record."""
    from .. import checkpoints  # pylint: disable=import-outside-toplevel
    folder = row_dir(out, row)
    os.makedirs(folder, exist_ok=True)
    log_path = os.path.join(folder, LOG_FILE)
    record = RunRecord.load(folder)
    started = time.time()
    if record is not None and record.finished and checkpoints.find_checkpoint(folder, "best"):
        if os.path.isfile(os.path.join(folder, SAMPLES_FILE)):
            _say("{}: training and test done earlier; writing its result".format(row.name))
            command = None
        else:
            _say("{}: training finished earlier; testing the best-dev checkpoint (log: {})".format(row.name,
                                                                                                   log_path))
            command = test_command(row, files, alphabet, scorer, out)
    else:
        what = "resuming" if record is not None else "training"
        _say("{} ({}): {} (log: {})".format(row.name, row.label, what, log_path))
        command = train_command(row, files, source, alphabet, scorer, out)
    if command is not None:
        status = run_logged(command, log_path, row.name)
        if status != 0:
            raise UserError("{} failed (exit status {}); the end of {}:\n{}".format(
                row.name, status, log_path, _tail(log_path)))
    result = build_result(row, scheme, folder, command)
    result["wall_seconds_last_invocation"] = round(time.time() - started, 1)
    if seed is not None:
        result["seed"] = seed
    write_json(os.path.join(folder, RESULT_FILE), result)
    _say("{}: WER {:.3f}, CER {:.3f}, best dev loss {:.2f} (epoch {}), {:.0f} s training{}".format(
        row.name, result["wer"], result["cer"], result["best_dev_loss"], result["best_dev_epoch"],
        result["train_seconds"], "; " + result["frozen_proof"] if result["frozen_proof"] else ""))
    return result


def check_inputs(data_dir, rows, alphabet, scorer):
    """The data files, checked with the alphabet and scorer before any row runs."""
    files = data_files(data_dir)
    check_batch_sizes(files["train"], rows)
    if not os.path.isfile(alphabet):
        raise UserError("--alphabet {} does not exist (e.g. data/alphabets/german.txt)".format(alphabet))
    if scorer and not os.path.isfile(scorer):
        raise UserError("--scorer {} does not exist".format(scorer))
    return files


def run(scheme_path, data_dir, alphabet, out, source=None, only=None, scorer=None, overrides=(), seeds=None):
    """Run the selected rows of a scheme (see the module docstring); returns ``{name: result}``, or with ``seeds``
    ``{seed: {name: result}}``."""
    scheme = schemes.load_scheme(scheme_path, schemes.parse_overrides(overrides))
    rows = schemes.select_rows(scheme, only)
    if seeds:
        return run_seeds(scheme, rows, data_dir, alphabet, out, source, scorer, seeds)
    if source and "{seed}" in source:
        raise UserError("--source {} contains {{seed}} but no --seeds is given".format(source))
    files = check_inputs(data_dir, rows, alphabet, scorer)
    source = check_source(source, rows)
    os.makedirs(out, exist_ok=True)
    results = OrderedDict()
    _say("scheme {} ({} of {} rows) -> {}".format(scheme.path, len(rows), len(scheme.rows), os.path.abspath(out)))
    for row in rows:
        existing = os.path.join(row_dir(out, row), RESULT_FILE)
        if os.path.isfile(existing):
            _say("{}: skipped, {} exists (delete the folder to run it again)".format(row.name, existing))
            results[row.name] = read_result(existing)
            continue
        results[row.name] = run_row(row, scheme, files, source, alphabet, scorer, out)
    return results


def run_seeds(scheme, rows, data_dir, alphabet, out, source, scorer, seeds):
    """Every row once per seed into ``out/seed-S/NAME`` (seed by seed, so a partial run already has whole tables
    of the first seeds); returns ``{seed: {name: result}}``."""
    for row in rows:
        if "random_seed" in row.flags:
            raise UserError("row {} sets random_seed (in {} or --set) and --seeds is given: remove one of them".format(
                row.name, row.path))
    files = check_inputs(data_dir, rows, alphabet, scorer)
    sources = {seed: check_source(seed_source(source, seed), rows) for seed in seeds}
    results = OrderedDict()
    _say("scheme {} ({} of {} rows) x seeds {} -> {}".format(scheme.path, len(rows), len(scheme.rows),
                                                            ",".join(str(s) for s in seeds), os.path.abspath(out)))
    for seed in seeds:
        seed_out = os.path.join(os.path.abspath(out), "seed-{}".format(seed))
        os.makedirs(seed_out, exist_ok=True)
        results[seed] = OrderedDict()
        _say("seed {} -> {}".format(seed, seed_out))
        for row in rows:
            seeded = row._replace(flags=OrderedDict(list(row.flags.items()) + [("random_seed", seed)]))
            existing = os.path.join(row_dir(seed_out, seeded), RESULT_FILE)
            if os.path.isfile(existing):
                _say("{} seed {}: skipped, {} exists (delete the folder to run it again)".format(row.name, seed,
                                                                                             existing))
                results[seed][row.name] = read_result(existing)
                continue
            results[seed][row.name] = run_row(seeded, scheme, files, sources[seed], alphabet, scorer, seed_out,
                                              seed=seed)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m deepspeech_freeze.experiments.run",
                                     description="Run the rows of an experiment scheme (e.g. Table 2 of "
                                                 "Eberhard & Zesch 2021), one training run per row.")
    parser.add_argument("--scheme", required=True, help="scheme folder: common.json + one JSON file per row")
    parser.add_argument("--data", required=True, help="folder with train.csv, dev.csv and test.csv")
    parser.add_argument("--source", default="", help="checkpoint folder of the source model (transfer rows)")
    parser.add_argument("--alphabet", required=True, help="alphabet file of the target language")
    parser.add_argument("--out", required=True, help="folder for the runs (one sub-folder per row)")
    parser.add_argument("--only", default="", help="comma-separated row names to run (default: all)")
    parser.add_argument("--scorer", default="", help="scorer package for decoding the test set (default: none)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a trainer flag for every row, e.g. --set epochs=2 (repeatable)")
    parser.add_argument("--seeds", default="", help="comma-separated seeds: every row runs once per seed into "
                                                    "OUT/seed-S/NAME (default: one run per row, into OUT/NAME)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    run_cli(lambda: run(args.scheme, args.data, args.alphabet, args.out, source=args.source, only=args.only,
                        scorer=args.scorer, overrides=args.overrides, seeds=parse_seeds(args.seeds)))


if __name__ == "__main__":
    main()
