"""KenLM and scorer-package fixtures that only tests use: an ARPA -> KenLM probing-binary writer in pure Python,
a reader of KenLM's binary header and of DeepSpeech's scorer trailer at a known offset.

The product builds language models with KenLM's own ``lmplz`` and ``build_binary`` (``python -m
deepspeech_freeze.lm``); the tests need tiny hand-written models and a way to look inside the files they make, so
this writer and these readers live here (``test_matches_kenlm_build_binary`` proves the writer's output is
``build_binary -v probing``'s, byte for byte).
"""
import io
import re
import struct

import numpy as np

from deepspeech_freeze import lm
from deepspeech_freeze.errors import UserError

# ---------------------------------------------------------------------------------------------------------------
# KenLM binary header (lm/binary_format.cc, format version 5)

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

# Scorer trailer (native_client/ctcdecode/scorer.cpp): magic 'TRIE', version, utf8 byte, alpha, beta, then the FST.
TRAILER_MAGIC = struct.pack("<i", 0x54524945)  # the multi-char constant 'TRIE', little-endian on disk: b"EIRT"
TRAILER_HEAD = struct.Struct("<iiBdd")


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


def read_trailer(package_path, lm_bytes):
    """(magic, version, utf8, alpha, beta) of the trailer that starts ``lm_bytes`` into ``package_path`` (the size
    of the KenLM binary the package was made from)."""
    with open(package_path, "rb") as handle:
        handle.seek(lm_bytes)
        head = handle.read(TRAILER_HEAD.size)
    return (head[:4],) + TRAILER_HEAD.unpack(head)[1:]


def build_binary_path():
    """KenLM's build_binary, found the way ``python -m deepspeech_freeze.lm`` finds it."""
    return lm.find_tool("build_binary")


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
# Stand-in scorer probes for check_scorer_package (a backend names its own as "module:function")

def probe_that_aborts(path, alphabet):
    """Ends the child process the way KenLM's uncaught exceptions do."""
    import os
    os.abort()


def probe_that_refuses(path, alphabet):
    from deepspeech_freeze.scorer_package import ScorerFileError
    raise ScorerFileError("the test probe refuses {} labels".format(alphabet.size))


def probe_that_fails(path, alphabet):
    raise RuntimeError("the test probe has a bug")


def probe_that_accepts(path, alphabet):
    return {"utf8": False, "order": 0, "probe": "test", "labels": alphabet.size}
