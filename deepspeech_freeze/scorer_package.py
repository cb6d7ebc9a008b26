"""Scorer packages (``.scorer`` files): their format, read and written here only, and checking one in a child
process before a decoder loads it.

A package is a KenLM binary language model (``build_binary -v``: no vocabulary strings) followed by DeepSpeech 0.7's
trailer: the magic ``'TRIE'``, version 6, a UTF-8-mode byte, the default alpha and beta, then an OpenFST dictionary
of the vocabulary spelled in alphabet labels. Where ds_ctcdecoder is installed (the TF 1.15 stack) it writes the
trailer itself (``fill_dictionary`` + ``save_dictionary``), as DeepSpeech's ``generate_package.py`` does; elsewhere
(the TF 2 stack: ds_ctcdecoder has no wheels past Python 3.8) :func:`dictionary_trailer` writes the same bytes in
Python. The format lives here only: its constants, that writer, and the reader (:func:`find_trailer`,
:func:`read_vocabulary`) that the decoder backends use.

ds_ctcdecoder ends the whole process on many files that are not complete packages: KenLM's exceptions abort it, a
damaged dictionary crashes it. So before a training, evaluation or transcription process loads a package,
:func:`check_scorer_package` loads it once in a child process with a *probe*, a function ``probe(path, alphabet)``
of the decoder backend that loads the package, uses it, and returns what it found
(``deepspeech_freeze.decoding:probe_scorer`` for ds_ctcdecoder, ``deepspeech_freeze.decoder_modern:probe_scorer``
for flashlight-text on the TF 2 stack). Whatever goes wrong in the child, an abort or a crash included, comes back as
one :class:`ScorerFileError`.
"""
import importlib
import json
import mmap
import os
import shutil
import signal
import struct
import subprocess
import sys

import numpy as np

from .errors import UserError

_KENLM = b"mmap lm http://kheafield.com/code"
KENLM_MAGIC = _KENLM + b" format version 5\n"  # how every KenLM binary ds_ctcdecoder 0.7.4 reads begins
# KenLM's header (lm/binary_format.hh): a "sanity" block (the magic with its two NULs padded to 8 bytes, three test
# floats, two word indices, padding, a uint64: 88 bytes), then the fixed parameters.
_KENLM_SANITY_BYTES = 88
_KENLM_PARAMETERS = struct.Struct("<B3xfIB3xI")  # order, probing multiplier, model type, has vocabulary, search v.

# ---------------------------------------------------------------------------------------------------------------
# The trailer's format: DeepSpeech 0.7's head, then an OpenFST ConstFst<StdArc> as OpenFST writes it. Written by
# dictionary_trailer() below, read by read_vocabulary(); the decoders only use these two.

TRAILER_MAGIC = b"EIRT"  # the int32 multi-char constant 'TRIE' as it lies on disk (little-endian)
TRAILER_VERSION = 6
TRAILER_HEAD = struct.Struct("<4siBdd")  # magic, version, UTF-8 mode byte, default alpha, default beta
FST_MAGIC = 2125659606  # OpenFST's kFstMagicNumber
FST_TYPE, FST_ARC_TYPE = b"const", b"standard"  # ConstFst over StdArc (int32 labels, tropical float32 weights)
FST_HEADER_TAIL = struct.Struct("<iiQqqq")  # file version, flags, properties, start state, #states, #arcs
FST_FLAG_SYMBOLS = 3  # input or output symbol table stored after the header (DeepSpeech never stores them)
FST_FLAG_ALIGNED = 4  # the state and arc tables start at multiples of FST_ALIGNMENT in the file
FST_ALIGNMENT = 16
CONST_FST_ALIGNED_VERSION = 1  # ConstFst's file version for aligned tables, the form ds_ctcdecoder writes
STATE_DTYPE = np.dtype([("final", "<f4"), ("first_arc", "<u4"), ("n_arcs", "<u4"), ("n_iepsilons", "<u4"),
                        ("n_oepsilons", "<u4")])
ARC_DTYPE = np.dtype([("ilabel", "<i4"), ("olabel", "<i4"), ("weight", "<f4"), ("next", "<i4")])
FINAL_WEIGHT, NOT_FINAL_WEIGHT = 0.0, float("inf")  # the tropical semiring's One and Zero
#: KenLM's markers, which ds_ctcdecoder's fill_dictionary never puts in the dictionary.
DICTIONARY_SKIPS = ("<s>", "</s>", "<unk>")

