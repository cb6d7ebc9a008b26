"""M-AILABS Speech Dataset (one language, e.g. ``de_DE``) -> 16 kHz mono WAV + DeepSpeech CSVs, as DeepSpeech
0.7.4's ``bin/import_m-ailabs.py`` does.

Usage::

    python -m deepspeech_freeze.importers.m_ailabs --mailabs_dir de_DE --target data/m-ailabs \\
        [--language de_DE] [--skiplist angela,rebecca] [--filter_alphabet data/alphabets/german.txt] \\
        [--normalize] [--max_seconds 15] [--jobs N]

``--mailabs_dir`` is the extracted ``<language>.tgz`` (the ``de_DE`` folder, or the folder holding it). Every
``metadata.csv`` below it is read (``by_book/{female,male}/<speaker>/<book>/`` and ``by_book/mix/<book>/``), in
path order; each line is ``<id>|<text>|<normalised text>`` and names ``wavs/<id>.wav`` next to the file. As in
DeepSpeech:

- the transcript is the third field (the corpus's normalised text);
- ``--skiplist`` takes comma-separated substrings: a ``metadata.csv`` whose path contains one is not read (DeepSpeech
  applied the list only to the first file it checked, a bug);
- clips longer than ``--max_seconds`` (default 15) or with less than 30 ms of audio per transcript character are
  dropped;
- the split is 10/10/80: entry i (counting every listed entry) goes to test when i % 10 == 0, dev when i % 10 == 1,
  else train. DeepSpeech counted in the order its conversions finished, so its split changed from run to run; here
  it is the listing order, so it is the same in every run and a dropped entry never moves another.

The transcript goes through the shared German normalisation for ``de_*`` languages (other languages: lower case,
punctuation removed, numbers via num2words); ``--normalize`` replaces a character outside ä, ö, ü, ß and the
alphabet by its ASCII form (DeepSpeech's ``--normalize`` also turned ä into a and deleted ß). The original WAVs are
not touched (DeepSpeech overwrote them with the converted audio): the converted ones go to
``TARGET/clips/<path below --mailabs_dir>``; ``TARGET/{train,dev,test}.csv``. A line without three ``|``-separated
fields is reported as damaged metadata; a missing or unreadable WAV and an empty transcript are counted and
reported. Conversion, re-runs and the report are those of :mod:`.common`.
"""
import io
import os

from absl import flags

from ..errors import UserError, run_main
from . import common
from .text import fold_to_ascii, normalize_text

FLAGS = flags.FLAGS


def language_folder(mailabs_dir, language):
    """The extracted language folder: ``--mailabs_dir/<language>`` when it exists, else ``--mailabs_dir``."""
    what = "give the extracted M-AILABS <language>.tgz folder (e.g. de_DE, holding by_book/)"
    common.existing_folder("mailabs_dir", mailabs_dir, what)
    nested = os.path.join(mailabs_dir, language) if language else ""
    return nested if nested and os.path.isdir(nested) else mailabs_dir


def metadata_files(folder, skiplist):
    """``(metadata.csv paths in path order, skipped ones)``; a path containing a ``skiplist`` substring is skipped."""
    found = []
    for directory, subdirectories, files in os.walk(folder):
        subdirectories.sort()
        if "metadata.csv" in files:
            found.append(os.path.join(directory, "metadata.csv"))
    found.sort()
    skipped = [path for path in found if any(word in os.path.relpath(path, folder) for word in skiplist)]
    return [path for path in found if path not in skipped], skipped


def _read_lines(path):
    """``(lines, None)`` of a metadata.csv, or ``(None, problem)``."""
    try:
        with io.open(path, encoding="utf-8-sig") as handle:
            return handle.read().splitlines(), None
    except UnicodeDecodeError as err:
        return None, "not valid UTF-8 ({})".format(err)


def mailabs_clips(mailabs_dir, language="de_DE", skiplist=(), out=None):
    """The corpus's entries (:class:`~.common.Entries`): a :class:`~.common.Clip` per metadata line, split by its
    index, and a :class:`~.common.Skip` per damaged line or file; made one metadata file at a time."""
    folder = language_folder(mailabs_dir, language)
    files, excluded = metadata_files(folder, skiplist)
    if excluded:
        common.say(out, "--skiplist: not reading {} metadata.csv file(s): {}".format(
            len(excluded), ", ".join(os.path.relpath(os.path.dirname(path), folder) for path in excluded)))
    if not files:
        raise UserError("{} has no metadata.csv below it{}: give the extracted M-AILABS language folder "
                        "(e.g. de_DE)".format(folder, " that --skiplist leaves" if excluded else ""))
    count = sum(sum(1 for line in (_read_lines(path)[0] or [""]) if line.strip()) or 1 for path in files)

    def entries():
        index = 0
        for path in files:
            book = os.path.dirname(path)
            relative = os.path.relpath(path, folder)
            lines, problem = _read_lines(path)
            if problem is not None:
                yield common.Skip(None, "metadata", relative, problem)
                continue
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                split = "test" if index % 10 == 0 else "dev" if index % 10 == 1 else "train"
                index += 1
                where = "{} line {}".format(relative, number)
                fields = line.split("|")
                if len(fields) < 3 or not fields[0].strip():
                    yield common.Skip(split, "metadata", where, "{!r} is not <id>|<text>|<normalised text>".format(
                        line[:80]))
                    continue
                wav = os.path.join(book, "wavs", fields[0].strip() + ".wav")
                yield common.Clip(split, os.path.abspath(wav), common.wav_name(os.path.relpath(wav, folder)),
                                  fields[2], where)
    return common.Entries(entries, count)


def mailabs_normalizer(language, alphabet, normalize):
    """The transcript of a metadata line's normalised text."""
    code = (language or "de").split("_")[0].lower()

    def transcript(text):
        text = normalize_text(text, code)
        return fold_to_ascii(text, alphabet) if normalize else text
    return transcript


def import_mailabs(mailabs_dir, target, alphabet, language="de_DE", skiplist=(), normalize=False, jobs=1,
                   max_seconds=15.0, out=None):
    """Import one M-AILABS language into ``target``; returns the summary of :func:`.common.import_clips`."""
    entries = mailabs_clips(mailabs_dir, language, skiplist, out)
    return common.import_clips(entries, target, alphabet, mailabs_normalizer(language, alphabet, normalize),
                               jobs=jobs, max_seconds=max_seconds, ms_per_char=30.0, out=out)


def main(_argv):
    alphabet = common.check_common_flags(FLAGS)
    skiplist = [word.strip() for word in FLAGS.skiplist.split(",") if word.strip()]
    import_mailabs(FLAGS.mailabs_dir, FLAGS.target, alphabet, FLAGS.language, skiplist, FLAGS.normalize,
                   FLAGS.jobs, FLAGS.max_seconds)


def define_flags():
    flags.DEFINE_string("mailabs_dir", "", "the extracted M-AILABS language folder (e.g. de_DE), or its parent")
    flags.DEFINE_string("language", "de_DE", "language of the corpus (de_DE uses the German normalisation; also "
                                             "the subfolder looked for in --mailabs_dir)")
    flags.DEFINE_string("skiplist", "", "comma-separated substrings: metadata.csv files whose path contains one "
                                        "are not imported (e.g. a speaker or book name)")
    common.define_normalize_flag("sentence")
    common.define_common_flags(common.repo_path("data", "alphabets", "german.txt"), 15.0)


if __name__ == "__main__":
    define_flags()
    run_main(main)
