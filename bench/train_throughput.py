#!/usr/bin/env python
"""Training throughput of the real training graph for each freeze spec, and the LSTM gradient's share.

What runs is what ``python -m deepspeech_freeze.train`` runs per step: synthetic 16 kHz WAV files and a CSV go through
``data.load_samples`` and ``data.create_dataset`` (WAV decoding and MFCCs in the tf.data pipeline), then
``train.build_training_graph`` (the model, CTC loss, Adam over the trainable variables) with the freezing of
``Config.transfer.frozen_layers``. Variables start from their initialisers (no checkpoint is needed to time a step).

Per freeze spec: one warm-up step, then ``--steps`` timed steps; reported as steps/s and audio-seconds per
wall-second (median step), each also as a ratio to the 0-frozen run of the same invocation. Also: fast versus stock
LSTM gradient at 0 frozen; the dense layers' achieved FLOP rate (from a traced step) against a float32 matmul peak
measured in this process (numpy and TF); peak RSS per run.

    python bench/train_throughput.py                      # n_hidden 2048, batch 24, 5 s utterances, 3 steps
    python bench/train_throughput.py --quick --output q.json   # n_hidden 512, 2 steps: a smoke test

``--automatic_mixed_precision`` runs every step as the trainer does with that flag (on a CPU on the TF 2 stack:
oneDNN's bfloat16 rewrite, :mod:`deepspeech_freeze.precision`); the matmul peak is then measured under the same
rewrite, and the traced step also counts, per op category, the ops the rewrite made bfloat16 (from the partition
graphs TF ran).

Timings on a shared machine are noisy: compare ratios within one invocation.
"""
import argparse
import collections
import dataclasses
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
import wave

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
from deepspeech_freeze.tfcompat import tf  # noqa: E402

from deepspeech_freeze import data, lstm, precision, train  # noqa: E402
from deepspeech_freeze.config import RuntimeConfig, from_flags  # noqa: E402
from deepspeech_freeze.tfcompat import session_config  # noqa: E402
from deepspeech_freeze.flags import FLAGS, define_flags  # noqa: E402
from deepspeech_freeze.naming import LAYERS, format_layers, parse_layer_set  # noqa: E402
from report import write_report  # noqa: E402  (the bench folder is on sys.path; others call tt.write_report)
from report import cpu_model  # noqa: E402

DEFAULT_SPECS = ["0", "1", "1-2", "1-3", "1-4", "1-3,5", "1-5"]
SAMPLE_RATE = 16000
ENGLISH = os.path.join(ROOT, "data", "alphabets", "english.txt")
WORDS = ("she had your dark suit in greasy wash water all year don't ask me to carry an oily rag like that "
         "the birch canoe slid on the smooth planks glue the sheet to dark blue background").split()
#: Keys every JSON report has (tests/test_bench.py checks them).
REPORT_KEYS = ("config", "environment", "peak_matmul", "runs", "baseline_repeat", "ratio_baseline",
               "gradient_comparison", "dense_flops", "op_time_breakdown", "bfloat16_ops", "precision", "peak_rss_mb")
RUN_KEYS = ("spec", "frozen_layers", "gradient", "trainable_parameters", "lstm_backward", "graph_build_s",
            "warmup_s", "step_s", "median_step_s", "steps_per_s", "audio_s_per_s", "ratio_to_0", "step_cpu_s",
            "median_cpu_s", "cpu_ratio_to_0", "peak_rss_mb")


