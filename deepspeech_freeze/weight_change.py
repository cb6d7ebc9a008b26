"""How far did each layer move? Per-layer weight change between two checkpoints (Kunze et al. 2017).

``python -m deepspeech_freeze.weight_change --source DIR_A --target DIR_B [--png change.png] [--json change.json]``

For each layer (1-3 dense, 4 LSTM, 5 dense, 6 output) all its weights and biases are taken as one vector W:
relative change ||W_B - W_A|| / ||W_A||, cosine similarity of W_A and W_B, and the largest absolute change. A frozen
layer reads exactly 0 / 1 / 0; a layer whose shape changed (a re-initialised output layer for a new alphabet) has
no comparison. Adam slots and the optimizer's scalars are ignored.
"""
import io
import json
import os

import numpy as np
from absl import flags

from .checkpoints import CheckpointView, find_checkpoint
from .errors import UserError, run_main
from .naming import KIND_OF_LAYER, LAYERS, LSTM_OPAQUE, is_adam_slot, layer_of_variable
from .logs import setup_logging

FLAGS = flags.FLAGS


def resolve_checkpoint(path):
    """A checkpoint path, or a directory (its best_dev checkpoint, else the latest train checkpoint)."""
    if os.path.isdir(path):
        found = find_checkpoint(path, "best") or find_checkpoint(path, "last")
        if found is None:
            raise UserError("{} holds no checkpoint (no best_dev_checkpoint or checkpoint state file)".format(path))
        return found
    if os.path.isfile(path + ".index"):
        return path
    raise UserError("{} is neither a checkpoint directory nor a checkpoint path".format(path))


def layer_vectors(view):
    """``{layer: {variable name: array}}`` of a checkpoint's weights (cuDNN opaque buffers excluded: the canonical
    copies represent the LSTM)."""
    layers = {}
    for name in sorted(view.shapes):
        layer = layer_of_variable(name)
        if layer is None or is_adam_slot(name) or name.startswith(LSTM_OPAQUE):
            continue
        layers.setdefault(layer, {})[name] = np.asarray(view.get_tensor(name), dtype=np.float64)
    return layers


def compare(source, target):
    """Rows ``{layer, kind, relative_change, cosine, max_abs_change, parameters, note}`` for layers 1-6."""
    a_layers, b_layers = layer_vectors(CheckpointView(source)), layer_vectors(CheckpointView(target))
    rows = []
    for layer in LAYERS:
        a, b = a_layers.get(layer, {}), b_layers.get(layer, {})
        row = {"layer": layer, "kind": KIND_OF_LAYER[layer], "relative_change": None, "cosine": None,
               "max_abs_change": None, "parameters": int(sum(v.size for v in b.values())), "note": ""}
        if not a or not b:
            row["note"] = "missing in {}".format("source" if not a else "target")
        elif a.keys() != b.keys() or any(a[n].shape != b[n].shape for n in a):
            row["note"] = "shape changed (re-initialised)"
        else:
            va = np.concatenate([a[n].ravel() for n in sorted(a)])
            vb = np.concatenate([b[n].ravel() for n in sorted(b)])
            diff = vb - va
            norm_a, norm_b = np.linalg.norm(va), np.linalg.norm(vb)
            row["relative_change"] = float(np.linalg.norm(diff) / norm_a) if norm_a else float("inf")
            row["cosine"] = float(np.clip(va.dot(vb) / (norm_a * norm_b), -1.0, 1.0)) if norm_a and norm_b \
                else float("nan")
            row["max_abs_change"] = float(np.abs(diff).max())
            if not diff.any():
                row["cosine"] = 1.0  # exactly, rather than 1 +- rounding of the dot product
                row["note"] = "unchanged (bit-identical)"
        rows.append(row)
    return rows


def format_table(rows, source, target):
    """The comparison as a fixed-width text table."""
    lines = ["Weight change per layer: {} -> {}".format(source, target),
             "{:>5}  {:<7} {:>15} {:>12} {:>15} {:>11}  {}".format("layer", "kind", "rel. change", "cosine",
                                                                     "max |change|", "parameters", "note")]
    for row in rows:
        def number(value, fmt):
            return fmt.format(value) if value is not None else "-"
        lines.append("{:>5}  {:<7} {:>15} {:>12} {:>15} {:>11}  {}".format(
            row["layer"], row["kind"], number(row["relative_change"], "{:.6g}"), number(row["cosine"], "{:.6f}"),
            number(row["max_abs_change"], "{:.6g}"), row["parameters"], row["note"]))
    return "\n".join(lines)


def plot(rows, path, title):
    """Bar chart of the relative change per layer (PNG)."""
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    labels = ["{}\n{}".format(r["layer"], r["kind"]) for r in rows]
    values = [r["relative_change"] if r["relative_change"] is not None else 0.0 for r in rows]
    figure, axis = plt.subplots(figsize=(7, 4))
    bars = axis.bar(labels, values, color=["#888888" if r["relative_change"] is None else "#3a6ea5" for r in rows])
    for bar, row in zip(bars, rows):
        text = "n/a" if row["relative_change"] is None else ("0 (unchanged)" if row["relative_change"] == 0
                                                            else "{:.3g}".format(row["relative_change"]))
        axis.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom",
                      fontsize=8)
    axis.set_ylabel("||W_target - W_source|| / ||W_source||")
    axis.set_xlabel("layer")
    axis.set_title(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def inspect_checkpoints(source, target, png="", json_path=""):
    """Compare two checkpoints (or directories); print the table, optionally write PNG and JSON; return rows."""
    source, target = resolve_checkpoint(source), resolve_checkpoint(target)
    rows = compare(source, target)
    print(format_table(rows, source, target))
    if png:
        plot(rows, png, "{} -> {}".format(os.path.basename(source), os.path.basename(target)))
    if json_path:
        with io.open(json_path, "w", encoding="utf-8") as handle:
            json.dump({"source": source, "target": target, "layers": rows}, handle, indent=2)
    return rows


def main(_argv):
    setup_logging(1)
    missing = [flag for flag in ("--source", "--target") if not FLAGS[flag[2:]].value]
    if missing:
        raise UserError("give {} (checkpoint {} or paths)".format(" and ".join(missing), "directories"
                                                                  if len(missing) == 2 else "directory"))
    inspect_checkpoints(FLAGS.source, FLAGS.target, FLAGS.png, FLAGS.json)


if __name__ == "__main__":
    flags.DEFINE_string("source", "", "checkpoint directory or path before training (e.g. the transfer source)")
    flags.DEFINE_string("target", "", "checkpoint directory or path after training")
    flags.DEFINE_string("png", "", "write a bar chart of the relative change per layer to this PNG file")
    flags.DEFINE_string("json", "", "write the table as JSON to this file")
    run_main(main)
