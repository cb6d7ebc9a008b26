"""Build a KenLM language model and a DeepSpeech 0.7 scorer package from a text corpus.

Usage::

    python -m deepspeech_freeze.lm --input_txt corpus.txt[.gz] --output_dir DIR --alphabet data/alphabets/german.txt \\
        [--language de] [--keep_digits] [--top_k 500000] [--arpa_order 5] [--max_arpa_memory 25%] \\
        [--arpa_prune 0|0|1] [--binary_a_bits 255] [--binary_q_bits 8] [--binary_type trie] [--discount_fallback] \\
        [--default_alpha 0.931289039105002] [--default_beta 1.1834137581510284] [--keep_intermediate] \\
        [--kenlm_bins DIR]

The steps are those of DeepSpeech 0.7.4's ``data/lm/generate_lm.py`` followed by ``generate_package.py``; the
defaults are the ones of Eberhard & Zesch (2021): the 500,000 most frequent words, a 5-gram model pruned ``0|0|1``,
a quantized trie (``-a 255 -q 8``).

1. Each corpus line (one sentence per line, UTF-8, optionally gzip-compressed) is normalised the way the importers
   normalise transcripts (:func:`~deepspeech_freeze.importers.text.normalize_text`: for German lower case, numbers
   as words, "ß" -> "ss", punctuation removed; ``--keep_digits`` keeps digits, as the Swiss German alphabet wants).
   DeepSpeech only lower-cased the lines; here the language model sees the same text the acoustic model is trained
   on. A line that still has a character outside ``--alphabet`` is dropped (and counted), as is a line that
   normalises to nothing. The kept lines go to ``normalized.txt.gz``.
2. Words are counted; the ``--top_k`` most frequent (most frequent first, ties in order of first appearance) are
   written to ``vocab-<top_k>.txt``, one per line.
3. ``lmplz --order --memory --temp_prefix <output_dir>/ --prune ...`` builds ``lm.arpa`` from the normalised text.
4. The ARPA model is restricted to the vocabulary: ``lm_filtered.arpa`` keeps exactly the n-grams whose words are
   all in the top-k vocabulary (``<s>``, ``</s>``, ``<unk>`` always pass), with their probabilities and back-off
   weights unchanged, and rewritten n-gram counts. This is what DeepSpeech's ``filter single model:lm.arpa
   lm_filtered.arpa`` call to KenLM's ``filter`` binary produces; it is done here in Python (streaming, one pass)
   so that only ``lmplz`` and ``build_binary`` need to be built. (lmplz's ``--limit_vocab_file`` is not used: it
   re-estimates the model, moving the mass of the removed words to ``<unk>``, which gives other probabilities than
   DeepSpeech's models.)
5. ``build_binary -a <a_bits> -q <q_bits> -v <type>`` writes ``lm.binary`` (``-v``: no vocabulary strings, as the
   scorer package needs; ``-a``/``-q`` only apply to ``trie`` and are left out for ``probing``).
6. ``kenlm.scorer`` = ``lm.binary`` + DeepSpeech's trailer with the vocabulary and the default alpha/beta
   (:func:`~deepspeech_freeze.scorer_package.write_scorer_package`, as ``generate_package.py`` does: with
   ds_ctcdecoder on the TF 1.15 stack, with the same bytes written in Python on the TF 2 stack). The decoder of the
   stack then loads and uses the new package once, in a child process.

``normalized.txt.gz``, ``lm.arpa``, ``lm_filtered.arpa`` and the tools' logs are deleted at the end unless
``--keep_intermediate`` is given. KenLM's binaries are looked up in ``--kenlm_bins``, else next to the running Python
(``.venv/bin``, where ``bin/install.sh`` puts them), else on ``PATH``.
"""
import gzip
import io
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter

from absl import flags

from .alphabet import Alphabet
from .errors import UserError, run_main
from .progress import Progress

FLAGS = flags.FLAGS

