#!/usr/bin/env python
"""What ``--augment`` costs: training step time with DeepSpeech 0.7.4's example set against none, and each
augmentation's own cost per second of audio.

1. Step time: the real training graph and input pipeline on a synthetic corpus of ``--seconds`` s utterances
   (speech-band noise from bench/train_throughput.py), ``--steps`` steps per epoch, 2 epochs; the median step of the
   second epoch is reported (without its first step, the pipeline's start, shown apart). Each (width, set) runs in its own process, since TF's thread pools and
   graph state are process-wide. The sets: none, and DeepSpeech's example from its TRAINING.rst (overlay from a noise
   CSV made here, reverb, resample, codec, volume, pitch, tempo, frequency_mask, time_mask, dropout, add, multiply
   with its probabilities), and that set without tempo (tempo makes some utterances longer, and a batch is padded to
   its longest, so it adds model work, not pipeline work). Augmentation runs in the input pipeline in parallel with the step, so the goal is a
   step time within 10 % of the plain one.
2. Cost per augmentation: each of the twelve at p=1 on ``--clips`` clips, in this process: sample-domain ones in
   numpy, graph ones as the MFCC pipeline with the augmentation minus the plain MFCC pipeline, in milliseconds of
   one CPU core per second of audio.

    python bench/augmentation.py                                  # n_hidden 2048 and 256, batch 8, 1 s clips
    python bench/augmentation.py --widths 256 --steps 3 --clips 20  # quick
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.dirname(os.path.abspath(__file__))
for path in (ROOT, HERE):
    if path not in sys.path:
        sys.path.insert(0, path)

import numpy as np  # noqa: E402
from report import cpu_model as cpu_name  # noqa: E402  (this folder is on sys.path)

from deepspeech_freeze.augment import DEEPSPEECH_EXAMPLE as DS_EXAMPLE  # noqa: E402

RATE = 16000
SET_NAMES = {"none": "no augmentation", "ds": "DeepSpeech's example set",
             "ds-tempo": "the example set without tempo"}


def noise_csv(folder):
    """A CSV with two seconds of noise to overlay."""
    from deepspeech_freeze import sample_db
    rng = np.random.RandomState(1)
    with open(os.path.join(folder, "noise.wav"), "wb") as handle:
        handle.write(sample_db.wav_bytes(rng.uniform(-0.3, 0.3, 2 * RATE), RATE))
    path = os.path.join(folder, "noise.csv")
    with open(path, "w") as handle:
        handle.write("wav_filename,wav_filesize,transcript\nnoise.wav,64044,\n")
    return path


def child(args):
    """One training setting in this process: the real training graph fed by the real pipeline (the training set's
    ``PlainInputs``), 2 epochs; prints, as JSON, the median seconds per step of the second epoch without its first
    step, and that first step (the epoch's pipeline start: TF instantiates the dataset's map function again at every
    iterator initialisation, which the graph augmentations' conds and loops make slower)."""
    import train_throughput as tt
    from deepspeech_freeze import data, distributed, train
    from deepspeech_freeze.config import from_flags
    from deepspeech_freeze.tfcompat import session_config
    from deepspeech_freeze.flags import FLAGS, define_flags
    from deepspeech_freeze.tfcompat import tf
    folder = tempfile.mkdtemp(prefix="augbench")
    corpus = argparse.Namespace(batch=args.batch * args.steps, seconds=args.seconds, chars=args.chars)
    csv_path, _ = tt.write_dataset(folder, corpus)
    augment = [spec.format(noise=noise_csv(folder)) for spec in DS_EXAMPLE] if args.child != "none" else []
    if args.child == "ds-tempo":  # tempo lengthens some utterances, and a batch is padded to its longest
        augment = [spec for spec in augment if not spec.startswith("tempo")]
    define_flags()
    argv = ["bench", "--train_files", csv_path, "--n_hidden", str(args.n_hidden), "--train_batch_size",
            str(args.batch), "--epochs", "2", "--log_level", "2", "--alphabet_config_path",
            os.path.join(ROOT, "data", "alphabets", "english.txt")]
    for spec in augment:
        argv += ["--augment", spec]
    FLAGS(argv)
    config = from_flags()
    devices = ["/cpu:0"]
    sets, _, _ = train.load_sample_sets(config, distributed.Single(), devices)
    inputs = data.PlainInputs(config)
    inputs.samples_per_step = args.batch
    tf.compat.v1.reset_default_graph()
    tf.compat.v1.set_random_seed(config.training.random_seed)
    datasets = {"train": inputs.dataset("train", sets["train"], args.batch, True)}
    graph = train.build_training_graph(config, datasets, devices)
    feed = dict(zip(graph.dropout, config.model.dropout_rates))
    with tf.compat.v1.Session(config=session_config(config.runtime)) as session:
        session.run(tf.compat.v1.global_variables_initializer())
        for epoch in range(2):
            inputs.start_epoch(epoch)
            session.run(graph.initializers["train"])
            times = []
            while True:
                started = time.time()
                try:
                    session.run(graph.train_op, feed_dict=feed)
                except tf.errors.OutOfRangeError:
                    break
                times.append(time.time() - started)
    print(json.dumps({"seconds_per_step": statistics.median(times[1:] or times), "first_step": times[0],
                      "pid": os.getpid()}))


def step_times(args):
    results = {}
    for width in args.widths:
        for name in args.sets:
            command = [sys.executable, os.path.abspath(__file__), "--child", name, "--n_hidden", str(width),
                       "--batch", str(args.batch), "--steps", str(args.steps), "--seconds", str(args.seconds),
                       "--chars", str(args.chars)]
            output = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True,
                                    universal_newlines=True).stdout
            measured = json.loads(output.strip().splitlines()[-1])
            results[(width, name)] = measured
            print("  n_hidden {:5d}, {:8s}: {:.3f} s per step (median; the epoch's first step {:.3f} s)".format(
                width, name, measured["seconds_per_step"], measured["first_step"]), flush=True)
    return results