def add_workload_arguments(parser, n_hidden_default=2048, n_hidden_help="model width (default 2048)"):
    """The workload options every bench script shares: model width, batch, utterance and transcript length."""
    parser.add_argument("--n_hidden", type=int, default=n_hidden_default, help=n_hidden_help)
    parser.add_argument("--batch", type=int, default=24, help="utterances per step (default 24)")
    parser.add_argument("--seconds", type=float, default=5.0, help="utterance length in seconds (default 5)")
    parser.add_argument("--chars", type=int, default=70, help="transcript length in characters (default 70; at "
                                                               "most a third of the feature frames)")

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_workload_arguments(parser, n_hidden_default=None, n_hidden_help="model width (default 2048; --quick: 512)")
    parser.add_argument("--steps", type=int, help="timed steps per run after one warm-up step (default 3; "
                                                  "--quick: 2)")
    parser.add_argument("--stock_steps", type=int, help="timed steps of the stock-gradient run (default --steps)")
    parser.add_argument("--specs", nargs="+", default=DEFAULT_SPECS, metavar="SPEC",
                        help="freeze specs as --freeze_layers takes them; the first is the ratio baseline "
                             "(default: {})".format(" ".join(DEFAULT_SPECS)))
    parser.add_argument("--no_stock", action="store_true", help="skip the stock-gradient run")
    parser.add_argument("--no_repeat", action="store_true", help="skip re-running the first spec at the end (which "
                                                                 "shows how much the machine's load drifted)")
    parser.add_argument("--peak_size", type=int, help="size of the square matmul measuring the float32 peak "
                                                      "(default 4096; --quick: 1024)")
    parser.add_argument("--quick", action="store_true", help="smoke test: n_hidden 512, 2 steps, peak size 1024")
    parser.add_argument("--automatic_mixed_precision", action="store_true",
                        help="train as with the trainer's flag of that name (TF 2 on a CPU: bfloat16)")
    parser.add_argument("--write_dataset", metavar="DIR", help="only write the synthetic WAVs (--batch of them) "
                                                                 "and their CSV into DIR, print the CSV's path, exit")
    parser.add_argument("--output", help="write the report as JSON to this file")
    args = parser.parse_args(argv)
    defaults = dict(n_hidden=(512 if args.quick else 2048), steps=(2 if args.quick else 3),
                    peak_size=(1024 if args.quick else 4096))
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.stock_steps is None:
        args.stock_steps = args.steps
    for name in ("n_hidden", "batch", "steps", "stock_steps", "peak_size", "chars"):
        if getattr(args, name) < 1:
            parser.error("--{} must be at least 1".format(name))
    if args.seconds < 0.1:
        parser.error("--seconds must be at least 0.1")
    for spec in args.specs:
        parse_layer_set(spec)  # a bad spec fails here, before any work
    return args


# ----------------------------------------------------------------------------------------------------------------
# Synthetic data


