"""`python -m deepspeech_freeze.lm` end to end with the real KenLM binaries, kenlm and the stack's decoder (no mocks).

Runs on both stacks: on TF 1.15 ds_ctcdecoder writes the package's trailer and checks it, on TF 2 the Python writer
(scorer_package.dictionary_trailer) writes it and flashlight-text checks it."""
import gzip
import io
import os
import random
import re
from collections import Counter

import numpy as np
import pytest

import kenlm_fixtures as fixtures
from conftest import GERMAN, run_module
from deepspeech_freeze import decoding, lm, scorer_package
from deepspeech_freeze.alphabet import Alphabet
from deepspeech_freeze.importers.text import normalize_text

TOP_K = 34  # of 40 distinct words: the last six ("strasse", "viele", ...) fall out
ORDER = 3
SMALL = ["--arpa_order", ORDER, "--discount_fallback", "--max_arpa_memory", "64M"]

SUBJECTS = ["Der Hund", "Die Katze", "Unser Nachbar", "Meine Schwester", "Der Bäcker", "Die Lehrerin",
            "Herr Müller", "Frau Öztürk"]
VERBS = ["kauft", "sieht", "schickt", "bringt", "mag", "zählt"]
OBJECTS = ["3 Äpfel", "12 Brötchen", "viele Grüße", "2 Bücher", "die Straße", "frische Möhren", "25 Blumen",
           "herzliche Grüße", "3 große Füße"]
ENDINGS = [".", "!", "?", ", oder?", " – sagt sie.", "…", "; danke!"]
DROPPED = "Das Café im Quokkaland serviert Crêpes."  # é, ê: outside the German alphabet
IN_CORPUS = "der hund kauft drei äpfel"


def make_corpus(path):
    rng = random.Random(20210601)
    lines = ["{} {} {}{}".format(rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS), rng.choice(ENDINGS))
             for _ in range(300)]
    lines[40] = "Der Hund kauft 3 Äpfel."
    lines.insert(150, DROPPED)
    lines.insert(10, "  ... !!  ")  # normalises to nothing
    with io.open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return lines


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lm")
    corpus = str(folder / "corpus.txt")
    lines = make_corpus(corpus)
    out = folder / "out"
    result = run_module("deepspeech_freeze.lm", "--input_txt", corpus, "--output_dir", out, "--alphabet", GERMAN,
                        "--top_k", TOP_K, *SMALL)
    return {"folder": folder, "out": out, "lines": lines, "result": result}


def test_output_files_and_summary(built):
    out, output = built["out"], built["result"].output
    for name in ("vocab-{}.txt".format(TOP_K), "lm.binary", "kenlm.scorer"):
        assert (out / name).stat().st_size > 0, name
    for name in ("normalized.txt.gz", "lm.arpa", "lm_filtered.arpa", "lmplz.log", "build_binary.log"):
        assert not (out / name).exists(), name  # removed without --keep_intermediate
    assert "302 lines read, 300 kept, 2 dropped (1 outside the alphabet, 1 empty)" in output
    assert "'é' x1" in output and "'ê' x1" in output
    # DeepSpeech's English alpha/beta are stored: the summary says so and how to tune them for this language.
    assert "are DeepSpeech's defaults, tuned for its English model" in output
    assert "python -m deepspeech_freeze.lm_optimizer" in output and str(out / "kenlm.scorer") in output
    counts = re.search(r"ARPA n-grams: (.*) \(after the vocabulary filter: (.*)\)", output)
    before = [int(n.replace(",", "")) for n in re.findall(r"-grams ([\d,]+)", counts.group(1))]
    after = [int(n.replace(",", "")) for n in re.findall(r"-grams ([\d,]+)", counts.group(2))]
    assert len(before) == len(after) == ORDER
    assert after[0] == TOP_K + 3  # the vocabulary + <s>, </s>, <unk>
    assert before[0] > after[0] and all(b >= a for b, a in zip(before, after))

    binary, package = str(out / "lm.binary"), str(out / "kenlm.scorer")
    header = fixtures.read_kenlm_header(binary)
    assert header["order"] == ORDER and header["counts"] == after
    assert fixtures.KENLM_MODEL_TYPES[header["model_type"]] == "trie with quantization and array-compressed pointers"
    assert "(trie -a 255 -q 8)" in output
    lm_bytes = os.path.getsize(binary)
    with open(binary, "rb") as lm_file, open(package, "rb") as package_file:
        assert package_file.read(lm_bytes) == lm_file.read()  # the package is lm.binary + the trailer
    magic, version, utf8, alpha, beta = fixtures.read_trailer(package, lm_bytes)
    assert (magic, version, utf8) == (b"EIRT", 6, 0)
    assert alpha == pytest.approx(lm.DEFAULT_ALPHA) and beta == pytest.approx(lm.DEFAULT_BETA)
    info = scorer_package.check_scorer_package(package, Alphabet(GERMAN), decoding.scorer_probe())
    assert info["order"] == ORDER and not info["utf8"]
    assert info["alpha"] == pytest.approx(lm.DEFAULT_ALPHA) and info["beta"] == pytest.approx(lm.DEFAULT_BETA)


