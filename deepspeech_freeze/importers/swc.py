"""Spoken Wikipedia Corpora (German) -> sentence chunks as 16 kHz mono WAV + DeepSpeech CSVs, as DeepSpeech 0.7.4's
``bin/import_swc.py --language german`` does.

Usage::

    python -m deepspeech_freeze.importers.swc --swc_dir german --target data/swc \\
        [--filter_alphabet data/alphabets/german.txt] [--max_seconds 10] [--noexclude_numbers] \\
        [--ignore_too_long] [--exclude_unknown_speakers] [--exclude_unknown_articles] [--normalize] [--add_meta] \\
        [--jobs N]

``--swc_dir`` is the extracted ``SWC_German.tar`` (the ``german`` folder, or the folder holding it): one folder per
article with ``aligned.swc`` (the word alignment, XML) and ``audio.ogg`` (long articles: ``audio1.ogg``,
``audio2.ogg``, ...). As in DeepSpeech:

- an article's parts are joined into one 16 kHz mono WAV (``TARGET/swc_audio/<article>.wav``, kept so that a
  re-run does not decode them again; delete the folder after the import to save disk). Parts are joined in number
  order (DeepSpeech sorted them as strings, so audio10 came before audio2);
- ``aligned.swc``: the article is the ``DC.identifier`` property, the speaker ``reader.name`` (both ``<unknown>``
  when absent); sentences are ``s`` elements, words their ``t`` children; a word with ``n`` (normalisation)
  children is timed (start = first start, end = last end, ms) and reads as its ``pronunciation`` attributes, any
  other word reads as its text and is not timed. Sentences inside ``ignored`` are skipped (DeepSpeech meant to and
  did not, a bug);
- each sentence is cut into chunks of at most ``--max_seconds`` (default 10): words before the first timed word are
  dropped, untimed words join the next timed one, a chunk that would grow too long is closed and the next starts
  where it ended; with ``--exclude_numbers`` (default) a word with a digit closes the chunk and is dropped;
- the label: ``/()[]{}<>:`` deleted, spelled-out numbers joined ("ein tausend neun hundert" -> "neunzehnhundert",
  "punkt null null null" -> "tausend"), a label that starts with "punkt null" rejected; then the shared German
  normalisation and ``--filter_alphabet``; ``--normalize`` replaces characters outside ä, ö, ü, ß and the alphabet
  by their ASCII form;
- a chunk is dropped when it has less than 30 ms per character, or (only with ``--ignore_too_long``) when it is
  longer than ``--max_seconds`` (a single long word makes such a chunk); ``--exclude_unknown_speakers`` /
  ``--exclude_unknown_articles`` drop chunks without a reader or article name;
- the split: dev and test get ``s`` chunks each (a 99% confidence, 1% error sample size for the corpus size:
  331 of 1k, 3097 of 10k, 13548 of 100k), taken as whole speakers, smallest speakers first, alternately for dev and
  test; the rest is train. When that leaves train empty, the chunks are shuffled with seed 42 instead and the first
  ``s`` go to dev, the next ``s`` to test.

Problems are reported, never a traceback: an ``aligned.swc`` that cannot be parsed ("damaged metadata"), an
article without audio ("audio missing") or with audio that cannot be decoded ("conversion failed"), an article
without ``aligned.swc`` ("no transcript"), a sentence without timed words ("no timestamps"). Chunk WAVs go to
``TARGET/clips/<article folder>/<start ms>-<end ms>.wav``; ``TARGET/{train,dev,test}.csv`` (with ``--add_meta``
also the columns ``article`` and ``speaker``, as in DeepSpeech). Conversion, re-runs and
the report are those of :mod:`.common`.
"""
import collections
import os
import random
import re
import xml.etree.ElementTree as ElementTree

from absl import flags

from ..errors import UserError, run_main
from . import common
from .text import filter_to_alphabet, fold_to_ascii, normalize_german, swc_number_words

FLAGS = flags.FLAGS
UNKNOWN = "<unknown>"
_PART = re.compile(r"^audio(\d*)\.ogg$", re.IGNORECASE)

Article = collections.namedtuple("Article", "folder name speaker sentences")
Chunk = collections.namedtuple("Chunk", "article start end text")


