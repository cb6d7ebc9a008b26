"""Heidelberg Digits (English or German) -> 16 kHz mono WAV + DeepSpeech CSVs, split by speaker.

Usage::

    python -m deepspeech_freeze.importers.heidelberg_digits --hd_dir hd_audio --target data/hd-german \\
        --language german [--test_speakers 04,05] [--dev_speakers 11] [--train_speakers 00,01,02] \\
        [--max_takes N] [--jobs N]

The corpus (Cramer et al. 2020, "The Heidelberg Spiking Data Sets for the Systematic Evaluation of Spiking Neural
Networks", CC BY 4.0; the audio behind SHD, ``hd_audio.tar.gz``) holds studio recordings of the digits 0-9 spoken in
English and German by the same 12 speakers, one file per take:
``audio/lang-{english|german}_speaker-NN_trial-T_digit-D.flac`` (48 kHz, 16-bit, mono). ``--hd_dir`` is the folder
holding ``audio/`` (the extracted archive), or ``audio/`` itself.

The transcript follows from the name: zero ... nine, or null, eins, zwei, drei, vier, fünf, sechs, sieben, acht,
neun. The split is by speaker, so the test is speaker-independent: by default speakers 04 and 05 are the test set
(as in SHD, where they appear only in the test set), speaker 11 the dev set, and every other speaker trains.
``--train_speakers`` takes a subset instead (e.g. three speakers for an under-resourced language), and
``--max_takes N`` keeps only the first N takes (by trial number) of each speaker and digit, in every split.

Bad input stops with one message and writes no CSV: a missing folder, no files of the language, a ``.flac`` whose
name does not follow the pattern, a speaker flag naming a speaker the corpus lacks or a speaker in two splits, and
an audio file that cannot be converted (a damaged download). Conversion, reuse of converted WAVs and the report are
those of :mod:`.common`.
"""
import collections
import os
import re
import sys

from absl import flags

from ..errors import UserError, run_main
from . import common

FLAGS = flags.FLAGS
LANGUAGES = ("english", "german")
WORDS = {"english": "zero one two three four five six seven eight nine".split(),
         "german": "null eins zwei drei vier fünf sechs sieben acht neun".split()}
ALPHABETS = {"english": "english.txt", "german": "german.txt"}
NAME = re.compile(r"^lang-(?P<language>[a-z]+)_speaker-(?P<speaker>\d{2})_trial-(?P<trial>\d+)"
                  r"_digit-(?P<digit>\d)\.flac$")
PATTERN = "lang-{english|german}_speaker-NN_trial-T_digit-D.flac"
DEFAULT_TEST, DEFAULT_DEV = "04,05", "11"

Take = collections.namedtuple("Take", "path name language speaker trial digit")


def audio_folder(hd_dir):
    """The folder holding the corpus's .flac files: ``HD_DIR/audio`` or ``HD_DIR`` itself."""
    if not hd_dir:
        raise UserError("--hd_dir is not set: give the extracted hd_audio.tar.gz folder (the one holding audio/)")
    if not os.path.isdir(hd_dir):
        raise UserError("--hd_dir {} does not exist: give the extracted hd_audio.tar.gz folder (the one holding "
                        "audio/)".format(hd_dir))
    for folder in (os.path.join(hd_dir, "audio"), hd_dir):
        if os.path.isdir(folder) and any(name.lower().endswith(".flac") for name in os.listdir(folder)):
            return folder
    raise UserError("--hd_dir {} has no .flac files, neither in audio/ nor in the folder itself: give the extracted "
                    "hd_audio.tar.gz folder".format(hd_dir))


def list_takes(folder):
    """Every take in ``folder`` (all languages); a UserError for a .flac whose name is not the corpus's."""
    takes = []
    for name in sorted(os.listdir(folder)):
        if not name.lower().endswith(".flac"):
            continue  # the archive's listings and readme
        match = NAME.match(name)
        if not match or match.group("language") not in LANGUAGES:
            raise UserError("{}: the name does not follow the Heidelberg Digits pattern {}; remove or rename the "
                            "file".format(os.path.join(folder, name), PATTERN))
        takes.append(Take(os.path.abspath(os.path.join(folder, name)), name, match.group("language"),
                          int(match.group("speaker")), int(match.group("trial")), int(match.group("digit"))))
    return takes


def parse_speakers(flag, text):
    """``"04,5"`` -> ``[4, 5]``; a UserError naming the flag for anything that is not a speaker number."""
    speakers = []
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        if not item.isdigit():
            raise UserError("--{} {}: {!r} is not a speaker number; give numbers such as 04,05".format(
                flag, text, item))
        speakers.append(int(item))
    return speakers


