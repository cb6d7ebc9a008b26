#!/usr/bin/env python
"""Conversion speed and peak memory of a corpus import at scale (issue 23: flat memory for 100,000 clips).

Generates an M-AILABS-layout corpus of ``--clips`` one-second clips (``by_book/female/bench/book_NNN/`` with a
``metadata.csv`` of 1,000 lines each; every WAV is a hard link to one generated file per book, so the corpus
costs almost no disk) and runs ``python -m deepspeech_freeze.importers.m_ailabs`` on it under ``/usr/bin/time -v``, once per size
in ``--sizes`` (each size its own corpus, target and process). Prints, per size, the wall time, clips per second
and the peak resident memory (``Maximum resident set size``), and the CPU model.

    python bench/importer_scale.py                                  # 10,000 and 100,000 clips, 16 kHz WAV
    python bench/importer_scale.py --sizes 2000 --rate 22050        # through ffmpeg (a rate that needs converting)
    python bench/importer_scale.py --sizes 1000 --jobs 2 --output r.json

At ``--rate 16000`` the sources already are 16 kHz mono 16-bit WAV and are copied without a converter process
(Tuda-De's and M-AILABS's case); any other rate goes through ffmpeg, one process per clip.
"""
import argparse
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import wave

from report import cpu_model  # this script's folder is on sys.path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SENTENCE = "Der Zug fährt um acht Uhr ab."


def write_clip(path, rate, seconds=1.0):
    """A one-second 16-bit mono WAV: a 440 Hz tone with a slow amplitude swell."""
    frames = int(rate * seconds)
    samples = (int(8000 * math.sin(2 * math.pi * 440 * i / rate) * (0.5 + 0.5 * math.sin(math.pi * i / frames)))
               for i in range(frames))
    with wave.open(path, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(b"".join(struct.pack("<h", s) for s in samples))


def make_corpus(folder, clips, rate):
    """The M-AILABS layout with ``clips`` entries (hard links to one WAV)."""
    source = os.path.join(folder, "source.wav")
    write_clip(source, rate)
    language = os.path.join(folder, "de_DE")
    for book in range(int(math.ceil(clips / 1000.0))):
        book_dir = os.path.join(language, "by_book", "female", "bench", "book_{:03d}".format(book))
        os.makedirs(os.path.join(book_dir, "wavs"))
        shared = os.path.join(book_dir, "source.wav")  # a file per book: file systems limit links per file
        shutil.copy(source, shared)
        lines = []
        for number in range(book * 1000, min(clips, (book + 1) * 1000)):
            name = "book_{:03d}_f{:06d}".format(book, number)
            os.link(shared, os.path.join(book_dir, "wavs", name + ".wav"))
            lines.append("{0}|{1}|{1}".format(name, SENTENCE))
        with open(os.path.join(book_dir, "metadata.csv"), "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
    return language


def run_import(language, target, jobs):
    """``(seconds, peak RSS in KiB, report lines)`` of one import under /usr/bin/time -v."""
    command = ["/usr/bin/time", "-v", sys.executable, "-m", "deepspeech_freeze.importers.m_ailabs",
               "--mailabs_dir", language, "--target", target, "--jobs", str(jobs)]
    environment = dict(os.environ, PYTHONPATH=ROOT, PYTHONIOENCODING="utf-8")
    start = time.time()
    result = subprocess.run(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    seconds = time.time() - start
    if result.returncode != 0:
        raise SystemExit("the import failed ({}):\n{}".format(result.returncode, result.stderr[-3000:]))
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
    return seconds, peak, [line for line in result.stdout.splitlines() if line.startswith(("Audio:", "Total:"))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="clip counts, comma-separated")
    parser.add_argument("--rate", type=int, default=16000, help="sample rate of the generated WAVs")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="the importer's --jobs")
    parser.add_argument("--workdir", default="", help="folder for the corpora (default: a temporary folder)")
    parser.add_argument("--output", default="", help="also write the results as JSON")
    args = parser.parse_args()
    if not shutil.which("ffmpeg") and args.rate != 16000:
        raise SystemExit("ffmpeg is needed for --rate other than 16000")
    if not os.path.exists("/usr/bin/time"):
        raise SystemExit("/usr/bin/time is needed (apt-get install time)")
    work = args.workdir or tempfile.mkdtemp(prefix="importer-scale-")
    results = []
    print("CPU: {} ({} cores); --jobs {}; {} Hz sources".format(cpu_model(), os.cpu_count(), args.jobs, args.rate))
    print("{:>8} {:>9} {:>9} {:>12} {:>12}".format("clips", "wall s", "clips/s", "peak RSS MiB", "KiB/clip"))
    for size in (int(s) for s in args.sizes.split(",")):
        folder = os.path.join(work, str(size))
        os.makedirs(folder)
        language = make_corpus(folder, size, args.rate)
        seconds, peak, lines = run_import(language, os.path.join(folder, "out"), args.jobs)
        results.append({"clips": size, "seconds": seconds, "clips_per_second": size / seconds,
                        "peak_rss_kib": peak, "report": lines})
        print("{:>8} {:>9.1f} {:>9.1f} {:>12.1f} {:>12.2f}".format(size, seconds, size / seconds, peak / 1024.0,
                                                                  peak / float(size)))
        for line in lines:
            print("         " + line)
        if not args.workdir:
            shutil.rmtree(folder)
    if args.output:
        with open(args.output, "w") as handle:
            json.dump({"cpu": cpu_model(), "rate": args.rate, "jobs": args.jobs, "results": results}, handle,
                      indent=1)
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
