"""VoxForge (German) -> 16 kHz mono WAV + DeepSpeech CSVs, as DeepSpeech 0.7.4's ``bin/import_voxforge.py`` does,
for German.

Usage::

    python -m deepspeech_freeze.importers.voxforge --voxforge_dir voxforge-de --target data/voxforge \\
        [--test_fraction 0.01] [--dev_fraction 0.01] [--filter_alphabet data/alphabets/german.txt] [--jobs N]

``--voxforge_dir`` holds the extracted session archives (``.../de/Trunk/Audio/Main/16kHz_16bit/*.tgz``), one folder
per session: ``<session>/etc/PROMPTS`` (one line per recording: ``<path>/<id> words ...``) and the audio in
``<session>/wav/<id>.wav`` or ``<session>/flac/<id>.flac``. As in DeepSpeech:

- the split is by session (so by speaker and recording day): in name order, the first ⌊n × test_fraction⌋ sessions
  are test, the next ⌊n × dev_fraction⌋ dev, the rest train (DeepSpeech: 1/100 each, in the order the file system
  listed the archives). With fewer than 100 sessions dev and test are empty at the defaults;
- a clip is kept when it lasts more than 0.5 s and at most ``--max_seconds`` (default 20) and has at least 43.75 ms
  of audio per transcript character (DeepSpeech's 1400 bytes at 32000 bytes/s).

DeepSpeech's importer could not import German (its URL was the English one, its filter turned ä, ö, ü and ß into
word breaks) and did not start at all (a missing import), and it skipped sessions recorded as FLAC and did not
convert. Here the prompts go through the shared German normalisation, FLAC sessions are converted like the rest,
and every dropped recording is counted and reported: a session without ``etc/PROMPTS`` or a prompt line without an
id ("damaged metadata"), a prompt whose audio file does not exist ("audio missing"), an empty prompt, audio that
cannot be read ("conversion failed"). WAVs go to ``TARGET/clips/<session>/<id>.wav``;
``TARGET/{train,dev,test}.csv``. Conversion, re-runs and the report are those of :mod:`.common`.
"""
import io
import math
import os

from absl import flags

from ..errors import UserError, run_main
from . import common
from .text import normalize_german

FLAGS = flags.FLAGS
AUDIO = (("wav", ".wav"), ("flac", ".flac"))


def sessions(voxforge_dir):
    """The session folders (those with ``etc/``, ``wav/`` or ``flac/``), in name order."""
    what = "give the folder holding the extracted VoxForge session archives (<session>/etc/PROMPTS, <session>/wav/)"
    common.existing_folder("voxforge_dir", voxforge_dir, what)
    found = sorted(name for name in os.listdir(voxforge_dir)
                   if any(os.path.isdir(os.path.join(voxforge_dir, name, sub)) for sub in ("etc", "wav", "flac")))
    if not found:
        raise UserError("--voxforge_dir {} has no session folders: {}".format(voxforge_dir, what))
    return found


def split_sessions(names, dev_fraction, test_fraction):
    """``{session: split}``: the first ⌊n·test_fraction⌋ sessions test, the next ⌊n·dev_fraction⌋ dev, the rest
    train."""
    test = int(math.floor(len(names) * test_fraction))
    dev = int(math.floor(len(names) * dev_fraction))
    return {name: "test" if i < test else "dev" if i < test + dev else "train" for i, name in enumerate(names)}


def find_audio(session_dir, name):
    """The recording's audio file (wav/<id>.wav, else flac/<id>.flac), or the WAV path when neither exists."""
    for folder, extension in AUDIO:
        path = os.path.join(session_dir, folder, name + extension)
        if os.path.isfile(path):
            return path
    return os.path.join(session_dir, "wav", name + ".wav")


def _prompt_lines(prompts):
    try:
        with io.open(prompts, encoding="utf-8") as handle:
            return handle.read().splitlines()
    except UnicodeDecodeError:
        with io.open(prompts, encoding="latin-1") as handle:  # early VoxForge submissions
            return handle.read().splitlines()


def voxforge_clips(voxforge_dir, dev_fraction=0.01, test_fraction=0.01, out=None):
    """The corpus's entries (:class:`~.common.Entries`): a :class:`~.common.Clip` per prompt line, split by
    session, a :class:`~.common.Skip` per session without prompts and per line without an id; made one session at a
    time."""
    names = sessions(voxforge_dir)
    split_of = split_sessions(names, dev_fraction, test_fraction)
    common.say(out, "{} sessions: {} test, {} dev, {} train".format(
        len(names), *[sum(1 for s in split_of.values() if s == split) for split in ("test", "dev", "train")]))
    count = 0
    for session in names:
        prompts = os.path.join(voxforge_dir, session, "etc", "PROMPTS")
        count += sum(1 for line in _prompt_lines(prompts) if line.strip()) if os.path.isfile(prompts) else 1

    def entries():
        for session in names:
            split, folder = split_of[session], os.path.join(voxforge_dir, session)
            prompts = os.path.join(folder, "etc", "PROMPTS")
            if not os.path.isfile(prompts):
                yield common.Skip(split, "metadata", session, "no etc/PROMPTS")
                continue
            for number, line in enumerate(_prompt_lines(prompts), start=1):
                if not line.strip():
                    continue
                where = "{} line {}".format(os.path.join(session, "etc", "PROMPTS"), number)
                fields = line.split(None, 1)
                name = os.path.basename(fields[0].replace("\\", "/"))
                if not name:
                    yield common.Skip(split, "metadata", where, "{!r} has no recording id".format(line[:80]))
                    continue
                yield common.Clip(split, os.path.abspath(find_audio(folder, name)),
                                  common.wav_name(os.path.join(session, name)),
                                  fields[1] if len(fields) > 1 else "", where)
    return common.Entries(entries, count)


def import_voxforge(voxforge_dir, target, alphabet, dev_fraction=0.01, test_fraction=0.01, jobs=1,
                    max_seconds=20.0, out=None):
    """Import the sessions into ``target``; returns the summary of :func:`.common.import_clips`."""
    common.check_split_fractions(dev_fraction, test_fraction, "sessions")
    return common.import_clips(voxforge_clips(voxforge_dir, dev_fraction, test_fraction, out), target, alphabet,
                               normalize_german, jobs=jobs, max_seconds=max_seconds, ms_per_char=1400 / 32.0,
                               min_seconds=0.5, out=out)


def main(_argv):
    alphabet = common.check_common_flags(FLAGS)
    import_voxforge(FLAGS.voxforge_dir, FLAGS.target, alphabet, FLAGS.dev_fraction, FLAGS.test_fraction,
                    FLAGS.jobs, FLAGS.max_seconds)


def define_flags():
    flags.DEFINE_string("voxforge_dir", "", "folder holding the extracted VoxForge session archives")
    flags.DEFINE_float("dev_fraction", 0.01, "share of the sessions (after the test ones, in name order) for dev")
    flags.DEFINE_float("test_fraction", 0.01, "share of the sessions (the first in name order) for test")
    common.define_common_flags(common.repo_path("data", "alphabets", "german.txt"), 20.0)


if __name__ == "__main__":
    define_flags()
    run_main(main)
