"""A stand-in for the Heidelberg Digits corpus, in exactly its layout, spoken by espeak-ng.

``python -m deepspeech_freeze.experiments.digits_synth --target DIR [--speakers 12] [--takes 10]``

The real corpus (Cramer et al. 2020, CC BY 4.0, ``hd_audio.tar.gz``) holds studio recordings of the digits 0-9 in
English and German by the same 12 speakers, as ``audio/lang-{english|german}_speaker-NN_trial-T_digit-D.flac``
(48 kHz, 16-bit, mono). This module writes ``DIR/audio/`` with files of that name and format so that the importer
(:mod:`deepspeech_freeze.importers.heidelberg_digits`), ``bin/run-digits.sh`` and the tests run without the
download. A "speaker" is one espeak-ng voice variant, used for both languages (as in the real corpus, where each
speaker recorded both); each take draws its own speed and pitch from a fixed seed. It is synthetic speech: a model
trained on it says nothing about human speech.

``DIR/digits_synth.json`` records the settings; a second call with the same settings reuses the files.
"""
import argparse
import io
import json
import os
import random
import sys
import tempfile
from multiprocessing.pool import ThreadPool

from ..errors import UserError, run_cli
from . import synth

VERSION = 1
MANIFEST = "digits_synth.json"
SAMPLE_RATE = 48000
LANGUAGES = {"english": "en-us", "german": "de"}
# The words each language's recordings say, digit 0 first (the importer's transcripts are the same words).
WORDS = {"english": "zero one two three four five six seven eight nine".split(),
         "german": "null eins zwei drei vier fünf sechs sieben acht neun".split()}
# 12 espeak-ng variants, one per speaker; the same variant speaks both languages.
VARIANTS = ["m1", "f1", "m2", "f2", "m3", "f3", "m4", "f4", "m5", "f5", "m6", "m7"]
SPEEDS = (120, 190)
PITCHES = (25, 75)


def file_name(language, speaker, trial, digit):
    """The corpus's own file name, e.g. ``lang-german_speaker-04_trial-3_digit-7.flac``."""
    return "lang-{}_speaker-{:02d}_trial-{}_digit-{}.flac".format(language, speaker, trial, digit)


def _speak(job):
    """Thread task: one take as a 48 kHz 16-bit mono FLAC, written under a temporary name and then renamed."""
    language, speaker, trial, digit, path, converter = job
    rng = random.Random("{}-{}-{}-{}".format(language, speaker, trial, digit))
    voice = "{}+{}".format(LANGUAGES[language], VARIANTS[speaker % len(VARIANTS)])
    word = WORDS[language][digit]
    with tempfile.TemporaryDirectory(prefix="dsf-digits-") as tmp:
        raw = os.path.join(tmp, "espeak.wav")
        synth._run(["espeak-ng", "-v", voice, "-s", str(rng.randint(*SPEEDS)), "-p", str(rng.randint(*PITCHES)),
                    "-w", raw, word], word)
        part = path + ".part.flac"
        if converter == "sox":
            command = ["sox", "-V1", raw, "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", part]
        else:
            command = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", raw, "-ac", "1", "-ar",
                       str(SAMPLE_RATE), "-sample_fmt", "s16", "-c:a", "flac", part]
        synth._run(command, word)
        os.replace(part, path)


def build(target, speakers=12, takes=10, languages=("english", "german"), jobs=None, out=None):
    """Write (or reuse) the corpus under ``target/audio``; returns the number of files."""
    out = out or sys.stdout
    if not 1 <= speakers <= len(VARIANTS):
        raise UserError("--speakers {}: give 1 to {}".format(speakers, len(VARIANTS)))
    if takes < 1:
        raise UserError("--takes {}: give at least 1 take per speaker and digit".format(takes))
    for language in languages:
        if language not in LANGUAGES:
            raise UserError("--languages: {!r} is not one of {}".format(language, ", ".join(LANGUAGES)))
    settings = {"version": VERSION, "speakers": speakers, "takes": takes, "languages": list(languages)}
    audio = os.path.join(os.path.abspath(target), "audio")
    manifest_path = os.path.join(os.path.abspath(target), MANIFEST)
    names = [(language, speaker, trial, digit, os.path.join(audio, file_name(language, speaker, trial, digit)))
             for language in languages for speaker in range(speakers) for trial in range(takes)
             for digit in range(10)]
    try:
        with io.open(manifest_path, encoding="utf-8") as handle:
            cached = json.load(handle)
    except (OSError, ValueError):
        cached = None
    if cached == settings and all(os.path.isfile(entry[-1]) for entry in names):
        out.write("[digits_synth] reusing {} files in {}\n".format(len(names), audio))
        return len(names)
    converter = synth.check_tools()
    os.makedirs(audio, exist_ok=True)
    if os.path.exists(manifest_path):
        os.remove(manifest_path)  # invalid until this build completes
    todo = [entry + (converter,) for entry in names if not os.path.isfile(entry[-1])]
    pool = ThreadPool(jobs or max(2, os.cpu_count() or 1))
    try:
        pool.map(_speak, todo)
    finally:
        pool.close()
        pool.join()
    with io.open(manifest_path, "w", encoding="utf-8") as handle:
        json.dump(settings, handle, indent=2)
    out.write("[digits_synth] {} files ({} languages x {} speakers x {} takes x 10 digits) in {}\n".format(
        len(names), len(languages), speakers, takes, audio))
    return len(names)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m deepspeech_freeze.experiments.digits_synth",
                                     description="Write an espeak-ng stand-in for the Heidelberg Digits corpus "
                                                 "(audio/lang-..._speaker-NN_trial-T_digit-D.flac, 48 kHz).")
    parser.add_argument("--target", required=True, help="folder to write audio/ into")
    parser.add_argument("--speakers", type=int, default=12, help="speakers 00..N-1 (default 12, at most 12)")
    parser.add_argument("--takes", type=int, default=10, help="takes per speaker, language and digit (default 10)")
    parser.add_argument("--languages", default="english,german", help="comma-separated (default english,german)")
    parser.add_argument("--jobs", type=int, default=None, help="parallel syntheses (default: CPUs, at least 2)")
    args = parser.parse_args(argv)
    run_cli(build, args.target, args.speakers, args.takes,
            [name.strip() for name in args.languages.split(",") if name.strip()], args.jobs)


if __name__ == "__main__":
    main()