#: OpenFST's property bits (fst/properties.h) as (bit if true, bit if false). A ConstFst converted from another FST
#: stores every one of them computed, so one bit of each pair is set in its header; plus FST_EXPANDED (a ConstFst is
#: an ExpandedFst; it is not a MutableFst, bit 0x2).
FST_EXPANDED = 0x1
FST_PROPERTIES = {
    "acceptor": (0x10000, 0x20000),  # ilabel == olabel on every arc
    "i_deterministic": (0x40000, 0x80000),  # no two arcs of a state share an input label
    "o_deterministic": (0x100000, 0x200000),
    "epsilons": (0x400000, 0x800000),  # an arc with input and output label 0
    "i_epsilons": (0x1000000, 0x2000000),
    "o_epsilons": (0x4000000, 0x8000000),
    "i_label_sorted": (0x10000000, 0x20000000),  # each state's arcs sorted by input label
    "o_label_sorted": (0x40000000, 0x80000000),
    "weighted": (0x100000000, 0x200000000),  # an arc or final weight other than One (and Zero for finals)
    "cyclic": (0x400000000, 0x800000000),
    "initial_cyclic": (0x1000000000, 0x2000000000),
    "top_sorted": (0x4000000000, 0x8000000000),  # every arc goes to a higher state number
    "accessible": (0x10000000000, 0x20000000000),  # every state reachable from the start
    "co_accessible": (0x40000000000, 0x80000000000),  # a final state reachable from every state
    "string": (0x100000000000, 0x200000000000),  # one path 0 -> 1 -> ... -> last (final), nothing else
    "weighted_cycles": (0x400000000000, 0x800000000000),
}


class ScorerFileError(ValueError):
    """A file that is not a usable scorer package; the message says what is wrong with it."""


def describe_foreign_file(path):
    """What ``path`` is when its first bytes show it is not a KenLM binary (so not a package either), else None.

    Only for a better message than the decoder's: the child-process check is what keeps the caller alive."""
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if not head:
        return "it is empty"
    if head.startswith(KENLM_MAGIC):
        return None
    if head.startswith(_KENLM + b" incomplete"):
        return "it is a KenLM binary that did not finish building"
    if head.startswith(_KENLM + b" format version"):
        version = head[len(_KENLM + b" format version"):].split(b"\n", 1)[0].strip()
        if not version.isdigit():
            return "it is a KenLM binary with a damaged format line"
        return "it is a KenLM binary of format version {}, not 5 (rebuild it from the ARPA file)".format(
            version.decode("ascii"))
    if head.startswith(b"version https://git-lfs"):
        return "it is a Git LFS pointer, not the file itself (run git lfs pull, or download the file)"
    lines = [line.strip() for line in head.split(b"\n") if line.strip() and not line.strip().startswith(b"#")]
    if lines and lines[0] == b"\\data\\":
        return "it is an ARPA text language model, not a scorer package"
    if head.startswith(b"\x1f\x8b"):
        return "it is gzip-compressed"
    return "it does not start with a KenLM binary header"