NORMALIZED_NAME = "normalized.txt.gz"
ARPA_NAME = "lm.arpa"
FILTERED_ARPA_NAME = "lm_filtered.arpa"
BINARY_NAME = "lm.binary"
SCORER_NAME = "kenlm.scorer"
PROGRESS_EVERY = 10000  # corpus lines between progress updates (progress.py decides when a line is shown)
TAIL_LINES = 12  # stderr lines of a failing tool shown in the error

DEFAULT_ALPHA = 0.931289039105002
DEFAULT_BETA = 1.1834137581510284
BINARY_TYPES = ("trie", "probing")
MAX_ORDER = 6  # ds_ctcdecoder 0.7.4's KENLM_MAX_ORDER (and lmplz's default build)
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)([%bKMGTPEZY]?)$")


def say(message):
    print(message, flush=True)


def human_size(size):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return "{:.1f} {}".format(size, unit) if unit != "B" else "{} B".format(size)
        size /= 1024.0


# ---------------------------------------------------------------------------------------------------------------
# Settings

def parse_prune(text, order):
    """``"0|0|1"`` -> ``["0", "0", "1"]``, checked as lmplz checks it (at most ``order`` thresholds, the first 0,
    non-decreasing). An empty string means no pruning."""
    text = (text or "").strip()
    if not text:
        return []
    parts = [part.strip() for part in text.replace(" ", "|").split("|") if part.strip()]
    if not all(part.isdigit() for part in parts):
        raise UserError("--arpa_prune {!r} is not a list of non-negative integers separated by '|' (e.g. 0|0|1)"
                        .format(text))
    values = [int(part) for part in parts]
    if len(values) > order:
        raise UserError("--arpa_prune {!r} has {} thresholds but --arpa_order is {}: give at most one per order"
                        .format(text, len(values), order))
    if values[0] != 0:
        raise UserError("--arpa_prune {!r}: the first (unigram) threshold must be 0; lmplz cannot prune unigrams"
                        .format(text))
    if any(later < earlier for earlier, later in zip(values, values[1:])):
        raise UserError("--arpa_prune {!r}: thresholds must not decrease with the order (lmplz requires it)"
                        .format(text))
    return [str(value) for value in values]


def check_memory(text):
    match = _MEMORY.match((text or "").strip())
    if not match or float(match.group(1)) <= 0 or (match.group(2) == "%" and float(match.group(1)) > 100):
        raise UserError("--max_arpa_memory {!r} is not a memory size: give a percentage of the RAM (e.g. 25%) or "
                        "a size with a unit (e.g. 512M, 4G)".format(text))
    return match.group(0)


