#!/usr/bin/env python
"""Training step time per TF thread setting (intra-op x inter-op), on the graph bench/train_throughput.py times.

bench/train_throughput.py fixes the trainer's flags, so it always runs with TF's default thread pools (0: TF
chooses). This script reuses its synthetic data and ``run_spec`` (the real ``train.build_training_graph`` fed by
``data.create_dataset``) and only sets ``--intra_op_parallelism_threads`` / ``--inter_op_parallelism_threads``.
TensorFlow sizes its thread pools once per process (the first session's settings win; later sessions in the same
process reuse those pools), so **every run of a setting is its own Python process**: this script starts itself
once per setting and round and collects the results. Settings are run in rotation for ``--rounds`` rounds, so load
drift on a shared machine spreads over all of them; the report gives each setting's median over all its timed
steps, its ratio to the first, and the OS threads its process had after the run (the pools TF actually made).

    python bench/threads.py                                   # n_hidden 2048, batch 24, 5 s, 0 frozen
    python bench/threads.py --n_hidden 512 --settings 0,0 1,1 2,1 --output t.json
    python bench/threads.py --n_hidden 64 --batch 2 --steps 1 --settings 0,0 --automatic_mixed_precision

``--automatic_mixed_precision`` builds the graph with the trainer's flag of that name (TF's float16 graph
rewrite), to show what it does where no GPU is present.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import train_throughput as tt  # noqa: E402  (this script's folder is on sys.path)

from deepspeech_freeze.tfcompat import tf  # noqa: E402

from deepspeech_freeze import data  # noqa: E402
from deepspeech_freeze.config import from_flags  # noqa: E402
from deepspeech_freeze.flags import FLAGS, define_flags  # noqa: E402
from deepspeech_freeze.naming import parse_layer_set  # noqa: E402


def parse_setting(text):
    intra, _, inter = text.partition(",")
    try:
        return int(intra), int(inter)
    except ValueError:
        raise argparse.ArgumentTypeError("a setting is INTRA,INTER (e.g. 2,1), got {!r}".format(text))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    tt.add_workload_arguments(parser)
    parser.add_argument("--steps", type=int, default=2, help="timed steps per run after a warm-up step (default 2)")
    parser.add_argument("--rounds", type=int, default=1, help="runs of every setting, in rotation (default 1)")
    parser.add_argument("--spec", default="0", help="freeze spec as --freeze_layers takes it (default 0)")
    parser.add_argument("--settings", nargs="+", type=parse_setting, metavar="INTRA,INTER",
                        default=[(0, 0), (1, 1), (2, 1), (1, 2), (2, 2)],
                        help="thread settings; 0 is TF's default; the first is the ratio baseline "
                             "(default: 0,0 1,1 2,1 1,2 2,2)")
    parser.add_argument("--automatic_mixed_precision", action="store_true",
                        help="build with the trainer's --automatic_mixed_precision")
    parser.add_argument("--output", help="write the report as JSON to this file")
    # One setting in this process (how the script runs each setting): the data folder and where to put the result.
    parser.add_argument("--worker", type=parse_setting, help=argparse.SUPPRESS)
    parser.add_argument("--worker_data", help=argparse.SUPPRESS)
    parser.add_argument("--worker_output", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    parse_layer_set(args.spec)
    return args


def os_threads():
    """Threads of this process (Linux /proc), or None."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def run_worker(args):
    """Time one thread setting in this fresh process (its first TF session sizes the pools) and write the run.
    The parent process never opens a TF session, so nothing is sized before the workers."""
    tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)
    define_flags()
    intra, inter = args.worker
    flags = ["threads", "--alphabet_config_path", tt.ENGLISH, "--n_hidden", str(args.n_hidden),
             "--train_batch_size", str(args.batch), "--noshow_progressbar",
             "--intra_op_parallelism_threads", str(intra), "--inter_op_parallelism_threads", str(inter)]
    if args.automatic_mixed_precision:
        flags.append("--automatic_mixed_precision")
    FLAGS(flags)
    config = from_flags()
    frame = data.load_samples([os.path.join(args.worker_data, "bench.csv")], config, reject_short=True)
    run = tt.run_spec(args.spec, "fast", config, frame, args, args.steps)
    run.pop("trace", None)
    run.update(pid=os.getpid(), os_threads=os_threads())
    tt.write_report(args.worker_output, run)


