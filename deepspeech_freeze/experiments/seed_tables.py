"""Results of runs made with several seeds (the runner's ``--seeds``): tables with seed statistics, paired tests
against the reference rows, and learning curves with the seed spread as a band.

Written by ``python -m deepspeech_freeze.experiments.results`` when the runs folder holds ``seed-S`` folders:

* ``results.md``: per row the seeds, WER and CER as mean +- sample standard deviation and the 95 % confidence
  interval of the mean (Student's t, n - 1 degrees of freedom), best dev loss and training time (means); then per
  scheme the difference in WER and CER to the from-scratch baseline and to "transfer, 0 frozen", each with the 95 %
  interval and two-sided p-value of a paired bootstrap over the test utterances in which the seeds are resampled
  too (:func:`.stats.paired_bootstrap`); then, for each row that declares a counterpart (``compare_with`` in its
  scheme file, e.g. an augmented row and the same row without augmentation), the same paired difference to that
  counterpart. When every row has one seed the first table is the single-run table of :mod:`.results`.
* ``results.csv``: one line per row and seed (the single-run columns plus ``seed``); ``summary.csv``: one line per
  row with the statistics and the comparisons (``compare_with`` and the ``*_vs_counterpart_*`` columns for the
  declared pairs).
* ``learning_curves.png``: per row the mean dev loss over the seeds, a band from the lowest to the highest seed,
  and a dot at the mean curve's lowest epoch.

The reference rows are found from what the rows did, not from their names: the baseline is the first row that
trains from scratch (``load_train: init``), "transfer, 0 frozen" the first row that loads a source and freezes
nothing; a row that declares a counterpart is a variant of another row and never a reference (so an augmented
from-scratch row does not become the baseline when the plain one has not run).
"""
import csv
import io
import json
import os
from collections import OrderedDict

from .. import metrics
from ..errors import UserError, run_cli
from ..naming import LAYERS
from . import stats
from . import tables

SAMPLES_FILE = "test_samples.json"
MEASURES = (("wer", "WER", "word_distance", "word_length"), ("cer", "CER", "char_distance", "char_length"))
REFERENCES = ("baseline", "transfer")
# The kinds of comparison: against the two reference rows, and against the row's own declared counterpart.
KINDS = REFERENCES + ("counterpart",)


def read_test_samples(result):
    """The scored per-utterance records of a result's test (``test_samples.json`` next to its ``result.json``)."""
    path = os.path.join(result["run_folder"], SAMPLES_FILE)
    try:
        with io.open(path, encoding="utf-8") as handle:
            return metrics.score_samples(json.load(handle))[0]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise UserError("{} cannot be read ({}): delete {} and run the row again".format(
            path, err, result["run_folder"]))


def group_by_row(results):
    """``OrderedDict(scheme name -> [results of its seeds])`` in table order."""
    groups = OrderedDict()
    for result in results:
        groups.setdefault(result["scheme"], []).append(result)
    return groups


def references(groups):
    """``{"baseline": name or None, "transfer": name or None}`` (see the module docstring)."""
    found = {"baseline": None, "transfer": None}
    for name, runs in groups.items():
        first = runs[0]
        if first.get("compare_with"):
            continue
        scratch = str(first.get("flags", {}).get("load_train", "auto")) == "init"
        if scratch and found["baseline"] is None:
            found["baseline"] = name
        # run.json writes "none" for no frozen layer (layers.format_layers).
        frozen = first.get("frozen_layers") not in (None, "", "none") or first.get("flags", {}).get("freeze_layers")
        if not scratch and not frozen and found["transfer"] is None:
            found["transfer"] = name
    return found


def _mean(values):
    values = [value for value in values if value is not None]
    return sum(values) / len(values) if values else None


def summaries(groups):
    """Per row: label, seeds, WER and CER summaries (:func:`.stats.summarize`), mean dev loss and train time."""
    rows = OrderedDict()
    for name, runs in groups.items():
        rows[name] = {"label": runs[0]["label"], "order": runs[0].get("order"),
                      "seeds": [run.get("seed") for run in runs],
                      "wer": stats.summarize([run["wer"] for run in runs]),
                      "cer": stats.summarize([run["cer"] for run in runs]),
                      "best_dev_loss": _mean([run.get("best_dev_loss") for run in runs]),
                      "train_seconds": _mean([run.get("train_seconds") for run in runs])}
    return rows


