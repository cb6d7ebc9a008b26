"""What every corpus importer shares: audio conversion, filtering, DeepSpeech CSV writing and the report.

An importer turns its corpus into :class:`Clip` entries (split, source audio or a segment of it, raw sentence) and
:class:`Skip` entries (what it could not use, with a reason: damaged metadata, audio without transcript, ...), as a
list or, for large corpora, as :class:`Entries` made while they are read, and hands them to :func:`import_clips`,
which works through them in batches of :data:`BATCH` clips (memory does not grow with the corpus):

1. normalises each sentence and drops those that come out empty or hold characters outside ``--filter_alphabet``
   (counted per character, with a few examples);
2. converts the remaining audio to 16 kHz mono 16-bit PCM WAV under ``TARGET/clips/`` with ffmpeg (sox when ffmpeg
   is not installed; WAV, FLAC and OGG go to sox when it is installed, as it starts much faster), in parallel,
   with a progress bar; a source that already is such a WAV is copied without a converter. A WAV that already exists with that format is reused, so a second run only
   converts what is new. Each file is written under a temporary name and renamed when complete, so an interrupted
   run (Ctrl-C) never leaves a truncated WAV behind that a re-run would trust;
3. drops clips whose audio is missing or cannot be converted (reported with the converter's message, never a
   traceback; a strict import stops instead and writes no CSV), clips longer than ``--max_seconds`` and clips too
   short for their transcript (by default fewer 20 ms steps than characters, DeepSpeech's ``import_cv2.py`` rule;
   an importer sets its corpus's rule);
4. writes ``TARGET/<split>.csv`` with DeepSpeech's header ``wav_filename,wav_filesize,transcript`` and WAV paths
   relative to the CSV (DeepSpeech resolves them against the CSV's folder), in the order of the corpus listing;
   rows go to ``<split>.csv.part`` as they come and the files are renamed only when the import completes;
5. prints, per split, how many clips were kept and dropped (and why) and the hours of audio kept, and the entries
   skipped before a split was known.
"""
import collections
import csv
import io
import itertools
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
    ("too_short", ("too short", "the clip is too short for its transcript (or for the corpus's minimum length)")),
    ("metadata", ("damaged metadata", "its metadata entry is damaged or incomplete")),
    ("no_transcript", ("no transcript", "no transcript belongs to the audio")),
    ("no_timestamps", ("no timestamps", "the aligned text has no timed words")),
    ("rejected", ("rejected by corpus rule", "a rule of the corpus's importer rejects the transcript")),
    ("excluded", ("excluded", "a flag excludes it")),
])


class Clip(collections.namedtuple("Clip", "split source wav text where start end extra")):
    """One corpus entry: ``split`` name, ``source`` audio path (absolute), ``wav`` path relative to the target
    folder, the raw ``text`` and ``where`` it came from (e.g. "train.tsv line 7") for messages; ``start`` and
    ``end`` (seconds, optional) cut a segment out of a longer source (Spoken Wikipedia's sentence chunks); ``extra``
    holds the values of :func:`import_clips`' ``extra_columns`` (SWC's ``--add_meta``)."""

    def __new__(cls, split, source, wav, text, where, start=None, end=None, extra=()):
        return super(Clip, cls).__new__(cls, split, source, wav, text, where, start, end, extra)


class Skip(collections.namedtuple("Skip", "split reason where detail")):
    """An entry an importer skipped before it became a :class:`Clip` (a damaged metadata file, audio without a
    transcript ...): ``split`` (or ``None`` when the entry was skipped before the split), a ``reason`` key of
    :data:`DROP_REASONS`, ``where`` it is and a one-line ``detail``. :func:`import_clips` counts and reports it."""


class Reject(str):
    """What a ``normalize`` function returns for a transcript a corpus rule rejects (the string is the rule);
    :func:`import_clips` drops the clip with reason "rejected"."""


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


def define_normalize_flag(unit):
    """--normalize of the German importers; ``unit`` is what a character outside the alphabet drops otherwise."""
    flags.DEFINE_boolean("normalize", False, "replace characters outside ä, ö, ü, ß and the alphabet by their "
                                             "ASCII form (é -> e) instead of dropping the " + unit)


