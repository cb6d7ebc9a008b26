"""Swiss German speech -> Standard German text (GermEval 2020 Task 4) -> 16 kHz mono WAV + DeepSpeech CSVs.

Usage::

    python -m deepspeech_freeze.importers.swiss_german --source germeval2020 --target data/swiss \\
        [--filter_alphabet data/alphabets/swiss_german.txt] [--dev_fraction 0.1] [--test_fraction 0.1] \\
        [--seed 4242] [--jobs N] [--max_seconds 0]

The corpus. The task paper (Plüss, Neukom & Vogel, GermEval 2020 Task 4) describes ~74 h of sentence-level Swiss
German speech (Bernese parliament debates) paired with Standard German sentences; the training release has audio and
text, the test release audio only. Eberhard & Zesch used ~70 h (~33k training utterances, 191 speakers). The exact
file layout of the release (file names, column names, audio format; FLAC is assumed by most descriptions) could not
be confirmed from public material, so this reader is deliberately flexible and says what it found:

- Listing files: ``train``, ``dev`` (or ``valid``/``validation``) and ``test`` with the extension ``.csv`` or
  ``.tsv``, in ``--source`` or one folder below it; ``--train_file``/``--dev_file``/``--test_file`` name them
  explicitly. A train listing is required.
- Delimiter: detected from the header line (tab, comma or semicolon, whichever yields a known audio-path column).
  Comma/semicolon files may quote fields (standard CSV); tab files are read without quote processing.
- Columns (case-insensitive): the audio path is ``path``, ``clip_path``, ``audio``, ``audio_path``, ``file``,
  ``filename``, ``file_name`` or ``wav_filename``; the Standard German text is ``sentence``, ``text``,
  ``transcript``, ``transcription`` or ``label``; an optional speaker is ``client_id``, ``speaker``,
  ``speaker_id`` or ``speaker_name``. Other columns (duration, ...) are ignored.
- Audio paths are looked up relative to the listing's folder, then ``--source``, ``--source/clips`` and
  ``--source/audio``; a path without extension is tried with ``.flac``, ``.wav`` and ``.mp3``. Any format ffmpeg
  (or sox) reads is fine. A clip whose file is not found is dropped and reported.

Splits. The paper's splits are not public either. A listed dev or test split with transcripts is used as it is.
When there is none (or the test listing has no transcript column, as in the task's test release), that split is
carved out of train deterministically: the train clips' groups (speakers when a speaker column exists, else single
clips) are shuffled with ``--seed`` and taken until ``--test_fraction`` (then ``--dev_fraction``) of the train clips
is reached, so no speaker is in two splits. The same corpus and flags always give the same split. A fraction of 0
leaves that split empty (its CSV has only the header).

Transcripts are normalised with :func:`~deepspeech_freeze.importers.text.normalize_german` with ``keep_digits``:
digits stay digits (the paper's Swiss alphabet is the German one plus 0-9). Clips with other characters outside
``--filter_alphabet`` are dropped and reported. ``--max_seconds`` defaults to 0 (no length limit). Output, re-runs
and the report are those of :mod:`.common` (WAVs under ``TARGET/clips/``, ``TARGET/{train,dev,test}.csv``).
"""
import csv
import math
import os
import random
import sys

from absl import flags

from ..errors import UserError, run_main
from . import common
from .text import normalize_german

FLAGS = flags.FLAGS

PATH_COLUMNS = ("path", "clip_path", "audio", "audio_path", "file", "filename", "file_name", "wav_filename")
TEXT_COLUMNS = ("sentence", "text", "transcript", "transcription", "label")
SPEAKER_COLUMNS = ("client_id", "speaker", "speaker_id", "speaker_name")
SPLIT_NAMES = {"train": ("train",), "dev": ("dev", "valid", "validation"), "test": ("test",)}
LISTING_EXTENSIONS = (".csv", ".tsv")
AUDIO_EXTENSIONS = (".flac", ".wav", ".mp3")
DELIMITERS = (("\t", "tab"), (",", "comma"), (";", "semicolon"))


def _column(header, names):
    lowered = {name.lower(): name for name in header}
    for name in names:
        if name in lowered:
            return lowered[name]
    return None


