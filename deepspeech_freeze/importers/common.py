"""What every corpus importer shares: audio conversion, filtering, DeepSpeech CSV writing and the report.

An importer turns its corpus into a list of :class:`Clip` (split, source audio, raw sentence) and hands it to
:func:`import_clips`, which

1. normalises each sentence and drops those that come out empty or hold characters outside ``--filter_alphabet``
   (counted per character, with a few examples);
2. converts the remaining audio to 16 kHz mono 16-bit PCM WAV under ``TARGET/clips/`` with ffmpeg (sox when ffmpeg
   is not installed; an importer may prefer sox), in parallel, with a progress bar. A WAV that already exists with that format is reused, so a
   second run only converts what is new. Each file is written under a temporary name and renamed when complete, so
   an interrupted run never leaves a truncated WAV behind that a re-run would trust;
3. drops clips whose audio is missing or cannot be converted (reported with the converter's message, never a
   traceback; a strict import stops instead and writes no CSV), clips longer than ``--max_seconds`` and clips too short for their transcript (fewer 20 ms steps than
   characters, DeepSpeech's ``import_cv2.py`` rule);
4. writes ``TARGET/<split>.csv`` with DeepSpeech's header ``wav_filename,wav_filesize,transcript`` and WAV paths
   relative to the CSV (DeepSpeech resolves them against the CSV's folder), in the order of the corpus listing;
5. prints, per split, how many clips were kept and dropped (and why) and the hours of audio kept.
"""
import collections
import csv
import io
import os
import shutil
import subprocess
import sys
import wave
from multiprocessing.pool import ThreadPool

from absl import flags

from ..alphabet import Alphabet
from ..errors import UserError
from ..progress import Progress
from .text import filter_to_alphabet

SAMPLE_RATE = 16000
CSV_HEADER = ("wav_filename", "wav_filesize", "transcript")
SPLITS = ("train", "dev", "test")
EXAMPLES = 5  # how many examples each kind of dropped clip shows

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Why a clip was dropped, in report order: key -> (short label for the counts, heading for the examples).
DROP_REASONS = collections.OrderedDict([
    ("empty", ("empty transcript", "the transcript is empty after normalisation")),
    ("alphabet", ("out of alphabet", "the transcript has characters outside the alphabet")),
    ("missing", ("audio missing", "the audio file does not exist")),
    ("failed", ("conversion failed", "the audio could not be converted")),
    ("too_long", ("too long", "the clip is longer than --max_seconds")),
    ("too_short", ("too short", "the clip has fewer 20 ms steps than transcript characters")),
])


class Clip(collections.namedtuple("Clip", "split source wav text where")):
    """One corpus entry: ``split`` name, ``source`` audio path (absolute), ``wav`` path relative to the target
    folder, the raw ``text`` and ``where`` it came from (e.g. "train.tsv line 7") for messages."""


def repo_path(*parts):
    """A path inside the repository (e.g. the default alphabet files)."""
    return os.path.join(ROOT, *parts)


def define_common_flags(default_alphabet, default_max_seconds):
    """Flags every importer has: --target, --filter_alphabet, --jobs, --max_seconds."""
    flags.DEFINE_string("target", "", "folder to write the WAV files (under clips/) and train/dev/test.csv to")
    flags.DEFINE_string("filter_alphabet", default_alphabet,
                        "alphabet file: clips whose normalised transcript has a character outside it are dropped "
                        "(and reported); an empty value keeps every clip")
    flags.DEFINE_integer("jobs", os.cpu_count() or 1, "parallel audio conversions")
    flags.DEFINE_float("max_seconds", default_max_seconds,
                       "drop clips longer than this many seconds (0: keep clips of any length)")


def check_common_flags(values):
    """UserErrors for bad values of the common flags; returns the filter Alphabet (or None)."""
    if not values.target:
        raise UserError("--target is not set: give the folder to write the WAV files and CSV files to")
    if values.jobs < 1:
        raise UserError("--jobs is {}: give at least 1 parallel conversion".format(values.jobs))
    if values.max_seconds < 0:
        raise UserError("--max_seconds is {}: give a positive length, or 0 to keep clips of any length"
                        .format(values.max_seconds))
    return load_filter_alphabet(values.filter_alphabet)