def test_vocabulary_is_the_normalised_top_k(built):
    vocab = io.open(str(built["out"] / "vocab-{}.txt".format(TOP_K)), encoding="utf-8").read().split("\n")
    assert vocab[-1] == ""
    vocab = vocab[:-1]
    counter = Counter()
    for line in built["lines"]:
        if line != DROPPED:
            counter.update(normalize_text(line, "de").split())
    assert vocab == [word for word, _ in counter.most_common(TOP_K)]
    assert len(counter) > TOP_K
    for word in ("grüsse", "füsse", "drei", "zwölf", "fünfundzwanzig", "äpfel", "öztürk"):
        assert word in vocab, word
    for word in ("quokkaland", "serviert", "café", "crêpes", "grüße", "3", "12", "strasse", "viele"):
        assert word not in vocab, word


def probabilities_spelling(text, alphabet):
    """[1, T, classes] softmax output that spells ``text``: each character at 0.9, a blank frame after it."""
    frames = []
    for char in text:
        frame = np.full(alphabet.size + 1, 0.1 / alphabet.size)
        frame[alphabet.labels.index(char)] = 0.9
        blank = np.full(alphabet.size + 1, 0.1 / alphabet.size)
        blank[alphabet.size] = 0.9
        frames += [frame, blank]
    return np.array(frames, dtype=np.float32)[np.newaxis]


def test_decoder_loads_the_package(built):
    alphabet = Alphabet(GERMAN)
    scorer = decoding.load_scorer(str(built["out"] / "kenlm.scorer"), alphabet, lm.DEFAULT_ALPHA, lm.DEFAULT_BETA)
    assert scorer is not None

    def decode(text, with_scorer):
        probs = probabilities_spelling(text, alphabet)
        return decoding.beam_search_batch(probs, [probs.shape[1]], alphabet, 32,
                                          scorer=scorer if with_scorer else None, num_processes=1)[0]

    assert decode("grüsse", True) == "grüsse"
    assert decode("quokkaland", False) == "quokkaland"
    assert decode("quokkaland", True) != "quokkaland"  # not in the package's vocabulary


def test_kenlm_prefers_corpus_sentences(built):
    import kenlm  # installed from requirements.txt
    model = kenlm.Model(str(built["out"] / "lm.binary"))
    assert model.order == ORDER
    words = IN_CORPUS.split()
    shuffled = " ".join(words[i] for i in (3, 0, 4, 2, 1))
    assert model.score(IN_CORPUS) > model.score(shuffled) + 1.0