def split_speakers(available, test, dev, train=None):
    """``{split: sorted speakers}``; train is every speaker not in test or dev unless ``train`` lists a subset."""
    known = sorted(available)
    chosen = {"test": test, "dev": dev}
    if train:
        chosen["train"] = train
    for split, speakers in chosen.items():
        unknown = sorted(set(speakers) - set(known))
        if unknown:
            raise UserError("--{}_speakers: the corpus has no speaker {} in this language; its speakers are "
                            "{}".format(split, ", ".join("{:02d}".format(s) for s in unknown),
                                        ", ".join("{:02d}".format(s) for s in known)))
    for first, second in (("test", "dev"), ("test", "train"), ("dev", "train")):
        both = sorted(set(chosen.get(first, ())) & set(chosen.get(second, ())))
        if both:
            raise UserError("speaker {} is in --{}_speakers and --{}_speakers: a speaker-independent split puts "
                            "each speaker in one split only".format(
                                ", ".join("{:02d}".format(s) for s in both), first, second))
    if "train" not in chosen:
        chosen["train"] = [s for s in known if s not in set(test) | set(dev)]
    for split in common.SPLITS:
        if not chosen[split]:
            raise UserError("the {} split has no speaker: give --{}_speakers (the corpus's speakers are {})".format(
                split, split, ", ".join("{:02d}".format(s) for s in known)))
    return {split: sorted(set(speakers)) for split, speakers in chosen.items()}


def heidelberg_clips(hd_dir, language, test_speakers=DEFAULT_TEST, dev_speakers=DEFAULT_DEV, train_speakers="",
                     max_takes=0, out=None):
    """``(clips, {split: speakers})`` for one language: :class:`~.common.Clip` per take, ordered by speaker, digit
    and trial."""
    if language not in LANGUAGES:
        raise UserError("--language {}: choose english or german".format(language))
    if max_takes < 0:
        raise UserError("--max_takes is {}: give a positive number of takes, or 0 for all".format(max_takes))
    folder = audio_folder(hd_dir)
    takes = [take for take in list_takes(folder) if take.language == language]
    if not takes:
        raise UserError("{} has no {} files (lang-{}_speaker-NN_trial-T_digit-D.flac)".format(
            folder, language, language))
    splits = split_speakers({take.speaker for take in takes}, parse_speakers("test_speakers", test_speakers),
                            parse_speakers("dev_speakers", dev_speakers),
                            parse_speakers("train_speakers", train_speakers))
    split_of = {speaker: split for split, speakers in splits.items() for speaker in speakers}
    takes.sort(key=lambda take: (take.speaker, take.digit, take.trial))
    per_cell = collections.Counter()
    clips = []
    for take in takes:
        split = split_of.get(take.speaker)
        if split is None:
            continue  # a speaker left out by --train_speakers
        per_cell[take.speaker, take.digit] += 1
        if max_takes and per_cell[take.speaker, take.digit] > max_takes:
            continue
        clips.append(common.Clip(split, take.path, common.wav_name(take.name), WORDS[language][take.digit],
                                 take.name))
    if out is not None:
        for split in common.SPLITS:
            print("{}: speakers {}".format(split, ", ".join("{:02d}".format(s) for s in splits[split])), file=out)
    return clips, splits


def import_heidelberg_digits(hd_dir, target, language, alphabet=None, test_speakers=DEFAULT_TEST,
                             dev_speakers=DEFAULT_DEV, train_speakers="", max_takes=0, jobs=1, out=None):
    """Import one language of the corpus into ``target``; returns the summary of :func:`.common.import_clips`."""
    out = out or sys.stdout
    clips, splits = heidelberg_clips(hd_dir, language, test_speakers, dev_speakers, train_speakers, max_takes, out)
    # sox first: it reads FLAC and starts several times faster than ffmpeg, which matters for 10,000 short files.
    summary = common.import_clips(clips, target, alphabet, lambda text: text, jobs=jobs, out=out, strict=True,
                                  converters=("sox", "ffmpeg"))
    summary["speakers"] = splits
    return summary


def main(_argv):
    if FLAGS.language not in LANGUAGES:
        raise UserError("--language {!r}: choose english or german".format(FLAGS.language))
    if FLAGS.filter_alphabet == "auto":
        FLAGS.filter_alphabet = common.repo_path("data", "alphabets", ALPHABETS[FLAGS.language])
    alphabet = common.check_common_flags(FLAGS)
    import_heidelberg_digits(FLAGS.hd_dir, FLAGS.target, FLAGS.language, alphabet, FLAGS.test_speakers,
                             FLAGS.dev_speakers, FLAGS.train_speakers, FLAGS.max_takes, FLAGS.jobs)


def define_flags():
    flags.DEFINE_string("hd_dir", "", "the extracted hd_audio.tar.gz folder (holding audio/), or audio/ itself")
    flags.DEFINE_string("language", "", "english or german")
    flags.DEFINE_string("test_speakers", DEFAULT_TEST, "comma-separated speakers of the test set")
    flags.DEFINE_string("dev_speakers", DEFAULT_DEV, "comma-separated speakers of the dev set")
    flags.DEFINE_string("train_speakers", "", "comma-separated speakers of the training set (default: every "
                                              "speaker not in test or dev)")
    flags.DEFINE_integer("max_takes", 0, "keep at most this many takes per speaker and digit, lowest trial "
                                         "numbers first (0: all)")
    # "auto": the alphabet of --language (data/alphabets/english.txt or german.txt).
    common.define_common_flags("auto", 0.0)


if __name__ == "__main__":
    define_flags()
    run_main(main)
