"""Greedy top-down training (Zhang et al., ICASSP 2021, Algorithm 1) over DeepSpeech's six layers.

``python -m deepspeech_freeze.topdown --load_checkpoint_dir TRAINED --save_checkpoint_dir OUT --train_files ...
--dev_files ... [training flags]``

From a trained model M with dev loss e, round i = 1..5 freezes the top i layers, re-initialises the other 6 - i and
retrains them (an ordinary training run through the transfer spec, with its frozen-layer proof). If the round's
dev loss is worse than e the search stops; otherwise its model becomes M. Every round lives in ``OUT/round-i``; a
finished round is not run again, so the command can be repeated after an interruption. The table of rounds is
printed and saved as ``OUT/topdown.json`` and ``OUT/topdown.md``.
"""
import dataclasses
import io
import json
import logging
import os
import sys

from . import checkpoints, evaluate, frozen_proof, train
from .config import TransferSpec, from_flags, missing_flags
from .errors import UserError, run_main
from .flags import FLAGS, define_flags
from .logs import setup_logging
from .naming import format_layers
from .run_record import RunRecord

log = logging.getLogger("deepspeech_freeze")


def round_layers(index):
    """Round ``index`` (1-5): (frozen top layers, re-initialised bottom layers)."""
    return frozenset(range(7 - index, 7)), frozenset(range(1, 7 - index))


def dev_loss(config, directory):
    """Mean per-sample CTC loss of the dev sets for the model in ``directory`` (no dropout, no decoding)."""
    losses = [sample["loss"] for _, samples in evaluate.evaluate_sets(config, directory, config.data.dev_files,
                                                                       None, decode=False) for sample in samples]
    return sum(losses) / len(losses)


def round_config(config, index, source, target):
    """The training settings of round ``index``: the user's, with the round's source, save directory and layers;
    no test, export or inference inside a round."""
    frozen, reinit = round_layers(index)
    return dataclasses.replace(
        config, transfer=TransferSpec(source_dir=source, reinit_layers=reinit, frozen_layers=frozen),
        load_dir=source, save_dir=target, summary_dir=os.path.join(target, "summaries"),
        data=dataclasses.replace(config.data, test_files=()),
        training=dataclasses.replace(config.training, load_train="auto"),
        export=dataclasses.replace(config.export, export_dir=""), one_shot_infer="")


def run_round(config, index, source, target):
    """Train one round in this process (it resumes by itself if an earlier attempt was interrupted)."""
    record = RunRecord.load(target)
    if record and record.finished and checkpoints.find_checkpoint(target, "best"):
        log.info("Round %d already finished in %s", index, target)
        return
    settings = round_config(config, index, source, target)
    log.info("Round %d: freeze layers %s, re-initialise layers %s, start from %s", index,
             format_layers(settings.transfer.frozen_layers), format_layers(settings.transfer.reinit_layers), source)
    train.fit(settings)


def format_rounds(rows):
    """Markdown table of the rounds."""
    lines = ["| round | frozen (top) | retrained | dev loss | kept |", "|---|---|---|---|---|"]
    for row in rows:
        lines.append("| {round} | {frozen} | {retrained} | {dev_loss:.4f} | {kept} |".format(**row))
    return "\n".join(lines)


def topdown(config, rounds=5):
    """Run the greedy search; returns the rows of the table (round 0 is the starting model)."""
    out = config.save_dir
    os.makedirs(out, exist_ok=True)
    best_dir, best_loss = config.load_dir, dev_loss(config, config.load_dir)
    rows = [{"round": 0, "frozen": "-", "retrained": "-", "dev_loss": best_loss, "kept": "start",
             "directory": best_dir}]
    log.info("Starting model %s: dev loss %f", best_dir, best_loss)
    for index in range(1, rounds + 1):
        target = os.path.join(out, "round-{}".format(index))
        run_round(config, index, best_dir, target)
        loss = dev_loss(config, target)
        frozen, reinit = round_layers(index)
        keep = loss <= best_loss
        rows.append({"round": index, "frozen": format_layers(frozen), "retrained": format_layers(reinit),
                     "dev_loss": loss, "kept": "yes" if keep else "no (worse: stop)", "directory": target})
        log.info("Round %d: dev loss %f (best so far %f) -> %s", index, loss, best_loss, rows[-1]["kept"])
        save_table(out, rows)
        if not keep:
            break
        best_dir, best_loss = target, loss
    log.info("Top-down training finished: best model %s with dev loss %f", best_dir, best_loss)
    print(format_rounds(rows))
    return rows


def save_table(out, rows):
    with io.open(os.path.join(out, "topdown.json"), "w", encoding="utf-8") as handle:
        json.dump(rows, handle, indent=2)
    with io.open(os.path.join(out, "topdown.md"), "w", encoding="utf-8") as handle:
        handle.write(format_rounds(rows) + "\n")


def main(_argv):
    """``python -m deepspeech_freeze.topdown``: the search over rounds with the user's training flags."""
    missing = [text for flag, text in (("load_checkpoint_dir", "--load_checkpoint_dir (the trained model)"),
                                       ("save_checkpoint_dir", "--save_checkpoint_dir (the rounds)"))
               if missing_flags(flag)]
    if missing:
        raise UserError("top-down training needs {}".format(" and ".join(missing)))
    config = from_flags()
    setup_logging(config.runtime.log_level)
    if not config.data.train_files or not config.data.dev_files:
        raise UserError("top-down training needs --train_files and --dev_files")
    if not 1 <= FLAGS.topdown_rounds <= 5:
        raise UserError("--topdown_rounds {}: use 1 to 5".format(FLAGS.topdown_rounds))
    try:
        topdown(config, FLAGS.topdown_rounds)
    except frozen_proof.FrozenLayersChanged as err:
        log.error("%s", err)
        sys.exit(3)


if __name__ == "__main__":
    define_flags()
    from absl import flags as absl_flags  # pylint: disable=import-outside-toplevel
    absl_flags.DEFINE_integer("topdown_rounds", 5, "at most this many rounds (round i freezes the top i layers)")
    run_main(main)
