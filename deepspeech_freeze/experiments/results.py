"""Tables and learning curves from the ``result.json`` files the runner wrote.

``python -m deepspeech_freeze.experiments.results --runs RUNS_DIR [--out DIR] [--title TEXT] [--note TEXT]``

Writes to ``DIR`` (default ``RUNS_DIR``):

* ``results.csv``: one line per row: scheme, label, WER, CER, test loss, best dev loss and epoch, epochs run,
  training seconds, audio hours per hour, frozen and re-initialised layers, and the relative weight change of each
  layer against the source model (transfer rows);
* ``results.md``: a table shaped like Table 2 of Eberhard & Zesch (2021) (Scheme | WER | CER | best dev loss
  (epoch) | train time | audio h / h), the per-layer weight change, and notes; the tables are printed too;
* ``learning_curves.png``: dev loss per epoch, one line per row, the best epoch marked with a dot (like the paper's
  Figures 2 and 3).

Rows without a ``result.json`` (not run yet, or still running) are left out and listed.

Runs made with the runner's ``--seeds`` (``RUNS/seed-S/NAME``) get the tables of :mod:`.seed_tables` instead: per row
mean +- standard deviation and 95 % confidence interval of WER and CER over the seeds, and each scheme's difference
to the from-scratch baseline and to "transfer, 0 frozen" with a paired bootstrap over the test utterances; the
learning curves show the seeds' mean with their spread (min to max) as a band.
"""
import argparse
import csv
import io
import os
import re

from ..errors import UserError, run_cli
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


def markdown_table(results):
    """The Table-2-shaped markdown table."""
    lines = ["| Scheme | WER | CER | best dev loss (epoch) | train time | audio h / h |",
             "|---|---|---|---|---|---|"]
    for result in results:
        speed = result.get("audio_hours_per_hour")
        lines.append("| {} | {} | {} | {} | {} | {} |".format(
            result["label"], rate(result.get("wer")), rate(result.get("cer")), dev_cell(result),
            duration(result.get("train_seconds")), "-" if speed is None else "{:.0f}".format(speed)))
    return "\n".join(lines)


def change_table(results):
    """Relative weight change per layer against the source (transfer rows), or '' when there are none."""
    transfer = [result for result in results if result.get("weight_change")]
    if not transfer:
        return ""
    lines = ["| Scheme | " + " | ".join("L{}".format(layer) for layer in LAYERS) + " |",
             "|---|" + "---|" * len(LAYERS)]
    for result in transfer:
        cells = []
        for layer, change in sorted(layer_changes(result).items()):
            cells.append("new" if change is None else ("0" if change == 0 else "{:.3f}".format(change)))
        lines.append("| {} | {} |".format(result["label"], " | ".join(cells)))
    return "\n".join(lines)


def write_csv(results, path):
    with io.open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for result in results:
            changes = layer_changes(result)
            writer.writerow([result.get(column) for column in CSV_COLUMNS[:13]] +
                            ["" if changes[layer] is None else changes[layer] for layer in LAYERS])


def write_markdown(results, path, title, notes, pending):
    parts = ["# {}".format(title), "", markdown_table(results), ""]
    changes = change_table(results)
    if changes:
        parts += ["Relative weight change per layer against the source model, ||W - W_source|| / ||W_source|| "
                  "(0: frozen and bit-identical; new: re-initialised output layer):", "", changes, ""]
    parts += ["Notes:", ""]
    parts += ["- {}".format(note) for note in notes]
    if pending:
        parts.append("- Not finished yet (no result.json): {}.".format(", ".join(pending)))
    text = "\n".join(parts) + "\n"
    with io.open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return text


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


def plot_curves(results, path, title):
    """Dev loss per epoch, one line per row, the best epoch marked with a dot."""
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    figure, axis = plt.subplots(figsize=(10.5, 5.5))
    colours = plt.get_cmap("tab10").colors
    styles = ["-", "--", "-.", ":"]
    values = []
    for index, result in enumerate(results):
        points = [(entry["epoch"], entry["dev_loss"]) for entry in result.get("history", []) if "dev_loss" in entry]
        if not points:
            continue
        epochs, losses = zip(*points)
        values += losses
        colour = colours[index % len(colours)]
        axis.plot(epochs, losses, styles[(index // len(colours)) % len(styles)], color=colour, linewidth=1.6,
                  label=result["label"])
        best = result.get("best_dev_epoch")
        if best is not None and best in epochs:
            axis.plot([best], [losses[epochs.index(best)]], "o", color=colour, markersize=7,
                      markeredgecolor="black", markeredgewidth=0.6)
    finish_loss_axis(axis, title, values, "dot: best dev epoch")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def default_notes(results):
    notes = ["WER/CER: corpus-level (summed edit distances over summed reference lengths, capped at 1) on the test "
             "set, decoded from the best-dev-loss checkpoint.",
             "best dev loss (epoch): the lowest mean CTC loss on the dev set and its 0-indexed epoch.",
             "train time: the epochs' training time summed, validation and test excluded; audio h / h: hours of "
             "training audio processed per hour of that time."]
    # One label per row, also when a row ran with several seeds.
    proved = sorted({result["label"]: result.get("order", 0) for result in results if result.get("frozen_proof")}
                    .items(), key=lambda item: item[1])
    proved = [label for label, _ in proved]
    if proved:
        notes.append("Frozen layers proved bit-identical to the source after training in: {}.".format(
            "; ".join(proved)))
    scorers = {bool(result.get("flags", {}).get("scorer_path")) for result in results}
    beams = sorted({result.get("flags", {}).get("beam_width") for result in results} - {None})
    if beams:
        notes.append("Decoding: beam width {}{}.".format(
            ", ".join(str(b) for b in beams), ", no language model" if scorers == {False} else ""))
    return notes


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m deepspeech_freeze.experiments.results",
                                     description="Results table (like Table 2) and learning curves of a runs "
                                                 "folder.")
    parser.add_argument("--runs", required=True, help="the runner's --out folder")
    parser.add_argument("--out", default="", help="folder for results.csv/.md and learning_curves.png "
                                                  "(default: --runs)")
    parser.add_argument("--title", default="", help="title of the table and the plot")
    parser.add_argument("--note", action="append", default=[], help="a note added under the table (repeatable)")
    args = parser.parse_args(argv)
    run_cli(write_results, args.runs, args.out or args.runs, args.title, args.note)


def write_results(runs, out, title="", notes=()):
    """Write the tables and the plot of a runs folder into ``out`` and print the table."""
    results, pending = load_results(runs)
    os.makedirs(out, exist_ok=True)
    title = title or "Results: {}".format(os.path.abspath(runs))
    notes = default_notes(results) + list(notes)
    if seed_folders(runs):
        from . import seed_tables  # pylint: disable=import-outside-toplevel
        print(seed_tables.write_all(results, out, title, notes, pending))
        return
    write_csv(results, os.path.join(out, "results.csv"))
    text = write_markdown(results, os.path.join(out, "results.md"), title, notes, pending)
    plot_curves(results, os.path.join(out, "learning_curves.png"), title)
    print(text)
    print("Wrote {}, {} and {}".format(*(os.path.join(out, name) for name in
                                         ("results.csv", "results.md", "learning_curves.png"))))


if __name__ == "__main__":
    main()
