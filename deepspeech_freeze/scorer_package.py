"""External scorer packages (``.scorer`` files) as DeepSpeech 0.7 reads them.

A package is a KenLM binary language model with a trailer appended at the offset where KenLM's search data ends:
int32 magic ``'TRIE'``, int32 version 6, one utf8-mode byte, float64 default alpha, float64 default beta, then an
OpenFST dictionary of the vocabulary spelled in alphabet labels. ds_ctcdecoder writes the trailer itself
(``Scorer.fill_dictionary`` + ``Scorer.save_dictionary``); this module feeds it a KenLM binary.

ds_ctcdecoder only loads KenLM *binaries*. Real corpora go through ``lmplz`` and ``build_binary -v`` (see
``python -m deepspeech_freeze.lm``); for ARPA files that are small enough to handle in Python (test fixtures, toy
grammars) :func:`arpa_to_kenlm_binary` writes KenLM's probing-hash binary format directly, byte for byte as
``build_binary -v probing`` would.
"""
import io
import os
import re
import shutil
import struct
import tempfile

import numpy as np

from .errors import UserError

# ---------------------------------------------------------------------------------------------------------------
# KenLM binary header (lm/binary_format.cc, format version 5)

KENLM_MAGIC_PREFIX = b"mmap lm http://kheafield.com/code"
KENLM_INCOMPLETE_MAGIC = b"mmap lm http://kheafield.com/code incomplete\n"
_KENLM_MAGIC = b"mmap lm http://kheafield.com/code format version 5\n\0\0"  # the C literal's explicit NUL + its end