def load_filter_alphabet(path):
    """The :class:`Alphabet` of ``--filter_alphabet``, or ``None`` when it is empty (no filtering)."""
    if not path:
        return None
    if not os.path.isfile(path):
        raise UserError("--filter_alphabet {} does not exist: give an alphabet file such as "
                        "data/alphabets/german.txt, or an empty value to keep every clip".format(path))
    return Alphabet(path)


def wav_name(relative_audio_path):
    """``clips/<path without extension>.wav`` for a corpus audio path, kept inside the target folder."""
    path = os.path.normpath(relative_audio_path.replace("\\", "/"))
    if os.path.isabs(path) or path.startswith(".."):
        path = os.path.basename(path)
    parts = path.split(os.sep)
    if len(parts) > 1 and parts[0] == "clips":
        parts = parts[1:]
    return os.path.join("clips", os.path.splitext(os.path.join(*parts))[0] + ".wav")


def find_converter(order=("ffmpeg", "sox")):
    """``"ffmpeg"`` or ``"sox"``, the first of ``order`` that is installed (by default ffmpeg first: Debian's sox
    cannot read MP3)."""
    for tool in order:
        if shutil.which(tool):
            return tool
    raise UserError("neither ffmpeg nor sox is installed: install one to convert the audio "
                    "(e.g. apt-get install ffmpeg)")


def wav_seconds(path):
    """``(seconds, None)`` for a 16 kHz mono 16-bit PCM WAV with samples, else ``(None, problem)``."""
    try:
        with wave.open(path, "rb") as handle:
            rate, channels, width, frames = (handle.getframerate(), handle.getnchannels(), handle.getsampwidth(),
                                             handle.getnframes())
    except (wave.Error, EOFError, OSError) as err:
        return None, "not a readable PCM WAV ({})".format(err)
    if (rate, channels, width) != (SAMPLE_RATE, 1, 2):
        return None, "{} Hz, {} channel(s), {}-bit instead of 16000 Hz mono 16-bit".format(rate, channels, 8 * width)
    if frames == 0:
        return None, "no audio samples"
    return frames / float(SAMPLE_RATE), None


