"""The Python writer of DeepSpeech 0.7's scorer trailer (scorer_package.dictionary_trailer), which the TF 2 stack uses
because ds_ctcdecoder has no wheels there.

What it must write is what ds_ctcdecoder 0.7.4 writes: on the TF 1.15 stack the two are compared byte for byte; on
either stack the written dictionary is checked here without the writer's help (the words it spells, sorted and
deterministic arcs, minimality, the property word) and against a trailer ds_ctcdecoder wrote (recorded below); the
cross-stack test decodes with ds_ctcdecoder on TF 1.15 a package written on TF 2. The broken-path tests show that
these checks catch a writer with a wrong label offset or unsorted arcs.
"""
import os
import random
import struct
import subprocess

import numpy as np
import pytest

import kenlm_fixtures as fixtures
import stacks
from conftest import ENGLISH, GERMAN
from deepspeech_freeze import decoding, scorer_package
from deepspeech_freeze.alphabet import Alphabet
from deepspeech_freeze.errors import UserError
from test_decoding_metrics import ARPA, WORDS, frames_to_probs, spell

TINY = sorted(WORDS + ["don't", "a"])
ALPHA, BETA = 0.75, 1.85

# The trailer ds_ctcdecoder 0.7.4 wrote for TINY over the English alphabet with alpha 0.75, beta 1.85, starting at
# a 16-byte boundary of the file (save_dictionary after fill_dictionary; test_recorded_trailer_is_ds_ctcdecoders_tf1
# writes it again). Its dictionary is minimal: 11 states, 17 arcs.
DS_TINY_TRAILER = bytes.fromhex(
    "454952540600000000000000000000e83f000000a09999fd3fd6fdb27e05000000636f6e7374080000007374616e6461726401000000"
    "040000000100955a6aa5000000000000000000000b0000000000000011000000000000000000000000000000807f0000000007000000"
    "00000000000000000000807f070000000100000000000000000000000000807f080000000100000000000000000000000000807f0900"
    "00000100000000000000000000000000807f0a0000000100000000000000000000000000807f0b000000020000000000000000000000"
    "0000807f0d0000000100000000000000000000000000807f0e0000000100000000000000000000000000807f0f000000010000000000"
    "0000000000000000807f1000000001000000000000000000000000000000110000000000000000000000000000000000000002000000"
    "020000000000000009000000040000000400000000000000010000000500000005000000000000000200000009000000090000000000"
    "000001000000100000001000000000000000030000001400000014000000000000000100000015000000150000000000000004000000"
    "02000000020000000000000008000000100000001000000000000000050000000f0000000f0000000000000009000000090000000900"
    "00000000000006000000080000000800000000000000090000000f0000000f0000000000000007000000060000000600000000000000"
    "090000001c0000001c0000000000000008000000150000001500000000000000090000000100000001000000000000000a000000")
# Property words ds_ctcdecoder wrote (OpenFST computes every property of the ConstFst it saves).
DS_WORD_SEVERAL = 0xa56a5a950001  # acceptor, deterministic, sorted, no epsilons, unweighted, acyclic, top-sorted...
DS_WORD_ONE_WORD = 0x956a5a950001  # ... and a string (one path)
DS_WORD_NOT_TOP_SORTED = 0xa5aa5a950001  # several words, some arc to a lower state number