def _align8(size):
    return ((size + 7) // 8) * 8


# "Sanity" block: the magic padded to 8 bytes, test floats 0, 1, -0.5, word indices 1 and 2^32-1, a padding word,
# and the uint64 1. A file whose first bytes equal this block is a KenLM binary built on a compatible machine.
KENLM_SANITY = (_KENLM_MAGIC.ljust(_align8(len(_KENLM_MAGIC)), b"\0")
                + struct.pack("<fffIIIQ", 0.0, 1.0, -0.5, 1, 0xFFFFFFFF, 0, 1))
_FIXED_PARAMETERS = struct.Struct("<B3xfIB3xI")  # order, probing multiplier, model type, has vocabulary, search ver.
KENLM_MODEL_TYPES = ("probing hash tables", "probing hash tables with rest costs", "trie", "trie with quantization",
                     "trie with array-compressed pointers", "trie with quantization and array-compressed pointers")
KENLM_MAX_ORDER = 6  # the order ds_ctcdecoder 0.7.4's KenLM was compiled for (KENLM_MAX_ORDER)

# Scorer trailer (native_client/ctcdecode/scorer.cpp)
TRAILER_MAGIC = struct.pack("<i", 0x54524945)  # the multi-char constant 'TRIE', little-endian on disk: b"EIRT"
TRAILER_VERSION = 6
_TRAILER_HEAD = struct.Struct("<iiBdd")


def kenlm_header_size(order):
    return _align8(len(KENLM_SANITY) + _FIXED_PARAMETERS.size + 8 * order)


def read_kenlm_header(path):
    """The header of a KenLM binary as a dict (order, counts, model_type, has_vocabulary, probing_multiplier,
    search_version, header_size), or None when ``path`` does not start with KenLM's binary header."""
    with open(path, "rb") as handle:
        head = handle.read(len(KENLM_SANITY) + _FIXED_PARAMETERS.size)
        if len(head) < len(KENLM_SANITY) + _FIXED_PARAMETERS.size or head[:len(KENLM_SANITY)] != KENLM_SANITY:
            return None
        order, multiplier, model_type, has_vocabulary, search_version = _FIXED_PARAMETERS.unpack(
            head[len(KENLM_SANITY):])
        raw_counts = handle.read(8 * order)
        if len(raw_counts) != 8 * order:
            return None
    return {"order": order, "probing_multiplier": multiplier, "model_type": model_type,
            "has_vocabulary": bool(has_vocabulary), "search_version": search_version,
            "counts": list(struct.unpack("<%dQ" % order, raw_counts)), "header_size": kenlm_header_size(order)}


class ScorerFileError(ValueError):
    """A file that ds_ctcdecoder must not be given; the message says what is wrong with it."""


def _required_bits(max_value):
    return max_value.bit_length()


def _chop_bits(max_offset, max_next, pointer_bits):
    # lm/bhiksha.cc ChopBits: how many high bits of the next-pointers go into the offset array.
    required = _required_bits(max_next)
    best_chop, lowest_change = 0, None
    for chop in range(0, min(required, pointer_bits) + 1):
        change = (max_next >> (required - chop)) * 64 - max_offset * chop
        if lowest_change is None or change < lowest_change:
            lowest_change, best_chop = change, chop
    return best_chop


def _bit_packed_size(entries, max_vocab, remaining_bits):
    return ((1 + entries) * (_required_bits(max_vocab) + remaining_bits) + 7) // 8 + 8


def kenlm_search_end(handle, header, file_size):
    """The byte offset where a KenLM binary's data ends (where DeepSpeech's scorer trailer starts).

    Mirrors the sizes KenLM computes when it maps a binary (lm/model.cc, search_hashed, search_trie, trie.cc,
    quantize.cc, bhiksha.cc) and checks the few configuration bytes it reads on the way, so that a damaged file is
    reported here instead of making KenLM throw (which ends the process inside ds_ctcdecoder).
    """
    counts, model_type, order = header["counts"], header["model_type"], header["order"]
    start = header["header_size"]

    def read_at(offset, size):
        if offset + size > file_size:
            raise ScorerFileError("it is truncated: it ends at byte {} inside the language model's data".format(
                file_size))
        handle.seek(offset)
        return handle.read(size)

    if model_type in (0, 1):  # probing hash tables (1: with rest costs)
        vocab = 8 + _probing_buckets(counts[0], header["probing_multiplier"]) * 12
        version, _ = struct.unpack("<II", read_at(start, 8))
        if version != 0:
            raise ScorerFileError("its probing vocabulary has version {} instead of 0".format(version))
        weights, middle_entry = (8, 16) if model_type == 0 else (12, 20)
        search = (counts[0] + 1) * weights
        for n in range(1, order - 1):
            search += _probing_buckets(counts[n], header["probing_multiplier"]) * middle_entry
        search += _probing_buckets(counts[-1], header["probing_multiplier"]) * 12
        return start + vocab + search
    # tries: 2 plain, 3 quantized, 4 array-compressed pointers, 5 both
    vocab = 8 + 8 * counts[0]
    (stored_words,) = struct.unpack("<Q", read_at(start, 8))
    if stored_words > counts[0]:
        raise ScorerFileError("its vocabulary claims {} words but the header counts {}".format(
            stored_words, counts[0]))
    offset = start + vocab
    quantized, compressed = model_type in (3, 5), model_type in (4, 5)
    if quantized:
        version, prob_bits, backoff_bits = struct.unpack("<BBB", read_at(offset, 3))
        if version != 2:
            raise ScorerFileError("its quantization has version {} instead of 2".format(version))
        if not (1 <= prob_bits <= 25 and 1 <= backoff_bits <= 25):
            raise ScorerFileError("its quantization bits ({}, {}) are outside 1-25".format(prob_bits, backoff_bits))
        longest_table = (1 << prob_bits) * 4
        quant = (order - 2) * ((1 << backoff_bits) * 4 + longest_table) + longest_table + 8
        middle_bits, longest_bits = prob_bits + backoff_bits, prob_bits
    else:
        quant, middle_bits, longest_bits = 0, 63, 31
    unigrams = (counts[0] + 2) * 16
    pointer_bits = 22  # KenLM's default; stored in the file when pointers are compressed and order > 2
    if compressed and order > 2:
        version, pointer_bits = struct.unpack("<BB", read_at(offset + quant + unigrams, 2))
        if version != 0:
            raise ScorerFileError("its pointer compression has version {} instead of 0".format(version))
    if _required_bits(counts[0]) > 57 or any(count + 1 >= (1 << 57) for count in counts):
        raise ScorerFileError("its n-gram counts are too large for KenLM")
    search = quant + unigrams
    for n in range(1, order - 1):
        entries, max_next = counts[n] + 1, counts[n + 1]
        if compressed:
            chop = _chop_bits(entries, max_next, pointer_bits)
            array = 8 * (1 + (max_next >> (_required_bits(max_next) - chop)) + 1) + 7
            inline = _required_bits(max_next) - chop
        else:
            array, inline = 0, _required_bits(max_next)
        search += array + _bit_packed_size(counts[n], counts[0], middle_bits + inline)
    search += _bit_packed_size(counts[-1], counts[0], longest_bits)
    return offset + search


_FST_MAGIC = 2125659606
_FST_ALIGNMENT = 16  # OpenFST's MappedFile::kArchAlignment
_CONST_STATE_BYTES = 20  # ConstFst<StdArc, uint32> state: final weight + 4 uint32
_STD_ARC_BYTES = 16  # StdArc: ilabel, olabel, weight, nextstate


def _fst_end(handle, offset, file_size):
    """Where the ConstFst written by ds_ctcdecoder's save_dictionary ends; raises ScorerFileError if damaged."""
    handle.seek(offset)
    data = handle.read(4096)

    def take(fmt, position):
        size = struct.calcsize(fmt)
        if position + size > len(data):
            raise ScorerFileError("its vocabulary dictionary is cut short")
        return struct.unpack_from(fmt, data, position), position + size

    def take_string(position):
        (length,), position = take("<i", position)
        if not 0 <= length <= 256 or position + length > len(data):
            raise ScorerFileError("its vocabulary dictionary has a damaged header")
        return data[position:position + length], position + length

    (magic,), position = take("<i", 0)
    if magic != _FST_MAGIC:
        raise ScorerFileError("its vocabulary dictionary does not start with OpenFST's magic number")
    fst_type, position = take_string(position)
    arc_type, position = take_string(position)
    (version, flags, _, start, states, arcs), position = take("<iiQqqq", position)
    if fst_type != b"const" or arc_type != b"standard" or version < 1 or flags & 3:
        raise ScorerFileError("its vocabulary dictionary is a {} FST of {} arcs (version {}, flags {}), not the "
                              "const/standard FST DeepSpeech writes".format(
                                  fst_type.decode("ascii", "replace"), arc_type.decode("ascii", "replace"),
                                  version, flags))
    if states < 0 or arcs < 0 or not -1 <= start < max(states, 1):
        raise ScorerFileError("its vocabulary dictionary has a damaged header")

    def align(position):
        if flags & 4:
            return ((position + _FST_ALIGNMENT - 1) // _FST_ALIGNMENT) * _FST_ALIGNMENT
        return position

    states_at = align(offset + position)
    arcs_at = align(states_at + states * _CONST_STATE_BYTES)
    end = arcs_at + arcs * _STD_ARC_BYTES
    if end > file_size:
        raise ScorerFileError("it is truncated: {} bytes, but its vocabulary dictionary ends at byte {}".format(
            file_size, end))
    # The decoder follows these arrays without bounds checks: make sure every index stays inside them.
    handle.seek(states_at)
    state_table = np.frombuffer(handle.read(states * _CONST_STATE_BYTES), dtype="<u4").reshape(states, 5)
    handle.seek(arcs_at)
    arc_table = np.frombuffer(handle.read(arcs * _STD_ARC_BYTES), dtype="<i4").reshape(arcs, 4)
    first, count = state_table[:, 1].astype(np.uint64), state_table[:, 2].astype(np.uint64)
    if (np.any(first + count > arcs) or np.any(state_table[:, 3] > state_table[:, 2])
            or np.any(state_table[:, 4] > state_table[:, 2]) or np.any(arc_table[:, 3] < 0)
            or np.any(arc_table[:, 3] >= states) or np.any(arc_table[:, :2] < 0)):
        raise ScorerFileError("its vocabulary dictionary is damaged (indices outside its tables)")
    return end


def check_kenlm_binary(handle, path, file_size):
    """(header, end of the language model's data) of the KenLM binary open in ``handle``, after the checks that
    keep KenLM from throwing (and so ending the process) when it maps the file; raises :class:`ScorerFileError`.
    The end may lie beyond ``file_size`` (a truncated file): callers decide what that means."""
    handle.seek(0)
    head = handle.read(4096)
    if not head.startswith(KENLM_SANITY):
        raise ScorerFileError(_describe_foreign_file(head))
    header = read_kenlm_header(path)
    if header is None:
        raise ScorerFileError("its KenLM header is cut short")
    if not 2 <= header["order"] <= KENLM_MAX_ORDER:
        raise ScorerFileError("its language model has order {}; ds_ctcdecoder supports orders 2 to {}".format(
            header["order"], KENLM_MAX_ORDER))
    if header["model_type"] >= len(KENLM_MODEL_TYPES):
        raise ScorerFileError("its KenLM model type {} is unknown".format(header["model_type"]))
    expected_search_version = 0 if header["model_type"] < 2 else 1
    if header["search_version"] != expected_search_version:
        raise ScorerFileError("its KenLM {} data has version {} instead of {}".format(
            KENLM_MODEL_TYPES[header["model_type"]], header["search_version"], expected_search_version))
    multiplier = header["probing_multiplier"]
    if not (np.isfinite(multiplier) and multiplier >= 1.0):
        raise ScorerFileError("its KenLM probing multiplier {} is not a number >= 1".format(multiplier))
    if header["model_type"] < 2 and header["counts"][0] >= 1 << 32:
        raise ScorerFileError("its vocabulary is too large for KenLM's probing tables")
    if header["has_vocabulary"]:
        # KenLM would look for vocabulary strings where the trailer is (and abort when they are not there).
        raise ScorerFileError("it is a KenLM binary that stores its vocabulary strings (built without "
                              "build_binary -v), not a scorer package")
    return header, kenlm_search_end(handle, header, file_size)


def inspect_scorer_package(path):
    """Check that ``path`` is a complete scorer package that ds_ctcdecoder 0.7.4 can load, without loading it.

    Returns a dict (order, counts, model_type, utf8, alpha, beta, lm_bytes, package_bytes). Raises
    :class:`ScorerFileError` saying what is wrong: not a KenLM binary (text, ARPA, Git LFS pointer, random bytes,
    an unfinished or foreign KenLM build), a truncated file, a language model without the vocabulary trailer, a
    trailer of another version, or a damaged dictionary. These checks come first because ds_ctcdecoder ends the
    whole process (abort or segmentation fault) on many of these files instead of returning an error.
    """
    file_size = os.path.getsize(path)
    with open(path, "rb") as handle:
        header, lm_end = check_kenlm_binary(handle, path, file_size)
        if lm_end > file_size:
            raise ScorerFileError("it is truncated: {} bytes, but its language model alone needs {}".format(
                file_size, lm_end))
        if lm_end == file_size:
            raise ScorerFileError("it is a bare KenLM language model without the vocabulary trailer of a scorer "
                                  "package")
        handle.seek(lm_end)
        trailer = handle.read(_TRAILER_HEAD.size)
        if trailer[:4] != TRAILER_MAGIC:
            raise ScorerFileError("the bytes after its language model are not DeepSpeech's scorer trailer")
        if len(trailer) < _TRAILER_HEAD.size:
            raise ScorerFileError("it is truncated inside the scorer trailer")
        _, version, utf8, alpha, beta = _TRAILER_HEAD.unpack(trailer)
        if version != TRAILER_VERSION:
            raise ScorerFileError("its scorer trailer has version {}, DeepSpeech 0.7 reads version {}{}".format(
                version, TRAILER_VERSION, " (an older package: rebuild it)" if version < TRAILER_VERSION else
                " (a newer DeepSpeech made it)"))
        if utf8 not in (0, 1):
            raise ScorerFileError("its UTF-8 mode byte is {}, not 0 or 1".format(utf8))
        fst_end = _fst_end(handle, lm_end + _TRAILER_HEAD.size, file_size)
    return {"order": header["order"], "counts": header["counts"],
            "model_type": KENLM_MODEL_TYPES[header["model_type"]], "utf8": bool(utf8), "alpha": alpha,
            "beta": beta, "lm_bytes": lm_end, "package_bytes": fst_end}


def _describe_foreign_file(head):
    if not head:
        return "it is empty"
    if head.startswith(KENLM_INCOMPLETE_MAGIC):
        return "it is a KenLM binary that did not finish building"
    if head.startswith(KENLM_MAGIC_PREFIX + b" format version"):
        version = head[len(KENLM_MAGIC_PREFIX + b" format version"):].split(b"\n", 1)[0].strip()
        if version != b"5":
            return "it is a KenLM binary of format version {}, not 5".format(version.decode("ascii", "replace"))
        return "it is a KenLM binary whose test values do not match this machine (another architecture?)"
    if head.startswith(b"version https://git-lfs"):
        return "it is a Git LFS pointer, not the file itself (run git lfs pull, or download the file)"
    lines = [line.strip() for line in head.split(b"\n") if line.strip() and not line.strip().startswith(b"#")]
    if lines and lines[0] == b"\\data\\":
        return "it is an ARPA text language model, not a scorer package"
    if head.startswith(b"\x1f\x8b"):
        return "it is gzip-compressed"
    return "it does not start with a KenLM binary header"


# ---------------------------------------------------------------------------------------------------------------
# ARPA -> KenLM probing binary

_MASK64 = (1 << 64) - 1
_MURMUR_M = 0xc6a4a7935bd1e995
_NGRAM_HASH_A = 8978948897894561157
_NGRAM_HASH_B = 17894857484156487943
_ARPA_SPACES = re.compile(rb"[ \t\r\n]+")  # KenLM's kARPASpaces: space, tab, CR, LF


def murmur_hash_64a(data, seed=0):
    """MurmurHash64A as KenLM uses it for vocabulary words (util/murmur_hash.cc), little-endian."""
    length = len(data)
    h = (seed ^ ((length * _MURMUR_M) & _MASK64)) & _MASK64
    whole = length // 8
    for (k,) in struct.iter_unpack("<Q", data[:whole * 8]):
        k = (k * _MURMUR_M) & _MASK64
        k ^= k >> 47
        k = (k * _MURMUR_M) & _MASK64
        h ^= k
        h = (h * _MURMUR_M) & _MASK64
    tail = data[whole * 8:]
    if tail:
        for i in reversed(range(len(tail))):
            h ^= tail[i] << (8 * i)
        h = (h * _MURMUR_M) & _MASK64
    h ^= h >> 47
    h = (h * _MURMUR_M) & _MASK64
    h ^= h >> 47
    return h


def _combine_word_hash(current, word_index):
    return (((current * _NGRAM_HASH_A) & _MASK64) ^ (((1 + word_index) * _NGRAM_HASH_B) & _MASK64)) & _MASK64


def _probing_buckets(entries, multiplier):
    # util::ProbingHashTable::Size with DivMod buckets; the product is computed in float32 as in KenLM.
    return max(entries + 1, int(np.float32(multiplier) * np.float32(entries)))


class _ProbingTable(object):
    """KenLM's linear-probing hash table (key 0 marks an empty bucket), kept as Python lists while building."""

    def __init__(self, entries, multiplier):
        self.buckets = _probing_buckets(entries, multiplier)
        self.keys = [0] * self.buckets
        self.values = [None] * self.buckets
        self.where = {}

    def insert(self, key, value):
        if len(self.where) + 1 >= self.buckets:
            raise OverflowError("probing hash table is full")
        slot = key % self.buckets
        while self.keys[slot] != 0:
            slot = slot + 1 if slot + 1 < self.buckets else 0
        self.keys[slot] = key
        self.values[slot] = value
        self.where.setdefault(key, slot)
        return slot


def _negative(value):
    """``value`` with its sign bit set (KenLM's util::SetSign): 0.0 becomes -0.0."""
    return -abs(value) if value != 0.0 else -0.0


def _parse_arpa(path):
    """(counts, sections) of an ARPA file; sections[n-1] is a list of (prob, words, backoff or None) byte tuples."""
    try:
        handle = io.open(path, "rb")
    except (IOError, OSError) as err:
        raise UserError("cannot read ARPA language model {}: {}".format(path, err))
    with handle:
        lines = iter(handle.read().split(b"\n"))

    def fail(message):
        raise UserError("ARPA language model {}: {}".format(path, message))

    line = b""
    for line in lines:
        stripped = line.strip()
        if stripped and not stripped.startswith(b"#"):
            break
    if line.strip() != b"\\data\\":
        fail("the first line that is not empty or a comment must be \\data\\")
    counts = []
    for line in lines:
        stripped = line.strip()
        if not stripped:
            break
        match = re.match(rb"ngram\s+(\d+)\s*=\s*(\d+)$", stripped)
        if not match or int(match.group(1)) != len(counts) + 1:
            fail("bad count line {!r}".format(stripped.decode("utf-8", "replace")))
        counts.append(int(match.group(2)))
    if len(counts) < 2:
        fail("KenLM needs at least a bigram model (found order {})".format(len(counts)))
    if len(counts) > KENLM_MAX_ORDER:
        fail("order {} is above {}, the most ds_ctcdecoder's KenLM supports".format(len(counts), KENLM_MAX_ORDER))
    sections = []
    for n, count in enumerate(counts, start=1):
        header = b""
        for header in lines:
            if header.strip():
                break
        if header.strip() != "\\{}-grams:".format(n).encode("ascii"):
            fail("expected the section \\{}-grams:".format(n))
        entries = []
        for line in lines:
            fields = [f for f in _ARPA_SPACES.split(line) if f]
            if not fields:
                break
            if len(fields) not in (n + 1, n + 2):
                fail("bad {}-gram line {!r}".format(n, line.decode("utf-8", "replace")))
            try:
                prob = float(fields[0])
                backoff = float(fields[n + 1]) if len(fields) == n + 2 else None
            except ValueError:
                fail("bad number in {}-gram line {!r}".format(n, line.decode("utf-8", "replace")))
            if prob > 0.0:
                fail("positive log10 probability in {}-gram line {!r}".format(n, line.decode("utf-8", "replace")))
            if backoff is not None and not np.isfinite(backoff):
                fail("bad back-off in {}-gram line {!r}".format(n, line.decode("utf-8", "replace")))
            if n == len(counts) and backoff:
                fail("the highest-order {}-gram line {!r} has a back-off".format(
                    n, line.decode("utf-8", "replace")))
            entries.append((prob, fields[1:n + 1], backoff))
        if len(entries) != count:
            fail("\\data\\ announces {} {}-grams but the section holds {}".format(count, n, len(entries)))
        sections.append(entries)
    rest = [line.strip() for line in lines if line.strip()]
    if not rest or rest[0] != b"\\end\\":
        fail("missing \\end\\ after the last section")
    return counts, sections


def arpa_to_kenlm_binary(arpa_path, binary_path, probing_multiplier=1.5):
    """Write the ARPA model ``arpa_path`` as a KenLM probing binary without vocabulary strings.

    The result is what ``build_binary -v -p <multiplier> probing`` writes. Pure Python: fine for test fixtures
    and small models (thousands of n-grams), too slow for real corpora (use lmplz + build_binary there). Models
    with pruned suffixes or contexts (which build_binary patches up) are refused.
    """
    counts, sections = _parse_arpa(arpa_path)
    order = len(counts)

    # Vocabulary: <unk> is index 0, the other words are numbered in the order the 1-grams list them.
    vocab = _ProbingTable(counts[0], probing_multiplier)
    index_of = {}
    unk_hashes = (murmur_hash_64a(b"<unk>"), murmur_hash_64a(b"<UNK>"))
    unigrams = [[0.0, 0.0] for _ in range(counts[0] + 1)]  # +1: KenLM's slot for a hallucinated <unk>
    saw_unk = False
    bound = 1
    for prob, (word,), backoff in sections[0]:
        hashed = murmur_hash_64a(word)
        if hashed in unk_hashes:
            index, saw_unk = 0, True
        elif hashed in vocab.where:
            raise UserError("ARPA language model {}: the 1-gram {!r} is listed twice".format(
                arpa_path, word.decode("utf-8", "replace")))
        else:
            index = bound
            vocab.insert(hashed, index)
            bound += 1
        index_of[word] = index
        unigrams[index] = [prob, -0.0 if not backoff else backoff]  # a zero back-off is stored as -0.0
    for marker in (b"<s>", b"</s>"):
        if marker not in index_of:
            raise UserError("ARPA language model {} has no {} 1-gram".format(arpa_path, marker.decode("ascii")))

    def index(word, n):
        try:
            return index_of[word]
        except KeyError:
            raise UserError("ARPA language model {}: the word {!r} appears in a {}-gram but not among the 1-grams"
                            .format(arpa_path, word.decode("utf-8", "replace"), n))

    def set_extension(weights):
        if weights[1] == 0.0:
            weights[1] = 0.0  # -0.0 -> +0.0: this n-gram is the context of a longer one

    tables = [_ProbingTable(counts[n - 1], probing_multiplier) for n in range(2, order + 1)]
    for n in range(2, order + 1):
        table = tables[n - 2]
        for prob, words, backoff in sections[n - 1]:
            ids = [index(word, n) for word in reversed(words)]  # last word first, as KenLM hashes them
            keys = [_combine_word_hash(ids[0], ids[1])]
            for h in range(1, n - 1):
                keys.append(_combine_word_hash(keys[-1], ids[h + 1]))
            value = [_negative(prob)] if n == order else [_negative(prob), -0.0 if not backoff else backoff]
            table.insert(keys[-1], value)
            # The suffix (words 2..n) now extends to the left: clear its sign bit.
            if n == 2:
                suffix = unigrams[ids[0]]
            else:
                slot = tables[n - 3].where.get(keys[n - 3])
                if slot is None:
                    raise UserError("ARPA language model {}: the {}-gram {!r} is present but its suffix is not; "
                                    "build this model with KenLM's build_binary instead".format(
                                        arpa_path, n, b" ".join(words).decode("utf-8", "replace")))
                suffix = tables[n - 3].values[slot]
            suffix[0] = abs(suffix[0])
            # The context (words 1..n-1) is extended to the right: its zero back-off becomes +0.0.
            if n == 2:
                set_extension(unigrams[ids[1]])
            else:
                context = ids[1]
                for i in range(2, n):
                    context = _combine_word_hash(context, ids[i])
                slot = tables[n - 3].where.get(context)
                if slot is None:
                    raise UserError("ARPA language model {}: the context of the {}-gram {!r} is not a {}-gram"
                                    .format(arpa_path, n, b" ".join(words).decode("utf-8", "replace"), n - 1))
                set_extension(tables[n - 3].values[slot])
    if not saw_unk:
        unigrams[0] = [-100.0, 0.0]  # KenLM's default for a model without <unk>

    out = bytearray()
    out += KENLM_SANITY
    out += _FIXED_PARAMETERS.pack(order, probing_multiplier, 0, 0, 0)  # probing, no vocabulary strings, version 0
    out += struct.pack("<%dQ" % order, *counts)
    out += b"\0" * (kenlm_header_size(order) - len(out))
    out += struct.pack("<II", 0, bound)  # ProbingVocabularyHeader: version 0, bound
    for key, value in zip(vocab.keys, vocab.values):
        out += struct.pack("<QI", key, value or 0)
    for prob, backoff in unigrams:
        out += struct.pack("<ff", prob, backoff)
    for n, table in enumerate(tables, start=2):
        for key, value in zip(table.keys, table.values):
            if n == order:
                out += struct.pack("<Qf", key, value[0] if value else 0.0)
            else:
                out += struct.pack("<Qff", key, *(value or (0.0, 0.0)))
    with open(binary_path, "wb") as handle:
        handle.write(bytes(out))
    return binary_path


# ---------------------------------------------------------------------------------------------------------------
# Packages

def _native_alphabet(alphabet):
    import ds_ctcdecoder

    serialized = alphabet.serialize()
    native = ds_ctcdecoder.Alphabet()
    if native.deserialize(serialized, len(serialized)) != 0:
        raise UserError("ds_ctcdecoder could not read alphabet {}".format(getattr(alphabet, "path", alphabet)))
    return native


def looks_like_arpa(path):
    with open(path, "rb") as handle:
        head = handle.read(4096)
    for line in head.split(b"\n"):
        line = line.strip()
        if line and not line.startswith(b"#"):
            return line == b"\\data\\"
    return False


def write_scorer_package(lm_binary_or_arpa_path, vocabulary_words, alphabet, package_path, default_alpha,
                         default_beta, utf8=False):
    """Write a ``.scorer`` package as DeepSpeech 0.7's ``generate_package.py`` does and return its path.

    ``lm_binary_or_arpa_path`` is a KenLM binary built without vocabulary strings (``build_binary -v``) or an ARPA
    file (converted with :func:`arpa_to_kenlm_binary`). ``vocabulary_words`` are the words the decoder may spell;
    ds_ctcdecoder leaves out words with characters outside ``alphabet``. ``default_alpha``/``default_beta`` are
    stored in the package (the decoder's flags override them).
    """
    import ds_ctcdecoder

    path = lm_binary_or_arpa_path
    if not os.path.isfile(path):
        raise UserError("language model {} does not exist".format(path))
    words = sorted({word for word in vocabulary_words if word})
    if not words:
        raise UserError("no vocabulary words given for scorer package {}".format(package_path))
    temp_dir = None
    try:
        if read_kenlm_header(path) is None and looks_like_arpa(path):
            temp_dir = tempfile.mkdtemp(prefix="scorer-package-")
            path = arpa_to_kenlm_binary(path, os.path.join(temp_dir, "lm.binary"))
        file_size = os.path.getsize(path)
        try:
            with open(path, "rb") as handle:
                _, lm_end = check_kenlm_binary(handle, path, file_size)
        except ScorerFileError as err:
            raise UserError("language model {} is not a usable KenLM binary or ARPA file: {}".format(path, err))
        if lm_end != file_size:
            raise UserError("language model {} is {} bytes but its KenLM data {} {} bytes: {}".format(
                path, file_size, "needs" if lm_end > file_size else "ends after", lm_end,
                "the file is truncated" if lm_end > file_size else "it already carries data after the model (a "
                "scorer package?); give the bare build_binary -v output"))
        scorer = ds_ctcdecoder.Scorer()
        scorer.set_alphabet(_native_alphabet(alphabet))
        scorer.set_utf8_mode(bool(utf8))
        scorer.reset_params(float(default_alpha), float(default_beta))
        err = scorer.load_lm(path)
        if err != ds_ctcdecoder.DS_ERR_SCORER_NO_TRIE:
            raise UserError("ds_ctcdecoder could not load language model {} (error 0x{:X})".format(path, err))
        scorer.fill_dictionary([word.encode("utf-8") for word in words])
        directory = os.path.dirname(os.path.abspath(package_path))
        if not os.path.isdir(directory):
            os.makedirs(directory)
        shutil.copyfile(path, package_path)
        if not scorer.save_dictionary(package_path, True):
            raise UserError("could not append the vocabulary trailer to {}".format(package_path))
    finally:
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
    return package_path