def run_setting(args, folder, intra, inter, index):
    """Run one setting in a child process (this script with ``--worker``); returns its run."""
    result = os.path.join(folder, "run-{}.json".format(index))
    command = [sys.executable, os.path.abspath(__file__), "--worker", "{},{}".format(intra, inter),
               "--worker_data", folder, "--worker_output", result, "--n_hidden", str(args.n_hidden),
               "--batch", str(args.batch), "--seconds", str(args.seconds), "--chars", str(args.chars),
               "--steps", str(args.steps), "--spec", args.spec]
    if args.automatic_mixed_precision:
        command.append("--automatic_mixed_precision")
    completed = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    if completed.returncode != 0:
        sys.stderr.write(completed.stdout)
        raise SystemExit("bench/threads.py: the run of intra {} inter {} failed (exit {})".format(
            intra, inter, completed.returncode))
    sys.stdout.write(completed.stdout)  # TF's own log lines, e.g. what --automatic_mixed_precision does on CPU
    with open(result) as handle:
        return json.load(handle)


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return run_worker(args)
    results = {setting: [] for setting in args.settings}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="dsf-threads-") as folder:
        _, chars = tt.write_dataset(folder, args)
        index = 0
        for round_index in range(args.rounds):
            for intra, inter in args.settings:
                run = run_setting(args, folder, intra, inter, index)
                index += 1
                results[(intra, inter)].append(run)
                print("  round {} intra {} inter {} (pid {}, {} OS threads): steps {} s (CPU {}), warm-up {:.1f} s, "
                      "loss {}".format(round_index + 1, intra, inter, run["pid"], run["os_threads"],
                                       " ".join("{:.2f}".format(t) for t in run["step_s"]),
                                       " ".join("{:.1f}".format(t) for t in run["step_cpu_s"]), run["warmup_s"],
                                       " ".join("{:.3f}".format(loss) for loss in run["losses"])), flush=True)
    rows = []
    for (intra, inter), runs in results.items():
        steps = [t for run in runs for t in run["step_s"]]
        cpu = [t for run in runs for t in run["step_cpu_s"]]
        rows.append({"intra_op": intra, "inter_op": inter, "step_s": steps, "median_step_s": statistics.median(steps),
                     "min_step_s": min(steps), "max_step_s": max(steps), "step_cpu_s": cpu,
                     "median_cpu_s": statistics.median(cpu),
                     "audio_s_per_s": args.batch * args.seconds / statistics.median(steps),
                     "peak_rss_mb": max(run["peak_rss_mb"] for run in runs),
                     "pids": [run["pid"] for run in runs], "os_threads": [run["os_threads"] for run in runs],
                     "losses": [run["losses"] for run in runs]})
    for row in rows:
        row["ratio_to_first"] = rows[0]["median_step_s"] / row["median_step_s"]
    tf_version = tf.__version__
    report = {"config": {"n_hidden": args.n_hidden, "batch": args.batch, "seconds": args.seconds, "chars": chars,
                         "steps": args.steps, "rounds": args.rounds, "spec": args.spec,
                         "automatic_mixed_precision": args.automatic_mixed_precision,
                         "process_per_run": True},
              "environment": {"tensorflow": tf_version, "cpus": os.cpu_count(), "parent_pid": os.getpid(),
                              "load_average_before": load_before, "load_average_after": os.getloadavg()},
              "settings": rows}
    print("Thread settings: n_hidden {}, batch {}, {:g} s utterances, spec {}, {} round(s) x {} steps; TF {}; "
          "one process per run".format(args.n_hidden, args.batch, args.seconds, args.spec, args.rounds, args.steps,
                                       tf_version))
    print("{:>5} {:>5} {:>12} {:>10} {:>10} {:>10} {:>9} {:>10}".format(
        "intra", "inter", "median s", "min s", "max s", "CPU s", "x vs 1st", "OS threads"))
    for row in rows:
        print("{intra_op:>5} {inter_op:>5} {median_step_s:>12.2f} {min_step_s:>10.2f} {max_step_s:>10.2f} "
              "{median_cpu_s:>10.1f} {ratio_to_first:>9.2f} {threads:>10}".format(
                  threads="/".join(str(t) for t in row["os_threads"]), **row))
    tt.write_report(args.output, report)
    return report


if __name__ == "__main__":
    main()
