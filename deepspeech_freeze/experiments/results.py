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

from ..errors import run_cli
from ..naming import LAYERS
from . import seed_tables
from .tables import (CSV_COLUMNS, finish_loss_axis, layer_changes, legend_label, load_results, markdown_table,
                     md_text, seed_folders)


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
        lines.append("| {} | {} |".format(md_text(result["label"]), " | ".join(cells)))
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
                  label=legend_label(result["label"]))
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
    proved = [md_text(label) for label, _ in proved]
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