def corpus_folder(swc_dir):
    """``--swc_dir`` or its ``german`` subfolder: the one whose subfolders are articles."""
    what = "give the extracted SWC_German.tar (the german folder, one folder per article)"
    common.existing_folder("swc_dir", swc_dir, what)
    nested = os.path.join(swc_dir, "german")
    return nested if os.path.isdir(nested) else swc_dir


def audio_parts(folder):
    """The article's ``audio*.ogg`` files in number order (``audio.ogg`` alone, or audio1, audio2, ..., audio10)."""
    parts = []
    for name in os.listdir(folder):
        match = _PART.match(name)
        if match:
            parts.append((int(match.group(1) or 0), name))
    return [os.path.join(folder, name) for _, name in sorted(parts)]


def parse_aligned(path):
    """``(speaker, article, [sentence tokens])`` of an ``aligned.swc``; a token is ``(text, start ms, end ms)`` with
    times ``None`` when untimed. Raises ``ElementTree.ParseError`` / ``OSError`` / ``ValueError``."""
    root = ElementTree.parse(path).getroot()
    props = {}
    for prop in root.iter("prop"):
        props.setdefault(prop.get("key"), prop.get("value"))
    ignored = set()
    for element in root.iter("ignored"):
        ignored.update(id(s) for s in element.iter("s"))
    sentences = []
    for sentence in root.iter("s"):
        if id(sentence) in ignored:
            continue
        tokens = []
        for token in sentence.findall("t"):
            norms = token.findall("n")
            starts = [int(n.get("start")) for n in norms if n.get("start") is not None]
            ends = [int(n.get("end")) for n in norms if n.get("end") is not None]
            if norms and starts and ends:
                text = " ".join(n.get("pronunciation") or "" for n in norms)
                tokens.append((text, starts[0], max(ends)))
            else:
                tokens.append(("".join(token.itertext()) if not norms else
                               " ".join(n.get("pronunciation") or "" for n in norms), None, None))
        sentences.append(tokens)
    return props.get("reader.name") or UNKNOWN, props.get("DC.identifier") or UNKNOWN, sentences


def chunk_sentence(tokens, max_ms, exclude_numbers):
    """``[(start ms, end ms, text)]`` of one sentence (the chunking rules of the module docstring)."""
    chunks, current, pending, seen_timed, resume_at = [], None, [], False, None
    for text, start, end in tokens:
        if exclude_numbers and any(char.isdigit() for char in text):
            if current is not None:
                chunks.append(tuple(current))
            current, pending, resume_at = None, [], None
            continue
        if start is None:
            if seen_timed:
                pending.append(text)
            continue
        seen_timed = True
        words = " ".join(pending + [text])
        pending = []
        if current is None:
            current = [resume_at if resume_at is not None else start, end, words]
        elif max_ms > 0 and end - current[0] > max_ms:
            chunks.append(tuple(current))
            current = [current[1], end, words]
        else:
            current[1] = end
            current[2] += " " + words
    if current is not None:
        chunks.append(tuple(current))
    return chunks


def sample_size(total):
    """Dev/test size for ``total`` samples: z = 2.58, p = 0.5, e = 0.01 (numerator 16641), the train size t walked
    down from ``total`` until 2 s + t fits."""
    for train in range(total, 0, -1):
        size = int(16641.0 / (1 + 16641.0 / train))
        if 2 * size + train <= total:
            return size
    return 0


def assign_splits(chunks, speakers, out=None):
    """``[split]`` per chunk (``speakers[i]`` is chunk i's reader): whole speakers, smallest first, alternately to
    dev and test until each has :func:`sample_size` chunks; the rest train (a seeded shuffle when train would be
    empty)."""
    size = sample_size(len(chunks))
    groups = collections.OrderedDict()
    for index, speaker in enumerate(speakers):
        groups.setdefault(speaker, []).append(index)
    splits = ["train"] * len(chunks)
    taken = {"dev": 0, "test": 0}
    turn = "dev"
    for members in sorted(groups.values(), key=len):
        if taken["dev"] >= size and taken["test"] >= size:
            break
        if taken[turn] >= size:
            turn = "test" if turn == "dev" else "dev"
        for index in members:
            splits[index] = turn
        taken[turn] += len(members)
        turn = "test" if turn == "dev" else "dev"
    if chunks and "train" not in splits:
        common.say(out, "Warning: taking whole speakers for dev and test leaves no training data; splitting the "
                        "chunks at random (seed 42) instead")
        order = list(range(len(chunks)))
        random.Random(42).shuffle(order)
        for rank, index in enumerate(order):
            splits[index] = "dev" if rank < size else "test" if rank < 2 * size else "train"
    return splits