class Listing(object):
    """One listing file: its rows and which columns hold the path, the text and the speaker."""

    def __init__(self, path):
        self.path = path
        first = ""
        try:
            with open(path, encoding="utf-8-sig") as handle:
                first = handle.readline()
        except UnicodeDecodeError as err:
            raise UserError("{} is not valid UTF-8 ({}): save it as UTF-8".format(path, err))
        for delimiter, name in DELIMITERS:
            header = [field.strip().strip('"') for field in first.rstrip("\r\n").split(delimiter)]
            if _column(header, PATH_COLUMNS):
                break
        else:
            raise UserError("{}: found no audio path column in its header line {!r}: name it one of {} (and the "
                            "text column one of {}); the delimiter may be tab, comma or semicolon".format(
                                path, first.strip(), ", ".join(PATH_COLUMNS), ", ".join(TEXT_COLUMNS)))
        self.delimiter = name
        quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
        self.header, self.rows = common.read_table(path, delimiter, quoting=quoting)
        self.path_column = _column(self.header, PATH_COLUMNS)
        self.text_column = _column(self.header, TEXT_COLUMNS)
        self.speaker_column = _column(self.header, SPEAKER_COLUMNS)

    def entries(self):
        """``[(where, audio path, text, speaker or None)]``; a row without audio path is a UserError."""
        out = []
        for line, row in self.rows:
            where = "{} line {}".format(os.path.basename(self.path), line)
            audio = (row.get(self.path_column) or "").strip()
            if not audio:
                raise UserError("{} has no audio path in column {!r}: fix or remove that line".format(
                    where, self.path_column))
            text = (row.get(self.text_column) or "") if self.text_column else ""
            speaker = (row.get(self.speaker_column) or "").strip() if self.speaker_column else None
            out.append((where, audio, text, speaker or None))
        return out


def find_listings(source, explicit):
    """``{split: path}`` of the listing files (``explicit`` maps split -> a flag value that overrides the search)."""
    found = {}
    for split, flag_value in explicit.items():
        if flag_value:
            path = flag_value if os.path.isabs(flag_value) or os.path.isfile(flag_value) \
                else os.path.join(source, flag_value)
            if not os.path.isfile(path):
                raise UserError("--{}_file {} does not exist (looked in the current folder and in --source)"
                                .format(split, flag_value))
            found[split] = path
    folders = [source] + sorted(os.path.join(source, name) for name in os.listdir(source)
                                if os.path.isdir(os.path.join(source, name)))
    for split, names in SPLIT_NAMES.items():
        if split in found:
            continue
        for folder in folders:
            matches = [os.path.join(folder, name + ext) for name in names for ext in LISTING_EXTENSIONS
                       if os.path.isfile(os.path.join(folder, name + ext))]
            if len(matches) > 1:
                raise UserError("{} has several {} listings ({}): name the one to use with --{}_file".format(
                    folder, split, ", ".join(os.path.basename(m) for m in matches), split))
            if matches:
                found[split] = matches[0]
                break
    if "train" not in found:
        raise UserError("{} has no train listing (train.csv or train.tsv, also looked one folder down): --source "
                        "must be the GermEval 2020 Task 4 corpus folder, or name the file with --train_file"
                        .format(source))
    return found


def resolve_audio(name, folders):
    """The absolute path of a listed audio file, or the first candidate when none exists (reported as missing)."""
    name = name.replace("\\", "/")
    candidates = [name] if os.path.isabs(name) else [os.path.join(folder, name) for folder in folders]
    if not os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS:
        candidates += [candidate + ext for candidate in list(candidates) for ext in AUDIO_EXTENSIONS]
    for candidate in candidates:
        if os.path.isfile(candidate):
            return os.path.abspath(candidate)
    return os.path.abspath(candidates[0])


def carve(entries, fraction, seed):
    """Split ``entries`` (with speaker as the 4th field) into ``(kept, carved)``: whole groups, deterministic."""
    if fraction <= 0 or not entries:
        return entries, []
    groups = {}
    for entry in entries:
        groups.setdefault(entry[3] if entry[3] is not None else entry[1], []).append(entry)
    order = sorted(groups)
    random.Random(seed).shuffle(order)
    needed = int(math.ceil(fraction * len(entries)))
    chosen, count = set(), 0
    for key in order[:-1]:  # at least one group stays
        if count >= needed:
            break
        chosen.add(key)
        count += len(groups[key])
    kept = [entry for entry in entries if (entry[3] if entry[3] is not None else entry[1]) not in chosen]
    carved = [entry for entry in entries if (entry[3] if entry[3] is not None else entry[1]) in chosen]
    return kept, carved


