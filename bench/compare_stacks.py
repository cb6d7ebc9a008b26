#!/usr/bin/env python
"""Training step time of the TF 1.15 stack against the TF 2 stack on the same workload, per freeze spec.

Each stack runs ``bench/train_throughput.py`` (the real training graph, synthetic WAVs through the real input
pipeline) in its own process with its own interpreter, one after the other in this one invocation, with the same
workload arguments; the report gives each spec's median step time on both and the ratio ``tf1 / tf2`` (above 1:
the TF 2 stack is faster). The TF 1.15 stack trains with BlockLSTM, as DeepSpeech; the TF 2 stack runs once per
LSTM forward in ``--tf2_forwards`` (``$DSF_LSTM_FORWARD``: ``fused`` BlockLSTM, ``projected`` with the input
projection as one matmul), each in its own process, and the ratio is given for each.

    python bench/compare_stacks.py                                  # n_hidden 2048, batch 24, 5 s, 2 steps
    python bench/compare_stacks.py --n_hidden 512 --specs 0 1-3 --steps 1 --output stacks.json

The interpreters come from ``--tf1_python`` / ``--tf2_python``, else ``$DSF_TF1_PYTHON`` / ``$DSF_TF2_PYTHON``, else
the repository's ``.venv`` and ``.venv-tf2``. Timings on a shared machine are noisy: the stacks run minutes apart, so
compare ratios, and repeat the invocation when the load average moved (both are printed).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

from report import write_report  # this script's folder is on sys.path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
THROUGHPUT = os.path.join(ROOT, "bench", "train_throughput.py")
STACKS = ("tf1", "tf2")
VENVS = {"tf1": ".venv", "tf2": ".venv-tf2"}
#: Keys of the JSON report (tests/test_bench.py checks them).
REPORT_KEYS = ("config", "stacks", "specs", "goal")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n_hidden", type=int, default=2048, help="model width (default 2048)")
    parser.add_argument("--batch", type=int, default=24, help="utterances per step (default 24)")
    parser.add_argument("--seconds", type=float, default=5.0, help="utterance length (default 5)")
    parser.add_argument("--steps", type=int, default=2, help="timed steps per spec after a warm-up step (default 2)")
    parser.add_argument("--specs", nargs="+", default=["0", "1-3", "1-4"], metavar="SPEC",
                        help="freeze specs (default: 0 1-3 1-4)")
    parser.add_argument("--tf2_forwards", nargs="+", default=["fused", "projected"], choices=["fused", "projected"],
                        help="LSTM forwards to run on the TF 2 stack (default: both)")
    for stack in STACKS:
        parser.add_argument("--{}_python".format(stack), help="the {} stack's interpreter".format(stack))
    parser.add_argument("--output", help="write the report as JSON to this file")
    args = parser.parse_args(argv)
    for name in ("n_hidden", "batch", "steps"):
        if getattr(args, name) < 1:
            parser.error("--{} must be at least 1".format(name))
    return args


def interpreter(stack, given):
    """The interpreter for ``stack``; a missing one ends the run with a message saying how to install it."""
    path = given or os.environ.get("DSF_{}_PYTHON".format(stack.upper())) or os.path.join(ROOT, VENVS[stack],
                                                                                           "bin", "python")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        sys.stderr.write("ERROR: no {} interpreter at {}: run `bin/install.sh --stack {}` or pass --{}_python\n"
                         .format(stack, path, stack, stack))
        sys.exit(2)
    return path


def run_stack(stack, python, args, folder, forward):
    """One ``train_throughput.py`` process on ``stack`` with LSTM ``forward``; returns its JSON report."""
    output = os.path.join(folder, "{}-{}.json".format(stack, forward))
    command = [python, THROUGHPUT, "--n_hidden", str(args.n_hidden), "--batch", str(args.batch), "--seconds",
               str(args.seconds), "--steps", str(args.steps), "--no_stock", "--no_repeat", "--output", output,
               "--specs"] + list(args.specs)
    print("== {} ({} LSTM forward): {}".format(stack, forward, " ".join(command[1:])), flush=True)
    environment = dict(os.environ, PYTHONPATH=ROOT, DSF_LSTM_FORWARD=forward)
    result = subprocess.run(command, cwd=ROOT, env=environment)
    if result.returncode != 0:
        sys.stderr.write("ERROR: the {} run failed (exit {})\n".format(stack, result.returncode))
        sys.exit(1)
    with open(output) as handle:
        return json.load(handle)


def compare(reports, specs):
    """Per spec: the median step time of each run (``tf1``, ``tf2 fused``, ``tf2 projected``) and ``tf1 / tf2`` for
    each TF 2 run."""
    rows = []
    for spec in specs:
        row = {"spec": spec}
        for name, report in reports.items():
            run = next(run for run in report["runs"] if run["spec"] == spec and run["gradient"] == "fast")
            row[name] = run["median_step_s"]
        for name in reports:
            if name.startswith("tf2"):
                row["tf1 / " + name] = row["tf1"] / row[name]
        rows.append(row)
    return rows


def main(argv=None):
    args = parse_args(argv)
    pythons = {stack: interpreter(stack, getattr(args, stack + "_python")) for stack in STACKS}
    runs = [("tf1", "tf1", "fused")] + [("tf2 " + forward, "tf2", forward) for forward in args.tf2_forwards]
    with tempfile.TemporaryDirectory(prefix="dsf-stacks-") as folder:
        reports = {name: run_stack(stack, pythons[stack], args, folder, forward) for name, stack, forward in runs}
    rows = compare(reports, args.specs)
    print("\nn_hidden {}, batch {}, {} s utterances, median of {} steps".format(args.n_hidden, args.batch,
                                                                                args.seconds, args.steps))
    columns = [name for name, _, _ in runs] + ["tf1 / " + name for name, _, _ in runs[1:]]
    print("{:<8}".format("frozen") + "".join("{:>20}".format(column) for column in columns))
    for row in rows:
        print("{:<8}".format(row["spec"]) + "".join(
            "{:>19.2f}{}".format(row[column], "x" if "/" in column else "s") for column in columns))
    for name, report in reports.items():
        environment = report["environment"]
        print("{}: TensorFlow {} on Python {}, load average {:.1f} -> {:.1f}, matmul peak TF {:.0f} GFLOP/s".format(
            name, environment["tensorflow"], environment["python"], environment["load_average_before"][0],
            environment["load_average_after"][0], report["peak_matmul"]["tf_gflops"]))
    goal = next((row for row in rows if row["spec"] == "0"), None)
    best = None if goal is None else max((goal["tf1 / " + name], name) for name, _, _ in runs[1:])
    report = {"config": {"n_hidden": args.n_hidden, "batch": args.batch, "seconds": args.seconds,
                         "steps": args.steps, "specs": args.specs, "tf2_forwards": args.tf2_forwards},
              "stacks": {name: {"python": pythons[stack], "lstm_forward": forward,
                                "environment": reports[name]["environment"],
                                "peak_matmul": reports[name]["peak_matmul"]} for name, stack, forward in runs},
              "specs": rows,
              "goal": None if best is None else {"spec": "0", "run": best[1], "tf1_over_tf2": best[0],
                                                 "target": 1.5, "met": best[0] >= 1.5}}
    if best is not None:
        print("goal (0 frozen, tf1 / tf2 >= 1.5): {:.2f}x with {}: {}".format(
            best[0], best[1], "met" if best[0] >= 1.5 else "not met"))
    write_report(args.output, report)
    return report


if __name__ == "__main__":
    main()