def _prepare_article(job):
    """Thread task: the article's parts joined into one 16 kHz mono WAV; ``(article, problem or None)``."""
    article, parts, wav, tool = job
    if os.path.exists(wav) and common.wav_seconds(wav)[1] is None:
        return article, None
    os.makedirs(os.path.dirname(wav), exist_ok=True)
    return article, common.convert_to_wav(parts, wav, tool)


def swc_clips(swc_dir, target, normalizer, alphabet, max_seconds=10.0, exclude_numbers=True, ignore_too_long=False,
              exclude_unknown_speakers=False, exclude_unknown_articles=False, jobs=1, out=None, add_meta=False):
    """``(clips, skipped)``: the chunks of every article as :class:`~.common.Clip` with their split (and, with
    ``add_meta``, the article and speaker as ``extra``)."""
    folder = corpus_folder(swc_dir)
    names = sorted(name for name in os.listdir(folder) if os.path.isdir(os.path.join(folder, name)))
    skipped, articles, jobs_list = [], [], []
    audio_dir = os.path.join(os.path.abspath(target), "swc_audio")
    tool = None
    for name in names:
        path = os.path.join(folder, name)
        aligned = os.path.join(path, "aligned.swc")
        parts = audio_parts(path)
        if not os.path.isfile(aligned):
            if parts:
                skipped.append(common.Skip(None, "no_transcript", name, "no aligned.swc (the article is not "
                                                                        "aligned)"))
            continue
        try:
            speaker, article, sentences = parse_aligned(aligned)
        except (ElementTree.ParseError, OSError, ValueError) as err:
            skipped.append(common.Skip(None, "metadata", os.path.join(name, "aligned.swc"),
                                       "cannot be parsed ({})".format(err)))
            continue
        if not parts:
            skipped.append(common.Skip(None, "missing", name, "no audio.ogg (nor audio1.ogg, ...)"))
            continue
        tool = tool or common.find_converter()
        wav = os.path.join(audio_dir, name + ".wav")
        articles.append((Article(name, article, speaker, sentences), wav))
        jobs_list.append((name, parts, wav, common.tool_for(parts, tool)))
    if not articles and not skipped:
        raise UserError("{} has no article folders with aligned.swc and audio.ogg: {}".format(
            folder, "give the extracted SWC_German.tar (the german folder)"))
    problems = {}
    if jobs_list:
        common.say(out, "Joining the audio of {} articles with {} ({} in parallel)...".format(
            len(jobs_list), " and ".join(sorted({job[3] for job in jobs_list})), jobs))
        for name, problem in common.parallel_map(_prepare_article, jobs_list, jobs):
            if problem is not None:
                problems[name] = problem

    max_ms = max_seconds * 1000.0
    chunks, speakers = [], []
    for article, wav in articles:
        if article.folder in problems:
            skipped.append(common.Skip(None, "failed", article.folder, problems[article.folder]))
            continue
        for number, tokens in enumerate(article.sentences, start=1):
            where = "{} sentence {}".format(article.folder, number)
            pieces = chunk_sentence(tokens, max_ms, exclude_numbers)
            if not pieces and tokens:
                skipped.append(common.Skip(None, "no_timestamps", where, "no timed words"))
            for start, end, text in pieces:
                clip = common.Clip(None, wav, common.wav_name(os.path.join(article.folder, "{}-{}.wav".format(
                    start, end))), text, where, start / 1000.0, end / 1000.0,
                    (article.name, article.speaker) if add_meta else ())
                reason = _chunk_problem(clip, article, normalizer, alphabet, max_seconds if ignore_too_long else 0,
                                        exclude_unknown_speakers, exclude_unknown_articles)
                if reason:
                    skipped.append(common.Skip(None, reason[0], where, reason[1]))
                    continue
                chunks.append(clip)
                speakers.append(article.speaker)
    splits = assign_splits(chunks, speakers, out)
    return [clip._replace(split=split) for clip, split in zip(chunks, splits)], skipped


