#!/usr/bin/env python
"""Does the training step ever wait for data? The tf.data input pipeline alone, and inside real training steps.

1. Pipeline alone: ``data.create_dataset`` (WAV decoding + MFCC in ``map(num_parallel_calls=AUTOTUNE)``,
   ``padded_batch``, ``prefetch``) over a synthetic corpus of ``--utterances`` WAV files of ``--seconds`` s
   (bench/train_throughput.py's speech-band noise), drained batch by batch in a session with the trainer's thread
   settings: wall and CPU seconds per batch, without the feature cache, on the cache-writing first epoch, and on a
   cache-reading epoch (``--feature_cache``'s ``dataset.cache(prefix)``).
2. Inside training (skipped with ``--train_steps 0``): the real training graph (``train.build_training_graph``) fed
   by the real pipeline versus fed by one batch held in memory (``take(1).cache().repeat()``, so no decoding or MFCC
   at all), alternating, ``--train_steps`` timed steps each after a warm-up step, for ``--rounds`` rounds. The
   difference of the medians is what the pipeline costs the step (waiting, plus the CPU it takes from the step's
   ops on a machine with few cores).

    python bench/input_pipeline.py --output pipeline.json            # n_hidden 2048, batch 24, 5 s, 240 utterances
    python bench/input_pipeline.py --train_steps 0                   # the pipeline alone (seconds)
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import train_throughput as tt  # noqa: E402  (this script's folder is on sys.path)

from deepspeech_freeze.tfcompat import tf  # noqa: E402

from deepspeech_freeze import data, lstm, train  # noqa: E402
from deepspeech_freeze.config import RuntimeConfig, from_flags  # noqa: E402
from deepspeech_freeze.tfcompat import session_config  # noqa: E402
from deepspeech_freeze.flags import FLAGS, define_flags  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    tt.add_workload_arguments(parser)
    parser.add_argument("--utterances", type=int, default=240, help="corpus size (default 240 = 10 batches of 24)")
    parser.add_argument("--epochs", type=int, default=2, help="pipeline-alone epochs per variant (default 2)")
    parser.add_argument("--train_steps", type=int, default=2,
                        help="timed training steps per feeding variant and round (default 2; 0: skip training)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of (real pipeline, in-memory batch)")
    parser.add_argument("--output", help="write the report as JSON to this file")
    args = parser.parse_args(argv)
    if args.utterances < args.batch:
        parser.error("--utterances must be at least --batch")
    return args


def drain(dataset, epochs):
    """Wall and CPU seconds of each batch of ``epochs`` passes over ``dataset``; each epoch re-initialises it."""
    iterator = tf.compat.v1.data.make_initializable_iterator(dataset)
    element = iterator.get_next()
    epochs_out = []
    with tf.compat.v1.Session(config=session_config(RuntimeConfig())) as session:
        for _ in range(epochs):
            session.run(iterator.initializer)
            walls, cpus, frames = [], [], 0
            while True:
                started, cpu_started = time.perf_counter(), time.process_time()
                try:
                    batch = session.run(element)
                except tf.errors.OutOfRangeError:
                    break
                walls.append(time.perf_counter() - started)
                cpus.append(time.process_time() - cpu_started)
                frames = max(frames, batch[1].shape[1])
            epochs_out.append({"batches": len(walls), "epoch_s": sum(walls), "epoch_cpu_s": sum(cpus),
                               "batch_s": walls, "frames": frames})
    return epochs_out


def pipeline_alone(frame, config, args, folder):
    rows = []

    def add(name, epoch):
        batches = epoch["batches"]
        rows.append({"variant": name, "batches": batches, "epoch_s": epoch["epoch_s"],
                     "s_per_batch": epoch["epoch_s"] / batches, "cpu_s_per_batch": epoch["epoch_cpu_s"] / batches,
                     "batches_per_s": batches / epoch["epoch_s"],
                     "first_batch_s": epoch["batch_s"][0], "frames": epoch["frames"]})

    tf.compat.v1.reset_default_graph()
    for index, epoch in enumerate(drain(data.create_dataset(frame, config, args.batch, train_phase=True),
                                        args.epochs)):
        add("no cache, epoch {}".format(index + 1), epoch)
    tf.compat.v1.reset_default_graph()
    prefix = os.path.join(folder, "cache", "features")
    os.makedirs(os.path.dirname(prefix))
    epochs = drain(data.create_dataset(frame, config, args.batch, train_phase=True, cache_prefix=prefix),
                   args.epochs)
    add("feature cache, epoch 1 (writes it)", epochs[0])
    for index, epoch in enumerate(epochs[1:]):
        add("feature cache, epoch {} (reads it)".format(index + 2), epoch)
    return rows


def training(frame, config, args):
    """Median step seconds fed by the real pipeline and by one in-memory batch, alternating."""
    lstm.GRADIENT = "fast"
    tf.compat.v1.reset_default_graph()
    tf.compat.v1.set_random_seed(config.training.random_seed)
    real = data.create_dataset(frame, config, args.batch, train_phase=True).repeat()
    held = data.create_dataset(frame, config, args.batch, train_phase=True).take(1).cache().repeat()
    graph = train.build_training_graph(config, {"real pipeline": real, "one batch in memory": held}, ["/cpu:0"])
    inits = graph.initializers
    feed = {rate: value for rate, value in zip(graph.dropout, config.model.dropout_rates)}
    times = {name: [] for name in inits}
    cpu_times = {name: [] for name in inits}
    with tf.compat.v1.Session(config=session_config(config.runtime)) as session:
        session.run(tf.compat.v1.global_variables_initializer())
        for round_index in range(args.rounds):
            for name, init in inits.items():
                session.run(init)
                session.run(graph.train_op, feed_dict=feed)  # warm-up; also fills the pipeline's buffers
                for _ in range(args.train_steps):
                    started, cpu_started = time.perf_counter(), time.process_time()
                    session.run(graph.train_op, feed_dict=feed)
                    times[name].append(time.perf_counter() - started)
                    cpu_times[name].append(time.process_time() - cpu_started)
                print("  round {} {}: steps {} s (CPU {})".format(
                    round_index + 1, name, " ".join("{:.2f}".format(t) for t in times[name][-args.train_steps:]),
                    " ".join("{:.1f}".format(t) for t in cpu_times[name][-args.train_steps:])), flush=True)
    result = {name: {"step_s": times[name], "median_step_s": statistics.median(times[name]),
                     "step_cpu_s": cpu_times[name], "median_cpu_s": statistics.median(cpu_times[name])}
              for name in inits}
    result["pipeline_cost_s"] = result["real pipeline"]["median_step_s"] - \
        result["one batch in memory"]["median_step_s"]
    return result


def main(argv=None):
    args = parse_args(argv)
    tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)
    define_flags()
    FLAGS(["input_pipeline", "--alphabet_config_path", tt.ENGLISH, "--n_hidden", str(args.n_hidden),
           "--train_batch_size", str(args.batch), "--noshow_progressbar"])
    config = from_flags()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="dsf-pipeline-") as folder:
        corpus = argparse.Namespace(batch=args.utterances, seconds=args.seconds, chars=args.chars)
        csv_path, chars = tt.write_dataset(folder, corpus)
        frame = data.load_samples([csv_path], config, reject_short=True)
        rows = pipeline_alone(frame, config, args, folder)
        print("Input pipeline alone: {} utterances of {:g} s, batch {}, TF {}, {} CPUs".format(
            args.utterances, args.seconds, args.batch, tf.__version__, os.cpu_count()))
        print("{:<36} {:>8} {:>10} {:>10} {:>12} {:>10}".format("variant", "batches", "s/batch", "CPU s/batch",
                                                                 "batches/s", "1st batch s"))
        for row in rows:
            print("{variant:<36} {batches:>8} {s_per_batch:>10.3f} {cpu_s_per_batch:>10.3f} {batches_per_s:>12.2f} "
                  "{first_batch_s:>10.3f}".format(**row), flush=True)
        train_result = training(frame, config, args) if args.train_steps > 0 else None
    if train_result:
        real, held = train_result["real pipeline"], train_result["one batch in memory"]
        print("Training step, n_hidden {}: real pipeline {:.2f} s (CPU {:.1f}), one batch in memory {:.2f} s "
              "(CPU {:.1f}); pipeline cost per step {:+.2f} s".format(
                  args.n_hidden, real["median_step_s"], real["median_cpu_s"], held["median_step_s"],
                  held["median_cpu_s"], train_result["pipeline_cost_s"]))
        uncached = rows[0]
        print("The pipeline alone needs {:.3f} s ({:.3f} CPU s) per batch: {:.1%} of a training step's wall time"
              .format(uncached["s_per_batch"], uncached["cpu_s_per_batch"],
                      uncached["s_per_batch"] / held["median_step_s"]))
    report = {"config": {"n_hidden": args.n_hidden, "batch": args.batch, "seconds": args.seconds, "chars": chars,
                         "utterances": args.utterances, "epochs": args.epochs, "train_steps": args.train_steps,
                         "rounds": args.rounds},
              "environment": {"tensorflow": tf.__version__, "cpus": os.cpu_count(),
                              "load_average_before": load_before, "load_average_after": os.getloadavg()},
              "pipeline_alone": rows, "training": train_result}
    tt.write_report(args.output, report)
    return report


if __name__ == "__main__":
    main()