def test_filter_arpa_keeps_vocabulary_ngrams_unchanged(tmp_path):
    arpa = tmp_path / "in.arpa"
    arpa.write_text("\\data\\\nngram 1=6\nngram 2=4\nngram 3=2\n\n"
                    "\\1-grams:\n-1.5\t<unk>\t0\n-99\t<s>\t-0.3\n-1.0\t</s>\n-0.7\tdie\t-0.2\n-0.9\tkatze\t-0.1\n"
                    "-2.0\tquokka\t-0.1\n\n"
                    "\\2-grams:\n-0.2\t<s> die\t-0.1\n-0.3\tdie katze\t-0.05\n-0.4\tdie quokka\n-0.1\tkatze </s>\n\n"
                    "\\3-grams:\n-0.05\t<s> die katze\n-0.3\t<s> die quokka\n\n\\end\\\n", encoding="utf-8")
    out = tmp_path / "out.arpa"
    assert lm.filter_arpa(str(arpa), ["die", "katze"], str(out)) == [5, 3, 1]
    assert lm.read_arpa_counts(str(out)) == [5, 3, 1]
    text = out.read_text(encoding="utf-8")
    assert "quokka" not in text
    assert "-0.3\tdie katze\t-0.05\n" in text and "-0.05\t<s> die katze\n" in text
    import kenlm  # installed from requirements.txt
    original, filtered = kenlm.Model(str(arpa)), kenlm.Model(str(out))
    assert filtered.score("die katze") == pytest.approx(original.score("die katze"))
    assert filtered.score("die quokka") < original.score("die quokka")  # quokka is now <unk>


def assert_one_error_line(result, *fragments):
    assert result.returncode == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("ERROR: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_bad_input_is_one_error_line(tmp_path):
    out = tmp_path / "out"
    missing = run_module("deepspeech_freeze.lm", "--input_txt", tmp_path / "nope.txt", "--output_dir", out,
                         "--alphabet", GERMAN, *SMALL, check=False)
    assert_one_error_line(missing, "--input_txt", "does not exist")

    unusable = tmp_path / "unusable.txt"
    unusable.write_text("Ça va très bien.\nÉté 2020!\n...\n\n", encoding="utf-8")
    empty = run_module("deepspeech_freeze.lm", "--input_txt", unusable, "--output_dir", out, "--alphabet", GERMAN,
                       *SMALL, check=False)
    assert_one_error_line(empty, "no usable line", "4 lines read", "2 with characters outside")

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("die katze sieht den hund\n", encoding="utf-8")
    no_alphabet = run_module("deepspeech_freeze.lm", "--input_txt", corpus, "--output_dir", out, "--alphabet",
                             tmp_path / "missing-alphabet.txt", *SMALL, check=False)
    assert_one_error_line(no_alphabet, "--alphabet", "does not exist")

    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("die katze\nGrüße\n".encode("latin-1"))
    not_utf8 = run_module("deepspeech_freeze.lm", "--input_txt", latin1, "--output_dir", out, "--alphabet", GERMAN,
                          *SMALL, check=False)
    assert_one_error_line(not_utf8, "line 2 is not valid UTF-8")

    no_tools = run_module("deepspeech_freeze.lm", "--input_txt", corpus, "--output_dir", out, "--alphabet", GERMAN,
                          "--kenlm_bins", tmp_path, *SMALL, check=False)
    assert_one_error_line(no_tools, "lmplz", "bin/install.sh")


def test_tool_failure_quotes_the_tool(tmp_path):
    corpus = tmp_path / "tiny.txt.gz"  # gzip input is read too
    with gzip.open(str(corpus), "wt", encoding="utf-8") as handle:
        handle.write("die katze sieht den hund\nder hund sieht die katze\n")
    # Without --discount_fallback lmplz cannot estimate discounts on a tiny corpus.
    result = run_module("deepspeech_freeze.lm", "--input_txt", corpus, "--output_dir", tmp_path / "out",
                        "--alphabet", GERMAN, "--arpa_order", 3, "--max_arpa_memory", "64M", check=False)
    assert_one_error_line(result, "lmplz failed", "discount", "lmplz.log")
    assert "2 lines read, 2 kept" in result.stdout