def _chunk_problem(clip, article, normalizer, alphabet, max_seconds, exclude_speakers, exclude_articles):
    """``(reason, detail)`` when a chunk is dropped before the split (DeepSpeech filters before it splits), else
    ``None``. The same rules run again in :func:`.common.import_clips` and then keep every chunk that passes here."""
    if exclude_speakers and article.speaker == UNKNOWN:
        return "excluded", "unknown speaker (--exclude_unknown_speakers)"
    if exclude_articles and article.name == UNKNOWN:
        return "excluded", "unknown article (--exclude_unknown_articles)"
    transcript = normalizer(clip.text)
    if isinstance(transcript, common.Reject):
        return "rejected", "{!r}: {}".format(clip.text, transcript)
    kept, missing = filter_to_alphabet(transcript, alphabet)
    if kept is None:
        return ("alphabet", "{!r} has {}".format(transcript, " ".join(repr(c) for c in missing))) if missing \
            else ("empty", repr(clip.text))
    seconds = clip.end - clip.start
    if max_seconds and seconds > max_seconds:
        return "too_long", "{:.1f} s".format(seconds)
    if seconds * 1000 < 30 * len(kept):
        return "too_short", "{:.2f} s for {} characters".format(seconds, len(kept))
    return None


def swc_normalizer(alphabet, normalize):
    """The transcript of a chunk's words (or a :class:`~.common.Reject`)."""
    def transcript(text):
        text, rule = swc_number_words(text)
        if rule:
            return common.Reject(rule)
        text = normalize_german(text)
        return fold_to_ascii(text, alphabet) if normalize else text
    return transcript


def import_swc(swc_dir, target, alphabet, max_seconds=10.0, exclude_numbers=True, ignore_too_long=False,
               exclude_unknown_speakers=False, exclude_unknown_articles=False, normalize=False, jobs=1, out=None,
               add_meta=False):
    """Import the German Spoken Wikipedia into ``target``; returns the summary of :func:`.common.import_clips`."""
    normalizer = swc_normalizer(alphabet, normalize)
    clips, skipped = swc_clips(swc_dir, target, normalizer, alphabet, max_seconds, exclude_numbers, ignore_too_long,
                               exclude_unknown_speakers, exclude_unknown_articles, jobs, out, add_meta)
    return common.import_clips(clips, target, alphabet, normalizer, jobs=jobs,
                               max_seconds=max_seconds if ignore_too_long else 0.0, ms_per_char=30.0,
                               skipped=skipped, out=out, extra_columns=("article", "speaker") if add_meta else ())


def main(_argv):
    alphabet = common.check_common_flags(FLAGS)
    import_swc(FLAGS.swc_dir, FLAGS.target, alphabet, FLAGS.max_seconds, FLAGS.exclude_numbers,
               FLAGS.ignore_too_long, FLAGS.exclude_unknown_speakers, FLAGS.exclude_unknown_articles,
               FLAGS.normalize, FLAGS.jobs, add_meta=FLAGS.add_meta)


def define_flags():
    flags.DEFINE_string("swc_dir", "", "the extracted SWC_German.tar (the german folder, one folder per article)")
    flags.DEFINE_boolean("exclude_numbers", True, "close a chunk at a word with a digit and drop that word")
    flags.DEFINE_boolean("ignore_too_long", False, "drop chunks longer than --max_seconds (a single long word)")
    flags.DEFINE_boolean("exclude_unknown_speakers", False, "drop chunks of articles without reader.name")
    flags.DEFINE_boolean("exclude_unknown_articles", False, "drop chunks of articles without DC.identifier")
    common.define_normalize_flag("chunk")
    flags.DEFINE_boolean("add_meta", False, "add the columns article (DC.identifier) and speaker (reader.name) to "
                                            "the CSVs")
    common.define_common_flags(common.repo_path("data", "alphabets", "german.txt"), 10.0)


if __name__ == "__main__":
    define_flags()
    run_main(main)
