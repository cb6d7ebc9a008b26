"""Beam search with the real ds_ctcdecoder 0.7.4, scorer packages built here, WER/CER and DeepSpeech's report."""
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import kenlm_fixtures as fixtures
from deepspeech_freeze import decoding, metrics, scorer_package
from deepspeech_freeze.alphabet import Alphabet
from deepspeech_freeze.errors import UserError
import stacks

# ds_ctcdecoder's own behaviour and package writing; the TF 2 stack's decoder is tested in test_decoder_modern.py.
pytestmark = stacks.only_on("tf1", "ds_ctcdecoder 0.7.4 exists for Python <= 3.8 only")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENGLISH = os.path.join(ROOT, "data", "alphabets", "english.txt")

# A trigram back-off model over a few words. "cat" is far likelier than "hat"; every n-gram's suffix and context
# are present, as lmplz writes them.
ARPA = """\\data\\
ngram 1=9
ngram 2=6
ngram 3=2

\\1-grams:
-2.0\t<unk>\t0
-99\t<s>\t-0.5
-1.0\t</s>
-0.5\tcat\t-0.3
-3.0\that\t-0.3
-1.0\tdog\t-0.2
-0.7\tthe\t-0.4
-1.2\tsat\t-0.1
-1.5\ton\t0

\\2-grams:
-0.3\t<s> the\t-0.2
-0.4\t<s> cat
-0.2\tthe cat\t-0.1
-0.3\tcat sat\t0
-0.1\tsat </s>
-0.6\tthe dog

\\3-grams:
-0.1\t<s> the cat
-0.05\tthe cat sat

\\end\\
"""
WORDS = ["cat", "hat", "dog", "the", "sat", "on"]
DEFAULT_ALPHA, DEFAULT_BETA = 0.931289039105002, 1.1834137581510284


@pytest.fixture(scope="module")
def alphabet():
    return Alphabet(ENGLISH)


@pytest.fixture(scope="module")
def lm_files(tmp_path_factory, alphabet):
    folder = tmp_path_factory.mktemp("lm")
    arpa = folder / "lm.arpa"
    arpa.write_text(ARPA)
    binary = fixtures.arpa_to_kenlm_binary(str(arpa), str(folder / "lm.binary"))
    package = scorer_package.write_scorer_package(binary, WORDS, alphabet, str(folder / "lm.scorer"),
                                                  DEFAULT_ALPHA, DEFAULT_BETA)
    return {"folder": folder, "arpa": str(arpa), "binary": binary, "scorer": package}


def frames_to_probs(frames, alphabet):
    """Batch-major [1, T, classes] softmax output: each frame maps characters to probabilities, the rest of the
    mass (less a small floor on every class) goes to the CTC blank."""
    probs = np.full((len(frames), alphabet.size + 1), 1e-4)
    for t, frame in enumerate(frames):
        for char, p in frame.items():
            probs[t, alphabet.labels.index(char)] = p
        probs[t, alphabet.size] = 0.0
        probs[t, alphabet.size] = max(1.0 - probs[t].sum(), 1e-4)
    probs /= probs.sum(axis=1, keepdims=True)
    return probs[np.newaxis].astype(np.float32)


def spell(text):
    """Frames that spell ``text`` clearly: each character at 0.9, blank frames in between."""
    frames = []
    for char in text:
        frames += [{char: 0.9}, {}]
    return frames


def decode(probs, alphabet, scorer=None, beam_width=64):
    return decoding.beam_search_batch(probs, [probs.shape[1]] * probs.shape[0], alphabet, beam_width,
                                      scorer=scorer, num_processes=1)


# --- decoding -------------------------------------------------------------------------------------------------

def test_spelled_word_decodes_without_and_with_scorer(alphabet, lm_files):
    probs = frames_to_probs(spell("the cat"), alphabet)
    assert decode(probs, alphabet) == ["the cat"]
    scorer = decoding.load_scorer(lm_files["scorer"], alphabet, DEFAULT_ALPHA, DEFAULT_BETA)
    assert decode(probs, alphabet, scorer) == ["the cat"]


