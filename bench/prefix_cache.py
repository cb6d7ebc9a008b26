"""Benchmark: training time per epoch with nothing frozen vs frozen layers with and without the frozen-prefix cache.

    .venv/bin/python bench/prefix_cache.py [--n_hidden 1024] [--utterances 48] [--seconds 5] [--epochs 2]

Makes a synthetic corpus (noise WAVs with random transcripts: throughput does not depend on content), then trains
the same model several ways in one invocation and prints epoch seconds (mean over epochs after the first) and each
as a speed-up over "0 frozen". The cache's one-off build time is shown separately. Writes JSON with --output.
"""
import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import wave

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from deepspeech_freeze.run_record import RunRecord  # noqa: E402  (the repository next to this script)


def make_corpus(folder, count, seconds, seed=1):
    rng = random.Random(seed)
    noise = np.random.RandomState(seed)
    rows = []
    for index in range(count):
        path = os.path.join(folder, "u{:03d}.wav".format(index))
        length = int(16000 * seconds * rng.uniform(0.8, 1.0))
        with wave.open(path, "wb") as handle:
            handle.setnchannels(1)
            handle.setsampwidth(2)
            handle.setframerate(16000)
            handle.writeframes((noise.randn(length) * 3000).astype("<i2").tobytes())
        words = " ".join("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 7)))
                         for _ in range(int(seconds * 2.5)))
        rows.append((os.path.basename(path), os.path.getsize(path), words))
    csv_path = os.path.join(folder, "train.csv")
    with open(csv_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["wav_filename", "wav_filesize", "transcript"])
        writer.writerows(rows)
    return csv_path


def train(args, csv_path, out, extra):
    command = [sys.executable, "-m", "deepspeech_freeze.train", "--train_files", csv_path, "--save_checkpoint_dir",
               out, "--summary_dir", out + "_s", "--epochs", str(args.epochs), "--n_hidden", str(args.n_hidden),
               "--train_batch_size", str(args.batch), "--dropout_rate", "0", "--noshow_progressbar",
               "--alphabet_config_path", os.path.join(ROOT, "data", "alphabets", "english.txt")] + extra
    started = time.time()
    subprocess.run(command, check=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wall = time.time() - started
    history = RunRecord.load(out).history
    epochs = [entry.seconds for entry in history[1:]] or [history[0].seconds]
    return {"epoch_seconds": float(np.mean(epochs)), "wall_seconds": wall}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n_hidden", type=int, default=1024)
    parser.add_argument("--utterances", type=int, default=48)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--batch", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--output", default="")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="dsf-bench-")
    csv_path = make_corpus(work, args.utterances, args.seconds)
    source = os.path.join(work, "source")
    train(argparse.Namespace(**dict(vars(args), epochs=1)), csv_path, source, [])
    runs = [("0 frozen", []), ("1-3 frozen", ["--freeze_layers", "1-3"]), ("1-5 frozen", ["--freeze_layers", "1-5"]),
            ("1-3 frozen + cache", ["--freeze_layers", "1-3", "--frozen_prefix_cache", os.path.join(work, "c3")]),
            ("1-5 frozen + cache", ["--freeze_layers", "1-5", "--frozen_prefix_cache", os.path.join(work, "c5")])]
    results = {}
    for name, extra in runs:
        results[name] = train(args, csv_path, os.path.join(work, name.replace(" ", "_").replace("+", "p")),
                              ["--load_checkpoint_dir", source] + extra)
    base = results["0 frozen"]["epoch_seconds"]
    audio = args.utterances * args.seconds * 0.9
    print("n_hidden {}, batch {}, {} utterances of ~{:.1f} s, {} epochs (first epoch excluded)".format(
        args.n_hidden, args.batch, args.utterances, args.seconds * 0.9, args.epochs))
    print("{:<22} {:>14} {:>16} {:>10} {:>12}".format("run", "epoch seconds", "audio s / s", "speed-up",
                                                      "wall (incl.)"))
    for name, result in results.items():
        result["speedup"] = base / result["epoch_seconds"]
        result["audio_seconds_per_second"] = audio / result["epoch_seconds"]
        print("{:<22} {:>14.2f} {:>16.1f} {:>9.2f}x {:>11.1f}s".format(
            name, result["epoch_seconds"], result["audio_seconds_per_second"], result["speedup"],
            result["wall_seconds"]))
    if args.output:
        with open(args.output, "w") as handle:
            json.dump({"settings": vars(args), "results": results}, handle, indent=2)


if __name__ == "__main__":
    main()
