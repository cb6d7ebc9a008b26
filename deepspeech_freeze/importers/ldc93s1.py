"""LDC93S1 (DeepSpeech's one-utterance smoke test): LDC93S1.wav + .txt -> ldc93s1.csv.

The transcript is the .txt's text without its two leading sample offsets, lowercased, without '.'.
"""
import csv
import io
import os
import shutil

from absl import flags

from ..errors import UserError, run_main

FLAGS = flags.FLAGS


def import_ldc93s1(source, target):
    """Copy the WAV into ``target`` and write ``target/ldc93s1.csv``; returns the CSV path."""
    wav, txt = os.path.join(source, "LDC93S1.wav"), os.path.join(source, "LDC93S1.txt")
    for path in (wav, txt):
        if not os.path.isfile(path):
            raise UserError("{} is missing: --source must be the folder holding LDC93S1.wav and LDC93S1.txt"
                            .format(path))
    os.makedirs(target, exist_ok=True)
    copied = os.path.join(target, "LDC93S1.wav")
    if not os.path.isfile(copied) or os.path.getsize(copied) != os.path.getsize(wav):
        shutil.copyfile(wav, copied)
    with io.open(txt, encoding="utf-8") as handle:
        words = handle.read().split()[2:]
    transcript = " ".join(words).lower().replace(".", "")
    csv_path = os.path.join(target, "ldc93s1.csv")
    with io.open(csv_path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["wav_filename", "wav_filesize", "transcript"])
        writer.writerow(["LDC93S1.wav", os.path.getsize(copied), transcript])
    return csv_path


def main(_argv):
    print(import_ldc93s1(FLAGS.source, FLAGS.target))


if __name__ == "__main__":
    flags.DEFINE_string("source", "", "folder with LDC93S1.wav and LDC93S1.txt")
    flags.DEFINE_string("target", "", "folder to write LDC93S1.wav and ldc93s1.csv to")
    run_main(main)