def write_dataset(folder, args, seed=0):
    """``args.batch`` WAV files of ``args.seconds`` s (speech-band noise) and a CSV with ~``args.chars``-character
    transcripts; returns the CSV path and the transcript length used."""
    rng = np.random.RandomState(seed)
    n_samples = int(round(args.seconds * SAMPLE_RATE))
    frames = 1 + (n_samples - 512) // 320 if n_samples >= 512 else 0
    chars = max(1, min(args.chars, frames // 3))
    rows = []
    for index in range(args.batch):
        noise = rng.randn(n_samples + 1)
        samples = (3000.0 * (noise[1:] - 0.6 * noise[:-1])).clip(-32767, 32767).astype("<i2")
        path = os.path.join(folder, "utt{:03d}.wav".format(index))
        with wave.open(path, "wb") as handle:
            handle.setnchannels(1)
            handle.setsampwidth(2)
            handle.setframerate(SAMPLE_RATE)
            handle.writeframes(samples.tobytes())
        words = []
        while len(" ".join(words)) < chars:
            words.append(WORDS[rng.randint(len(WORDS))])
        rows.append((os.path.basename(path), os.path.getsize(path), " ".join(words)[:chars].strip()))
    csv_path = os.path.join(folder, "bench.csv")
    with open(csv_path, "w", encoding="utf-8") as handle:
        handle.write("wav_filename,wav_filesize,transcript\n")
        for name, size, transcript in rows:
            handle.write("{},{},{}\n".format(name, size, transcript))
    return csv_path, chars


# ----------------------------------------------------------------------------------------------------------------
# Measurements


def reset_peak_rss():
    """Reset the kernel's peak-RSS counter (VmHWM) of this process; False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb():
    """Peak resident memory (VmHWM, since the last reset) in MiB; the whole-process peak where /proc is absent."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def training_session_options(config):
    """The session options the trainer uses for ``config`` on the CPU (with ``--automatic_mixed_precision`` the
    bfloat16 rewrite on the TF 2 stack)."""
    return precision.configure_session(session_config(config.runtime),
                                       precision.of_training(config.training, ["/cpu:0"]))


def matmul_peak(size, repeats=3, options=None):
    """Best GFLOP/s of a float32 ``size`` x ``size`` matmul in numpy and in TF (same thread settings as training;
    ``options``: the session's, so with the bfloat16 rewrite TF's figure is bfloat16's)."""
    flops = 2.0 * size ** 3
    rng = np.random.RandomState(0)
    a = rng.rand(size, size).astype(np.float32)
    b = rng.rand(size, size).astype(np.float32)
    np.dot(a, b)
    numpy_times = []
    for _ in range(repeats):
        started = time.perf_counter()
        np.dot(a, b)
        numpy_times.append(time.perf_counter() - started)
    graph = tf.Graph()
    if options is not None:  # grappler (and so the bfloat16 rewrite) skips graphs this small unless told not to
        options = type(options).FromString(options.SerializeToString())
        options.graph_options.rewrite_options.min_graph_nodes = -1
    with graph.as_default():
        product = tf.matmul(tf.Variable(a), tf.Variable(b))
        with tf.compat.v1.Session(config=options or session_config(RuntimeConfig())) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            session.run(product.op)
            tf_times = []
            for _ in range(repeats):
                started = time.perf_counter()
                session.run(product.op)
                tf_times.append(time.perf_counter() - started)
    return {"size": size, "numpy_gflops": flops / min(numpy_times) / 1e9, "tf_gflops": flops / min(tf_times) / 1e9,
            "numpy_s": numpy_times, "tf_s": tf_times}


def _node_name_and_type(node):
    """``(op name, op type)`` of a traced node: device records say ``name = Type(inputs)``, host records
    ``name:Type``."""
    name, _, type_from_name = node.node_name.partition(":")
    label = node.timeline_label or ""
    if " = " in label:
        return name, label.split(" = ", 1)[1].split("(", 1)[0]
    return name, type_from_name


def _label_inputs(node):
    label = node.timeline_label or ""
    if " = " not in label or "(" not in label:
        return []
    return [item.strip() for item in label.split("(", 1)[1].rsplit(")", 1)[0].split(",") if item.strip()]


def _matmul_flops(graph, name, inputs, rows):
    """FLOPs of a traced dense matmul (a graph MatMul, or a _FusedMatMul that grappler made, whose inputs the
    trace names); the one dynamic dimension of a dense layer's matmul is ``rows`` (frames x batch). None when its
    shapes cannot be found."""
    def dims(tensor):
        return [rows if size is None else size for size in tensor.shape.as_list()]
    try:
        op = graph.get_operation_by_name(name)
        if op.type == "MatMul":
            a, b = dims(op.inputs[0]), dims(op.inputs[1])
            transpose_a, transpose_b = op.get_attr("transpose_a"), op.get_attr("transpose_b")
        else:  # _FusedMatMul(x, weights, bias): no transposes in a dense layer's forward pass
            a, b = [dims(graph.get_tensor_by_name(item if ":" in item else item + ":0")) for item in inputs[:2]]
            transpose_a = transpose_b = False
    except (KeyError, ValueError, IndexError):
        return None
    m, k = (a[1], a[0]) if transpose_a else (a[0], a[1])
    n = b[0] if transpose_b else b[1]
    return 2.0 * m * k * n


def op_category(name, kind):
    """The category of op ``name`` of type ``kind`` in the time breakdown (a traced or a partition-graph node)."""
    in_lstm = "BlockLSTM" in name or "cudnn_lstm" in name or "projected_lstm" in name
    if "MatMul" in kind and not in_lstm:
        return "dense matmul (gradient)" if "/gradients/" in "/" + name else "dense matmul (forward)"
    if "BlockLSTM_grad" in name or kind == "BlockLSTMGrad" or (in_lstm and "/gradients/" in "/" + name):
        return "LSTM backward"
    if kind == "BlockLSTM" or in_lstm:
        return "LSTM forward"
    if kind.startswith("CTC"):
        return "CTC loss"
    if kind.startswith("ApplyAdam") or name.startswith("Adam/"):
        return "Adam"
    if name.startswith("average_gradients/"):
        return "tower gradient averaging"
    return "other"


#: Op types that compute (beyond moving or converting data): a bfloat16 one of these is work done in bfloat16.
_DATA_MOVEMENT = ("Cast", "Const", "Identity", "Reshape", "Transpose", "ConcatV2", "Split", "SplitV", "Slice",
                  "StridedSlice", "Pack", "Unpack", "Enter", "Exit", "Merge", "Switch", "NextIteration", "Pad",
                  "GatherV2", "GatherNd", "ExpandDims", "Squeeze", "Shape", "ZerosLike", "_Retval", "_Arg", "_Recv",
                  "_Send", "_HostRecv", "_HostSend")


def bfloat16_ops(partition_graphs):
    """Per op category of :func:`op_category`: how many compute ops TF ran (``ops``), how many of them in bfloat16
    (``bfloat16``), the bfloat16 op types and the names of the bfloat16 matmuls, from a step's partition graphs (the graphs after grappler's rewrites),
    plus ``casts``: the Cast ops the rewrite inserted. A node is bfloat16 when a type attribute (``T``, ``dtype``,
    ``Tparams`` ...) says so."""
    from tensorflow.core.framework import types_pb2  # pylint: disable=import-outside-toplevel
    counts = {}
    for partition in partition_graphs:
        for node in partition.node:
            category = op_category(node.name, node.op)
            entry = counts.setdefault(category, {"ops": 0, "bfloat16": 0, "types": collections.Counter(),
                                                 "casts": 0, "bfloat16_matmuls": []})
            if node.op == "Cast":
                entry["casts"] += int(node.attr["DstT"].type == types_pb2.DT_BFLOAT16)
                continue
            if node.op in _DATA_MOVEMENT or node.op.startswith("_"):
                if not node.op.startswith("_Mkl") and not node.op.startswith("_Fused"):
                    continue
            entry["ops"] += 1
            if any(value.type == types_pb2.DT_BFLOAT16 for value in node.attr.values()):
                entry["bfloat16"] += 1
                entry["types"][node.op] += 1
                if "MatMul" in node.op:
                    entry["bfloat16_matmuls"].append(node.name)
    return {category: dict(entry, types=dict(entry["types"])) for category, entry in sorted(counts.items())}


def analyse_trace(run_metadata, graph, frames, batch):
    """Dense-layer matmul FLOP rate and op time per category from one traced step."""
    durations, types, inputs = {}, {}, {}
    for device in run_metadata.step_stats.dev_stats:
        for node in device.node_stats:
            # A node is listed under several devices (/host:CPU too); count it once, with its longest record.
            name, kind = _node_name_and_type(node)
            seconds = node.all_end_rel_micros / 1e6
            durations[name] = max(seconds, durations.get(name, 0.0))
            described = " = " in (node.timeline_label or "")  # the device record, with the inputs
            if described or name not in types:
                types[name] = kind
                inputs[name] = _label_inputs(node) or inputs.get(name, [])
    rows = frames * batch
    dense_flops, dense_seconds, dense_ops, unresolved = 0.0, 0.0, 0, 0
    categories = collections.Counter()
    for name, seconds in durations.items():
        kind = types.get(name, "")
        category = op_category(name, kind)
        if category.startswith("dense matmul"):
            flops = _matmul_flops(graph, name, inputs.get(name, []), rows)
            if flops is None:
                unresolved += 1
            else:
                dense_flops += flops
                dense_seconds += seconds
                dense_ops += 1
        categories[category] += seconds
    dense = {"flops": dense_flops, "matmul_s": dense_seconds, "matmul_ops": dense_ops, "unresolved_ops": unresolved,
             "gflops": dense_flops / dense_seconds / 1e9 if dense_seconds else None}
    return dense, {name: round(seconds, 3) for name, seconds in categories.most_common()}


def lstm_backward_built(graph):
    """Which LSTM gradient parts the training graph contains: 'none', or a '+'-list of dW, dx, stock."""
    names = [op.name for op in graph.get_operations()
             if "BlockLSTM_grad" in op.name or "fast_block_lstm_grad" in op.name]
    if not names:
        return "none"
    if any(op.type == "BlockLSTMGrad" for op in graph.get_operations()):
        return "stock"
    parts = [label for label, suffix in (("dW", "kernel_grad"), ("dx", "input_grad"))
             if any(name.endswith(suffix) for name in names)]
    return "+".join(parts) or "state only"


def run_spec(spec, gradient, config, frame, args, steps, trace=False):
    """Build the training graph for ``spec`` and time ``steps`` steps after a warm-up step."""
    lstm.GRADIENT = gradient
    frozen = parse_layer_set(spec)
    config = dataclasses.replace(config, transfer=dataclasses.replace(config.transfer, frozen_layers=frozen))
    reset_peak_rss()
    tf.compat.v1.reset_default_graph()
    started = time.perf_counter()
    tf.compat.v1.set_random_seed(config.training.random_seed)
    dataset = data.create_dataset(frame, config, args.batch, train_phase=True).repeat()
    graph = train.build_training_graph(config, {"train": dataset}, ["/cpu:0"])
    init = graph.initializers["train"]
    parameters = sum(int(np.prod(v.shape.as_list())) for v in tf.compat.v1.trainable_variables())
    result = {"spec": spec, "frozen_layers": format_layers(frozen), "gradient": gradient,
              "trainable_parameters": parameters,
              "lstm_backward": lstm_backward_built(tf.compat.v1.get_default_graph())}
    feed = {rate: value for rate, value in zip(graph.dropout, config.model.dropout_rates)}
    fetches = [graph.loss, graph.train_op]
    with tf.compat.v1.Session(config=training_session_options(config)) as session:
        session.run(tf.compat.v1.global_variables_initializer())
        session.run(init)
        result["graph_build_s"] = time.perf_counter() - started
        started = time.perf_counter()
        losses = [float(session.run(fetches, feed_dict=feed)[0])]
        result["warmup_s"] = time.perf_counter() - started
        times, cpu_times = [], []
        for _ in range(steps):
            started, cpu_started = time.perf_counter(), time.process_time()
            losses.append(float(session.run(fetches, feed_dict=feed)[0]))
            times.append(time.perf_counter() - started)
            cpu_times.append(time.process_time() - cpu_started)
        if trace:
            metadata = tf.compat.v1.RunMetadata()
            options = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE,
                                              output_partition_graphs=True)
            started = time.perf_counter()
            session.run(fetches, feed_dict=feed, options=options, run_metadata=metadata)
            result["traced_step_s"] = time.perf_counter() - started
            result["trace"] = (metadata, tf.compat.v1.get_default_graph())
    median = statistics.median(times)
    result.update(step_s=times, median_step_s=median, steps_per_s=1.0 / median, step_cpu_s=cpu_times,
                  median_cpu_s=statistics.median(cpu_times),
                  audio_s_per_s=args.batch * args.seconds / median, losses=losses, peak_rss_mb=peak_rss_mb())
    return result


# ----------------------------------------------------------------------------------------------------------------
# Report


def format_table(report):
    header = ("spec", "frozen", "gradient", "trainable", "LSTM bwd", "step s", "steps/s", "audio s/s", "x vs 0",
              "CPU s", "x vs 0 (CPU)", "peak RSS")
    rows = [header]
    for run in report["runs"]:
        rows.append((run["spec"], run["frozen_layers"], run["gradient"],
                     "{:.2f}M".format(run["trainable_parameters"] / 1e6), run["lstm_backward"],
                     "{:.2f}".format(run["median_step_s"]), "{:.4f}".format(run["steps_per_s"]),
                     "{:.3f}".format(run["audio_s_per_s"]), "{:.2f}".format(run["ratio_to_0"]),
                     "{:.1f}".format(run["median_cpu_s"]), "{:.2f}".format(run["cpu_ratio_to_0"]),
                     "{:.2f} GB".format(run["peak_rss_mb"] / 1024)))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    lines = ["  ".join(str(cell).rjust(width) for cell, width in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    config = report["config"]
    lines.insert(0, "CPU: {}; precision {}".format(report["precision"]["cpu_model"], report["precision"]["mode"]))
    lines.insert(1, "Training throughput: n_hidden {n_hidden}, batch {batch}, {seconds:g} s utterances ({frames} "
                    "frames, {chars}-char transcripts), median of {steps} steps after 1 warm-up step".format(**config))
    comparison = report["gradient_comparison"]
    if comparison:
        lines.append("LSTM gradient at 0 frozen: fast {:.2f} s/step, stock {:.2f} s/step: stock/fast {:.2f}x "
                     "(CPU time {:.2f}x)".format(comparison["fast_step_s"], comparison["stock_step_s"],
                                                 comparison["stock_over_fast"], comparison["stock_over_fast_cpu"]))
    repeat = report["baseline_repeat"]
    if repeat:
        first = report["runs"][0]
        lines.append("spec {} run again last: {:.2f} s/step (first: {:.2f}), CPU {:.1f} s/step (first: {:.1f}); the "
                     "difference is load drift. Ratios are to the faster of the two ({})".format(
                         repeat["spec"], repeat["median_step_s"], first["median_step_s"], repeat["median_cpu_s"],
                         first["median_cpu_s"], report["ratio_baseline"]))
    peak = report["peak_matmul"]
    lines.append("float32 matmul peak ({0}x{0}): numpy {1:.1f} GFLOP/s, TF {2:.1f} GFLOP/s{3}".format(
        peak["size"], peak["numpy_gflops"], peak["tf_gflops"],
        " (TF's through the bfloat16 rewrite)" if report["precision"]["mode"] == "bfloat16" else ""))
    dense = report["dense_flops"]
    if dense.get("gflops"):
        lines.append("dense layers in a traced 0-frozen step: {:.1f} GFLOP/s ({:.0%} of the numpy peak, {:.0%} of "
                     "TF's) over {} matmul ops, {:.2f} s".format(dense["gflops"], dense["fraction_of_numpy_peak"],
                                                                dense["fraction_of_tf_peak"], dense["matmul_ops"],
                                                                dense["matmul_s"]))
    if report["op_time_breakdown"]:
        lines.append("op time in that step (s, summed over ops): " + ", ".join(
            "{} {}".format(name, value) for name, value in report["op_time_breakdown"].items()))
    converted = {name: entry for name, entry in report.get("bfloat16_ops", {}).items() if entry["bfloat16"]}
    if report.get("precision", {}).get("mode", "float32") != "float32" or converted:
        lines.append("bfloat16 ops in that step (of the compute ops per category): " + (", ".join(
            "{} {}/{} ({})".format(name, entry["bfloat16"], entry["ops"], " ".join(
                "{}x{}".format(kind, count) for kind, count in sorted(entry["types"].items())))
            for name, entry in converted.items()) or "none"))
    lines.append("peak RSS of the process: {:.2f} GB".format(report["peak_rss_mb"] / 1024))
    return "\n".join(lines)


def _print_run(run):
    print("  {:>6} {:>5}: {:.2f} s/step (steps {}; CPU {:.1f} s/step), warm-up {:.1f} s, graph {:.1f} s, "
          "LSTM backward {}".format(run["spec"], run["gradient"], run["median_step_s"],
                                    " ".join("{:.2f}".format(t) for t in run["step_s"]), run["median_cpu_s"],
                                    run["warmup_s"], run["graph_build_s"], run["lstm_backward"]), flush=True)


def main(argv=None):
    args = parse_args(argv)
    if args.write_dataset:
        os.makedirs(args.write_dataset, exist_ok=True)
        print(write_dataset(args.write_dataset, args)[0])
        return None
    tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)
    define_flags()
    FLAGS(["train_throughput", "--alphabet_config_path", ENGLISH, "--n_hidden", str(args.n_hidden),
           "--train_batch_size", str(args.batch), "--noshow_progressbar"]
          + (["--automatic_mixed_precision"] if args.automatic_mixed_precision else []))
    config = from_flags()
    mode = precision.of_training(config.training, ["/cpu:0"])
    flags = precision.cpu_flags()
    print("precision: {}; CPU bfloat16 flags: {}".format(mode, ", ".join(precision.native_bfloat16(flags)) or "none"),
          flush=True)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="dsf-bench-") as folder:
        csv_path, chars = write_dataset(folder, args)
        frame = data.load_samples([csv_path], config, reject_short=True)
        frames = int(frame["n_frames"].max())
        peak = matmul_peak(args.peak_size, options=training_session_options(config))
        print("matmul peak: numpy float32 {:.1f}, TF {} {:.1f} GFLOP/s".format(
            peak["numpy_gflops"], "bfloat16" if mode == "bfloat16" else "float32", peak["tf_gflops"]),
              flush=True)
        plan = [(spec, "fast", args.steps, index == 0) for index, spec in enumerate(args.specs)]
        if not args.no_stock:
            plan.insert(1, (args.specs[0], "stock", args.stock_steps, False))
        runs, trace = [], None
        for spec, gradient, steps, traced in plan:
            run = run_spec(spec, gradient, config, frame, args, steps, trace=traced)
            trace = run.pop("trace", trace)
            runs.append(run)
            _print_run(run)
        # The baseline again, last: how much the machine's load changed while the runs above went on.
        repeat = None if args.no_repeat else run_spec(args.specs[0], "fast", config, frame, args, args.steps)
        if repeat:
            _print_run(repeat)
    # Ratios are to the less disturbed of the two runs of the first spec (at the start and at the end): on a shared
    # machine another process's load inflates a run's wall time. CPU time per step is much less sensitive to it.
    baseline = min([runs[0]] + ([repeat] if repeat else []), key=lambda run: run["median_step_s"])
    for run in (runs + [repeat]) if repeat else runs:
        run["ratio_to_0"] = run["steps_per_s"] / baseline["steps_per_s"]
        run["cpu_ratio_to_0"] = baseline["median_cpu_s"] / run["median_cpu_s"]
    dense, breakdown = ({}, {}) if trace is None else analyse_trace(trace[0], trace[1], frames, args.batch)
    converted = {} if trace is None else bfloat16_ops(trace[0].partition_graphs)
    if dense.get("gflops"):
        dense["fraction_of_numpy_peak"] = dense["gflops"] / peak["numpy_gflops"]
        dense["fraction_of_tf_peak"] = dense["gflops"] / peak["tf_gflops"]
    stock = [run for run in runs if run["gradient"] == "stock"]
    comparison = {}
    if stock:
        comparison = {"spec": runs[0]["spec"], "fast_step_s": baseline["median_step_s"],
                      "stock_step_s": stock[0]["median_step_s"],
                      "stock_over_fast": stock[0]["median_step_s"] / baseline["median_step_s"],
                      "fast_cpu_s": baseline["median_cpu_s"], "stock_cpu_s": stock[0]["median_cpu_s"],
                      "stock_over_fast_cpu": stock[0]["median_cpu_s"] / baseline["median_cpu_s"]}
    report = {
        "config": {"n_hidden": args.n_hidden, "batch": args.batch, "seconds": args.seconds, "frames": frames,
                   "chars": chars, "steps": args.steps, "stock_steps": args.stock_steps, "specs": args.specs,
                   "n_classes": config.model.n_classes, "dropout_rates": list(config.model.dropout_rates),
                   "layers": list(LAYERS)},
        "environment": {"tensorflow": tf.__version__, "python": platform.python_version(),
                        "cpus": os.cpu_count(), "load_average_before": load_before,
                        "load_average_after": os.getloadavg(), "machine": platform.machine()},
        "peak_matmul": peak, "runs": runs, "baseline_repeat": repeat,
        "ratio_baseline": "repeat" if baseline is repeat else "first",
        "gradient_comparison": comparison,
        "dense_flops": dense,
        "op_time_breakdown": breakdown,
        "bfloat16_ops": converted,
        "precision": {"mode": mode, "cpu_bfloat16_flags": precision.native_bfloat16(flags),
                      "cpu_model": cpu_model()},
        # Each run resets the kernel's peak counter, so the process's peak is the largest of theirs.
        "peak_rss_mb": max([peak_rss_mb()] + [run["peak_rss_mb"] for run in runs + ([repeat] if repeat else [])]),
    }
    print(format_table(report), flush=True)
    write_report(args.output, report)
    return report


if __name__ == "__main__":
    main()