def find_tool(name, kenlm_bins=""):
    """Path of KenLM's ``name`` binary: ``kenlm_bins``, else the running Python's bin folder, else ``PATH``."""
    if kenlm_bins:
        path = os.path.join(kenlm_bins, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
        raise UserError("KenLM's {} is not in --kenlm_bins {}: run bin/install.sh (it builds lmplz and "
                        "build_binary into .venv/bin) or point --kenlm_bins at a KenLM build's bin folder"
                        .format(name, kenlm_bins))
    path = os.path.join(os.path.dirname(sys.executable), name)
    if os.path.isfile(path) and os.access(path, os.X_OK):
        return path
    path = shutil.which(name)
    if path:
        return path
    raise UserError("KenLM's {} binary was not found (looked in {} and on PATH): run bin/install.sh, which builds "
                    "lmplz and build_binary into .venv/bin".format(name, os.path.dirname(sys.executable)))


def run_tool(command, log_path, what):
    """Run an external tool with its stderr (and stdout) in ``log_path``; a failure is a :class:`UserError` that
    quotes the last lines of its output."""
    started = time.time()
    with open(log_path, "wb") as log:
        try:
            result = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        except OSError as err:
            raise UserError("{} could not be started ({}): run bin/install.sh to (re)build KenLM's binaries"
                            .format(command[0], err))
    if result.returncode != 0:
        with open(log_path, "rb") as log:
            lines = [line.rstrip() for line in log.read().decode("utf-8", "replace").splitlines() if line.strip()]
        tail = " | ".join(lines[-TAIL_LINES:]) or "(no output)"
        status = ("killed by signal {}".format(-result.returncode) if result.returncode < 0
                  else "exit status {}".format(result.returncode))
        raise UserError("{} failed while {} ({}); its last output: {} (full log: {})".format(
            os.path.basename(command[0]), what, status, tail, log_path))
    return time.time() - started


# ---------------------------------------------------------------------------------------------------------------
# Corpus

def open_corpus(path):
    """A binary stream over ``path``, gzip-compressed or not (detected by content)."""
    with open(path, "rb") as handle:
        magic = handle.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")
    return open(path, "rb")


def normalize_corpus(input_path, output_path, alphabet, language, keep_digits):
    """Normalise every line of ``input_path`` into ``output_path`` (gzip); returns the statistics and the word
    counts."""
    from .importers.text import filter_to_alphabet, normalize_text

    stats = {"read": 0, "kept": 0, "dropped_alphabet": 0, "dropped_empty": 0, "words": 0}
    counter = Counter()
    bad_chars = Counter()
    first_dropped = []
    line_number = 0
    progress = Progress("  Normalising", noun="Lines read", fields=[("kept", "{:,.0f} kept"),
                                                                    ("distinct", "{:,.0f} distinct words")],
                        out=sys.stdout)
    try:
        with open_corpus(input_path) as source, gzip.open(output_path, "wt", encoding="utf-8",
                                                          compresslevel=1) as target:
            for line_number, raw in enumerate(source, start=1):
                if line_number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]  # UTF-8 byte order mark
                line = raw.decode("utf-8")
                stats["read"] += 1
                text = normalize_text(line, language, keep_digits=keep_digits)
                kept, missing = filter_to_alphabet(text, alphabet)
                if kept is None:
                    if missing:
                        stats["dropped_alphabet"] += 1
                        bad_chars.update(missing)
                        if len(first_dropped) < 3:
                            first_dropped.append(line_number)
                    else:
                        stats["dropped_empty"] += 1
                else:
                    words = kept.split()
                    counter.update(words)
                    stats["words"] += len(words)
                    stats["kept"] += 1
                    target.write(kept)
                    target.write("\n")
                if line_number % PROGRESS_EVERY == 0:
                    progress.update(line_number, kept=stats["kept"], distinct=len(counter))
    except UnicodeDecodeError as err:
        raise UserError("--input_txt {}: line {} is not valid UTF-8 ({}): convert the corpus to UTF-8".format(
            input_path, line_number, err))
    except (OSError, EOFError) as err:
        raise UserError("reading --input_txt {} (after line {}) or writing {} failed ({}): is the corpus (or its "
                        "gzip compression) damaged, or the disk full?".format(input_path, line_number, output_path,
                                                                             err))
    if line_number >= PROGRESS_EVERY:  # a bar was shown: end it with the full count
        progress.update(line_number, kept=stats["kept"], distinct=len(counter))
        progress.finish()
    stats["bad_chars"] = bad_chars
    stats["first_dropped"] = first_dropped
    return stats, counter


def write_vocabulary(counter, top_k, path):
    """The ``top_k`` most frequent words (most frequent first), also written to ``path`` one per line."""
    top = counter.most_common(top_k)
    with io.open(path, "w", encoding="utf-8", newline="\n") as handle:
        for word, _ in top:
            handle.write(word)
            handle.write("\n")
    return top


# ---------------------------------------------------------------------------------------------------------------
# ARPA files

def read_arpa_counts(path):
    """The n-gram counts of an ARPA file's ``\\data\\`` header, ``[count of 1-grams, 2-grams, ...]``."""
    counts = {}
    with open(path, "rb") as handle:
        in_data = False
        for raw in handle:
            line = raw.strip()
            if not line:
                if counts:
                    break
                continue
            if line == b"\\data\\":
                in_data = True
                continue
            if in_data and line.startswith(b"ngram "):
                order, _, count = line[6:].partition(b"=")
                counts[int(order)] = int(count)
            elif in_data or line.endswith(b"-grams:"):
                break
    if not counts:
        raise UserError("{} has no ARPA \\data\\ header".format(path))
    return [counts[n] for n in sorted(counts)]


