"""Common Voice -> 16 kHz mono WAV + DeepSpeech train/dev/test CSVs (what DeepSpeech's ``bin/import_cv2.py`` does).

Usage::

    python -m deepspeech_freeze.importers.common_voice --cv_dir cv-corpus/de --target data/cv-de \\
        [--filter_alphabet data/alphabets/german.txt] [--language de] [--jobs N] [--max_seconds 10]

``--cv_dir`` is the language folder of a Common Voice release: ``train.tsv``, ``dev.tsv`` and ``test.tsv``
(tab-separated, a header with at least ``path`` and ``sentence``; ``client_id``, ``up_votes`` ... are ignored) and
``clips/`` with the MP3 files named in ``path`` (old releases leave out the ``.mp3`` extension; it is added).
The TSVs are read without quote processing (sentences may hold a lone ``"``); quotes are removed by normalisation.

Each sentence is normalised (``--language de``: :func:`~deepspeech_freeze.importers.text.normalize_german`,
numbers written out as words; other languages: lower case, punctuation removed, numbers via num2words where it
knows the language) and the clip is dropped when the result has a character outside ``--filter_alphabet``.
Like ``import_cv2.py``, clips longer than ``--max_seconds`` (default 10) and clips with fewer 20 ms steps than
transcript characters are dropped as well. WAVs go to ``TARGET/clips/``; ``TARGET/{train,dev,test}.csv`` name
them relative to ``TARGET``. Already converted WAVs are reused. See :mod:`.common` for the report.
"""
import csv
import io
import os

from absl import flags

from ..errors import UserError, run_main
from . import common
from .text import normalize_text

FLAGS = flags.FLAGS
TSV_COLUMNS = ("path", "sentence")


def read_cv_tsv(path):
    """``[(line number, clip path, sentence)]`` of one Common Voice TSV."""
    return list(iter_cv_tsv(path))


def iter_cv_tsv(path):
    """``(line number, clip path, sentence)`` of one Common Voice TSV, one line at a time (a release's TSVs hold
    hundreds of thousands of lines); the header is checked before the first row is yielded."""
    try:
        with io.open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            header = [name.strip() for name in next(reader, [])]
            if not header:
                raise UserError("{} is empty: it needs a header line and one line per clip".format(path))
            missing = [column for column in TSV_COLUMNS if column not in header]
            if missing:
                raise UserError("{} has no {} column (its header is {}): a Common Voice TSV needs the columns {}"
                                .format(path, " or ".join(missing), "\t".join(header), ", ".join(TSV_COLUMNS)))
            path_index, sentence_index = header.index("path"), header.index("sentence")
            for row in reader:
                if not any(field.strip() for field in row):
                    continue
                yield (reader.line_num, row[path_index].strip() if len(row) > path_index else "",
                       row[sentence_index] if len(row) > sentence_index else "")
    except UnicodeDecodeError as err:
        raise UserError("{} is not valid UTF-8 ({}): save it as UTF-8".format(path, err))
    except csv.Error as err:
        raise UserError("{} cannot be parsed ({}): check its quoting".format(path, err))


def _count_lines(path):
    with io.open(path, "rb") as handle:
        return max(0, sum(1 for line in handle if line.strip()) - 1)


def common_voice_clips(cv_dir):
    """The :class:`~.common.Clip` entries of a Common Voice language folder (train, dev, test in TSV order), read
    while they are imported (:class:`~.common.Entries`)."""
    if not cv_dir:
        raise UserError("--cv_dir is not set: give the language folder of a Common Voice release "
                        "(the one holding train.tsv, dev.tsv, test.tsv and clips/)")
    if not os.path.isdir(cv_dir):
        raise UserError("--cv_dir {} does not exist: give the language folder of a Common Voice release "
                        "(the one holding train.tsv, dev.tsv, test.tsv and clips/)".format(cv_dir))
    tsvs = {split: os.path.join(cv_dir, split + ".tsv") for split in common.SPLITS}
    missing = [os.path.basename(path) for path in tsvs.values() if not os.path.isfile(path)]
    if missing:
        raise UserError("{} has no {}: --cv_dir must be the language folder of a Common Voice release (with "
                        "train.tsv, dev.tsv, test.tsv and clips/)".format(cv_dir, ", ".join(missing)))
    audio_dir = os.path.join(cv_dir, "clips")
    if not os.path.isdir(audio_dir):
        raise UserError("{} is missing: --cv_dir must be the language folder of a Common Voice release (with "
                        "train.tsv, dev.tsv, test.tsv and clips/)".format(audio_dir))
    for tsv in tsvs.values():
        next(iter_cv_tsv(tsv), None)  # the header is checked before anything is converted

    def entries():
        for split, tsv in tsvs.items():
            for line, name, sentence in iter_cv_tsv(tsv):
                where = "{} line {}".format(os.path.basename(tsv), line)
                if not name:
                    raise UserError("{} has an empty path: fix or remove that line".format(where))
                if os.path.splitext(name)[1].lower() != ".mp3":
                    name += ".mp3"
                yield common.Clip(split, os.path.abspath(os.path.join(audio_dir, name)), common.wav_name(name),
                                  sentence, where)
    return common.Entries(entries, sum(_count_lines(tsv) for tsv in tsvs.values()))


def import_common_voice(cv_dir, target, alphabet, language="de", jobs=1, max_seconds=10.0):
    """Import a Common Voice language folder into ``target``; returns the summary of :func:`.common.import_clips`."""
    clips = common_voice_clips(cv_dir)
    return common.import_clips(clips, target, alphabet, lambda text: normalize_text(text, language),
                               jobs=jobs, max_seconds=max_seconds)


def main(_argv):
    alphabet = common.check_common_flags(FLAGS)
    if not FLAGS.language:
        raise UserError("--language is empty: give the Common Voice language code, e.g. de")
    import_common_voice(FLAGS.cv_dir, FLAGS.target, alphabet, FLAGS.language, FLAGS.jobs, FLAGS.max_seconds)


def define_flags():
    flags.DEFINE_string("cv_dir", "", "language folder of a Common Voice release (train.tsv, dev.tsv, test.tsv, "
                                      "clips/)")
    flags.DEFINE_string("language", "de", "language of the sentences: de uses the German normalisation")
    common.define_common_flags(common.repo_path("data", "alphabets", "german.txt"), 10.0)


if __name__ == "__main__":
    define_flags()
    run_main(main)
