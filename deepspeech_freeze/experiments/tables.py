"""The pieces every results table shares: finding and reading the runner's ``result.json`` files (plain and
``seed-S`` runs folders), the CSV columns, how rates, durations and dev losses are printed, the Table-2-shaped
markdown table and the dev-loss plot's axis. :mod:`.results` (one run per row) and :mod:`.seed_tables` (several
seeds per row) both build on it.
"""
import os
import re
import textwrap

from ..errors import UserError
from ..naming import LAYERS
from ..run_record import RunRecord
from .run import read_result

RESULT_FILE = "result.json"
CSV_COLUMNS = ("order", "scheme", "label", "wer", "cer", "test_loss", "best_dev_loss", "best_dev_epoch",
               "epochs_run", "train_seconds", "audio_hours_per_hour", "frozen_layers", "reinit_layers") + \
    tuple("change_layer_{}".format(layer) for layer in LAYERS)


SEED_FOLDER = re.compile(r"^seed-(\d+)$")


def seed_folders(runs):
    """``[(seed, folder)]`` of a runs folder written with ``--seeds`` (sorted by seed), or [] for a plain one."""
    found = []
    for name in os.listdir(runs):
        match = SEED_FOLDER.match(name)
        if match and os.path.isdir(os.path.join(runs, name)):
            found.append((int(match.group(1)), os.path.join(runs, name)))
    return sorted(found)


def load_results(runs):
    """``(results sorted by order, names of run folders without a result.json)``. Each result carries its folder
    as ``run_folder`` and, under a ``seed-S`` folder, its ``seed``."""
    if not os.path.isdir(runs):
        raise UserError("--runs {} is not a folder (give the runner's --out folder)".format(runs))
    results, pending = [], []
    for seed, parent in seed_folders(runs) or [(None, runs)]:
        for name in sorted(os.listdir(parent)):
            folder = os.path.join(parent, name)
            if not os.path.isdir(folder) or (seed is None and SEED_FOLDER.match(name)):
                continue
            path = os.path.join(folder, RESULT_FILE)
            if not os.path.isfile(path):
                if os.path.isfile(RunRecord.path(folder)):
                    pending.append(name if seed is None else "{} (seed {})".format(name, seed))
                continue
            result = read_result(path)
            result["run_folder"] = folder
            if seed is not None:
                result["seed"] = seed
            results.append(result)
    if not results:
        raise UserError("no {} under {}: run python -m deepspeech_freeze.experiments.run first".format(
            RESULT_FILE, runs))
    results.sort(key=lambda result: (result.get("order", 0), result["scheme"], result.get("seed") or 0))
    return results, pending


def layer_changes(result):
    """``{layer: relative change or None}`` of a result (all None for a row without a source)."""
    changes = {layer: None for layer in LAYERS}
    for row in result.get("weight_change") or []:
        changes[row["layer"]] = row.get("relative_change")
    return changes


def rate(value):
    """A WER/CER as the paper prints it: ``.437``."""
    if value is None:
        return "-"
    text = "{:.3f}".format(value)
    return text[1:] if text.startswith("0.") else text


def duration(seconds):
    """``0:01:05`` (h:mm:ss)."""
    if seconds is None:
        return "-"
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return "{}:{:02d}:{:02d}".format(hours, minutes, seconds)


def dev_cell(result):
    if result.get("best_dev_loss") is None:
        return "-"
    return "{:.2f} ({})".format(result["best_dev_loss"], result["best_dev_epoch"])


def md_text(text):
    """``text`` for a markdown table cell or list item: ``|`` would end the cell, and a ``~`` pair (as in the
    augment specs of a label, ``pitch=1~0.1], tempo[...=1~0.15``) would strike the text between them through."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("~", "\\~")


def legend_label(text, width=60):
    """A plot legend entry wrapped at ``width`` characters, so a long label (augment specs) keeps the plot wide."""
    return "\n".join(textwrap.wrap(text, width)) or text


def markdown_table(results):
    """The Table-2-shaped markdown table."""
    lines = ["| Scheme | WER | CER | best dev loss (epoch) | train time | audio h / h |",
             "|---|---|---|---|---|---|"]
    for result in results:
        speed = result.get("audio_hours_per_hour")
        lines.append("| {} | {} | {} | {} | {} | {} |".format(
            md_text(result["label"]), rate(result.get("wer")), rate(result.get("cer")), dev_cell(result),
            duration(result.get("train_seconds")), "-" if speed is None else "{:.0f}".format(speed)))
    return "\n".join(lines)


def finish_loss_axis(axis, title, values, legend_title):
    """Labels, grid and legend of a dev-loss-per-epoch plot; a log scale when ``values`` span more than 8x."""
    from matplotlib import ticker  # pylint: disable=import-outside-toplevel
    if values and min(values) > 0 and max(values) / min(values) > 8:
        axis.set_yscale("log")
        axis.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.yaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
        axis.yaxis.set_minor_formatter(ticker.NullFormatter())
    axis.set_xlabel("epoch (0-indexed)")
    axis.set_ylabel("dev loss (CTC)")
    axis.set_title(title, fontsize=10)
    axis.grid(True, which="both", alpha=0.3)
    axis.xaxis.get_major_locator().set_params(integer=True)
    axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), title=legend_title, title_fontsize=8,
                frameon=False)