def per_augmentation(args):
    """ms of CPU per second of audio for each augmentation at p=1."""
    from deepspeech_freeze import augment as A
    from deepspeech_freeze.tfcompat import tf
    folder = tempfile.mkdtemp(prefix="augbench")
    noise = noise_csv(folder)
    rng = np.random.RandomState(0)
    clips = [(rng.randn(int(args.seconds * RATE)) * 0.1).astype(np.float32) for _ in range(args.clips)]
    audio_seconds = args.seconds * len(clips)
    costs = {}
    with tf.Graph().as_default():
        samples = tf.compat.v1.placeholder(tf.float32, [None, 1])
        clock = tf.compat.v1.placeholder(tf.float64, [])
        seed = tf.compat.v1.placeholder(tf.int64, [])

        def pipeline(augs):
            return A.augmented_features(samples, RATE, clock, seed, tf.constant(1), augs, 512, 320, 26, 20)[0]
        plain = pipeline([])
        specs = [spec.format(noise=noise) for spec in DS_EXAMPLE]
        graphs = {}
        for spec in specs:
            aug = A.parse_augmentation(spec.replace("p=0.1", "p=1").replace("p=0.5", "p=1"))
            graphs[aug.NAME] = (aug, None if isinstance(aug, A.SampleAugmentation) else pipeline([aug]))
        with tf.compat.v1.Session(config=tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1,
                                                                  inter_op_parallelism_threads=1)) as session:
            def run(fetch):
                for index, clip in enumerate(clips):  # warm-up on the first clip
                    session.run(fetch, {samples: clip.reshape(-1, 1), clock: 0.5, seed: index})
                    if index == 0:
                        started = time.process_time()
                return time.process_time() - started
            base = min(run(plain) for _ in range(2))
            for name, (aug, fetch) in graphs.items():
                if fetch is None:
                    aug.apply(clips[0], RATE, 0.5, np.random.default_rng(0))  # warm-up (loads the overlay source)
                    started = time.process_time()
                    for index, clip in enumerate(clips):
                        aug.apply(clip, RATE, 0.5, np.random.default_rng(index))
                    spent = time.process_time() - started
                else:
                    spent = min(run(fetch) for _ in range(2)) - base
                costs[name] = 1000.0 * spent / audio_seconds
            costs["(plain MFCC, for scale)"] = 1000.0 * base / audio_seconds
    return costs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[2048, 256], help="n_hidden values (default 2048 256)")
    parser.add_argument("--batch", type=int, default=8, help="utterances per step (default 8)")
    parser.add_argument("--steps", type=int, default=8, help="steps per epoch (default 8)")
    parser.add_argument("--seconds", type=float, default=1.0, help="utterance length (default 1 s)")
    parser.add_argument("--chars", type=int, default=12, help="transcript length (default 12)")
    parser.add_argument("--clips", type=int, default=40, help="clips per augmentation cost (default 40)")
    parser.add_argument("--skip_steps", action="store_true", help="only the per-augmentation table")
    parser.add_argument("--sets", nargs="+", choices=sorted(SET_NAMES), default=["none", "ds", "ds-tempo"],
                        help="augmentation sets to time: none, ds (DeepSpeech's example), ds-tempo (it without tempo)")
    parser.add_argument("--output", help="write the report as JSON to this file")
    parser.add_argument("--child", choices=sorted(SET_NAMES), help=argparse.SUPPRESS)
    parser.add_argument("--n_hidden", type=int, default=2048, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    print("CPU: {} ({} cores visible, load average {:.1f})".format(cpu_name(), os.cpu_count(), os.getloadavg()[0]))
    report = {"cpu": cpu_name(), "cores": os.cpu_count(), "load_average_at_start": os.getloadavg()[0],
              "config": {key: getattr(args, key) for key in ("widths", "batch", "steps", "seconds", "clips", "sets")},
              "step_seconds": {}}
    if not args.skip_steps:
        print("Step time, batch {} of {} s utterances, {} steps per epoch (2nd epoch, median):".format(
            args.batch, args.seconds, args.steps), flush=True)
        print("  (one process per setting: TF's thread pools and graph state are process-wide)")
        results = step_times(args)
        for width in args.widths:
            for name in args.sets:
                if name != "none" and "none" in args.sets:
                    ratio = results[(width, name)]["seconds_per_step"] / results[(width, "none")]["seconds_per_step"]
                    results[(width, name)]["ratio_to_none"] = ratio
                    print("  n_hidden {:5d}: {} / none = {:.3f} ({:+.1f} %)".format(
                        width, SET_NAMES[name], ratio, 100 * (ratio - 1)))
    print("Cost per augmentation at p=1 (ms of one core per second of audio, {} clips of {} s):".format(
        args.clips, args.seconds), flush=True)
    costs = per_augmentation(args)
    for name, cost in costs.items():
        print("  {:24s} {:8.2f}".format(name, cost))
    report["cost_ms_per_audio_second"] = costs
    if not args.skip_steps:
        for (width, name), measured in results.items():
            report["step_seconds"].setdefault(str(width), {})[name] = measured
    if args.output:
        with open(args.output, "w") as handle:
            json.dump(report, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
