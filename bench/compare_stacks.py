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

``--amp_forwards projected`` adds a TF 2 run with ``--automatic_mixed_precision`` (on a CPU: oneDNN's bfloat16
rewrite, deepspeech_freeze/precision.py) per forward given, as a column of its own with its speed-up over the same
forward without the flag, and the speed-up of each freeze spec over 0 frozen with the flag; the per-op-category
time of a traced 0-frozen step of every run follows the table. ``--whole_run 48`` times whole trainer runs instead
of steps: ``python -m deepspeech_freeze.train`` for one epoch over 48 utterances (each spec but 0 loads the same
run's 0-frozen checkpoint and freezes), the process's wall time from start to exit. ``--no_tf1`` leaves the TF 1.15
stack out.

    python bench/compare_stacks.py --no_tf1 --tf2_forwards projected --amp_forwards projected --specs 0 1-3 \
        --seconds 4 --whole_run 48 --output bf16.json    # the --automatic_mixed_precision goals

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
import time

from report import write_report  # this script's folder is on sys.path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
THROUGHPUT = os.path.join(ROOT, "bench", "train_throughput.py")
ENGLISH = os.path.join(ROOT, "data", "alphabets", "english.txt")
STACKS = ("tf1", "tf2")
VENVS = {"tf1": ".venv", "tf2": ".venv-tf2"}
#: Keys of the JSON report (tests/test_bench.py checks them).
REPORT_KEYS = ("config", "stacks", "specs", "goal", "amp_goals", "op_time", "cpu")


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
    parser.add_argument("--amp_forwards", nargs="*", default=[], choices=["fused", "projected"],
                        help="LSTM forwards to run on the TF 2 stack with --automatic_mixed_precision (default: none)")
    parser.add_argument("--no_tf1", action="store_true", help="leave the TF 1.15 stack out")
    parser.add_argument("--whole_run", type=int, default=0, metavar="UTTERANCES",
                        help="time whole one-epoch trainer runs over this many utterances instead of steps")
    for stack in STACKS:
        parser.add_argument("--{}_python".format(stack), help="the {} stack's interpreter".format(stack))
    parser.add_argument("--output", help="write the report as JSON to this file")
    args = parser.parse_args(argv)
    if args.whole_run and "0" not in args.specs:
        parser.error("--whole_run: the specs must include 0 (the frozen runs load its checkpoint)")
    if args.whole_run and args.whole_run < args.batch:
        parser.error("--whole_run: at least --batch utterances")
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


def run_stack(stack, python, args, folder, forward, amp=False):
    """One ``train_throughput.py`` process on ``stack`` with LSTM ``forward`` (``amp``: with
    ``--automatic_mixed_precision``); returns its JSON report."""
    output = os.path.join(folder, "{}-{}{}.json".format(stack, forward, "-amp" if amp else ""))
    command = [python, THROUGHPUT, "--n_hidden", str(args.n_hidden), "--batch", str(args.batch), "--seconds",
               str(args.seconds), "--steps", str(args.steps), "--no_stock", "--no_repeat", "--output", output,
               "--specs"] + list(args.specs) + (["--automatic_mixed_precision"] if amp else [])
    print("== {} ({} LSTM forward{}): {}".format(stack, forward, ", amp" if amp else "", " ".join(command[1:])),
          flush=True)
    environment = dict(os.environ, PYTHONPATH=ROOT, DSF_LSTM_FORWARD=forward)
    result = subprocess.run(command, cwd=ROOT, env=environment)
    if result.returncode != 0:
        sys.stderr.write("ERROR: the {} run failed (exit {})\n".format(stack, result.returncode))
        sys.exit(1)
    with open(output) as handle:
        return json.load(handle)


def whole_run(stack, python, args, folder, forward, amp, csv_path):
    """``{"runs": [{"spec", "median_step_s", "gradient", "epoch_s"}], "environment"}`` of whole one-epoch trainer
    runs per spec (``median_step_s`` holds the process's wall time, so :func:`compare` reads both kinds alike)."""
    name = "{}-{}{}".format(stack, forward, "-amp" if amp else "")
    base = [python, "-m", "deepspeech_freeze.train", "--train_files", csv_path, "--epochs", "1", "--n_hidden",
            str(args.n_hidden), "--train_batch_size", str(args.batch), "--alphabet_config_path", ENGLISH,
            "--noshow_progressbar"] + (["--automatic_mixed_precision"] if amp else [])
    environment = dict(os.environ, PYTHONPATH=ROOT, DSF_LSTM_FORWARD=forward)
    runs, load_before = [], os.getloadavg()
    for spec in sorted(args.specs, key=lambda spec: spec != "0"):  # 0 first: the others load its checkpoint
        target = os.path.join(folder, "{}-{}".format(name, spec))
        if spec == "0":
            command = base + ["--checkpoint_dir", target]
        else:
            command = base + ["--load_checkpoint_dir", os.path.join(folder, name + "-0"), "--save_checkpoint_dir",
                              target, "--freeze_layers", spec]
        command += ["--summary_dir", target + "-summaries"]
        print("== {} ({} LSTM forward{}), frozen {}: {}".format(stack, forward, ", amp" if amp else "", spec,
                                                                 " ".join(command[1:])), flush=True)
        started = time.perf_counter()
        result = subprocess.run(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                universal_newlines=True)
        seconds = time.perf_counter() - started
        if result.returncode != 0:
            sys.stderr.write(result.stdout[-3000:] + "\nERROR: the {} run failed (exit {})\n".format(
                name, result.returncode))
            sys.exit(1)
        with open(os.path.join(target, "run.json")) as handle:
            history = json.load(handle)["history"]
        epoch = sum(entry["seconds"] for entry in history)
        print("   {:.1f} s whole run ({:.1f} s in the training epoch)".format(seconds, epoch), flush=True)
        runs.append({"spec": spec, "gradient": "fast", "median_step_s": seconds, "epoch_s": epoch,
                     "log_tail": [line for line in result.stdout.splitlines() if "bfloat16" in line
                                  or "mixed_precision" in line][:4]})
    version = subprocess.run([python, "-c", "import platform, tensorflow as t; print(t.__version__, "
                                            "platform.python_version())"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, universal_newlines=True).stdout.split()
    return {"runs": runs, "environment": {"tensorflow": version[0] if version else "?",
                                          "python": version[1] if len(version) > 1 else "?",
                                          "load_average_before": load_before,
                                          "load_average_after": os.getloadavg()},
            "peak_matmul": None, "op_time_breakdown": {}}


def compare(reports, specs):
    """Per spec: the median step time (or whole-run time) of each run (``tf1``, ``tf2 fused``, ``tf2 projected``,
    ``tf2 projected amp`` ...), ``tf1 / X`` for each TF 2 run and ``X / X amp`` for each run with the flag."""
    rows = []
    for spec in specs:
        row = {"spec": spec}
        for name, report in reports.items():
            run = next(run for run in report["runs"] if run["spec"] == spec and run["gradient"] == "fast")
            row[name] = run["median_step_s"]
        for name in reports:
            if name.startswith("tf2") and "tf1" in reports:
                row["tf1 / " + name] = row["tf1"] / row[name]
        for name in reports:
            if name.endswith(" amp") and name[:-len(" amp")] in reports:
                row["{} / {}".format(name[:-len(" amp")], name)] = row[name[:-len(" amp")]] / row[name]
        rows.append(row)
    return rows


def amp_goals(rows, names):
    """The ``--automatic_mixed_precision`` goals per run with the flag: at 0 frozen at least 2x faster than the same
    forward without it, and 1-3 frozen at least 1.5x faster than 0 frozen with it."""
    goals = []
    by_spec = {row["spec"]: row for row in rows}
    for name in names:
        if not name.endswith(" amp"):
            continue
        plain = name[:-len(" amp")]
        if "0" in by_spec and plain in by_spec["0"]:
            value = by_spec["0"][plain] / by_spec["0"][name]
            goals.append({"what": "0 frozen: {} / {}".format(plain, name), "value": value, "target": 2.0,
                          "met": value >= 2.0})
        if "0" in by_spec and "1-3" in by_spec:
            value = by_spec["0"][name] / by_spec["1-3"][name]
            goals.append({"what": "{}: 0 frozen / 1-3 frozen".format(name), "value": value, "target": 1.5,
                          "met": value >= 1.5})
    return goals


def cpu_model():
    """The CPU's model name and its bfloat16 flags, from /proc/cpuinfo."""
    model, flags = "unknown", set()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model == "unknown":
                    model = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return {"model": model, "cores": os.cpu_count(),
            "bfloat16_flags": [flag for flag in ("amx_bf16", "avx512_bf16") if flag in flags]}


def op_time_table(reports):
    """Per op category (rows) and run (columns): seconds summed over the ops of a traced 0-frozen step."""
    categories = []
    for report in reports.values():
        for category in report.get("op_time_breakdown") or {}:
            if category not in categories:
                categories.append(category)
    return {category: {name: (report.get("op_time_breakdown") or {}).get(category) for name, report in
                       reports.items()} for category in categories}


def main(argv=None):
    args = parse_args(argv)
    stacks = [stack for stack in STACKS if not (stack == "tf1" and args.no_tf1)]
    pythons = {stack: interpreter(stack, getattr(args, stack + "_python")) for stack in stacks}
    runs = ([] if args.no_tf1 else [("tf1", "tf1", "fused", False)]) + \
        [("tf2 " + forward, "tf2", forward, False) for forward in args.tf2_forwards] + \
        [("tf2 {} amp".format(forward), "tf2", forward, True) for forward in args.amp_forwards]
    cpu = cpu_model()
    print("CPU: {} ({} cores; bfloat16 flags: {})".format(cpu["model"], cpu["cores"],
                                                           ", ".join(cpu["bfloat16_flags"]) or "none"), flush=True)
    with tempfile.TemporaryDirectory(prefix="dsf-stacks-") as folder:
        if args.whole_run:
            csv_path = subprocess.run(
                [pythons["tf2"], THROUGHPUT, "--write_dataset", os.path.join(folder, "data"), "--batch",
                 str(args.whole_run), "--seconds", str(args.seconds)], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout.strip().splitlines()[-1]
            reports = {name: whole_run(stack, pythons[stack], args, folder, forward, amp, csv_path)
                       for name, stack, forward, amp in runs}
        else:
            reports = {name: run_stack(stack, pythons[stack], args, folder, forward, amp)
                       for name, stack, forward, amp in runs}
    rows = compare(reports, args.specs)
    if args.whole_run:
        print("\nn_hidden {}, batch {}, whole one-epoch runs over {} utterances of {} s (process wall time)".format(
            args.n_hidden, args.batch, args.whole_run, args.seconds))
    else:
        print("\nn_hidden {}, batch {}, {} s utterances, median of {} steps".format(args.n_hidden, args.batch,
                                                                                    args.seconds, args.steps))
    columns = [name for name, _, _, _ in runs] + [key for key in rows[0] if "/" in key]
    widths = [max(20, len(column) + 2) for column in columns]
    print("{:<8}".format("frozen") + "".join("{:>{}}".format(column, width) for column, width in zip(columns, widths)))
    for row in rows:
        print("{:<8}".format(row["spec"]) + "".join(
            "{:>{}.2f}{}".format(row[column], width - 1, "x" if "/" in column else "s")
            for column, width in zip(columns, widths)))
    for name, report in reports.items():
        environment = report["environment"]
        peak = report["peak_matmul"]
        print("{}: TensorFlow {} on Python {}, load average {:.1f} -> {:.1f}{}".format(
            name, environment["tensorflow"], environment["python"], environment["load_average_before"][0],
            environment["load_average_after"][0], ", matmul peak TF {:.0f} GFLOP/s".format(peak["tf_gflops"])
            if peak else ""))
    op_time = op_time_table(reports)
    if op_time:
        names = list(reports)
        print("\nop time in a traced 0-frozen step (s, summed over ops):")
        print("{:<26}".format("category") + "".join("{:>20}".format(name) for name in names))
        for category, values in op_time.items():
            print("{:<26}".format(category) + "".join(
                "{:>20}".format("-" if values[name] is None else "{:.3f}".format(values[name])) for name in names))
    for name, report in reports.items():
        converted = {category: entry for category, entry in (report.get("bfloat16_ops") or {}).items()
                     if entry["bfloat16"]}
        if name.endswith(" amp") and "bfloat16_ops" in report:
            print("{}: bfloat16 compute ops per category: {}".format(name, ", ".join(
                "{} {}/{}".format(category, entry["bfloat16"], entry["ops"]) for category, entry in converted.items())
                or "none"))
        for run in report["runs"]:
            for line in run.get("log_tail", [])[:2]:
                print("{} frozen {} logged: {}".format(name, run["spec"], line.strip()))
    goal = next((row for row in rows if row["spec"] == "0"), None)
    tf2_runs = [name for name, _, _, _ in runs if name.startswith("tf2")]
    best = None if goal is None or args.no_tf1 or not tf2_runs else \
        max((goal["tf1 / " + name], name) for name in tf2_runs)
    goals = amp_goals(rows, [name for name, _, _, _ in runs])
    report = {"config": {"n_hidden": args.n_hidden, "batch": args.batch, "seconds": args.seconds,
                         "steps": args.steps, "specs": args.specs, "tf2_forwards": args.tf2_forwards,
                         "amp_forwards": args.amp_forwards, "whole_run": args.whole_run},
              "stacks": {name: {"python": pythons[stack], "lstm_forward": forward, "automatic_mixed_precision": amp,
                                "environment": reports[name]["environment"],
                                "peak_matmul": reports[name]["peak_matmul"],
                                "bfloat16_ops": reports[name].get("bfloat16_ops")}
                         for name, stack, forward, amp in runs},
              "specs": rows,
              "goal": None if best is None else {"spec": "0", "run": best[1], "tf1_over_tf2": best[0],
                                                 "target": 1.5, "met": best[0] >= 1.5},
              "amp_goals": goals, "op_time": op_time, "cpu": cpu}
    if best is not None:
        print("goal (0 frozen, tf1 / tf2 >= 1.5): {:.2f}x with {}: {}".format(
            best[0], best[1], "met" if best[0] >= 1.5 else "not met"))
    for item in goals:
        print("goal ({} >= {}): {:.2f}x: {}".format(item["what"], item["target"], item["value"],
                                                   "met" if item["met"] else "not met"))
    write_report(args.output, report)
    return report


if __name__ == "__main__":
    main()
