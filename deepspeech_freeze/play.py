"""Hear and see what an ``--augment`` set does before training with it (DeepSpeech 0.7.4's ``bin/play.py``, writing
files instead of playing them).

    python -m deepspeech_freeze.play SOURCE.csv|SOURCE.sdb|FILE.wav --augment SPEC [--augment ...]
        [--start 0] [--number 4] [--random] [--clock 0.5] [--seed 4568] --output_dir DIR

For each chosen sample it writes ``DIR/<n>_original.wav`` and ``DIR/<n>_augmented.wav`` (the sample and signal
domains: what the model's feature extraction hears) and ``DIR/<n>.png`` with the power spectrogram and the MFCC
features before and after all four domains, as training would compute them at ``--clock``.
"""
import argparse
import os
import sys

import numpy as np

from . import augment, sample_db
from .errors import UserError, run_cli


def _samples(source):
    """``[(sample id, transcript or None)]`` of a WAV, CSV or SDB."""
    import csv  # pylint: disable=import-outside-toplevel
    import io  # pylint: disable=import-outside-toplevel
    if not os.path.isfile(source):
        raise UserError("{} does not exist".format(source))
    if source.lower().endswith(".wav"):
        return [(source, None)]
    if sample_db.is_sdb(source):
        database = sample_db.SDB(source)
        result = [(database.sample_id(i), database.entry(i)[1]) for i in range(len(database))]
        database.close()
        return result
    if source.lower().endswith(".csv"):
        base = os.path.dirname(os.path.abspath(source))
        with io.open(source, encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
        if rows and "wav_filename" not in rows[0]:
            raise UserError("CSV file {} has no wav_filename column".format(source))
        return [(os.path.normpath(os.path.join(base, row["wav_filename"])), row.get("transcript")) for row in rows]
    raise UserError("{}: unknown file type (use a .wav, .csv or .sdb file)".format(source))


def _graph(augmentations, rate, win_len_ms, win_step_ms, n_input):
    """A small graph: samples -> (signal-augmented samples, spectrogram and MFCC plain and augmented)."""
    from .tfcompat import tf  # pylint: disable=import-outside-toplevel
    from tensorflow.python.ops import gen_audio_ops  # pylint: disable=import-outside-toplevel
    window, step = rate * win_len_ms // 1000, rate * win_step_ms // 1000
    samples = tf.compat.v1.placeholder(tf.float32, [None, 1])
    clock = tf.compat.v1.placeholder(tf.float64, [])
    seed = tf.compat.v1.placeholder(tf.int64, [])
    context = {"sample_rate": rate, "win_step_ms": float(win_step_ms), "label_length": tf.constant(0)}

    def features(spectrogram):
        mfcc = gen_audio_ops.mfcc(spectrogram=spectrogram, sample_rate=rate, dct_coefficient_count=n_input,
                                  upper_frequency_limit=rate / 2)
        return tf.reshape(mfcc, [-1, n_input])

    def spectrogram_of(audio):
        return gen_audio_ops.audio_spectrogram(audio, window_size=window, stride=step, magnitude_squared=True)

    signal = augment.apply_graph_augmentations(samples, "signal", augmentations, clock, seed, context)
    spectrogram = augment.apply_graph_augmentations(spectrogram_of(signal), "spectrogram", augmentations, clock,
                                                    seed, context)
    augmented = augment.apply_graph_augmentations(features(spectrogram), "features", augmentations, clock, seed,
                                                  context)
    plain_spectrogram = spectrogram_of(samples)
    outputs = {"signal": signal, "spectrogram": spectrogram[0], "features": augmented,
               "plain_spectrogram": plain_spectrogram[0], "plain_features": features(plain_spectrogram)}
    return (samples, clock, seed), outputs


def _plot(path, title, result):
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    figure, axes = plt.subplots(2, 2, figsize=(12, 7))
    panels = (("plain_spectrogram", "spectrogram before (log power)"), ("spectrogram", "spectrogram after"),
              ("plain_features", "MFCC features before"), ("features", "MFCC features after"))
    for axis, (key, label) in zip(axes.ravel(), panels):
        data = result[key]
        if "spectrogram" in key:
            data = np.log10(np.maximum(data, 1e-10))
        axis.imshow(data.T, origin="lower", aspect="auto", interpolation="nearest")
        axis.set_title(label)
        axis.set_xlabel("frame")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def play(source, specs, output_dir, start=0, number=4, random=False, clock=0.5, seed=4568, rate=None):
    """Write the files described in the module docstring; returns the list of files written."""
    samples = _samples(source)
    if not samples:
        raise UserError("{} holds no samples".format(source))
    if start < 0:
        start += len(samples)
    if not 0 <= start < len(samples):
        raise UserError("--start {}: no sample with that index ({} has {})".format(start, source, len(samples)))
    if number < 1:
        raise UserError("--number {}: write at least 1".format(number))
    if not 0.0 <= clock <= 1.0:
        raise UserError("--clock {}: the clock runs from 0.0 (start of training) to 1.0 (end)".format(clock))
    first_rate = sample_db.load_audio(samples[start][0])[1] if rate is None else rate
    augmentations = augment.parse_augmentations(specs, first_rate)
    os.makedirs(output_dir, exist_ok=True)
    from .tfcompat import tf  # pylint: disable=import-outside-toplevel
    rng = np.random.default_rng(seed)
    chosen = [int(rng.integers(0, len(samples))) if random else (start + k) % len(samples) for k in range(number)]
    written = []
    with tf.Graph().as_default():
        inputs, outputs = _graph(augmentations, first_rate, 32, 20, 26)
        with tf.compat.v1.Session() as session:
            for count, index in enumerate(chosen):
                sample_id, transcript = samples[index]
                audio, sample_rate = sample_db.load_audio(sample_id)
                if sample_rate != first_rate:
                    raise UserError("{}: {} Hz, but the first sample has {} Hz".format(sample_id, sample_rate,
                                                                                     first_rate))
                item_seed = augment.sample_seed(seed, count, index)
                augmented = augment.apply_sample_augmentations(audio, sample_rate, clock, item_seed, augmentations)
                result = session.run(outputs, {inputs[0]: augmented.reshape(-1, 1), inputs[1]: clock,
                                               inputs[2]: item_seed})
                stem = os.path.join(output_dir, "{:03d}".format(count))
                for suffix, data in (("_original.wav", audio), ("_augmented.wav", result["signal"])):
                    with open(stem + suffix, "wb") as handle:
                        handle.write(sample_db.wav_bytes(np.clip(data, -1, 1), sample_rate))
                    written.append(stem + suffix)
                _plot(stem + ".png", 'Sample "{}"{}'.format(sample_id, ' "{}"'.format(transcript) if transcript
                                                             else ""), result)
                written.append(stem + ".png")
                sys.stderr.write('Sample "{}"{} -> {}_*.wav, {}.png\n'.format(
                    sample_id, ' "{}"'.format(transcript) if transcript else "", stem, stem))
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write augmented versions of samples as WAV files and a PNG of "
                                                 "their spectrogram and features before and after")
    parser.add_argument("source", help="a .wav file, or a CSV or SDB sample collection")
    parser.add_argument("--augment", action="append", default=[], help="augmentation spec (repeatable), as "
                                                                       "train's --augment")
    parser.add_argument("--output_dir", required=True, help="directory for the WAV and PNG files")
    parser.add_argument("--start", type=int, default=0, help="index of the first sample (negative: from the end)")
    parser.add_argument("--number", type=int, default=4, help="how many samples to write")
    parser.add_argument("--random", action="store_true", help="pick samples at random (with replacement)")
    parser.add_argument("--clock", type=float, default=0.5, help="training progress the ranges are taken at, "
                                                                 "0.0 to 1.0 (default 0.5)")
    parser.add_argument("--seed", type=int, default=4568, help="random seed (as train's --random_seed)")
    args = parser.parse_args(argv)
    written = run_cli(play, args.source, args.augment, args.output_dir, args.start, args.number, args.random,
                      args.clock, args.seed)
    print("Wrote {} files to {}".format(len(written), args.output_dir))


if __name__ == "__main__":
    main()