def convert_to_wav(source, wav, tool):
    """Convert ``source`` to a 16 kHz mono 16-bit WAV at ``wav``; returns ``None`` or a one-line problem."""
    part = wav + ".part"
    if tool == "ffmpeg":
        command = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", source, "-vn",
                   "-ac", "1", "-ar", str(SAMPLE_RATE), "-acodec", "pcm_s16le", "-map_metadata", "-1",
                   "-fflags", "+bitexact", "-flags:a", "+bitexact", "-f", "wav", part]
    else:
        command = ["sox", "-V1", source, "-t", "wav", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16",
                   "-e", "signed-integer", part]
    try:
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as err:
        return "{} could not run: {}".format(tool, err)
    problem = None
    if result.returncode != 0:
        lines = [line.strip() for line in result.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
        problem = "{} failed: {}".format(tool, lines[-1] if lines else "exit status {}".format(result.returncode))
    else:
        problem = wav_seconds(part)[1]
    if problem is None:
        os.replace(part, wav)
    elif os.path.exists(part):
        os.remove(part)
    return problem


def _prepare_audio(job):
    """Thread task: ``(wav_path, status, seconds_or_problem)`` with status "reused", "converted" or "failed"."""
    source, wav, tool = job
    if os.path.exists(wav):
        seconds, problem = wav_seconds(wav)
        if problem is None:
            return wav, "reused", seconds
    os.makedirs(os.path.dirname(wav), exist_ok=True)
    problem = convert_to_wav(source, wav, tool)
    if problem is not None:
        return wav, "failed", problem
    return wav, "converted", wav_seconds(wav)[0]


def _progress(total):
    return Progress("Preparing audio", total, noun="Files")


def import_clips(clips, target, alphabet, normalize, jobs=1, max_seconds=0.0, splits=SPLITS, out=None,
                 strict=False, converters=("ffmpeg", "sox")):
    """Convert, filter and write ``clips`` (see the module docstring); returns a summary dict.

    ``normalize`` maps a raw sentence to a transcript. The summary has, per split, ``kept``, ``seconds`` and
    ``dropped`` (reason -> count), plus ``converted``, ``reused`` and ``failed`` conversion counts. With ``strict``
    an audio file that is missing or cannot be converted is an error (a damaged download, not a clip to drop): a
    UserError names the files and no CSV is written, so an earlier import's CSVs stay as they were.
    ``converters``: the tools to try, in order (:func:`find_converter`).
    """
    out = out or sys.stdout
    target = os.path.abspath(target)
    try:
        os.makedirs(os.path.join(target, "clips"), exist_ok=True)
    except OSError as err:
        raise UserError("cannot create the --target folder {} ({}): choose a writable folder".format(target, err))
    summary = {split: {"kept": 0, "seconds": 0.0, "dropped": collections.Counter(), "total": 0} for split in splits}
    rows = {split: [] for split in splits}
    examples = collections.defaultdict(list)
    missing_chars = collections.Counter()

    def drop(clip, reason, example):
        summary[clip.split]["dropped"][reason] += 1
        if len(examples[reason]) < EXAMPLES:
            examples[reason].append("{} ({}): {}".format(clip.where, os.path.basename(clip.source), example))

    # 1. Transcripts.
    candidates = []
    for clip in clips:
        summary[clip.split]["total"] += 1
        transcript = normalize(clip.text)
        kept, missing = filter_to_alphabet(transcript, alphabet)
        if kept is None and not missing:
            drop(clip, "empty", repr(clip.text))
        elif kept is None:
            missing_chars.update(missing)
            drop(clip, "alphabet", "{!r} -> {!r} has {}".format(clip.text, transcript,
                                                                 " ".join(repr(c) for c in missing)))
        else:
            candidates.append((clip, kept))

    # 2. Audio, each distinct WAV once.
    jobs_by_wav = collections.OrderedDict()
    usable = []
    tool = None
    for clip, transcript in candidates:
        if not os.path.isfile(clip.source):
            drop(clip, "missing", "no such file {}".format(clip.source))
            continue
        wav = os.path.join(target, clip.wav)
        if wav not in jobs_by_wav:
            tool = tool or find_converter(converters)
            jobs_by_wav[wav] = (clip.source, wav, tool)
        usable.append((clip, transcript, wav))
    results = {}
    if jobs_by_wav:
        print("Preparing {} audio files with {} ({} in parallel)...".format(len(jobs_by_wav), tool, jobs), file=out)
        out.flush()
        bar = _progress(len(jobs_by_wav))
        pool = ThreadPool(min(jobs, len(jobs_by_wav)))
        try:
            for done, (wav, status, value) in enumerate(pool.imap_unordered(_prepare_audio, jobs_by_wav.values()),
                                                        start=1):
                results[wav] = (status, value)
                bar.update(done)
        finally:
            pool.close()
            pool.join()
        bar.finish()
    statuses = collections.Counter(status for status, _ in results.values())

    if strict:
        _fail_on_bad_audio(usable, results, summary, splits, examples)

    # 3. Audio checks, 4. rows.
    for clip, transcript, wav in usable:
        status, value = results[wav]
        if status == "failed":
            drop(clip, "failed", value)
        elif max_seconds and value > max_seconds:
            drop(clip, "too_long", "{:.1f} s".format(value))
        elif int(value * 1000 / 10 / 2) < len(transcript):
            drop(clip, "too_short", "{:.2f} s for {} characters".format(value, len(transcript)))
        else:
            rows[clip.split].append((clip.wav.replace(os.sep, "/"), os.path.getsize(wav), transcript))
            summary[clip.split]["kept"] += 1
            summary[clip.split]["seconds"] += value

    for split in splits:
        write_csv(os.path.join(target, split + ".csv"), rows[split])

    summary["converted"], summary["reused"], summary["failed"] = (statuses["converted"], statuses["reused"],
                                                                  statuses["failed"])
    _report(summary, splits, examples, missing_chars, alphabet, target, out)
    return summary


def _fail_on_bad_audio(usable, results, summary, splits, examples):
    """The UserError of a strict import: every missing or unconvertible audio file counted, up to EXAMPLES named."""
    bad = ["{}: {}".format(clip.source, results[wav][1]) for clip, _, wav in usable if results[wav][0] == "failed"]
    missing = sum(summary[split]["dropped"]["missing"] for split in splits)
    if not bad and not missing:
        return
    named = examples["missing"] + bad
    counts = ["{} audio file(s) missing".format(missing)] if missing else []
    counts += ["{} audio file(s) cannot be converted".format(len(bad))] if bad else []
    raise UserError("{}: {}{}. The corpus looks damaged: extract the archive again (no CSV was written)".format(
        " and ".join(counts), "; ".join(named[:EXAMPLES]), "; ..." if len(named) > EXAMPLES else ""))


def write_csv(path, rows):
    """A DeepSpeech CSV (``wav_filename,wav_filesize,transcript``), UTF-8, ``rows`` in order; written under a
    temporary name and renamed, so an interrupted import never leaves a truncated CSV."""
    temporary = path + ".part"
    with io.open(temporary, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_HEADER)
        writer.writerows(rows)
    os.replace(temporary, path)


def _report(summary, splits, examples, missing_chars, alphabet, target, out):
    print("Audio: {} converted, {} already converted (skipped), {} failed.".format(
        summary["converted"], summary["reused"], summary["failed"]), file=out)
    kept_total, seconds_total = 0, 0.0
    for split in splits:
        info = summary[split]
        dropped = ", ".join("{} {}".format(info["dropped"][reason], label)
                            for reason, (label, _) in DROP_REASONS.items() if info["dropped"][reason])
        print("{}: kept {} of {} clips, {} of audio; dropped {}".format(
            os.path.join(target, split + ".csv"), info["kept"], info["total"], _duration(info["seconds"]),
            dropped or "none"), file=out)
        kept_total += info["kept"]
        seconds_total += info["seconds"]
    print("Total: kept {} clips, {} of audio.".format(kept_total, _duration(seconds_total)), file=out)
    if missing_chars:
        print("Characters outside {} (clips dropped): {}".format(
            alphabet.path, ", ".join("{!r} in {} clip(s)".format(char, count)
                                     for char, count in sorted(missing_chars.items(), key=lambda kv: (-kv[1], kv[0])))),
              file=out)
    for reason, (_, heading) in DROP_REASONS.items():
        if examples[reason]:
            print("Dropped because {} (up to {} examples):".format(heading, EXAMPLES), file=out)
            for example in examples[reason]:
                print("  " + example, file=out)
    out.flush()


def _duration(seconds):
    """ "12.34 h", or "36.5 s" for less than a minute (tiny corpora would otherwise all read 0.00 h)."""
    return "{:.2f} h".format(seconds / 3600.0) if seconds >= 60 else "{:.1f} s".format(seconds)


def read_table(path, delimiter, quoting=csv.QUOTE_MINIMAL):
    """``(header, [(line number, row dict)])`` of a delimited UTF-8 file with a header line."""
    try:
        with io.open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, delimiter=delimiter, quoting=quoting)
            header = next(reader, None)
            if header is None:
                raise UserError("{} is empty: it needs a header line and one line per clip".format(path))
            header = [name.strip() for name in header]
            rows = []
            for row in reader:
                if not any(field.strip() for field in row):
                    continue
                rows.append((reader.line_num, dict(zip(header, row))))
    except UnicodeDecodeError as err:
        raise UserError("{} is not valid UTF-8 ({}): save it as UTF-8".format(path, err))
    except csv.Error as err:
        raise UserError("{} cannot be parsed ({}): check its quoting".format(path, err))
    return header, rows