def counterparts(groups):
    """``{name: counterpart name}`` of the rows whose result names a ``compare_with`` row, that row's results
    included or not (:func:`comparisons` compares only those whose counterpart ran)."""
    return OrderedDict((name, runs[0]["compare_with"]) for name, runs in groups.items()
                       if runs[0].get("compare_with"))


def comparisons(groups, refs, resamples=stats.RESAMPLES):
    """``{name: {(kind, measure): bootstrap dict}}`` for every row against each reference other than itself
    (kind "baseline", "transfer") and against its declared counterpart when that row ran (kind "counterpart")."""
    samples = {name: [read_test_samples(run) for run in runs] for name, runs in groups.items()}
    matrices = {}
    for name in groups:
        for measure, _, distance, length in MEASURES:
            try:
                matrices[name, measure] = stats.error_matrix(samples[name], distance, length)
            except ValueError as err:
                raise UserError("row {}: {} (all seeds must be tested on the same test set)".format(name, err))
    declared = counterparts(groups)
    found = OrderedDict()
    for name in groups:
        found[name] = OrderedDict()
        for kind in KINDS:
            reference = declared.get(name) if kind == "counterpart" else refs.get(kind)
            if reference is None or reference == name or reference not in groups:
                continue
            for measure, _, _, _ in MEASURES:
                names_a, errors_a, lengths = matrices[name, measure]
                names_b, errors_b, _ = matrices[reference, measure]
                if names_a != names_b:
                    raise UserError("rows {} and {} were tested on different utterances: run them on the same test "
                                    "set to compare them".format(name, reference))
                found[name][kind, measure] = stats.paired_bootstrap(errors_a, errors_b, lengths,
                                                                    resamples=resamples)
    return found


def spread(summary):
    """``.437 ± .012`` (just the mean for one seed)."""
    if summary["sd"] is None:
        return tables.rate(summary["mean"])
    return "{} ± {}".format(tables.rate(summary["mean"]), tables.rate(summary["sd"]))


def interval(summary):
    """``[.420, .454]``: the t-interval of a rate, clipped to [0, 1] (with few seeds it can reach past both)."""
    if summary["ci_low"] is None:
        return "-"
    return "[{}, {}]".format(_signed_rate(max(0.0, summary["ci_low"]), plus=False),
                             _signed_rate(min(1.0, summary["ci_high"]), plus=False))


def _signed_rate(value, plus=True):
    text = "{:+.3f}".format(value) if plus else "{:.3f}".format(value)
    return text.replace("0.", ".", 1) if abs(value) < 1 else text


def p_value(test):
    if test["p"] == 0:
        return "p<{:g}".format(1.0 / test["resamples"])
    return "p={:.3f}".format(test["p"]) if test["p"] >= 0.001 else "p={:.4f}".format(test["p"])


def difference(test):
    """``+.052 [+.010, +.094] p=0.012``."""
    return "{} [{}, {}] {}".format(_signed_rate(test["diff"]), _signed_rate(test["ci_low"]),
                                   _signed_rate(test["ci_high"]), p_value(test))


def seeds_table(rows):
    lines = ["| Scheme | seeds | WER mean ± sd | WER 95 % CI | CER mean ± sd | CER 95 % CI | best dev loss (mean) | "
             "train time (mean) |", "|---|---|---|---|---|---|---|---|"]
    for row in rows.values():
        lines.append("| {} | {} | {} | {} | {} | {} | {} | {} |".format(
            tables.md_text(row["label"]), len(row["seeds"]), spread(row["wer"]), interval(row["wer"]),
            spread(row["cer"]), interval(row["cer"]), "-" if row["best_dev_loss"] is None else "{:.2f}".format(row["best_dev_loss"]),
            tables.duration(row["train_seconds"])))
    return "\n".join(lines)


def comparison_table(rows, tests, refs):
    """Each row's difference to the baseline and to "transfer, 0 frozen" (markdown), or '' without either."""
    kinds = [kind for kind in REFERENCES if refs.get(kind)]
    if not kinds:
        return ""
    heads = []
    for kind in kinds:
        label = rows[refs[kind]]["label"]
        heads += ["Δ WER vs {}".format(tables.md_text(label)), "Δ CER vs {}".format(tables.md_text(label))]
    lines = ["| Scheme | " + " | ".join(heads) + " |", "|---|" + "---|" * len(heads)]
    for name, row in rows.items():
        cells = []
        for kind in kinds:
            for measure, _, _, _ in MEASURES:
                test = tests.get(name, {}).get((kind, measure))
                cells.append("(reference)" if test is None else difference(test))
        lines.append("| {} | {} |".format(tables.md_text(row["label"]), " | ".join(cells)))
    return "\n".join(lines)