def existing_folder(flag, value, what):
    """``value`` of ``--flag`` when it is an existing folder, else a UserError ending in ``what`` (the advice)."""
    if not value:
        raise UserError("--{} is not set: {}".format(flag, what))
    if not os.path.isdir(value):
        raise UserError("--{} {} does not exist: {}".format(flag, value, what))
    return value


def check_split_fractions(dev_fraction, test_fraction, rest):
    """UserErrors unless both fractions are in [0, 1) and leave ``rest`` (e.g. "sessions") for training."""
    for name, value in (("dev_fraction", dev_fraction), ("test_fraction", test_fraction)):
        if not 0 <= value < 1:
            raise UserError("--{} is {}: give a fraction from 0 to below 1".format(name, value))
    if dev_fraction + test_fraction >= 1:
        raise UserError("--dev_fraction + --test_fraction is {}: leave some {} for training".format(
            dev_fraction + test_fraction, rest))


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


# What Debian's sox reads (no MP3). sox starts in a few milliseconds where ffmpeg takes tens (it loads every codec
# library): measured on a 2-core Xeon, 20 FLAC -> 16 kHz WAV conversions took 0.64 s with sox and 4.0 s with ffmpeg.
SOX_READS = (".wav", ".flac", ".ogg")
_HAVE_SOX = []


def tool_for(source, tool):
    """The converter for one source: sox for the formats it reads when it is installed (much faster to start),
    else ``tool``."""
    if not _HAVE_SOX:
        _HAVE_SOX.append(bool(shutil.which("sox")))
    sources = [source] if isinstance(source, str) else list(source)
    if _HAVE_SOX[0] and all(os.path.splitext(path)[1].lower() in SOX_READS for path in sources):
        return "sox"
    return tool


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


