"""Merge imported corpora into one train/dev/test split: ``TARGET/{train,dev,test}.csv`` naming every source's clips.

Usage::

    python -m deepspeech_freeze.importers.merge --target data/de-all \\
        --sources data/cv-de,data/tuda,data/swc,data/m-ailabs,data/voxforge [--lm_text data/de-all/train.txt]

Each folder of ``--sources`` holds an importer's ``train.csv``, ``dev.csv`` and ``test.csv`` (DeepSpeech CSVs whose
WAV paths are relative to the CSV's folder, or absolute). The merged CSVs keep every source's split (a clip in a
source's dev set stays in dev) and list the sources in the given order; each WAV path is rewritten relative to
``TARGET`` so the merged CSVs work wherever the folders are moved together. Nothing is copied.

A clip listed twice (the same WAV file) is kept once, where it came first. ``--lm_text`` also writes the merged
*train* transcripts, one per line, to that file (a text for :mod:`deepspeech_freeze.lm` that does not hold the dev
or test sentences). A source without one of the three CSVs, a CSV without DeepSpeech's header, or a listed WAV that
does not exist stops the merge with one message and writes nothing.
"""
import io
import os

from absl import flags

from ..errors import UserError, run_main
from . import common

FLAGS = flags.FLAGS


def read_source_csv(path):
    """``[(absolute wav path, size, transcript)]`` of one DeepSpeech CSV."""
    header, rows = common.read_table(path, ",")
    if header[:3] != list(common.CSV_HEADER):
        raise UserError("{} does not start with the header {}: --sources must name folders written by the "
                        "importers".format(path, ",".join(common.CSV_HEADER)))
    folder = os.path.dirname(os.path.abspath(path))
    out = []
    for line, row in rows:
        wav = os.path.normpath(os.path.join(folder, row["wav_filename"]))
        if not os.path.isfile(wav):
            raise UserError("{} line {}: {} does not exist: re-run the importer for that corpus".format(
                path, line, row["wav_filename"]))
        out.append((wav, row["wav_filesize"], row["transcript"]))
    return out


def merge(sources, target, lm_text="", out=None):
    """Write the merged CSVs (and ``lm_text``); returns ``{split: row count}``."""
    if not sources:
        raise UserError("--sources is empty: give the imported corpus folders, separated by commas")
    if not target:
        raise UserError("--target is not set: give the folder for the merged train.csv, dev.csv and test.csv")
    tables = []
    for source in sources:
        if not os.path.isdir(source):
            raise UserError("--sources: {} does not exist: give the --target folder of an importer".format(source))
        for split in common.SPLITS:
            path = os.path.join(source, split + ".csv")
            if not os.path.isfile(path):
                raise UserError("--sources: {} has no {}.csv: run the importer for that corpus first".format(
                    source, split))
            tables.append((source, split, read_source_csv(path)))
    target = os.path.abspath(target)
    os.makedirs(target, exist_ok=True)
    rows = {split: [] for split in common.SPLITS}
    seen = set()
    duplicates = 0
    for source, split, table in tables:
        kept = 0
        for wav, size, transcript in table:
            if wav in seen:
                duplicates += 1
                continue
            seen.add(wav)
            rows[split].append((os.path.relpath(wav, target).replace(os.sep, "/"), size, transcript))
            kept += 1
        common.say(out, "{}: {} {} clips".format(os.path.join(source, split + ".csv"), kept, split))
    for split in common.SPLITS:
        common.write_csv(os.path.join(target, split + ".csv"), rows[split])
        common.say(out, "{}: {} clips".format(os.path.join(target, split + ".csv"), len(rows[split])))
    if duplicates:
        common.say(out, "{} clips listed more than once were kept once".format(duplicates))
    if lm_text:
        part = lm_text + ".part"
        with io.open(part, "w", encoding="utf-8") as handle:
            for _, _, transcript in rows["train"]:
                handle.write(transcript + "\n")
        os.replace(part, lm_text)
        common.say(out, "{}: {} train transcripts".format(lm_text, len(rows["train"])))
    return {split: len(rows[split]) for split in common.SPLITS}


def main(_argv):
    sources = [source.strip() for source in FLAGS.sources.split(",") if source.strip()]
    merge(sources, FLAGS.target, FLAGS.lm_text)


def define_flags():
    flags.DEFINE_string("sources", "", "imported corpus folders (each with train/dev/test.csv), comma-separated")
    flags.DEFINE_string("target", "", "folder for the merged train.csv, dev.csv and test.csv")
    flags.DEFINE_string("lm_text", "", "also write the merged train transcripts to this file (one per line)")


if __name__ == "__main__":
    define_flags()
    run_main(main)