def counterpart_table(rows, tests, groups):
    """Each row that declares a counterpart against that row (markdown), or '' when no such pair ran."""
    declared = counterparts(groups)
    lines = ["| Scheme | compared with | Δ WER | Δ CER |", "|---|---|---|---|"]
    for name, other in declared.items():
        if other not in rows:
            continue
        cells = [difference(tests[name]["counterpart", measure]) for measure, _, _, _ in MEASURES]
        lines.append("| {} | {} | {} |".format(tables.md_text(rows[name]["label"]),
                                               tables.md_text(rows[other]["label"]), " | ".join(cells)))
    return "\n".join(lines) if len(lines) > 2 else ""


def statistics_notes(rows, tests):
    seeds = sorted({len(row["seeds"]) for row in rows.values()})
    resamples = next((test["resamples"] for by_ref in tests.values() for test in by_ref.values()), stats.RESAMPLES)
    one = seeds == [1]
    return [
        "One seed per row: no spread over seeds to show." if one else
        "Seeds per row: {} (the trainer's --random_seed: weight initialisation and dropout). mean ± sd: mean over "
        "the seeds and sample standard deviation (n - 1); 95 % CI: confidence interval of that mean from Student's "
        "t-distribution with n - 1 degrees of freedom, clipped to [0, 1] (none for one seed).".format(
            ", ".join(str(count) for count in seeds)),
        "Δ: the row's mean rate minus the reference's mean rate. [a, b]: 95 % interval and p: "
        "two-sided p-value of a paired bootstrap over the test utterances ({} resamples; each resample draws the "
        "test utterances with replacement, the same for both rows, and each row's seeds with replacement, so it "
        "covers seed noise as well as the choice of test utterances). A difference whose interval excludes 0 "
        "(p < 0.05) is larger than that noise; one whose interval contains 0 is not shown to be a "
        "difference.".format(resamples),
    ]