def test_batch_with_different_lengths(alphabet):
    dog, cat = frames_to_probs(spell("dog"), alphabet)[0], frames_to_probs(spell("cat") + [{}, {}], alphabet)[0]
    batch = np.zeros((2, len(cat), alphabet.size + 1), np.float32)
    batch[0, :len(dog)], batch[1] = dog, cat
    batch[0, len(dog):, 7] = 1.0  # padding frames (an 'g' would be decoded if the length were ignored)
    assert decoding.beam_search_batch(batch, np.array([len(dog), len(cat)]), alphabet, 16) == ["dog", "cat"]
    assert decoding.beam_search_batch(batch[:0], [], alphabet, 16) == []


def test_scorer_vocabulary_overrides_a_slightly_better_non_word(alphabet, lm_files):
    frames = spell("c") + [{"e": 0.55, "a": 0.4}, {}] + spell("t")
    probs = frames_to_probs(frames, alphabet)
    assert decode(probs, alphabet) == ["cet"]
    scorer = decoding.load_scorer(lm_files["scorer"], alphabet, DEFAULT_ALPHA, DEFAULT_BETA)
    assert decode(probs, alphabet, scorer) == ["cat"]


def test_lm_probability_decides_between_words_and_flags_override_package_weights(alphabet, lm_files):
    frames = [{"h": 0.5, "c": 0.45}, {}] + spell("at")
    probs = frames_to_probs(frames, alphabet)
    assert decode(probs, alphabet) == ["hat"]
    # Both words are in the vocabulary: with LM weight 2 the far likelier "cat" wins ...
    strong = decoding.load_scorer(lm_files["scorer"], alphabet, 2.0, 0.0)
    assert decode(probs, alphabet, strong) == ["cat"]
    # ... and with the flag alpha 0 (overriding the package's 0.93) the acoustics decide again.
    silent = decoding.load_scorer(lm_files["scorer"], alphabet, 0.0, 0.0)
    assert (silent.alpha, silent.beta) == (0.0, 0.0)
    assert decode(probs, alphabet, silent) == ["hat"]


def test_flag_weights_override_package_defaults(alphabet, lm_files):
    info = scorer_package.check_scorer_package(lm_files["scorer"], alphabet, decoding.SCORER_PROBE)
    assert info["alpha"] == pytest.approx(DEFAULT_ALPHA, rel=1e-6)
    assert info["beta"] == pytest.approx(DEFAULT_BETA, rel=1e-6)
    assert info["order"] == 3 and info["utf8"] is False
    scorer = decoding.load_scorer(lm_files["scorer"], alphabet, 0.25, 3.5)
    assert scorer.alpha == pytest.approx(0.25) and scorer.beta == pytest.approx(3.5)


def test_empty_scorer_path_means_no_language_model(alphabet):
    assert decoding.load_scorer("", alphabet, DEFAULT_ALPHA, DEFAULT_BETA) is None


def test_class_count_must_match_alphabet(alphabet):
    probs = np.full((1, 3, alphabet.size), 1.0 / alphabet.size, np.float32)
    with pytest.raises(UserError, match="alphabet"):
        decode(probs, alphabet)


def test_softmax_batch_major():
    logits = np.random.RandomState(0).randn(5, 2, 4).astype(np.float32) * 10
    probs = decoding.softmax_batch_major(logits)
    assert probs.shape == (2, 5, 4) and probs.dtype == np.float32
    expected = np.exp(logits[:, 1]) / np.exp(logits[:, 1]).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(probs[1], expected, rtol=1e-5)
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=1e-6)


# --- scorer packages ----------------------------------------------------------------------------------------------

def test_python_kenlm_binary_scores_like_the_arpa(lm_files):
    import kenlm  # installed from requirements.txt
    from_arpa, from_binary = kenlm.Model(lm_files["arpa"]), kenlm.Model(lm_files["binary"])
    assert from_binary.order == 3
    for sentence in ["the cat sat", "cat", "the dog", "hat on the cat", "dog sat on", "unknown words here", ""]:
        assert from_binary.score(sentence) == pytest.approx(from_arpa.score(sentence), abs=1e-5), sentence
        assert [s[0] for s in from_binary.full_scores(sentence)] == pytest.approx(
            [s[0] for s in from_arpa.full_scores(sentence)], abs=1e-5)
    # The package is still a loadable KenLM model: the trailer sits after the model's data.
    assert kenlm.Model(lm_files["scorer"]).score("the cat sat") == pytest.approx(from_arpa.score("the cat sat"),
                                                                                 abs=1e-5)