def _arpa_header(counts):
    return "\\data\\\n{}\n".format("".join("ngram {}={}\n".format(n, count)
                                          for n, count in enumerate(counts, start=1))).encode("ascii")


def filter_arpa(arpa_path, vocabulary, output_path):
    """Write the n-grams of ``arpa_path`` whose words are all in ``vocabulary`` (tags such as ``<s>`` always pass)
    to ``output_path``, unchanged, with the counts rewritten: KenLM's ``filter single`` for ARPA files.

    Like KenLM, the count header is written over space reserved at the start of the file (the new counts are never
    longer than the old ones); the unused part of the reservation stays as blank lines, which ARPA allows.
    Returns the new counts.
    """
    allowed = {word.encode("utf-8") for word in vocabulary}
    old_counts = read_arpa_counts(arpa_path)
    counts = [0] * len(old_counts)
    reserved = len(_arpa_header(old_counts))
    order = 0
    with open(arpa_path, "rb") as source, open(output_path, "wb") as target:
        target.write(b"\n" * reserved)
        # Skip to the first section header.
        for raw in source:
            if raw.strip() == b"\\1-grams:":
                order = 1
                break
        if order == 0:
            raise UserError("{} has no \\1-grams: section".format(arpa_path))
        target.write(b"\\1-grams:\n")
        for raw in source:
            line = raw.strip()
            if not line:
                continue
            if line.startswith(b"\\"):
                if line == b"\\end\\":
                    target.write(b"\n\\end\\\n")
                    break
                match = re.match(br"^\\(\d+)-grams:$", line)
                if not match:
                    raise UserError("{}: unexpected line {!r}".format(arpa_path, line[:80]))
                order = int(match.group(1))
                if order > len(counts):
                    raise UserError("{} has a {}-gram section but its header counts only {} orders".format(
                        arpa_path, order, len(counts)))
                target.write(b"\n" + line + b"\n")
                continue
            fields = line.split()
            words = fields[1:1 + order]
            if len(words) != order:
                raise UserError("{}: the {}-gram line {!r} has too few fields".format(arpa_path, order, line[:80]))
            if all(word in allowed or (word[:1] == b"<" and word[-1:] == b">") for word in words):
                target.write(raw if raw.endswith(b"\n") else raw + b"\n")
                counts[order - 1] += 1
        else:
            raise UserError("{} ends without \\end\\ (truncated?)".format(arpa_path))
        header = _arpa_header(counts)
        target.seek(0)
        target.write(header)
    return counts


# ---------------------------------------------------------------------------------------------------------------
# The whole pipeline