def swiss_german_clips(source, explicit_files=None, dev_fraction=0.1, test_fraction=0.1, seed=4242, out=None):
    """The :class:`~.common.Clip` list of the corpus, with dev/test carved from train where needed."""
    out = out or sys.stdout
    common.existing_folder("source", source, "give the folder of the GermEval 2020 Task 4 (Swiss German) corpus")
    common.check_split_fractions(dev_fraction, test_fraction, "clips")
    listings = {split: Listing(path) for split, path in
                find_listings(source, explicit_files or {"train": "", "dev": "", "test": ""}).items()}
    for split, listing in listings.items():
        print("{} listing: {} ({}-separated; audio column {!r}, text column {!r}, speaker column {!r})".format(
            split, listing.path, listing.delimiter, listing.path_column, listing.text_column,
            listing.speaker_column), file=out)
    if listings["train"].text_column is None:
        raise UserError("{} has no text column (its header is {}): name the Standard German sentence column one "
                        "of {}".format(listings["train"].path, ", ".join(listings["train"].header),
                                       ", ".join(TEXT_COLUMNS)))
    entries = {"train": listings["train"].entries()}
    for split, fraction in (("test", test_fraction), ("dev", dev_fraction)):
        listing = listings.get(split)
        if listing is not None and listing.text_column is not None:
            entries[split] = listing.entries()
            continue
        why = ("{} has no text column".format(listing.path) if listing is not None
               else "no {} listing".format(split))
        entries["train"], entries[split] = carve(entries["train"], fraction, seed)
        print("{}: {}; carved {} clips out of train (--{}_fraction {}, --seed {}, grouped by {})".format(
            split, why, len(entries[split]), split, fraction, seed,
            "speaker" if listings["train"].speaker_column else "clip"), file=out)
    clips = []
    for split in common.SPLITS:
        listing = listings.get(split) if split in listings and listings[split].text_column else listings["train"]
        folder = os.path.dirname(os.path.abspath(listing.path))
        folders = [folder, source, os.path.join(source, "clips"), os.path.join(source, "audio")]
        for where, audio, text, _speaker in entries[split]:
            clips.append(common.Clip(split, resolve_audio(audio, folders), common.wav_name(audio), text, where))
    return clips


def import_swiss_german(source, target, alphabet, explicit_files=None, dev_fraction=0.1, test_fraction=0.1,
                        seed=4242, jobs=1, max_seconds=0.0):
    """Import the corpus into ``target``; returns the summary of :func:`.common.import_clips`."""
    clips = swiss_german_clips(source, explicit_files, dev_fraction, test_fraction, seed)
    return common.import_clips(clips, target, alphabet, lambda text: normalize_german(text, keep_digits=True),
                               jobs=jobs, max_seconds=max_seconds)


def main(_argv):
    alphabet = common.check_common_flags(FLAGS)
    explicit = {"train": FLAGS.train_file, "dev": FLAGS.dev_file, "test": FLAGS.test_file}
    import_swiss_german(FLAGS.source, FLAGS.target, alphabet, explicit, FLAGS.dev_fraction, FLAGS.test_fraction,
                        FLAGS.seed, FLAGS.jobs, FLAGS.max_seconds)


def define_flags():
    flags.DEFINE_string("source", "", "folder of the GermEval 2020 Task 4 corpus (listing files + audio)")
    flags.DEFINE_string("train_file", "", "train listing (default: train.csv/.tsv found in --source)")
    flags.DEFINE_string("dev_file", "", "dev listing (default: dev/valid/validation.csv/.tsv in --source; "
                                        "carved from train when there is none)")
    flags.DEFINE_string("test_file", "", "test listing (default: test.csv/.tsv in --source; carved from train "
                                         "when there is none or it has no text column)")
    flags.DEFINE_float("dev_fraction", 0.1, "share of the train clips carved out as dev when there is no dev "
                                            "listing")
    flags.DEFINE_float("test_fraction", 0.1, "share of the train clips carved out as test when there is no "
                                             "labelled test listing")
    flags.DEFINE_integer("seed", 4242, "seed of the deterministic dev/test carving")
    common.define_common_flags(common.repo_path("data", "alphabets", "swiss_german.txt"), 0.0)


if __name__ == "__main__":
    define_flags()
    run_main(main)
