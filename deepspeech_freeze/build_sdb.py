"""Convert CSV files (and sample databases) into one sample database, as DeepSpeech 0.7.4's ``bin/build_sdb.py``.

    python -m deepspeech_freeze.build_sdb [--audio-type opus|wav] [--bitrate BPS] [--workers N] [--unlabeled]
                                          SOURCE.csv|SOURCE.sdb [...] TARGET.sdb

One source keeps its order (a CSV by ``wav_filesize``, shortest first); several are merged by duration, each source
keeping its own order and ties going to the earlier source. Samples already in the target format are copied
without re-encoding (``--bitrate`` does not apply to them). The target is written under a temporary name and only
renamed when complete.
"""
import argparse
import heapq
import io
import multiprocessing
import os
import sys
import wave

from . import sample_db
from .errors import UserError, run_cli

BUFFER = 1 << 20


def _csv_items(path, labeled):
    """``(duration, sample id, transcript, read_bytes)`` of a CSV's rows in ascending ``wav_filesize``."""
    import csv  # pylint: disable=import-outside-toplevel
    if not os.path.isfile(path):
        raise UserError("{} does not exist".format(path))
    with io.open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if rows and "wav_filename" not in rows[0]:
        raise UserError("CSV file {} has no wav_filename column".format(path))
    if labeled and rows and "transcript" not in rows[0]:
        raise UserError("CSV file {} has no transcript column: pass --unlabeled for audio without transcripts "
                        "(e.g. noise for overlay)".format(path))
    base = os.path.dirname(os.path.abspath(path))

    def size(row):
        value = (row.get("wav_filesize") or "").strip()
        return int(value) if value.isdigit() else 0
    rows.sort(key=size)  # stable: equal sizes keep the CSV's order
    items = []
    for row in rows:
        name = os.path.normpath(os.path.join(base, row["wav_filename"]))
        if not name.lower().endswith(".wav"):
            raise UserError("{} ({}): unknown audio type: only .wav files can be listed".format(path, name))
        if not os.path.isfile(name):
            raise UserError("{} ({}): file does not exist".format(path, name))
        try:
            with wave.open(name, "rb") as handle:
                duration = handle.getnframes() / float(handle.getframerate())
        except (wave.Error, EOFError) as err:
            raise UserError("{} ({}): not a PCM WAV file ({})".format(path, name, err))
        items.append((duration, name, row.get("transcript") if labeled else None))
    return items


def _sdb_items(path, labeled):
    database = sample_db.SDB(path, labeled=True if labeled else False, buffering=BUFFER)
    items = []
    for index in range(len(database)):
        rate, _, _, n_samples = database.header(index)
        _, transcript = database.entry(index)
        items.append((n_samples / float(rate), database.sample_id(index), transcript))
    database.close()
    return items


def _encoded(args):
    """Worker: one sample's bytes in the target format."""
    sample_id, audio_type, bitrate = args
    path, index = sample_db.split_sample_id(sample_id)
    if index is None:
        with open(path, "rb") as handle:
            data = handle.read()
        if audio_type == "wav":
            return data  # WAV to WAV: the original bytes
        samples, rate = sample_db.read_wav_bytes(data, path)
        return sample_db.encode_opus(samples, rate, bitrate)
    database = sample_db.open_sdb(path, BUFFER)
    data, _ = database.entry(index)
    if database.mime == sample_db.AUDIO_TYPES[audio_type]:
        return data  # already in the target format: not re-encoded
    samples, rate = database.audio(index)
    if audio_type == "wav":
        return sample_db.wav_bytes(samples, rate)
    return sample_db.encode_opus(samples, rate, bitrate)


def build(sources, target, audio_type="opus", bitrate=None, workers=None, labeled=True, progress=True):
    """Write ``target`` from ``sources``; returns the number of samples written."""
    lists = []
    for path in sources:
        if sample_db.is_sdb(path):
            lists.append(_sdb_items(path, labeled))
        elif path.lower().endswith(".csv"):
            lists.append(_csv_items(path, labeled))
        else:
            raise UserError("{}: unknown file type (use .csv or .sdb sources)".format(path))
    items = lists[0] if len(lists) == 1 else list(heapq.merge(*lists, key=lambda item: item[0]))
    if not target.lower().endswith(".sdb"):
        raise UserError("target {}: the sample database's name must end in .sdb".format(target))
    directory = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(directory):
        raise UserError("target {}: directory {} does not exist".format(target, directory))
    jobs = [(sample_id, audio_type, bitrate) for _, sample_id, _ in items]
    with sample_db.SDBWriter(target, audio_type, bitrate, labeled, BUFFER) as writer:
        if workers == 1 or len(jobs) < 2:
            encoded = map(_encoded, jobs)
            pool = None
        else:
            pool = multiprocessing.Pool(workers)
            encoded = pool.imap(_encoded, jobs, chunksize=4)  # ordered
        try:
            for number, (data, (_, _, transcript)) in enumerate(zip(encoded, items), start=1):
                writer.add_encoded(data, transcript)
                if progress and (number % 100 == 0 or number == len(items)):
                    sys.stderr.write("\r{} / {} samples".format(number, len(items)))
        finally:
            if pool is not None:
                pool.terminate()
    if progress:
        sys.stderr.write("\n")
    return len(items)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Build a DeepSpeech 0.7.4 sample database (SDB) from CSV and SDB "
                                                 "sources")
    parser.add_argument("sources", nargs="+", help="CSV or SDB files (SDB sources must be sorted short to long)")
    parser.add_argument("target", help="the SDB file to write")
    parser.add_argument("--audio-type", default="opus", choices=sorted(sample_db.AUDIO_TYPES),
                        help="how the audio is stored (default: opus)")
    parser.add_argument("--bitrate", type=int, default=None, help="Opus bitrate in bps (default: libopus's)")
    parser.add_argument("--workers", type=int, default=None, help="encoder processes (default: one per CPU)")
    parser.add_argument("--unlabeled", action="store_true", help="audio only, no transcripts (noise for overlay)")
    args = parser.parse_args(argv)
    count = run_cli(build, [os.path.abspath(path) for path in args.sources], os.path.abspath(args.target),
                    args.audio_type, args.bitrate, args.workers, not args.unlabeled)
    print("Wrote {} samples to {}".format(count, args.target))


if __name__ == "__main__":
    main()