def write_csvs(results, rows, tests, out, declared=None):
    with io.open(os.path.join(out, "results.csv"), "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("seed",) + tables.CSV_COLUMNS)
        for result in results:
            changes = tables.layer_changes(result)
            writer.writerow([result.get("seed")] + [result.get(column) for column in tables.CSV_COLUMNS[:13]] +
                            ["" if changes[layer] is None else changes[layer] for layer in LAYERS])
    declared = declared or {}
    columns = ["scheme", "label", "seeds"]
    for measure, _, _, _ in MEASURES:
        columns += ["{}_{}".format(measure, key) for key in ("mean", "sd", "ci_low", "ci_high")]
    for kind in KINDS:
        if kind == "counterpart":
            columns.append("compare_with")
        for measure, _, _, _ in MEASURES:
            columns += ["{}_vs_{}_{}".format(measure, kind, key) for key in ("diff", "ci_low", "ci_high", "p")]
    with io.open(os.path.join(out, "summary.csv"), "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for name, row in rows.items():
            line = [name, row["label"], " ".join(str(seed) for seed in row["seeds"])]
            for measure, _, _, _ in MEASURES:
                line += [row[measure][key] for key in ("mean", "sd", "ci_low", "ci_high")]
            for kind in KINDS:
                if kind == "counterpart":
                    line.append(declared.get(name, ""))
                for measure, _, _, _ in MEASURES:
                    test = tests.get(name, {}).get((kind, measure))
                    line += [test[key] if test else "" for key in ("diff", "ci_low", "ci_high", "p")]
            writer.writerow(line)


def plot_bands(groups, path, title):
    """Mean dev loss per epoch over the seeds, the seeds' range as a band, the mean's best epoch as a dot."""
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    figure, axis = plt.subplots(figsize=(10.5, 5.5))
    colours = plt.get_cmap("tab10").colors
    styles = ["-", "--", "-.", ":"]
    lowest, highest = None, None
    for index, (name, runs) in enumerate(groups.items()):
        curves = [{entry["epoch"]: entry["dev_loss"] for entry in run.get("history", []) if "dev_loss" in entry}
                  for run in runs]
        epochs = sorted(set.intersection(*(set(curve) for curve in curves))) if curves else []
        if not epochs:
            continue
        values = [[curve[epoch] for curve in curves] for epoch in epochs]
        means = [sum(v) / len(v) for v in values]
        lows, highs = [min(v) for v in values], [max(v) for v in values]
        lowest = min(lows + ([lowest] if lowest is not None else []))
        highest = max(highs + ([highest] if highest is not None else []))
        colour = colours[index % len(colours)]
        axis.plot(epochs, means, styles[(index // len(colours)) % len(styles)], color=colour, linewidth=1.6,
                  label=tables.legend_label("{} ({} seed{})".format(runs[0]["label"], len(runs),
                                                                     "" if len(runs) == 1 else "s")))
        if len(runs) > 1:
            axis.fill_between(epochs, lows, highs, color=colour, alpha=0.18, linewidth=0)
        best = means.index(min(means))
        axis.plot([epochs[best]], [means[best]], "o", color=colour, markersize=7, markeredgecolor="black",
                  markeredgewidth=0.6)
    tables.finish_loss_axis(axis, title, [lowest, highest] if lowest is not None else [],
                            "line: mean over seeds\nband: lowest to highest seed\ndot: best mean epoch")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def write_all(results, out, title, notes, pending, resamples=stats.RESAMPLES):
    """Write results.md, results.csv, summary.csv and learning_curves.png to ``out``; returns the markdown."""
    groups = group_by_row(results)
    rows = summaries(groups)
    refs = references(groups)
    tests = comparisons(groups, refs, resamples)
    one_seed = all(len(runs) == 1 for runs in groups.values())
    parts = ["# {}".format(title), "", tables.markdown_table(results) if one_seed else seeds_table(rows), ""]
    compared = comparison_table(rows, tests, refs)
    if compared:
        parts += ["Paired differences over the test utterances (row minus reference; negative: fewer errors):", "",
                  compared, ""]
    paired = counterpart_table(rows, tests, groups)
    if paired:
        parts += ["Paired differences of each variant row against the row it varies (its compare_with; row minus "
                  "that row; negative: fewer errors):", "", paired, ""]
    parts += ["Notes:", ""]
    parts += ["- {}".format(note) for note in statistics_notes(rows, tests) + list(notes)]
    if not refs["baseline"] or not refs["transfer"]:
        missing = [label for kind, label in (("baseline", "a from-scratch row"), ("transfer", "a transfer row with "
                                                                                  "nothing frozen"))
                   if not refs[kind]]
        parts.append("- No comparison against {}: the runs hold no such row.".format(" or ".join(missing)))
    unpaired = ["{} (its counterpart {} has no results here)".format(tables.md_text(rows[name]["label"]), other)
                for name, other in counterparts(groups).items() if other not in rows]
    if unpaired:
        parts.append("- Not compared with their counterpart: {}.".format("; ".join(unpaired)))
    if pending:
        parts.append("- Not finished yet (no result.json): {}.".format(", ".join(pending)))
    text = "\n".join(parts) + "\n"
    with io.open(os.path.join(out, "results.md"), "w", encoding="utf-8") as handle:
        handle.write(text)
    write_csvs(results, rows, tests, out, counterparts(groups))
    plot_bands(groups, os.path.join(out, "learning_curves.png"), title)
    return text


def source_note(runs, label):
    """One line on the source models of a seeded runs folder: their test WER and CER over the seeds."""
    found, _ = tables.load_results(runs)
    wer = stats.summarize([result["wer"] for result in found])
    cer = stats.summarize([result["cer"] for result in found])
    return "{}: {} seed{}, test WER {} (95 % CI {}), CER {} (95 % CI {}).".format(
        label, wer["n"], "" if wer["n"] == 1 else "s", spread(wer), interval(wer), spread(cer), interval(cer))


def main(argv=None):
    import argparse  # pylint: disable=import-outside-toplevel
    parser = argparse.ArgumentParser(prog="python -m deepspeech_freeze.experiments.seed_tables",
                                     description="Print one line on the source models of a runs folder (e.g. "
                                                 "for --note of the results tables).")
    parser.add_argument("--source_note", required=True, help="runs folder of the source model (runner's --out)")
    parser.add_argument("--label", default="Source model", help="what the line calls the models")
    args = parser.parse_args(argv)
    print(run_cli(source_note, args.source_note, args.label))


if __name__ == "__main__":
    main()