def build_scorer(input_txt, output_dir, alphabet_path, language="de", keep_digits=False, top_k=500000,
                 arpa_order=5, max_arpa_memory="25%", arpa_prune="0|0|1", binary_a_bits=255, binary_q_bits=8,
                 binary_type="trie", discount_fallback=False, default_alpha=DEFAULT_ALPHA,
                 default_beta=DEFAULT_BETA, keep_intermediate=False, kenlm_bins=""):
    """Run the whole pipeline (see the module docstring); returns a dict with the paths and statistics."""
    from .decoding import scorer_probe
    from .scorer_package import ScorerFileError, check_scorer_package, write_scorer_package

    # --- settings, checked before anything runs
    if not input_txt:
        raise UserError("--input_txt is not set: give a text corpus (one sentence per line, .txt or .txt.gz)")
    if not os.path.exists(input_txt):
        raise UserError("--input_txt {} does not exist".format(input_txt))
    if not os.path.isfile(input_txt):
        raise UserError("--input_txt {} is not a file".format(input_txt))
    if not output_dir:
        raise UserError("--output_dir is not set: give the folder for vocab-<top_k>.txt, lm.binary and "
                        "kenlm.scorer")
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise UserError("--output_dir {} exists and is not a folder".format(output_dir))
    if not alphabet_path:
        raise UserError("--alphabet is not set: give the alphabet file of the acoustic model "
                        "(e.g. data/alphabets/german.txt)")
    if not os.path.isfile(alphabet_path):
        raise UserError("--alphabet {} does not exist: give the alphabet file of the acoustic model "
                        "(e.g. data/alphabets/german.txt)".format(alphabet_path))
    alphabet = Alphabet(alphabet_path)
    if not language:
        raise UserError("--language is empty: give a language code, e.g. de")
    if top_k < 1:
        raise UserError("--top_k {} must be at least 1".format(top_k))
    if not 2 <= arpa_order <= MAX_ORDER:
        raise UserError("--arpa_order {} is outside 2-{}: ds_ctcdecoder 0.7.4 loads models of order 2 to {}"
                        .format(arpa_order, MAX_ORDER, MAX_ORDER))
    prune = parse_prune(arpa_prune, arpa_order)
    memory = check_memory(max_arpa_memory)
    if binary_type not in BINARY_TYPES:
        raise UserError("--binary_type {!r} must be one of {}".format(binary_type, ", ".join(BINARY_TYPES)))
    if not 0 <= binary_a_bits <= 255:
        raise UserError("--binary_a_bits {} must be 0 (no pointer compression) to 255".format(binary_a_bits))
    if not 0 <= binary_q_bits <= 25:
        raise UserError("--binary_q_bits {} must be 0 (no quantization) to 25".format(binary_q_bits))
    lmplz = find_tool("lmplz", kenlm_bins)
    build_binary = find_tool("build_binary", kenlm_bins)
    if not os.path.isdir(output_dir):
        try:
            os.makedirs(output_dir)
        except OSError as err:
            raise UserError("--output_dir {} cannot be created ({})".format(output_dir, err))

    paths = {name: os.path.join(output_dir, file_name) for name, file_name in (
        ("normalized", NORMALIZED_NAME), ("arpa", ARPA_NAME), ("filtered", FILTERED_ARPA_NAME),
        ("binary", BINARY_NAME), ("scorer", SCORER_NAME), ("vocab", "vocab-{}.txt".format(top_k)),
        ("lmplz_log", "lmplz.log"), ("build_binary_log", "build_binary.log"))}
    intermediate = ("normalized", "arpa", "filtered", "lmplz_log", "build_binary_log")
    started = time.time()

    # --- 1. normalise and count
    say("[1/5] Normalising {} ({} rules{}, alphabet {}) ...".format(
        input_txt, language, ", digits kept" if keep_digits else "", alphabet_path))
    stats, counter = normalize_corpus(input_txt, paths["normalized"], alphabet, language, keep_digits)
    dropped = stats["dropped_alphabet"] + stats["dropped_empty"]
    say("  {:,} lines read, {:,} kept, {:,} dropped ({:,} with characters outside the alphabet, {:,} empty)".format(
        stats["read"], stats["kept"], dropped, stats["dropped_alphabet"], stats["dropped_empty"]))
    if stats["dropped_alphabet"]:
        say("  characters outside the alphabet: {} (first dropped lines: {})".format(
            ", ".join("{!r} x{}".format(char, count) for char, count in stats["bad_chars"].most_common(10)),
            ", ".join(str(n) for n in stats["first_dropped"])))
    if not counter:
        _remove(paths["normalized"])
        raise UserError("--input_txt {}: no usable line is left after normalisation ({:,} lines read, {:,} with "
                        "characters outside alphabet {}, {:,} empty): check the corpus, --language and --alphabet"
                        .format(input_txt, stats["read"], stats["dropped_alphabet"], alphabet_path,
                                stats["dropped_empty"]))

    # --- 2. vocabulary
    say("[2/5] Writing the {:,} most frequent words to {} ...".format(top_k, paths["vocab"]))
    top = write_vocabulary(counter, top_k, paths["vocab"])
    vocabulary = [word for word, _ in top]
    covered = sum(count for _, count in top)
    say("  {:,} words in total, {:,} distinct; the vocabulary has {:,} words covering {:.2f}% of the running "
        "words".format(stats["words"], len(counter), len(vocabulary), 100.0 * covered / stats["words"]))
    say("  most frequent: {!r} ({:,} times); least frequent in the vocabulary: {!r} ({:,} times)".format(
        top[0][0], top[0][1], top[-1][0], top[-1][1]))

    # --- 3. lmplz
    say("[3/5] Building the {}-gram ARPA model with lmplz (memory {}, prune {}; its progress goes to {}) ...".format(
        arpa_order, memory, "|".join(prune) or "none", paths["lmplz_log"]))
    command = [lmplz, "--order", str(arpa_order), "--temp_prefix", os.path.join(output_dir, ""), "--memory", memory,
               "--text", paths["normalized"], "--arpa", paths["arpa"]]
    if prune:
        command += ["--prune"] + prune
    if discount_fallback:
        command.append("--discount_fallback")
    seconds = run_tool(command, paths["lmplz_log"], "building the ARPA model")
    arpa_counts = read_arpa_counts(paths["arpa"])
    say("  {} ({}) in {:.1f} s: {}".format(ARPA_NAME, human_size(os.path.getsize(paths["arpa"])), seconds,
                                           _format_counts(arpa_counts)))

    # --- 4. vocabulary filter
    say("[4/5] Keeping the n-grams of the {:,} vocabulary words (as KenLM's `filter single`) ...".format(
        len(vocabulary)))
    filter_started = time.time()
    filtered_counts = filter_arpa(paths["arpa"], vocabulary, paths["filtered"])
    say("  {} ({}) in {:.1f} s: {}".format(FILTERED_ARPA_NAME, human_size(os.path.getsize(paths["filtered"])),
                                           time.time() - filter_started, _format_counts(filtered_counts)))

    # --- 5. build_binary and the package
    say("[5/5] Building {} ({}) and {} ...".format(BINARY_NAME, binary_type, SCORER_NAME))
    command = [build_binary]
    if binary_type == "trie":
        if binary_a_bits:
            command += ["-a", str(binary_a_bits)]
        if binary_q_bits:
            command += ["-q", str(binary_q_bits)]
        command += ["-S", memory, "-T", os.path.join(output_dir, "")]
    command += ["-v", binary_type, paths["filtered"], paths["binary"]]
    seconds = run_tool(command, paths["build_binary_log"], "building the binary language model")
    say("  {} ({}) in {:.1f} s".format(BINARY_NAME, human_size(os.path.getsize(paths["binary"])), seconds))
    write_scorer_package(paths["binary"], vocabulary, alphabet, paths["scorer"], default_alpha, default_beta)
    try:  # the decoder loads and uses the new package once, as evaluation will
        package = check_scorer_package(paths["scorer"], alphabet, scorer_probe())
    except ScorerFileError as err:
        raise UserError("the new scorer package {} does not load: {}".format(paths["scorer"], err))

    if not keep_intermediate:
        for name in intermediate:
            _remove(paths[name])

    say("Summary:")
    say("  corpus: {:,} lines read, {:,} kept, {:,} dropped ({:,} outside the alphabet, {:,} empty)".format(
        stats["read"], stats["kept"], dropped, stats["dropped_alphabet"], stats["dropped_empty"]))
    say("  vocabulary: {:,} words (top {:,} of {:,} distinct) -> {}".format(
        len(vocabulary), top_k, len(counter), paths["vocab"]))
    say("  ARPA n-grams: {} (after the vocabulary filter: {})".format(_format_counts(arpa_counts),
                                                                       _format_counts(filtered_counts)))
    say("  {}: {} ({}); {}: {} (alpha {}, beta {})".format(
        paths["binary"], human_size(os.path.getsize(paths["binary"])), "trie -a {} -q {}".format(
            binary_a_bits, binary_q_bits) if binary_type == "trie" else binary_type, paths["scorer"],
        human_size(os.path.getsize(paths["scorer"])), default_alpha, default_beta))
    if keep_intermediate:
        say("  intermediate files kept: {}".format(", ".join(paths[name] for name in intermediate
                                                              if os.path.exists(paths[name]))))
    if (default_alpha, default_beta) == (DEFAULT_ALPHA, DEFAULT_BETA):
        say("  alpha {} and beta {} are DeepSpeech's defaults, tuned for its English model and scorer, not for this "
            "language model: tune them on a dev set with `python -m deepspeech_freeze.lm_optimizer --test_files "
            "dev.csv --checkpoint_dir CKPT --scorer_path {} --n_trials 100 --write_scorer tuned.scorer` (or pass "
            "--lm_alpha/--lm_beta)".format(default_alpha, default_beta, paths["scorer"]))
    say("  done in {:.1f} s".format(time.time() - started))
    return {"paths": paths, "stats": stats, "vocabulary": vocabulary, "arpa_counts": arpa_counts,
            "filtered_counts": filtered_counts, "package": package}