def copy_pcm_wav(source, wav):
    """Copy a ``source`` that already is a 16 kHz mono 16-bit PCM WAV to ``wav`` (a plain header, the samples
    unchanged) without starting a converter; ``False`` when it is not such a WAV (then it needs converting).
    Tuda-De and M-AILABS ship their audio in this format, so their import spends no process start per clip."""
    if not isinstance(source, str) or not source.lower().endswith(".wav") or wav_seconds(source)[1] is not None:
        return False
    part = wav + ".part"
    try:
        with wave.open(source, "rb") as reader, wave.open(part, "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(SAMPLE_RATE)
            while True:
                frames = reader.readframes(1 << 16)
                if not frames:
                    break
                writer.writeframes(frames)
    except (wave.Error, EOFError, OSError):
        if os.path.exists(part):
            os.remove(part)
        return False
    if wav_seconds(part)[1] is not None:
        os.remove(part)
        return False
    os.replace(part, wav)
    return True


def convert_to_wav(source, wav, tool, start=None, end=None):
    """Convert ``source`` (from ``start`` to ``end`` seconds when given) to a 16 kHz mono 16-bit WAV at ``wav``;
    returns ``None`` or a one-line problem. A whole source that already has that format is copied
    (:func:`copy_pcm_wav`)."""
    if start is None and copy_pcm_wav(source, wav):
        return None
    part = wav + ".part"
    segment = []
    if start is not None and end is not None:
        segment = ["-ss", "{:.3f}".format(start), "-t", "{:.3f}".format(end - start)]
    # A list of sources is joined one after the other (Spoken Wikipedia's audio1.ogg, audio2.ogg, ...).
    sources = [source] if isinstance(source, str) else list(source)
    if tool == "ffmpeg":
        # -ss before -i seeks in the input, which is sample-exact for PCM WAV and does not decode what it skips.
        inputs = [word for path in sources for word in segment + ["-i", path]]
        join = (["-filter_complex", "{}concat=n={}:v=0:a=1".format(
            "".join("[{}:a]".format(i) for i in range(len(sources))), len(sources))] if len(sources) > 1 else [])
        command = (["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"] + inputs + join +
                   ["-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-acodec", "pcm_s16le", "-map_metadata", "-1",
                    "-fflags", "+bitexact", "-flags:a", "+bitexact", "-f", "wav", part])
    else:
        command = (["sox", "-V1"] + sources + ["-t", "wav", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16",
                   "-e", "signed-integer", part] + (["trim"] + segment[1::2] if segment else []))
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
    source, wav, tool, start, end = job
    if os.path.exists(wav):
        seconds, problem = wav_seconds(wav)
        if problem is None:
            return wav, "reused", seconds
    os.makedirs(os.path.dirname(wav), exist_ok=True)
    problem = convert_to_wav(source, wav, tool, start, end)
    if problem is not None:
        return wav, "failed", problem
    return wav, "converted", wav_seconds(wav)[0]


def _progress(total):
    return Progress("Preparing audio", total, noun="Files")


def parallel_map(function, jobs, workers, bar=None):
    """Yield ``function(job)`` for every job, in completion order, from ``workers`` threads, with a progress bar
    (``bar``, to go on with one across several calls, or a new one; the work is in subprocesses such as ffmpeg, so
    threads suffice). Ctrl-C stops handing out jobs: the ones running finish (each writes its file under a
    temporary name and renames it when complete) and the KeyboardInterrupt goes on to the caller, so a re-run
    resumes from the files already complete."""
    jobs = list(jobs)
    if not jobs:
        return
    own = bar is None
    if own:
        bar = _progress(len(jobs))
    pool = ThreadPool(max(1, min(workers, len(jobs))))
    try:
        for result in pool.imap_unordered(function, jobs):
            _advance(bar, bar.done + 1)
            yield result
    except BaseException:
        pool.terminate()
        raise
    else:
        pool.close()
    finally:
        pool.join()
    if own:
        bar.finish()


def _advance(bar, value):
    """Move ``bar`` to ``value``, never past its end (a bar of unknown length has none)."""
    if bar.total:
        value = min(value, bar.total)
    bar.update(max(value, bar.done))


class Entries(object):
    """An importer's entries (:class:`Clip` and :class:`Skip`) made by ``factory()`` when iterated, with their
    ``count`` known in advance for the progress bar, so a large corpus is never held in memory as a list."""

    def __init__(self, factory, count):
        self.factory, self.count = factory, count

    def __len__(self):
        return self.count

    def __iter__(self):
        return iter(self.factory())


BATCH = 2000  # clips per batch: memory stays flat however long the corpus is


def import_clips(clips, target, alphabet, normalize, jobs=1, max_seconds=0.0, splits=SPLITS, out=None,
                 strict=False, converters=("ffmpeg", "sox"), ms_per_char=20.0, min_seconds=0.0, skipped=(),
                 extra_columns=()):
    """Convert, filter and write ``clips`` (see the module docstring); returns a summary dict.

    ``clips`` may be any iterable (a generator keeps a large corpus out of memory) of :class:`Clip` and
    :class:`Skip` (an entry the importer could not use, counted and reported with the rest; those without a split
    in an extra line); ``skipped`` adds more Skips. The clips are handled in batches of :data:`BATCH`: each batch's
    rows go straight to the CSVs' temporary files, so memory does not grow with the corpus.

    ``normalize`` maps a raw sentence to a transcript (or a :class:`Reject`). A clip is too short when it has less
    than ``ms_per_char`` milliseconds of audio per transcript character (20: DeepSpeech's ``import_cv2.py``; 30 its
    Tuda-De, SWC and M-AILABS importers) or less than ``min_seconds``. ``extra_columns`` are added to the CSV
    header, each clip's ``extra`` values to its row.
    The summary has, per split, ``kept``, ``seconds`` and ``dropped`` (reason -> count), plus ``converted``,
    ``reused`` and ``failed`` conversion counts. With ``strict`` an audio file that is missing or cannot be
    converted is an error (a damaged download, not a clip to drop): a UserError names the files and no CSV is
    written, so an earlier import's CSVs stay as they were. ``converters``: the tools to try, in order
    (:func:`find_converter`).
    """
    out = out or sys.stdout
    target = os.path.abspath(target)
    try:
        os.makedirs(os.path.join(target, "clips"), exist_ok=True)
    except OSError as err:
        raise UserError("cannot create the --target folder {} ({}): choose a writable folder".format(target, err))
    summary = {split: {"kept": 0, "seconds": 0.0, "dropped": collections.Counter(), "total": 0} for split in splits}
    summary["unsplit"] = collections.Counter()
    examples = collections.defaultdict(list)
    missing_chars = collections.Counter()
    statuses = collections.Counter()
    bad_audio = []  # strict: "path: problem" of the first missing or unconvertible files
    state = {"tool": None, "announced": False, "bar": None}
    try:
        total = len(clips) + len(skipped)
    except TypeError:
        total = None

    def drop(clip, reason, example):
        summary[clip.split]["dropped"][reason] += 1
        if len(examples[reason]) < EXAMPLES:
            examples[reason].append("{} ({}): {}".format(clip.where, os.path.basename(clip.source), example))

    def skip(entry):
        if entry.split is None:
            summary["unsplit"][entry.reason] += 1
        else:
            summary[entry.split]["total"] += 1
            summary[entry.split]["dropped"][entry.reason] += 1
        if len(examples[entry.reason]) < EXAMPLES:
            examples[entry.reason].append("{}: {}".format(entry.where, entry.detail))

    writers = {split: _PartCsv(os.path.join(target, split + ".csv"), CSV_HEADER + tuple(extra_columns))
               for split in splits}
    try:
        batch = []
        for entry in itertools.chain(skipped, clips):
            if isinstance(entry, Skip):
                skip(entry)
                continue
            batch.append(entry)
            if len(batch) >= BATCH:
                _import_batch(batch, target, alphabet, normalize, jobs, max_seconds, ms_per_char, min_seconds,
                              converters, summary, drop, missing_chars, statuses, bad_audio, writers, state, total,
                              out)
                batch = []
        _import_batch(batch, target, alphabet, normalize, jobs, max_seconds, ms_per_char, min_seconds, converters,
                      summary, drop, missing_chars, statuses, bad_audio, writers, state, total, out)
        if state["bar"] is not None:
            state["bar"].finish()
        if strict:
            _fail_on_bad_audio(bad_audio, summary, splits, examples)
        for writer in writers.values():
            writer.commit()
    finally:
        for writer in writers.values():
            writer.discard()

    summary["converted"], summary["reused"], summary["failed"] = (statuses["converted"], statuses["reused"],
                                                                  statuses["failed"])
    _report(summary, splits, examples, missing_chars, alphabet, target, out)
    return summary


def _import_batch(batch, target, alphabet, normalize, jobs, max_seconds, ms_per_char, min_seconds, converters,
                  summary, drop, missing_chars, statuses, bad_audio, writers, state, total, out):
    """Steps 1-4 of the module docstring for one batch of clips; rows go to ``writers``."""
    # 1. Transcripts.
    candidates = []
    for clip in batch:
        summary[clip.split]["total"] += 1
        transcript = normalize(clip.text)
        if isinstance(transcript, Reject):
            drop(clip, "rejected", "{!r}: {}".format(clip.text, transcript))
            continue
        kept, missing = filter_to_alphabet(transcript, alphabet)
        if kept is None and not missing:
            drop(clip, "empty", repr(clip.text))
        elif kept is None:
            missing_chars.update(missing)
            drop(clip, "alphabet", "{!r} -> {!r} has {}".format(clip.text, transcript,
                                                                 " ".join(repr(c) for c in missing)))
        else:
            candidates.append((clip, kept))

    # 2. Audio, each distinct WAV once (a WAV named again in a later batch is found converted and reused).
    jobs_by_wav = collections.OrderedDict()
    usable = []
    for clip, transcript in candidates:
        if not os.path.isfile(clip.source if isinstance(clip.source, str) else clip.source[0]):
            drop(clip, "missing", "no such file {}".format(clip.source))
            if len(bad_audio) <= EXAMPLES:
                bad_audio.append("{}: no such file".format(clip.source))
            continue
        wav = os.path.join(target, clip.wav)
        if wav not in jobs_by_wav:
            state["tool"] = state["tool"] or find_converter(converters)
            jobs_by_wav[wav] = (clip.source, wav, tool_for(clip.source, state["tool"]), clip.start, clip.end)
        usable.append((clip, transcript, wav))
    if jobs_by_wav and not state["announced"]:
        print("Preparing the audio{} with {} ({} in parallel)...".format(
            " of {} clips".format(total) if total else "",
            " and ".join(sorted({job[2] for job in jobs_by_wav.values()})), jobs), file=out)
        out.flush()
        state["announced"] = True
    if state["bar"] is None and jobs_by_wav:
        state["bar"] = _progress(total or None)  # None: a count without an end
    results = {}
    for wav, status, value in parallel_map(_prepare_audio, jobs_by_wav.values(), jobs, bar=state["bar"]):
        results[wav] = (status, value)
        statuses[status] += 1
    if state["bar"] is not None:
        _advance(state["bar"], summary_total(summary))

    # 3. Audio checks, 4. rows.
    for clip, transcript, wav in usable:
        status, value = results[wav]
        if status == "failed":
            drop(clip, "failed", value)
            if len(bad_audio) <= EXAMPLES:
                bad_audio.append("{}: {}".format(clip.source, value))
        elif max_seconds and value > max_seconds:
            drop(clip, "too_long", "{:.1f} s".format(value))
        elif value * 1000 < ms_per_char * len(transcript) or value < min_seconds:
            drop(clip, "too_short", "{:.2f} s for {} characters".format(value, len(transcript)))
        else:
            writers[clip.split].write((clip.wav.replace(os.sep, "/"), os.path.getsize(wav), transcript) +
                                      tuple(clip.extra))
            summary[clip.split]["kept"] += 1
            summary[clip.split]["seconds"] += value


def summary_total(summary):
    """Clips and skipped entries counted so far (the progress bar's position)."""
    return sum(info["total"] for key, info in summary.items() if isinstance(info, dict)) + \
        sum(summary["unsplit"].values())


class _PartCsv(object):
    """A DeepSpeech CSV written row by row under ``<path>.part`` and renamed to ``path`` by :meth:`commit`
    (:meth:`discard` removes a temporary file that was not committed), so an interrupted or failed import never
    leaves a truncated CSV and never replaces an earlier import's."""

    def __init__(self, path, header=CSV_HEADER):
        self.path, self.part = path, path + ".part"
        self.handle = io.open(self.part, "w", encoding="utf-8", newline="")
        self.writer = csv.writer(self.handle)
        self.writer.writerow(header)

    def write(self, row):
        self.writer.writerow(row)

    def commit(self):
        self.handle.close()
        os.replace(self.part, self.path)

    def discard(self):
        if not self.handle.closed:
            self.handle.close()
        if os.path.exists(self.part):
            os.remove(self.part)


def _fail_on_bad_audio(bad_audio, summary, splits, examples):
    """The UserError of a strict import: every missing or unconvertible audio file counted, up to EXAMPLES named."""
    missing = sum(summary[split]["dropped"]["missing"] for split in splits)
    failed = sum(summary[split]["dropped"]["failed"] for split in splits)
    if not missing and not failed:
        return
    counts = ["{} audio file(s) missing".format(missing)] if missing else []
    counts += ["{} audio file(s) cannot be converted".format(failed)] if failed else []
    raise UserError("{}: {}{}. The corpus looks damaged: extract the archive again (no CSV was written)".format(
        " and ".join(counts), "; ".join(bad_audio[:EXAMPLES]), "; ..." if len(bad_audio) > EXAMPLES else ""))


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
    if summary["unsplit"]:
        print("Skipped before the split: {}".format(", ".join(
            "{} {}".format(summary["unsplit"][reason], label)
            for reason, (label, _) in DROP_REASONS.items() if summary["unsplit"][reason])), file=out)
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


def say(out, line):
    """Print one line of an importer's report to ``out`` (stdout by default) and flush."""
    out = out or sys.stdout
    print(line, file=out)
    out.flush()