def test_package_is_the_lm_binary_then_the_trailer(alphabet, lm_files, tmp_path):
    lm = open(lm_files["binary"], "rb").read()
    with open(lm_files["scorer"], "rb") as package:
        assert package.read(len(lm)) == lm
    magic, version, utf8, alpha, beta = fixtures.read_trailer(lm_files["scorer"], len(lm))
    assert (magic, version, utf8) == (b"EIRT", 6, 0)
    assert (alpha, beta) == pytest.approx((DEFAULT_ALPHA, DEFAULT_BETA), rel=1e-6)  # ds_ctcdecoder keeps floats
    again = scorer_package.write_scorer_package(lm_files["binary"], WORDS, alphabet, str(tmp_path / "b.scorer"),
                                                DEFAULT_ALPHA, DEFAULT_BETA)
    with open(again, "rb") as mine, open(lm_files["scorer"], "rb") as theirs:
        assert mine.read() == theirs.read()


def test_matches_kenlm_build_binary(alphabet, lm_files, tmp_path):
    build_binary = fixtures.build_binary_path()
    reference = str(tmp_path / "reference.binary")
    subprocess.run([build_binary, "-v", "probing", lm_files["arpa"], reference], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(reference, "rb") as theirs, open(lm_files["binary"], "rb") as mine:
        assert mine.read() == theirs.read()
    # DeepSpeech's own LM type (quantised trie with compressed pointers) packages, checks and decodes as well.
    trie = str(tmp_path / "trie.binary")
    subprocess.run([build_binary, "-a", "255", "-q", "8", "-v", "trie", lm_files["arpa"], trie], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    package = scorer_package.write_scorer_package(trie, WORDS, alphabet, str(tmp_path / "trie.scorer"), 1.0, 1.0)
    header = fixtures.read_kenlm_header(trie)
    assert fixtures.KENLM_MODEL_TYPES[header["model_type"]] == "trie with quantization and array-compressed pointers"
    assert fixtures.read_trailer(package, os.path.getsize(trie))[:3] == (b"EIRT", 6, 0)
    scorer = decoding.load_scorer(package, alphabet, DEFAULT_ALPHA, DEFAULT_BETA)
    probs = frames_to_probs(spell("c") + [{"e": 0.55, "a": 0.4}, {}] + spell("t"), alphabet)
    assert decode(probs, alphabet, scorer) == ["cat"]


def test_incomplete_arpa_is_refused(tmp_path, alphabet):
    arpa = tmp_path / "pruned.arpa"
    arpa.write_text(ARPA.replace("-0.3\tcat sat\t0\n", "").replace("ngram 2=6", "ngram 2=5"))
    with pytest.raises(UserError, match="suffix"):
        fixtures.arpa_to_kenlm_binary(str(arpa), str(tmp_path / "x.binary"))
    text = tmp_path / "text.arpa"
    text.write_text("just some words\n")
    with pytest.raises(UserError, match="is not a KenLM binary: it does not start with a KenLM binary header"):
        scorer_package.write_scorer_package(str(text), WORDS, alphabet, str(tmp_path / "x.scorer"), 1.0, 1.0)
    with pytest.raises(UserError, match="is not a KenLM binary: it is an ARPA text language model"):
        scorer_package.write_scorer_package(str(arpa), WORDS, alphabet, str(tmp_path / "x.scorer"), 1.0, 1.0)


def bad_scorer_files(folder, lm_files):
    """Files that are not usable scorer packages; ds_ctcdecoder aborts the process on several of them."""
    package = open(lm_files["scorer"], "rb").read()
    lm = open(lm_files["binary"], "rb").read()
    files = {
        "random": os.urandom(4096),
        "empty": b"",
        "arpa": ARPA.encode("ascii"),
        "lfs": b"version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 953363776\n",
        "bare-lm": lm,
        "truncated-lm": package[:len(lm) // 2],
        "truncated-header": package[:100],
        "truncated-trailer": package[:len(lm) + 6],
        "truncated-dictionary": package[:len(lm) + 60],
        "truncated-end": package[:-1],
        "unfinished-kenlm": fixtures.KENLM_INCOMPLETE_MAGIC + bytes(300),
        "old-kenlm": b"mmap lm http://kheafield.com/code format version 4\n" + bytes(300),
        "kenlm-format-line": package[:50] + b"\xff" + package[51:],  # the newline after "format version 5"
        "trailer-version": package[:len(lm) + 4] + b"\x07\x00\x00\x00" + package[len(lm) + 8:],
        "cut-16": package[:-16],
        "extra-bytes": package + bytes(100),
    }
    paths = {}
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        paths[name] = str(path)
    return paths


def test_bad_scorer_files_are_user_errors(alphabet, lm_files, tmp_path):
    with pytest.raises(UserError, match="does not exist.*scorer package"):
        decoding.load_scorer(str(tmp_path / "missing.scorer"), alphabet, 1.0, 1.0)
    with pytest.raises(UserError, match="not a file"):
        decoding.load_scorer(str(tmp_path), alphabet, 1.0, 1.0)
    # The first eight are recognised by their first bytes; KenLM's and OpenFST's own words (from the checking
    # child's stderr) say what is wrong with the next four; the rest fail the dictionary-ends-the-file check.
    died = "the decoder died loading it (SIGABRT: "
    expected = {"random": "does not start with a KenLM binary header", "empty": "it is empty",
                "arpa": "ARPA text language model", "lfs": "Git LFS pointer",
                "unfinished-kenlm": "did not finish building", "old-kenlm": "format version 4",
                "kenlm-format-line": "a KenLM binary with a damaged format line",
                "bare-lm": "without the vocabulary",
                "truncated-lm": died + "Binary file has size 280 but the headers say it should be at least 560",
                "truncated-header": died + "End of file in",
                "truncated-trailer": "could not read all of it (ERROR: FstHeader::Read: Bad FST header",
                "truncated-dictionary": "(SIGSEGV: ERROR: FstHeader::Read: Read failed",
                "trailer-version": "Scorer file version mismatch (7 instead of expected 6)",
                "truncated-end": "truncated, or has bytes after", "cut-16": "truncated, or has bytes after",
                "extra-bytes": "truncated, or has bytes after"}
    files = bad_scorer_files(tmp_path, lm_files)
    assert sorted(files) == sorted(expected)
    for name, path in files.items():
        with pytest.raises(UserError) as caught:
            decoding.load_scorer(path, alphabet, 1.0, 1.0)
        message = str(caught.value)
        assert path in message and "--scorer_path" in message, message
        assert expected[name] in message, (name, message)
        assert "deepspeech_freeze.lm" in message and "\n" not in message and "Traceback" not in message


def package_cuts(files, tmp_path):
    """Copies of package ``files["scorer"]`` cut short in the KenLM header, its data, the trailer's head, the
    dictionary's header, states and arcs: 17 paths."""
    package, lm_bytes = open(files["scorer"], "rb").read(), os.path.getsize(files["binary"])
    cuts = sorted(set(list(range(8, len(package), 120)) + [lm_bytes + 10, lm_bytes + 30]
                      + [len(package) - n for n in (1, 2, 15, 16, 17, 100)]))
    assert len(cuts) == 17
    paths = []
    for cut in cuts:
        path = tmp_path / "cut-{}".format(cut)
        path.write_bytes(package[:cut])
        paths.append(path)
    return paths


def test_every_cut_of_a_package_is_refused(alphabet, lm_files, tmp_path):
    for path in package_cuts(lm_files, tmp_path):
        with pytest.raises(UserError) as caught:
            decoding.load_scorer(str(path), alphabet, 1.0, 1.0)
        assert "is not a usable scorer package" in str(caught.value), (path, str(caught.value))


# ds_ctcdecoder alone on a file: load it, decode a few frames with it.
UNCHECKED_LOAD = """
import sys
import numpy as np
import ds_ctcdecoder
from deepspeech_freeze.alphabet import Alphabet
alphabet = Alphabet(sys.argv[2])
scorer = ds_ctcdecoder.Scorer(1.0, 1.0, sys.argv[1], alphabet)
probs = np.full((1, 10, alphabet.size + 1), 1.0 / (alphabet.size + 1), np.float32)
ds_ctcdecoder.ctc_beam_search_decoder_batch(probs, np.array([10], np.int32), alphabet, 16, 1, scorer=scorer)
"""


def test_without_the_check_ds_ctcdecoder_kills_the_process(alphabet, lm_files, tmp_path):
    # What the child-process check exists for: these files end a process that loads them itself.
    files = bad_scorer_files(tmp_path, lm_files)
    files["utf8"] = utf8_package(lm_files, tmp_path)
    for name in ("truncated-lm", "truncated-header", "unfinished-kenlm", "old-kenlm", "truncated-trailer", "utf8"):
        result = subprocess.run([sys.executable, "-c", UNCHECKED_LOAD, files[name], ENGLISH], cwd=ROOT,
                                env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        assert result.returncode < 0, (name, result.returncode, result.stderr[-500:])


# ds_ctcdecoder alone, decoding every vocabulary word spelled out and a few uniform frames with each file given.
DECODE_ALL = """
import sys
import numpy as np
import ds_ctcdecoder
from deepspeech_freeze.alphabet import Alphabet
alphabet = Alphabet(sys.argv[1])
words = sys.argv[2].split()
for path in sys.argv[3:]:
    scorer = ds_ctcdecoder.Scorer(1.0, 1.0, path, alphabet)
    for text in words + [" ".join(words)]:
        probs = np.full((2 * len(text), alphabet.size + 1), 1e-3, np.float32)
        for t, char in enumerate(text):
            probs[2 * t, alphabet.labels.index(char)] = probs[2 * t + 1, alphabet.size] = 0.9
        probs = (probs / probs.sum(axis=1, keepdims=True))[np.newaxis]
        ds_ctcdecoder.ctc_beam_search_decoder_batch(probs, np.array([probs.shape[1]], np.int32), alphabet, 64, 1,
                                                    scorer=scorer)
"""


def test_flipped_dictionary_bytes_are_refused_or_harmless(alphabet, lm_files, tmp_path):
    package, lm_bytes = open(lm_files["scorer"], "rb").read(), os.path.getsize(lm_files["binary"])
    # The last byte of each 16-byte arc is the high byte of its next state: flipped, the decoder follows it out of
    # the state table (a crash when a beam reaches that arc). The check must refuse every one of them.
    for offset in range(len(package) - 1, len(package) - 16 * 12, -16):
        path = tmp_path / "next-state-{}".format(offset)
        path.write_bytes(package[:offset] + bytes([package[offset] ^ 0xFF]) + package[offset + 1:])
        with pytest.raises(UserError, match=r"indices outside its tables"):
            decoding.load_scorer(str(path), alphabet, 1.0, 1.0)
    # Anywhere else in the trailer a flipped byte is refused, or the package decodes every word without a crash.
    accepted = []
    for offset in range(lm_bytes + 3, len(package), 23):
        path = tmp_path / "flip-{}".format(offset)
        path.write_bytes(package[:offset] + bytes([package[offset] ^ 0xFF]) + package[offset + 1:])
        try:
            decoding.load_scorer(str(path), alphabet, 1.0, 1.0)
            accepted.append(str(path))
        except UserError:
            pass
    result = subprocess.run([sys.executable, "-c", DECODE_ALL, ENGLISH, " ".join(WORDS)] + accepted, cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert result.returncode == 0, (accepted, result.returncode, result.stderr[-500:])


def test_the_check_runs_the_probe_it_is_given(alphabet, lm_files, monkeypatch):
    # Another decoder backend passes its own probe; whatever that probe does comes back as one ScorerFileError.
    monkeypatch.setenv("PYTHONPATH", os.path.join(ROOT, "tests"))
    package = lm_files["scorer"]
    assert scorer_package.check_scorer_package(package, alphabet, "kenlm_fixtures:probe_that_accepts") == {
        "utf8": False, "order": 0, "probe": "test", "labels": alphabet.size}
    for probe, message in (("probe_that_aborts", r"the decoder died loading it \(SIGABRT\)"),
                           ("probe_that_refuses", "the test probe refuses 28 labels"),
                           ("probe_that_fails", r"failed \(exit status 1\) \(RuntimeError: the test probe has a bug")):
        with pytest.raises(scorer_package.ScorerFileError, match=message):
            scorer_package.check_scorer_package(package, alphabet, "kenlm_fixtures:" + probe)


def utf8_package(lm_files, folder):
    """The test package with its trailer's UTF-8-mode byte set, as DeepSpeech's --force_utf8 packages have it."""
    package = bytearray(open(lm_files["scorer"], "rb").read())
    package[os.path.getsize(lm_files["binary"]) + 8] = 1
    path = folder / "utf8.scorer"
    path.write_bytes(bytes(package))
    return str(path)


def test_utf8_mode_mismatch_is_a_user_error(alphabet, lm_files, tmp_path):
    # ds_ctcdecoder crashes (segmentation fault) decoding alphabet labels with a UTF-8 mode package.
    package = utf8_package(lm_files, tmp_path)
    assert fixtures.read_trailer(package, os.path.getsize(lm_files["binary"]))[2] == 1
    with pytest.raises(UserError, match="was built for UTF-8 byte output"):
        decoding.load_scorer(package, alphabet, 1.0, 1.0)


# --- WER / CER ---------------------------------------------------------------------------------------------------

def test_per_sample_distances_and_rates():
    sample = metrics.score_sample("a.wav", "kitten sat", "sitting sat", 3.5)
    assert sample["char_distance"] == 3 and sample["char_length"] == 10
    assert sample["word_distance"] == 1 and sample["word_length"] == 2
    assert sample["cer"] == pytest.approx(0.3) and sample["wer"] == pytest.approx(0.5)
    assert sample["loss"] == 3.5
    assert list(sample) == ["wav_filename", "src", "res", "loss", "char_distance", "char_length", "word_distance",
                            "word_length", "cer", "wer"]
    # Words are whitespace-split: extra spaces cost characters, not words.
    spaced = metrics.score_sample("b.wav", "hello world", "hello  world ", 0.0)
    assert (spaced["word_distance"], spaced["char_distance"]) == (0, 2)
    # Per-sample rates are not capped.
    long = metrics.score_sample("c.wav", "the cat", "a cat sat on it", 1.0)
    assert long["word_distance"] == 4 and long["wer"] == pytest.approx(2.0)
    assert metrics.score_sample("d.wav", "ab", "abcdef", 1.0)["cer"] == pytest.approx(2.0)


def test_corpus_rates_sum_distances_and_cap_at_one():
    samples, wer, cer, loss = metrics.score_samples([
        ("a.wav", "the cat sat", "the cat sat", 1.0),      # 0 of 3 words, 0 of 11 chars
        ("b.wav", "one two", "one three", 3.0),            # 1 of 2 words, 4 of 7 chars (two -> three)
    ])
    assert wer == pytest.approx(1 / 5) and cer == pytest.approx(4 / 18) and loss == pytest.approx(2.0)
    assert [s["wav_filename"] for s in samples] == ["a.wav", "b.wav"]
    _, wer, cer, _ = metrics.score_samples([("a.wav", "yes", "no no no no", 1.0)])
    assert (wer, cer) == (1.0, 1.0)  # 4/1 words and 11/3 chars, capped
    # Dicts (as the evaluator builds them) are accepted too.
    samples, wer, _, _ = metrics.score_samples([{"wav_filename": "x.wav", "src": "a b", "res": "a", "loss": 2}])
    assert wer == 0.5 and samples[0]["word_distance"] == 1


def test_empty_reference_does_not_divide_by_zero():
    assert metrics.score_sample("e.wav", "", "", 0.0)["wer"] == 0.0
    assert metrics.score_sample("e.wav", "", "uh huh", 0.0)["wer"] == 2.0


def test_edit_distance_compares_items_exactly():
    assert metrics.edit_distance("kitten", "sitting") == 3
    assert metrics.edit_distance(["a", "b", "c"], ["a", "c"]) == 1
    assert metrics.edit_distance("für", "fur") == 1


# --- report ------------------------------------------------------------------------------------------------------

def make_samples():
    # (name, wer-driving hypothesis, loss)
    records = [("s1.wav", "a b", "a b", 5.0),     # wer 0
               ("s2.wav", "a b", "a b", 9.0),     # wer 0, higher loss: listed first among wer 0
               ("s3.wav", "a b", "a x", 1.0),     # wer 0.5
               ("s4.wav", "a b", "x y", 2.0),     # wer 1
               ("s5.wav", "a b", "x y", 7.0),     # wer 1, higher loss: before s4
               ("s6.wav", "a b", "a x", 8.0),     # wer 0.5, before s3
               ("s7.wav", "a b", "x y z", 3.0)]   # wer 1.5
    return metrics.score_samples(records)


def test_report_order_is_loss_descending_then_wer_ascending():
    samples, _, _, _ = make_samples()
    ordered = [s["wav_filename"] for s in metrics.sort_for_report(samples)]
    assert ordered == ["s2.wav", "s1.wav", "s6.wav", "s3.wav", "s5.wav", "s4.wav", "s7.wav"]
    best, median, worst = metrics.report_sections(samples, report_count=2)
    assert [s["wav_filename"] for s in best] == ["s2.wav", "s1.wav"]
    assert [s["wav_filename"] for s in median] == ["s6.wav", "s3.wav"]  # indices 2..3 around len/2 = 3
    assert [s["wav_filename"] for s in worst] == ["s4.wav", "s7.wav"]


def test_report_text_is_deepspeechs():
    samples, wer, cer, loss = metrics.score_samples([("/data/a.wav", "the cat", "the hat", 12.5),
                                                     ("/data/b.wav", "a dog", "a dog", 2.25)])
    text = metrics.format_report("test.csv", samples, wer, cer, loss, report_count=1)
    rule = "-" * 80
    assert text.split("\n")[0] == "Test on test.csv - WER: 0.250000, CER: 0.083333, loss: 7.375000"
    expected = "\n".join([
        "Test on test.csv - WER: 0.250000, CER: 0.083333, loss: 7.375000", rule,
        "Best WER: ", rule,
        "WER: 0.000000, CER: 0.000000, loss: 2.250000", " - wav: file:///data/b.wav", ' - src: "a dog"',
        ' - res: "a dog"', rule,
        "Median WER: ", rule,
        "WER: 0.500000, CER: 0.142857, loss: 12.500000", " - wav: file:///data/a.wav", ' - src: "the cat"',
        ' - res: "the hat"', rule,
        "Worst WER: ", rule,
        "WER: 0.500000, CER: 0.142857, loss: 12.500000", " - wav: file:///data/a.wav", ' - src: "the cat"',
        ' - res: "the hat"', rule])
    assert text == expected


def test_report_with_default_count_lists_sections(capsys):
    samples, wer, cer, loss = make_samples()
    print(metrics.format_report("dev.csv", samples, wer, cer, loss))
    lines = capsys.readouterr().out.split("\n")
    assert lines[1] == "-" * 80 and len(lines[1]) == 80
    assert [lines.index(t) for t in ("Best WER: ", "Median WER: ", "Worst WER: ")] == [2, 29, 56]
    assert sum(line.startswith("WER: ") for line in lines) == 15


# --- JSON ---------------------------------------------------------------------------------------------------------

def test_write_json(tmp_path):
    samples, _, _, _ = metrics.score_samples([("/data/ä.wav", "grüße dich", "grüsse dich", np.float32(4.5))])
    path = tmp_path / "out.json"
    metrics.write_json(str(path), samples)
    raw = path.read_bytes()
    assert "grüße".encode("utf-8") in raw and b"\\u00" not in raw
    with io.open(str(path), encoding="utf-8") as handle:
        loaded = json.load(handle)
    assert loaded == [{"wav_filename": "/data/ä.wav", "src": "grüße dich", "res": "grüsse dich", "loss": 4.5,
                       "char_distance": 2, "char_length": 10, "word_distance": 1, "word_length": 2,
                       "cer": 0.2, "wer": 0.5}]