def _format_counts(counts):
    return ", ".join("{}-grams {:,}".format(n, count) for n, count in enumerate(counts, start=1))


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def main(_argv):
    build_scorer(FLAGS.input_txt, FLAGS.output_dir, FLAGS.alphabet, language=FLAGS.language,
                 keep_digits=FLAGS.keep_digits, top_k=FLAGS.top_k, arpa_order=FLAGS.arpa_order,
                 max_arpa_memory=FLAGS.max_arpa_memory, arpa_prune=FLAGS.arpa_prune,
                 binary_a_bits=FLAGS.binary_a_bits, binary_q_bits=FLAGS.binary_q_bits,
                 binary_type=FLAGS.binary_type, discount_fallback=FLAGS.discount_fallback,
                 default_alpha=FLAGS.default_alpha, default_beta=FLAGS.default_beta,
                 keep_intermediate=FLAGS.keep_intermediate, kenlm_bins=FLAGS.kenlm_bins)


def define_flags():
    flags.DEFINE_string("input_txt", "", "text corpus, one sentence per line (UTF-8; .gz allowed)")
    flags.DEFINE_string("output_dir", "", "folder for vocab-<top_k>.txt, lm.binary and kenlm.scorer")
    flags.DEFINE_string("alphabet", "", "alphabet file of the acoustic model; lines with other characters are "
                                        "dropped")
    flags.DEFINE_string("language", "de", "normalisation rules: de = German (numbers as words, ß -> ss); others: "
                                          "lower case, punctuation removed, num2words")
    flags.DEFINE_boolean("keep_digits", False, "keep digits instead of writing numbers as words (Swiss German "
                                               "alphabet)")
    flags.DEFINE_integer("top_k", 500000, "vocabulary size: the most frequent words kept in the model")
    flags.DEFINE_integer("arpa_order", 5, "n-gram order of the language model (2-6)")
    flags.DEFINE_string("max_arpa_memory", "25%", "lmplz/build_binary sorting memory (-S): a percentage of the RAM "
                                                  "or a size such as 2G")
    flags.DEFINE_string("arpa_prune", "0|0|1", "lmplz --prune thresholds per order, separated by '|'")
    flags.DEFINE_integer("binary_a_bits", 255, "build_binary -a: pointer compression bits (trie only; 0 = off)")
    flags.DEFINE_integer("binary_q_bits", 8, "build_binary -q: quantization bits (trie only; 0 = off)")
    flags.DEFINE_string("binary_type", "trie", "build_binary data structure: trie or probing")
    flags.DEFINE_boolean("discount_fallback", False, "lmplz --discount_fallback (needed for tiny corpora)")
    flags.DEFINE_float("default_alpha", DEFAULT_ALPHA, "language model weight stored in the scorer package")
    flags.DEFINE_float("default_beta", DEFAULT_BETA, "word insertion bonus stored in the scorer package")
    flags.DEFINE_boolean("keep_intermediate", False, "keep normalized.txt.gz, lm.arpa, lm_filtered.arpa and the "
                                                     "tools' logs")
    flags.DEFINE_string("kenlm_bins", "", "folder with lmplz and build_binary (default: next to this Python, "
                                          "then PATH)")


if __name__ == "__main__":
    define_flags()
    run_main(main)