def check_scorer_package(path, alphabet, probe):
    """Load package ``path`` with ``probe`` ("module:function") in a child process; returns what the probe found.

    The probe's dict (for ds_ctcdecoder: order, utf8, alpha, beta) comes back when the child loaded and used the
    package without a problem. A foreign file, a problem the probe reports, an error the decoder library logs, a
    child that aborts or crashes: each raises :class:`ScorerFileError` with what happened (the file's name is the
    caller's to add). ``alphabet`` is an :class:`~deepspeech_freeze.alphabet.Alphabet` (the child reads its file).
    """
    foreign = describe_foreign_file(path)
    if foreign:
        raise ScorerFileError(foreign)
    # The child must import this very package, wherever it lives, whatever the caller's directory.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join([root] + [p for p in [environment.get("PYTHONPATH")] if p])
    # The labels go along: a model's recorded alphabet (alphabet_guard) has no alphabet file of its own.
    result = subprocess.run([sys.executable, "-m", "deepspeech_freeze.scorer_package", probe, path, alphabet.path,
                             json.dumps(list(alphabet.labels))],
                            env=environment, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    said = [line.strip() for line in result.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    last = said[-1][:300] if said else ""  # KenLM's reason, OpenFST's error or the probe's exception
    detail = " ({})".format(last) if last else ""
    if result.returncode < 0:
        raise ScorerFileError("the decoder died loading it ({}{}): the file is truncated, damaged or not a scorer "
                              "package".format(signal.Signals(-result.returncode).name, ": " + last if last else ""))
    answers = [line for line in result.stdout.decode("utf-8", "replace").splitlines() if line.startswith("{")]
    if result.returncode != 0 or not answers:
        raise ScorerFileError("the check that loads it failed (exit status {}){}".format(result.returncode, detail))
    answer = json.loads(answers[-1])
    if "problem" in answer:
        raise ScorerFileError(answer["problem"] + detail)
    # OpenFST reports a dictionary it cannot read on stderr and carries on without it.
    logged = [line for line in said if line.startswith("ERROR:")]
    if logged:
        raise ScorerFileError("the decoder could not read all of it ({})".format(logged[-1][:300]))
    return answer["info"]


def run_probe(argv):
    """The child's side of :func:`check_scorer_package`: ``probe path alphabet_path [labels_json]``; one JSON line
    on stdout. With ``labels_json`` the alphabet is those labels (``alphabet_path`` only names it)."""
    from .alphabet import Alphabet

    probe, path, alphabet_path = argv[:3]
    module, function = probe.split(":")
    try:
        alphabet = (Alphabet.from_labels(json.loads(argv[3]), alphabet_path) if len(argv) > 3
                    else Alphabet(alphabet_path))
        answer = {"info": getattr(importlib.import_module(module), function)(path, alphabet)}
    except ScorerFileError as err:
        answer = {"problem": str(err)}
    sys.stdout.write("\n" + json.dumps(answer) + "\n")


class VocabularyError(ValueError):
    """The file holds no readable DeepSpeech vocabulary trailer; the message says what was found."""


def _string_at(data, position):
    (length,) = struct.unpack_from("<i", data, position)
    if not 0 <= length <= 64:
        raise VocabularyError("damaged FST header")
    start = position + 4
    return bytes(data[start:start + length]), start + length


def parse_const_fst(data, offset):
    """``(start, states, arcs, end)`` of the ConstFst starting at byte ``offset`` of ``data`` (the whole file, or a
    trailer written from offset 0); ``end`` is the offset just after its arc table. Raises
    :class:`VocabularyError` for anything but DeepSpeech's const/standard FST with every index inside its tables:
    ds_ctcdecoder follows the indices without bounds checks, so one flipped bit there crashes a decode later."""
    try:
        (magic,) = struct.unpack_from("<i", data, offset)
        if magic != FST_MAGIC:
            raise VocabularyError("no OpenFST magic number after the trailer")
        fst_type, position = _string_at(data, offset + 4)
        arc_type, position = _string_at(data, position)
        version, flags, _properties, start, n_states, n_arcs = FST_HEADER_TAIL.unpack_from(data, position)
    except struct.error:  # the header runs past the end of the data
        raise VocabularyError("the vocabulary FST is cut short")
    position += FST_HEADER_TAIL.size
    if fst_type != FST_TYPE or arc_type != FST_ARC_TYPE:
        raise VocabularyError("a {}/{} FST, not DeepSpeech's const/standard one".format(
            fst_type.decode("ascii", "replace"), arc_type.decode("ascii", "replace")))
    if flags & FST_FLAG_SYMBOLS:  # symbol tables stored in the header: DeepSpeech never writes them
        raise VocabularyError("an FST with symbol tables, which DeepSpeech does not write")
    if n_states < 0 or n_arcs < 0 or not -1 <= start < max(n_states, 1):
        raise VocabularyError("damaged FST header")

    def aligned(at):
        # OpenFST aligns the arrays to 16 bytes of the file position when its aligned flag is set.
        return (at + FST_ALIGNMENT - 1) // FST_ALIGNMENT * FST_ALIGNMENT if flags & FST_FLAG_ALIGNED else at

    states_at = aligned(position)
    arcs_at = aligned(states_at + n_states * STATE_DTYPE.itemsize)
    end = arcs_at + n_arcs * ARC_DTYPE.itemsize
    if end > len(data):
        raise VocabularyError("the vocabulary FST is cut short ({} bytes needed, {} in the file)".format(
            end, len(data)))
    states = np.frombuffer(data, dtype=STATE_DTYPE, count=n_states, offset=states_at)
    arcs = np.frombuffer(data, dtype=ARC_DTYPE, count=n_arcs, offset=arcs_at)
    n_state_arcs = states["n_arcs"].astype(np.int64)
    if n_states and (np.any(states["first_arc"].astype(np.int64) + n_state_arcs > n_arcs)
                     or np.any(states["n_iepsilons"] > n_state_arcs) or np.any(states["n_oepsilons"] > n_state_arcs)
                     or np.any(arcs["ilabel"] < 0) or np.any(arcs["olabel"] < 0)
                     or np.any(arcs["next"] < 0) or np.any(arcs["next"] >= n_states)):
        raise VocabularyError("the vocabulary FST is damaged (indices outside its tables)")
    return int(start), states, arcs, end


def find_trailer(data):
    """``(offset, utf8, alpha, beta)`` of the package trailer in ``data`` (the file's bytes).

    The trailer starts where KenLM's search data ends. Rather than recomputing KenLM's layout, every occurrence of
    the magic and version is tried and the one followed by a well-formed ConstFst is taken."""
    position = data.find(TRAILER_MAGIC)
    damaged = None  # the first trailer (head or dictionary) that did not read: where, and why
    other_version = None  # the last magic followed by another small version number
    while position >= 0:
        if position + TRAILER_HEAD.size > len(data):
            damaged = damaged or (position, "its head is cut short")
        else:
            _, version, utf8, alpha, beta = TRAILER_HEAD.unpack_from(data, position)
            if version != TRAILER_VERSION and 0 < version < 100:
                other_version = version
            if version == TRAILER_VERSION:
                try:
                    parse_const_fst(data, position + TRAILER_HEAD.size)
                except ValueError as err:  # a VocabularyError, or numpy's for a table past the end
                    damaged = damaged or (position, str(err) if isinstance(err, VocabularyError) else
                                          "the vocabulary FST is cut short")
                else:
                    return position, bool(utf8), alpha, beta
        position = data.find(TRAILER_MAGIC, position + 1)
    missing = "no DeepSpeech 0.7 scorer trailer (magic 'TRIE', version 6, an OpenFST vocabulary)"
    if damaged:
        # Truncated and damaged packages end here: say what was found, not only what was not.
        raise VocabularyError("{}: the one at byte {} is truncated or damaged ({})".format(missing, *damaged))
    if other_version is not None:
        raise VocabularyError("{}: its trailer is of version {} (DeepSpeech 0.7 reads version {}): rebuild it".format(
            missing, other_version, TRAILER_VERSION))
    raise VocabularyError(missing)


def read_vocabulary(path, alphabet):
    """The words of scorer package ``path`` (sorted), spelled with ``alphabet``'s labels, and its defaults.

    Returns ``(words, info)`` with ``info`` a dict of ``utf8``, ``alpha``, ``beta``, ``lm_bytes`` (where the
    trailer starts) and ``fst_end`` (where its dictionary ends; the file's size for a complete package). Arc labels
    are alphabet label indices + 1 (0 is OpenFST's epsilon); each word is stored with the space label that ends it,
    which is not part of the returned word."""
    with open(path, "rb") as handle:
        data = handle.read()
    offset, utf8, alpha, beta = find_trailer(data)
    start, states, arcs, end = parse_const_fst(data, offset + TRAILER_HEAD.size)
    words = []
    if start >= 0:
        labels = alphabet.labels
        # Depth-first over the (acyclic) dictionary; the stack holds (state, spelling so far).
        stack = [(start, [])]
        while stack:
            state, spelling = stack.pop()
            if len(spelling) > 1000:
                raise VocabularyError("the vocabulary FST has a cycle")
            record = states[state]
            if np.isfinite(record["final"]) and spelling:
                if utf8:
                    words.append(bytes(spelling).decode("utf-8", "replace"))
                else:
                    # ds_ctcdecoder stores each word with the space that ends it; the word is the rest.
                    words.append("".join(labels[label] for label in spelling).rstrip(" "))
            first = int(record["first_arc"])
            for arc in arcs[first:first + int(record["n_arcs"])]:
                label = int(arc["ilabel"]) - 1
                if not utf8 and not 0 <= label < alphabet.size:
                    raise VocabularyError("an arc label {} outside alphabet {} ({} labels)".format(
                        label + 1, getattr(alphabet, "path", ""), alphabet.size))
                stack.append((int(arc["next"]), spelling + [label]))
    return sorted(set(word for word in words if word)), {"utf8": utf8, "alpha": alpha, "beta": beta, "lm_bytes": offset,
                                                         "fst_end": end}


def kenlm_parameters(path):
    """``(order, has_vocabulary)`` from the header of the KenLM binary ``path``, or None when it has no readable one.

    ``has_vocabulary`` is True for binaries built without ``-v``: their vocabulary strings follow the search data,
    where a scorer package's trailer has to be."""
    with open(path, "rb") as handle:
        head = handle.read(_KENLM_SANITY_BYTES + _KENLM_PARAMETERS.size)
    if not head.startswith(KENLM_MAGIC) or len(head) < _KENLM_SANITY_BYTES + _KENLM_PARAMETERS.size:
        return None
    order, _, _, has_vocabulary, _ = _KENLM_PARAMETERS.unpack_from(head, _KENLM_SANITY_BYTES)
    return order, bool(has_vocabulary)


# ---------------------------------------------------------------------------------------------------------------
# The dictionary FST, written in Python (the TF 2 stack has no ds_ctcdecoder)

def dictionary_sequences(vocabulary_words, alphabet):
    """The label sequences of the words ds_ctcdecoder's ``fill_dictionary`` keeps, sorted and without repeats.

    A word is spelled with its characters' alphabet label index + 1 (OpenFST's label 0 is epsilon), followed by
    the space label + 1: ds_ctcdecoder ends every dictionary word with the space that separates it from the next.
    Left out, as ds_ctcdecoder leaves them out: empty words, KenLM's ``<s>``/``</s>``/``<unk>`` and words with a
    character that is not a label."""
    index = {label: number + 1 for number, label in enumerate(alphabet.labels)}
    space = index.get(" ")
    if space is None:
        raise UserError("alphabet {} has no space label: a scorer package's dictionary ends every word with it"
                        .format(getattr(alphabet, "path", alphabet)))
    sequences = set()
    for word in vocabulary_words:
        if not word or word in DICTIONARY_SKIPS:
            continue
        try:
            sequences.add(tuple(index[char] for char in word) + (space,))
        except KeyError:
            continue
    return sorted(sequences)


def _common_prefix_length(first, second):
    length = 0
    for a, b in zip(first, second):
        if a != b:
            break
        length += 1
    return length


def dictionary_fst(sequences):
    """``(start, states, arcs)``: the minimal deterministic acceptor of the label ``sequences`` (sorted, unique).

    The tables are ConstFst's (:data:`STATE_DTYPE`, :data:`ARC_DTYPE`); each state's arcs are sorted by label, as
    ds_ctcdecoder's SortedMatcher needs them; all weights are One. The states are numbered as ds_ctcdecoder's
    OpenFST numbers them, so that the file is the one ds_ctcdecoder writes byte for byte. ds_ctcdecoder determinizes
    the union of the word paths (the states of the result are the prefix trie's nodes, numbered breadth-first with
    each state's arcs in label order, i.e. by length, then alphabetically) and minimizes that: OpenFST's acyclic
    minimization groups the trie's nodes by height (longest path to a leaf), splits each group by right language,
    and keeps one node per class, whose number orders the result. The node it keeps is the highest-numbered one
    for the class that holds the group's highest-numbered node and the lowest-numbered one for every other class
    (the order in which its partition lists the nodes). Measured against ds_ctcdecoder 0.7.4 in
    tests/test_scorer_writer.py.

    Built here in one pass over the sorted sequences (Daciuk et al.'s incremental construction): the path of the
    previous word below the point where the next one leaves it is final, so its nodes are merged into their classes
    from the bottom up, while each trie node's breadth-first number is counted from the words' common prefixes.
    """
    if not sequences:
        return -1, np.zeros(0, STATE_DTYPE), np.zeros(0, ARC_DTYPE)
    # Breadth-first numbers: the nodes at depth d are numbered after all shallower ones, alphabetically. Word i
    # adds the nodes at depths lcp_i + 1 .. len_i (lcp_i: its common prefix with word i - 1).
    lcps = [0] + [_common_prefix_length(a, b) for a, b in zip(sequences, sequences[1:])]
    depth_limit = max(len(sequence) for sequence in sequences) + 2
    starts_and_ends = [0] * depth_limit
    for lcp, sequence in zip(lcps, sequences):
        starts_and_ends[lcp + 1] += 1
        starts_and_ends[len(sequence) + 1] -= 1
    first_number, count, number = [0] * depth_limit, 0, 1  # the root is node 0, alone at depth 0
    for depth in range(1, depth_limit):
        count += starts_and_ends[depth]
        first_number[depth] = number
        number += count
    numbered = [0] * depth_limit

    # Classes of nodes with the same right language: final?, arcs (label, class), height, lowest and highest node.
    register = {}
    finals, class_arcs, heights, lowest, highest = [], [], [], [], []
    # The current word's path: per depth, the arc label into the node, its finished arcs, final?, its node number.
    path_labels, path_arcs, path_final, path_numbers = [None], [[]], [False], [0]

    def close_deepest():
        final, arcs, node = path_final.pop(), tuple(path_arcs.pop()), path_numbers.pop()
        key = (final, arcs)
        found = register.get(key)
        if found is None:
            found = register[key] = len(finals)
            finals.append(final)
            class_arcs.append(arcs)
            heights.append(1 + max(heights[target] for _, target in arcs) if arcs else 0)
            lowest.append(node)
            highest.append(node)
        else:
            lowest[found] = min(lowest[found], node)
            highest[found] = max(highest[found], node)
        path_arcs[-1].append((path_labels.pop(), found))

    for lcp, sequence in zip(lcps, sequences):
        while len(path_labels) - 1 > lcp:
            close_deepest()
        for depth in range(lcp + 1, len(sequence) + 1):
            path_labels.append(sequence[depth - 1])
            path_arcs.append([])
            path_final.append(False)
            path_numbers.append(first_number[depth] + numbered[depth])
            numbered[depth] += 1
        path_final[-1] = True
    while len(path_labels) > 1:
        close_deepest()
    # The root is a class of its own (nothing else is as high), and node 0 keeps it first.
    root = len(finals)
    finals.append(False)
    class_arcs.append(tuple(path_arcs[0]))
    heights.append(1 + max(heights[target] for _, target in path_arcs[0]))
    lowest.append(0)
    highest.append(0)

    top = {}
    for height, high in zip(heights, highest):
        top[height] = max(top.get(height, -1), high)
    kept = [high if high == top[height] else low for height, low, high in zip(heights, lowest, highest)]
    order = sorted(range(len(finals)), key=kept.__getitem__)
    state_of = np.empty(len(order), np.int64)
    state_of[order] = np.arange(len(order))

    states = np.zeros(len(order), STATE_DTYPE)
    states["final"] = [FINAL_WEIGHT if finals[c] else NOT_FINAL_WEIGHT for c in order]
    states["n_arcs"] = [len(class_arcs[c]) for c in order]
    states["first_arc"][1:] = np.cumsum(states["n_arcs"])[:-1]
    flat = [arc for c in order for arc in class_arcs[c]]
    arcs = np.zeros(len(flat), ARC_DTYPE)
    if flat:
        labels, targets = zip(*flat)
        arcs["ilabel"] = arcs["olabel"] = labels
        arcs["next"] = state_of[list(targets)]
    return int(state_of[root]), states, arcs


def _reachable(first, counts, targets, sources):
    """Boolean mask of the states reachable from ``sources`` over arcs given as CSR (first, counts, targets)."""
    seen = np.zeros(len(first), bool)
    frontier = np.unique(np.asarray(sources, np.int64))
    seen[frontier] = True
    while frontier.size:
        spans = [targets[first[s]:first[s] + counts[s]] for s in frontier]
        following = np.unique(np.concatenate(spans)) if spans else np.zeros(0, np.int64)
        frontier = following[~seen[following]]
        seen[frontier] = True
    return seen


def fst_properties(start, states, arcs):
    """OpenFST's properties word of the ConstFst ``(start, states, arcs)``, every property computed from the tables.

    Raises ValueError for an FST with a cycle: a dictionary has none, and the cycle properties are only computed for
    acyclic FSTs here."""
    n_states = len(states)
    counts = states["n_arcs"].astype(np.int64)
    first = states["first_arc"].astype(np.int64)
    # Each arc's source state and its position in the arc table (arcs of a state need not follow each other).
    source = np.repeat(np.arange(n_states), counts)
    position = (np.arange(len(source)) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(first, counts))
    table = arcs[position] if len(source) else arcs[:0]
    ilabel, olabel, nexts = (table["ilabel"].astype(np.int64), table["olabel"].astype(np.int64),
                             table["next"].astype(np.int64))
    same_state = source[1:] == source[:-1]

    def repeats(labels):
        pairs = np.lexsort((labels, source))
        return bool(np.any((source[pairs][1:] == source[pairs][:-1]) & (labels[pairs][1:] == labels[pairs][:-1])))

    top_sorted = bool(np.all(nexts > source))
    if not top_sorted:  # a cycle? Kahn's algorithm removes every state of an acyclic FST
        in_degree = np.bincount(nexts, minlength=n_states)
        ready, removed = list(np.flatnonzero(in_degree == 0)), 0
        while ready:
            state = ready.pop()
            removed += 1
            for target in arcs["next"][first[state]:first[state] + counts[state]]:
                in_degree[target] -= 1
                if in_degree[target] == 0:
                    ready.append(target)
        if removed != n_states:
            raise ValueError("the FST has a cycle")
    finals = states["final"]
    is_final = finals != NOT_FINAL_WEIGHT
    csr_targets = arcs["next"].astype(np.int64)
    if n_states:
        accessible = bool(start >= 0 and np.all(_reachable(first, counts, csr_targets, [start])))
        # Co-accessible: reverse the arcs and walk back from the final states.
        order = np.argsort(nexts, kind="stable")
        reverse_counts = np.bincount(nexts, minlength=n_states)
        reverse_first = np.cumsum(reverse_counts) - reverse_counts
        co_accessible = bool(np.all(_reachable(reverse_first, reverse_counts, source[order],
                                               np.flatnonzero(is_final))))
        last = n_states - 1
        string = bool(start == 0 and is_final[last] and counts[last] == 0 and not np.any(is_final[:last])
                      and np.all(counts[:last] == 1) and np.all(nexts == source + 1))
    else:
        accessible = co_accessible = string = True
    facts = {
        "acceptor": bool(np.all(ilabel == olabel)),
        "i_deterministic": not repeats(ilabel),
        "o_deterministic": not repeats(olabel),
        "epsilons": bool(np.any((ilabel == 0) & (olabel == 0))),
        "i_epsilons": bool(np.any(ilabel == 0)),
        "o_epsilons": bool(np.any(olabel == 0)),
        "i_label_sorted": not bool(np.any(same_state & (ilabel[1:] < ilabel[:-1]))),
        "o_label_sorted": not bool(np.any(same_state & (olabel[1:] < olabel[:-1]))),
        "weighted": bool(np.any(table["weight"] != FINAL_WEIGHT)
                         or np.any(is_final & (finals != FINAL_WEIGHT))),
        "cyclic": False,
        "initial_cyclic": False,
        "top_sorted": top_sorted,
        "accessible": accessible,
        "co_accessible": co_accessible,
        "string": string,
        "weighted_cycles": False,
    }
    word = FST_EXPANDED
    for name, (if_true, if_false) in FST_PROPERTIES.items():
        word |= if_true if facts[name] else if_false
    return word


def _fst_string(text):
    return struct.pack("<i", len(text)) + text


def const_fst_bytes(start, states, arcs, position):
    """The ConstFst ``(start, states, arcs)`` as OpenFST writes it aligned, to be stored at file offset
    ``position`` (the tables start at multiples of 16 bytes of the file, so the padding depends on it)."""
    out = bytearray(struct.pack("<i", FST_MAGIC) + _fst_string(FST_TYPE) + _fst_string(FST_ARC_TYPE))
    out += FST_HEADER_TAIL.pack(CONST_FST_ALIGNED_VERSION, FST_FLAG_ALIGNED, fst_properties(start, states, arcs),
                                start, len(states), len(arcs))
    for table in (states, arcs):
        out += b"\0" * (-(position + len(out)) % FST_ALIGNMENT)
        out += np.ascontiguousarray(table).tobytes()
    return bytes(out)


def dictionary_trailer(vocabulary_words, alphabet, default_alpha, default_beta, position):
    """The package trailer ds_ctcdecoder 0.7.4 writes for ``vocabulary_words`` over ``alphabet``, to be appended at
    file offset ``position`` (the size of the KenLM binary): head (magic, version 6, UTF-8 mode off, alpha, beta),
    then the minimal dictionary FST (:func:`dictionary_fst`). ds_ctcdecoder keeps alpha and beta as C floats and
    stores them widened to doubles; they are rounded the same way here."""
    start, states, arcs = dictionary_fst(dictionary_sequences(vocabulary_words, alphabet))
    head = TRAILER_HEAD.pack(TRAILER_MAGIC, TRAILER_VERSION, 0, float(np.float32(default_alpha)),
                             float(np.float32(default_beta)))
    return head + const_fst_bytes(start, states, arcs, position + len(head))


def native_alphabet(alphabet):
    """ds_ctcdecoder's own Alphabet for ``alphabet``."""
    import ds_ctcdecoder

    serialized = alphabet.serialize()
    native = ds_ctcdecoder.Alphabet()
    if native.deserialize(serialized, len(serialized)) != 0:
        raise UserError("ds_ctcdecoder could not read alphabet {}".format(getattr(alphabet, "path", alphabet)))
    return native


def _ds_ctcdecoder_importable():
    try:
        import ds_ctcdecoder  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    except ImportError:
        return False
    return True


def write_scorer_package(lm_binary_path, vocabulary_words, alphabet, package_path, default_alpha, default_beta):
    """Write a ``.scorer`` package as DeepSpeech 0.7's ``generate_package.py`` does and return its path.

    ``lm_binary_path`` is a KenLM binary built without vocabulary strings (``build_binary -v``); the package is
    its bytes as they are, then the trailer. ``vocabulary_words`` are the words the decoder may spell;
    ds_ctcdecoder leaves out words with characters outside ``alphabet``. ``default_alpha``/``default_beta`` are
    stored in the package (the decoder's flags override them).

    ds_ctcdecoder writes the trailer where it is installed (the TF 1.15 stack), :func:`dictionary_trailer`
    elsewhere; both write the same bytes (tests/test_scorer_writer.py compares them).
    """
    path = lm_binary_path
    if not os.path.isfile(path):
        raise UserError("language model {} does not exist".format(path))
    foreign = describe_foreign_file(path)
    if foreign:
        raise UserError("language model {} is not a KenLM binary: {}; build one with build_binary -v".format(
            path, foreign))
    words = sorted({word for word in vocabulary_words if word})
    if not words:
        raise UserError("no vocabulary words given for scorer package {}".format(package_path))
    directory = os.path.dirname(os.path.abspath(package_path))
    if _ds_ctcdecoder_importable():
        scorer = _ds_ctcdecoder_dictionary(path, words, alphabet, default_alpha, default_beta)
        if not os.path.isdir(directory):
            os.makedirs(directory)
        shutil.copyfile(path, package_path)
        if not scorer.save_dictionary(package_path, True):
            raise UserError("could not append the vocabulary trailer to {}".format(package_path))
        return package_path
    _check_bare_kenlm_binary(path)
    trailer = dictionary_trailer(words, alphabet, default_alpha, default_beta, os.path.getsize(path))
    if not os.path.isdir(directory):
        os.makedirs(directory)
    shutil.copyfile(path, package_path)
    with open(package_path, "ab") as package:
        package.write(trailer)
    return package_path


def _ds_ctcdecoder_dictionary(path, words, alphabet, default_alpha, default_beta):
    """ds_ctcdecoder's Scorer with KenLM binary ``path`` loaded and its dictionary filled with ``words``."""
    import ds_ctcdecoder

    scorer = ds_ctcdecoder.Scorer()
    scorer.set_alphabet(native_alphabet(alphabet))
    scorer.set_utf8_mode(False)  # the dictionary spells alphabet labels (--utf8 is not supported)
    scorer.reset_params(float(default_alpha), float(default_beta))
    err = scorer.load_lm(path)
    if err == ds_ctcdecoder.DS_ERR_OK:
        raise UserError("language model {} already carries a vocabulary trailer (a scorer package?): give the bare "
                        "build_binary -v output".format(path))
    if err != ds_ctcdecoder.DS_ERR_SCORER_NO_TRIE:
        raise UserError("ds_ctcdecoder could not load language model {} (error 0x{:X})".format(path, err))
    scorer.fill_dictionary([word.encode("utf-8") for word in words])
    return scorer


def _check_bare_kenlm_binary(path):
    # What ds_ctcdecoder's load_lm refuses, checked without it: vocabulary strings where the trailer has to go, or
    # a trailer already there. (KenLM itself loads the file in the check that follows the writing, in lm.py.)
    parameters = kenlm_parameters(path)
    if parameters is None:
        raise UserError("language model {} has a damaged KenLM header: build it again with build_binary -v"
                        .format(path))
    if parameters[1]:
        raise UserError("language model {} stores its vocabulary strings (built without -v): build it with "
                        "build_binary -v, as a scorer package needs".format(path))
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        try:
            find_trailer(data)  # a scan of the file's bytes (mapped: language models can be gigabytes)
        except VocabularyError:
            return
    raise UserError("language model {} already carries a vocabulary trailer (a scorer package?): give the bare "
                    "build_binary -v output".format(path))


if __name__ == "__main__":
    # Run as a module this file is __main__: use the package's copy, whose ScorerFileError the probes raise.
    from deepspeech_freeze.scorer_package import run_probe as _run_probe

    _run_probe(sys.argv[1:])