def generated_words(count, seed, letters="bcdfghklmnprstvwz", vowels="aeiou"):
    """German-looking words with shared prefixes, stems and endings: a dictionary with much to merge."""
    rng = random.Random(seed)
    stems = ["".join(rng.choice(letters) + rng.choice(vowels) for _ in range(rng.randint(1, 3)))
             for _ in range(max(1, count // 4))]
    prefixes, endings = ["", "", "ver", "be", "ge", "un", "aus"], ["", "en", "er", "ung", "lich", "s", "te", "'s"]
    return sorted({rng.choice(prefixes) + rng.choice(stems) + rng.choice(endings) for _ in range(count)})


VOCABULARIES = {
    "tiny": (ENGLISH, TINY),
    "one word": (ENGLISH, ["cat"]),
    "markers and foreign words": (ENGLISH, ["<s>", "</s>", "<unk>", "café", "Cat", "", "dog", "the"]),
    "nothing spellable": (ENGLISH, ["café", "ÄÖ"]),
    "space inside a word": (ENGLISH, ["a b", "a"]),
    "shared parts": (ENGLISH, generated_words(3000, 1)),
    "german": (GERMAN, generated_words(2000, 2, vowels="aeiouäöü") + ["grüsse", "füsse", "öztürk"]),
}


def spellable(words, alphabet):
    """The words ds_ctcdecoder's dictionary holds (worked out here, not by the writer): every character a label,
    not empty and not one of KenLM's markers."""
    return sorted({word for word in words if word and word not in ("<s>", "</s>", "<unk>")
                   and all(char in alphabet.labels for char in word)})


def package_bytes(binary, trailer):
    with open(binary, "rb") as handle:
        return handle.read() + trailer


@pytest.fixture(scope="module")
def lm_arpa(tmp_path_factory):
    path = tmp_path_factory.mktemp("writer") / "lm.arpa"
    path.write_text(ARPA)
    return str(path)


@pytest.fixture(scope="module")
def lm_binary(lm_arpa):
    """test_decoding_metrics' trigram model as a KenLM probing binary without vocabulary strings (560 bytes)."""
    return fixtures.arpa_to_kenlm_binary(lm_arpa, os.path.join(os.path.dirname(lm_arpa), "lm.binary"))


def read_fst(data):
    """(trailer offset, start, states, arcs, properties word) of the package bytes ``data``, by the reader."""
    offset = scorer_package.find_trailer(data)[0]
    start, states, arcs, end = scorer_package.parse_const_fst(data, offset + scorer_package.TRAILER_HEAD.size)
    assert end == len(data)
    # magic, "const", "standard", version, flags: the properties word follows them.
    (properties,) = struct.unpack_from("<Q", data, offset + scorer_package.TRAILER_HEAD.size + 4 + 9 + 12 + 8)
    return offset, start, states, arcs, properties


def residual_languages(words, alphabet):
    """The number of distinct sets of endings {w : prefix + w is a dictionary word} over all prefixes: the number of
    states of the minimal deterministic acceptor (without a dead state)."""
    index = {label: number + 1 for number, label in enumerate(alphabet.labels)}
    endings = {}
    for word in words:
        labels = tuple(index[char] for char in word) + (index[" "],)
        for cut in range(len(labels) + 1):
            endings.setdefault(labels[:cut], set()).add(labels[cut:])
    return len({frozenset(value) for value in endings.values()})


def dictionary_problems(path, alphabet, expected_words):
    """What is wrong with the dictionary of package ``path`` for ``expected_words``; [] when nothing is.

    Checked from the file, independently of the writer: the words it spells (read_vocabulary), each state's arcs
    strictly increasing by label (sorted and deterministic: ds_ctcdecoder's SortedMatcher searches them by
    bisection), labels inside the alphabet, no epsilons or weights, words ending with the space label, as few states
    as the vocabulary's distinct sets of endings, and the property bits that must hold for such an acceptor."""
    problems = []
    try:
        words, _ = scorer_package.read_vocabulary(path, alphabet)
    except scorer_package.VocabularyError as err:
        return ["unreadable: {}".format(err)]
    if words != expected_words:
        problems.append("spells {} words, {} of them not in the vocabulary".format(
            len(words), len(set(words) - set(expected_words))))
    with open(path, "rb") as handle:
        _, start, states, arcs, properties = read_fst(handle.read())
    space = alphabet.labels.index(" ") + 1
    finals = np.flatnonzero(states["final"] == 0.0)
    for state, (first, count) in enumerate(zip(states["first_arc"], states["n_arcs"])):
        labels = arcs["ilabel"][first:first + count]
        if np.any(np.diff(labels) <= 0):
            problems.append("the arcs of state {} are not strictly increasing by label".format(state))
            break
    if np.any(arcs["ilabel"] != arcs["olabel"]) or np.any(arcs["weight"] != 0.0):
        problems.append("not an unweighted acceptor")
    if np.any(arcs["ilabel"] < 1) or np.any(arcs["ilabel"] > alphabet.size):
        problems.append("labels outside 1..{}".format(alphabet.size))
    if np.any(states["n_iepsilons"]) or np.any(states["n_oepsilons"]) or not np.all(
            np.isin(states["final"], [0.0, np.inf])):
        problems.append("epsilon counts or final weights other than ds_ctcdecoder's")
    if np.any(arcs["ilabel"][np.isin(arcs["next"], finals)] != space):
        problems.append("an arc into a final state that is not the space label")
    if expected_words and len(states) != residual_languages(expected_words, alphabet):
        problems.append("{} states, the minimal acceptor has {}".format(
            len(states), residual_languages(expected_words, alphabet)))
    source = np.repeat(np.arange(len(states)), states["n_arcs"])
    bits = {"acceptor": 0x10000, "i-deterministic": 0x40000, "o-deterministic": 0x100000, "no epsilons": 0x800000,
            "no i-epsilons": 0x2000000, "no o-epsilons": 0x8000000, "i-label sorted": 0x10000000,
            "o-label sorted": 0x40000000, "unweighted": 0x200000000, "acyclic": 0x800000000,
            "initial acyclic": 0x2000000000, "accessible": 0x10000000000, "co-accessible": 0x40000000000,
            "unweighted cycles": 0x800000000000, "expanded": 0x1,
            "top-sorted" if np.all(arcs["next"] > source) else "not top-sorted":
                0x4000000000 if np.all(arcs["next"] > source) else 0x8000000000,
            "string" if len(expected_words) <= 1 else "not a string":
                0x100000000000 if len(expected_words) <= 1 else 0x200000000000}
    if properties != sum(bits.values()):
        problems.append("property word 0x{:x}, not 0x{:x} ({})".format(properties, sum(bits.values()),
                                                                        ", ".join(sorted(bits))))
    return problems


def write_python_package(binary, words, alphabet, path, alpha=ALPHA, beta=BETA):
    """A package with the Python writer's trailer, on either stack (write_scorer_package picks ds_ctcdecoder where
    it is installed)."""
    trailer = scorer_package.dictionary_trailer(words, alphabet, alpha, beta, os.path.getsize(binary))
    with open(path, "wb") as handle:
        handle.write(package_bytes(binary, trailer))
    return str(path)


# --- on both stacks --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(VOCABULARIES))
def test_python_dictionary_spells_the_vocabulary_and_nothing_else(name, lm_binary, tmp_path):
    alphabet_path, words = VOCABULARIES[name]
    alphabet = Alphabet(alphabet_path)
    path = write_python_package(lm_binary, words, alphabet, tmp_path / "p.scorer")
    assert dictionary_problems(path, alphabet, spellable(words, alphabet)) == []


def test_python_trailer_is_the_one_ds_ctcdecoder_wrote(lm_binary, tmp_path):
    alphabet = Alphabet(ENGLISH)
    assert scorer_package.dictionary_trailer(TINY, alphabet, ALPHA, BETA, 560) == DS_TINY_TRAILER
    # At another position only the padding before the tables changes (they start at 16-byte file offsets).
    # Header 90 bytes, then 6 bytes of padding at 560 (to 656), 3 at 563: the rest is the same.
    moved = scorer_package.dictionary_trailer(TINY, alphabet, ALPHA, BETA, 563)
    assert moved[:90] == DS_TINY_TRAILER[:90] and moved[90:93] == bytes(3) and moved[93:] == DS_TINY_TRAILER[96:]
    for name, expected in (("tiny", DS_WORD_SEVERAL), ("one word", DS_WORD_ONE_WORD),
                           ("shared parts", DS_WORD_NOT_TOP_SORTED)):
        path = write_python_package(lm_binary, VOCABULARIES[name][1], alphabet, tmp_path / "x.scorer")
        with open(path, "rb") as handle:
            assert read_fst(handle.read())[4] == expected, name


def test_package_writer_on_this_stack(lm_arpa, lm_binary, tmp_path):
    """write_scorer_package (ds_ctcdecoder on TF 1.15, the Python writer on TF 2): the KenLM binary as it is, then
    the trailer ds_ctcdecoder writes; and the files it refuses."""
    alphabet = Alphabet(ENGLISH)
    package = scorer_package.write_scorer_package(lm_binary, TINY + ["café"], alphabet, str(tmp_path / "a.scorer"),
                                                  ALPHA, BETA)
    assert open(package, "rb").read() == package_bytes(lm_binary, DS_TINY_TRAILER)
    with pytest.raises(UserError, match="already carries a vocabulary trailer"):
        scorer_package.write_scorer_package(package, TINY, alphabet, str(tmp_path / "b.scorer"), ALPHA, BETA)
    with_vocabulary = str(tmp_path / "with-vocabulary.binary")  # build_binary without -v
    subprocess.run([fixtures.build_binary_path(), "probing", lm_arpa, with_vocabulary], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with pytest.raises(UserError, match=r"language model .*with-vocabulary\.binary"):
        scorer_package.write_scorer_package(with_vocabulary, TINY, alphabet, str(tmp_path / "c.scorer"), ALPHA, BETA)
    assert not (tmp_path / "b.scorer").exists() and not (tmp_path / "c.scorer").exists()


# --- broken paths: a writer with a bug fails the checks above ----------------------------------------------------

def broken_trailer(words, alphabet, position, bug):
    """The Python writer's trailer with one deliberate bug, made from its tables (the property word stays the one
    the correct writer computes, as a writer that only got the tables wrong would write it)."""
    start, states, arcs = scorer_package.dictionary_fst(scorer_package.dictionary_sequences(words, alphabet))
    properties = scorer_package.fst_properties(start, states, arcs)
    arcs = arcs.copy()
    if bug == "labels from 0":  # the alphabet index itself, without OpenFST's +1 for epsilon
        arcs["ilabel"] -= 1
        arcs["olabel"] -= 1
    elif bug == "unsorted arcs":  # each state's arcs in reverse label order
        for first, count in zip(states["first_arc"], states["n_arcs"]):
            arcs[first:first + count] = arcs[first:first + count][::-1].copy()
    elif bug == "not minimal":  # the state before the final one (its one arc: the space) copied for one word
        before_final = len(states) - 2
        copy = states[before_final:before_final + 1].copy()
        copy["first_arc"] = len(arcs)
        states = np.concatenate([states, copy])
        arcs["next"][np.flatnonzero(arcs["next"] == before_final)[0]] = len(states) - 1
        arcs = np.concatenate([arcs, arcs[states["first_arc"][before_final]:][:1]])
    head = scorer_package.TRAILER_HEAD.pack(scorer_package.TRAILER_MAGIC, 6, 0, ALPHA, float(np.float32(BETA)))
    fst = bytearray(scorer_package.const_fst_bytes(start, states, arcs, position + len(head)))
    fst[4 + 9 + 12 + 8:4 + 9 + 12 + 16] = struct.pack("<Q", properties)
    return head + bytes(fst)


BUGS = ("labels from 0", "unsorted arcs", "not minimal")


@pytest.mark.parametrize("bug", BUGS)
def test_broken_writer_fails_the_dictionary_check(bug, lm_binary, tmp_path):
    alphabet = Alphabet(ENGLISH)
    path = tmp_path / "broken.scorer"
    path.write_bytes(package_bytes(lm_binary, broken_trailer(TINY, alphabet, os.path.getsize(lm_binary), bug)))
    problems = dictionary_problems(str(path), alphabet, TINY)
    expected = {"labels from 0": "outside alphabet", "unsorted arcs": "not strictly increasing",
                "not minimal": "12 states, the minimal acceptor has 11"}[bug]
    assert any(expected in problem for problem in problems), problems
    assert path.read_bytes() != package_bytes(lm_binary, DS_TINY_TRAILER)


def test_property_word_follows_the_tables():
    """fst_properties computes the word from the tables: each change below flips the property bits it should and
    no others. (TINY's dictionary: state 0 has seven arcs, a -> 9, c -> 1, d -> 2, h -> 1, o -> 3, s -> 1, t -> 4;
    state 9's one arc is the space into state 10, the final state; the only way into state 4 is t.)"""
    start, states, arcs = scorer_package.dictionary_fst(
        scorer_package.dictionary_sequences(TINY, Alphabet(ENGLISH)))
    good = scorer_package.fst_properties(start, states, arcs)
    assert good == DS_WORD_SEVERAL
    assert list(arcs["ilabel"][:7]) == [2, 4, 5, 9, 16, 20, 21] and list(arcs["next"][:7]) == [9, 1, 2, 1, 3, 1, 4]
    assert (arcs["ilabel"][16], arcs["next"][16], states["final"][10]) == (1, 10, 0.0)

    def flips(change):
        new_states, new_arcs = states.copy(), arcs.copy()
        change(new_states, new_arcs)
        word = scorer_package.fst_properties(start, new_states, new_arcs)
        for yes, no in scorer_package.FST_PROPERTIES.values():
            assert bool(word & yes) != bool(word & no)  # every property known, one bit of each pair
        return sorted(name for name, (yes, no) in scorer_package.FST_PROPERTIES.items()
                      if (word & (yes | no)) != (good & (yes | no)))

    def reverse_root(_, a):
        a[:7] = a[:7][::-1].copy()

    def repeat_label(_, a):
        a["ilabel"][1] = a["olabel"][1] = 2  # c becomes a second a

    def input_epsilon(_, a):
        a["ilabel"][0] = 0

    def weight(_, a):
        a["weight"][3] = 0.5

    def final_weight(s, _):
        s["final"][10] = 0.25

    def skip_state(_, a):
        a["next"][6] = 6  # t leads past state 4, which nothing reaches any more

    def no_final(s, _):
        s["final"][10] = np.inf

    def backwards(_, a):
        a["next"][11] = 3  # state 5's g goes to state 3, a lower number (still no cycle)

    assert flips(reverse_root) == ["i_label_sorted", "o_label_sorted"]
    assert flips(repeat_label) == ["i_deterministic", "o_deterministic"]
    assert flips(input_epsilon) == ["acceptor", "i_epsilons"]
    assert flips(weight) == ["weighted"] and flips(final_weight) == ["weighted"]
    assert flips(skip_state) == ["accessible"]
    assert flips(no_final) == ["co_accessible"]
    assert flips(backwards) == ["top_sorted"]

    def cycle(_, a):
        a["next"][16] = 0  # the space arc back to the start

    with pytest.raises(ValueError, match="cycle"):
        flips(cycle)
    # The one-word dictionary is a string: 0 -> 1 -> ... -> last, the last final.
    start, states, arcs = scorer_package.dictionary_fst(
        scorer_package.dictionary_sequences(["cat"], Alphabet(ENGLISH)))
    assert list(arcs["next"]) == [1, 2, 3, 4] and scorer_package.fst_properties(start, states, arcs) == \
        DS_WORD_ONE_WORD


# --- TF 1.15: ds_ctcdecoder itself ------------------------------------------------------------------------------

def ds_trailer(words, alphabet, binary, position, alpha=ALPHA, beta=BETA):
    """The trailer ds_ctcdecoder 0.7.4 writes for ``words`` at file offset ``position``."""
    import ds_ctcdecoder

    scorer = ds_ctcdecoder.Scorer()
    scorer.set_alphabet(scorer_package.native_alphabet(alphabet))
    scorer.set_utf8_mode(False)
    scorer.reset_params(alpha, beta)
    assert scorer.load_lm(binary) == ds_ctcdecoder.DS_ERR_SCORER_NO_TRIE
    scorer.fill_dictionary([word.encode("utf-8") for word in words])
    return decoding._saved_trailer(scorer, position)


@stacks.only_on("tf1", "ds_ctcdecoder 0.7.4 exists for Python <= 3.8 only")
def test_python_trailer_is_ds_ctcdecoders_byte_for_byte_tf1(lm_binary):
    for name, (alphabet_path, words) in sorted(VOCABULARIES.items()):
        alphabet = Alphabet(alphabet_path)
        for position in ((0, 1, 7, 15, 16, 560, 573) if name == "tiny" else (0, 9)):
            mine = scorer_package.dictionary_trailer(words, alphabet, ALPHA, BETA, position)
            assert mine == ds_trailer(words, alphabet, lm_binary, position), (name, position)
    # alpha and beta are rounded to C floats as ds_ctcdecoder rounds them.
    odd = (0.931289039105002, 1.1834137581510284)
    assert (scorer_package.dictionary_trailer(TINY, Alphabet(ENGLISH), odd[0], odd[1], 0)
            == ds_trailer(TINY, Alphabet(ENGLISH), lm_binary, 0, *odd))


@stacks.only_on("tf1", "ds_ctcdecoder 0.7.4 exists for Python <= 3.8 only")
def test_recorded_trailer_is_ds_ctcdecoders_tf1(lm_binary):
    assert ds_trailer(TINY, Alphabet(ENGLISH), lm_binary, 560) == DS_TINY_TRAILER


# --- across the stacks: written on TF 2, decoded by ds_ctcdecoder on TF 1.15 --------------------------------------

# ``binary words_file package alphabet``: write_scorer_package with what this stack has; prints the writer.
WRITE = r'''
import json, sys
from deepspeech_freeze import scorer_package
from deepspeech_freeze.alphabet import Alphabet
binary, words_file, package, alphabet = sys.argv[1:5]
words = open(words_file, encoding="utf-8").read().split("\n")
scorer_package.write_scorer_package(binary, words, Alphabet(alphabet), package, 0.75, 1.85)
print(json.dumps({"ds_ctcdecoder": scorer_package._ds_ctcdecoder_importable()}))
'''

# ``alphabet probs.npy package...``: decoding.load_scorer (the stack's child-process check first) and beam search.
DECODE = r'''
import json, sys
import numpy as np
from deepspeech_freeze import decoding
from deepspeech_freeze.alphabet import Alphabet
from deepspeech_freeze.errors import UserError
alphabet, probs = Alphabet(sys.argv[1]), np.load(sys.argv[2])
lengths = [probs.shape[1]] * probs.shape[0]
out = {"ds_ctcdecoder": decoding.use_ds_ctcdecoder(),
       "none": decoding.beam_search_batch(probs, lengths, alphabet, 32, num_processes=1)}
for path in sys.argv[3:]:
    try:
        scorer = decoding.load_scorer(path, alphabet, 0.931289039105002, 1.1834137581510284)
        out[path] = decoding.beam_search_batch(probs, lengths, alphabet, 32, scorer=scorer, num_processes=1)
    except UserError as err:
        out[path] = "refused: " + str(err)
print(json.dumps(out))
'''

SENTENCES = ["the cat sat", "the dog", "don't", "a cat", "hat on the cat", "the dog sat on", "sat"]


def utterances(alphabet, seed=5):
    """Softmax outputs that spell SENTENCES with noise: some letters blurred with a neighbour, some blanks made
    doubtful, the same length each (padded with blank frames)."""
    rng = np.random.RandomState(seed)
    letters = [label for label in alphabet.labels if label not in (" ", "'")]
    batch = []
    for text in SENTENCES:
        frames = []
        for char in text:
            frame = {char: 0.9}
            if char != " " and rng.rand() < 0.35:
                frame = {char: 0.5, rng.choice(letters): 0.45}
            frames += [frame, {} if rng.rand() < 0.7 else {" ": 0.3}]
        frames += [{}] * (2 * max(len(t) for t in SENTENCES) - len(frames))
        batch.append(frames_to_probs(frames, alphabet)[0])
    return np.stack(batch)


def test_cross_stack_python_written_package_decodes_in_ds_ctcdecoder_like_its_own(lm_binary, tmp_path):
    """The same KenLM binary and vocabulary packaged by ds_ctcdecoder on TF 1.15 and by the Python writer on TF 2:
    ds_ctcdecoder 0.7.4 loads both (its child-process check included) and gives the same transcripts for the same
    outputs; read_vocabulary reads the same words from both; and the files are the same bytes. Wrongly written
    dictionaries (the broken writers above) decode differently there, so the comparison can fail."""
    stacks.require("tf1"), stacks.require("tf2")
    alphabet = Alphabet(ENGLISH)
    vocabulary = TINY + generated_words(300, 3) + ["café"]  # café: not spellable, left out by both
    words_file = tmp_path / "words.txt"
    words_file.write_text("\n".join(vocabulary), encoding="utf-8")
    packages = {}
    for stack in ("tf1", "tf2"):
        packages[stack] = str(tmp_path / "{}.scorer".format(stack))
        wrote = stacks.last_json_line(stacks.run_python(stack, WRITE, lm_binary, words_file, packages[stack], ENGLISH))
        assert wrote == {"ds_ctcdecoder": stack == "tf1"}  # TF 2 has no ds_ctcdecoder: the Python writer wrote it
    expected = spellable(vocabulary, alphabet)
    for stack in ("tf1", "tf2"):
        assert scorer_package.read_vocabulary(packages[stack], alphabet)[0] == expected, stack
    broken = {}
    for bug in BUGS[:2]:
        broken[bug] = str(tmp_path / "{}.scorer".format(bug.replace(" ", "-")))
        with open(broken[bug], "wb") as handle:
            handle.write(package_bytes(lm_binary, broken_trailer(vocabulary, alphabet, os.path.getsize(lm_binary),
                                                                 bug)))
    probs = tmp_path / "probs.npy"
    np.save(str(probs), utterances(alphabet))
    decoded = stacks.last_json_line(stacks.run_python("tf1", DECODE, ENGLISH, probs, packages["tf1"],
                                                      packages["tf2"], *broken.values()))
    assert decoded["ds_ctcdecoder"] is True
    by_ds, by_python = decoded[packages["tf1"]], decoded[packages["tf2"]]
    assert by_python == by_ds, (by_ds, by_python)
    assert len(by_ds) == len(SENTENCES) and sum(text in SENTENCES for text in by_ds) >= 3, by_ds
    assert by_ds != decoded["none"], decoded["none"]  # the package took part
    assert all(word in expected for text in by_ds for word in text.split())
    for bug, path in broken.items():
        assert decoded[path] != by_ds, (bug, decoded[path])
    assert open(packages["tf2"], "rb").read() == open(packages["tf1"], "rb").read()
