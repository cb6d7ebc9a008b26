"""The TF 2 stack's decoder: DeepSpeech scorer packages written by ds_ctcdecoder 0.7.4 (on the TF 1.15 stack) are read
back word for word by decoder_modern's own vocabulary reader, and flashlight-text decodes with them as ds_ctcdecoder
does on the cases of test_decoding_metrics.py; on TF 2 a damaged package is refused by the child-process check."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import kenlm_fixtures
import stacks
from conftest import ENGLISH, ROOT, run_module
from deepspeech_freeze import decoder_modern, decoding, scorer_package
from deepspeech_freeze.alphabet import Alphabet
from deepspeech_freeze.errors import UserError
from test_decoding_metrics import (ARPA, DEFAULT_ALPHA, DEFAULT_BETA, WORDS, bad_scorer_files, frames_to_probs,
                                   package_cuts, spell, utf8_package)

VOCABULARY = sorted(WORDS + ["don't", "a"])

# Runs on the TF 1.15 stack: ds_ctcdecoder writes the package (``arpa words_file package``).
WRITE_PACKAGE = r'''
import sys
sys.path.insert(0, sys.argv[5])  # tests/, for the test-only ARPA -> KenLM binary writer
import kenlm_fixtures
from deepspeech_freeze import scorer_package
from deepspeech_freeze.alphabet import Alphabet
words = open(sys.argv[2]).read().split()
binary = kenlm_fixtures.arpa_to_kenlm_binary(sys.argv[1], sys.argv[3] + ".binary")
scorer_package.write_scorer_package(binary, words, Alphabet(sys.argv[4]), sys.argv[3], 0.75, 1.85)
'''


@pytest.fixture(scope="module")
def alphabet():
    return Alphabet(ENGLISH)


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """A scorer package written by ds_ctcdecoder 0.7.4's save_dictionary, on the TF 1.15 stack."""
    folder = tmp_path_factory.mktemp("modern")
    (folder / "lm.arpa").write_text(ARPA)
    (folder / "words.txt").write_text("\n".join(VOCABULARY))
    path = str(folder / "lm.scorer")
    stacks.run_python("tf1", WRITE_PACKAGE, folder / "lm.arpa", folder / "words.txt", path, ENGLISH,
                      os.path.dirname(os.path.abspath(__file__)))
    return path


def test_cross_stack_vocabulary_reader_reads_back_ds_ctcdecoder_words(package, alphabet):
    words, info = scorer_package.read_vocabulary(package, alphabet)
    assert words == VOCABULARY
    assert info["utf8"] is False and info["alpha"] == pytest.approx(0.75) and info["beta"] == pytest.approx(1.85)
    assert 0 < info["lm_bytes"] < os.path.getsize(package)


def test_cross_stack_vocabulary_reader_refuses_damaged_packages(package, alphabet, tmp_path):
    with open(package, "rb") as handle:
        data = handle.read()
    cut = tmp_path / "cut.scorer"
    cut.write_bytes(data[:-20])  # the arc table is short
    with pytest.raises(decoder_modern.VocabularyError, match="no DeepSpeech 0.7 scorer trailer"):
        scorer_package.read_vocabulary(str(cut), alphabet)
    lm_only = tmp_path / "lm.binary"
    lm_only.write_bytes(data[:scorer_package.read_vocabulary(package, alphabet)[1]["lm_bytes"]])
    with pytest.raises(decoder_modern.VocabularyError):
        scorer_package.read_vocabulary(str(lm_only), alphabet)
    with pytest.raises(UserError, match="not a usable scorer package"):
        decoder_modern.load_scorer(str(lm_only), alphabet, 1.0, 1.0)


def flashlight_or_skip():
    reason = decoder_modern.unavailable_reason()
    if reason:
        pytest.skip("tf2-only: flashlight-text is the TF 2 stack's decoder ({})".format(reason))


def decode(probs, alphabet, scorer=None, beam_width=64):
    return decoder_modern.beam_search_batch(probs, [probs.shape[1]] * probs.shape[0], alphabet, beam_width,
                                            scorer=scorer)


def test_lexicon_emissions_silence_stands_for_a_repeated_space():
    """Between words flashlight stays put by emitting silence; there it must cost what repeating the space costs,
    bounded by the previous frame's space (a space after a blank is no repeat), and the appended last frame allows
    only the space that completes a word, or silence."""
    space, classes = 2, 4
    log_probs = np.log(np.array([[.1, .2, .6, .1], [.1, .1, .7, .1], [.6, .1, .2, .1]], dtype=np.float32))
    emissions = decoder_modern.lexicon_emissions(log_probs, space)
    assert emissions.shape == (4, 5) and np.array_equal(emissions[:3, :classes], log_probs)
    silence = emissions[:, classes]
    assert silence[0] <= -1e29  # nothing to repeat before the first frame
    assert np.allclose(silence[1:3], [np.log(.6), np.log(.2)])  # min(P_t(space), P_t-1(space))
    assert emissions[3, space] == 0.0 and silence[3] == 0.0
    assert all(emissions[3, c] <= -1e29 for c in range(classes) if c != space)


def test_tf2_flashlight_spells_words_with_and_without_the_package(package, alphabet):
    flashlight_or_skip()
    probs = frames_to_probs(spell("the cat"), alphabet)
    assert decode(probs, alphabet) == ["the cat"]
    scorer = decoder_modern.load_scorer(package, alphabet, DEFAULT_ALPHA, DEFAULT_BETA)
    assert decode(probs, alphabet, scorer) == ["the cat"]


def test_tf2_flashlight_vocabulary_overrides_a_slightly_better_non_word(package, alphabet):
    flashlight_or_skip()
    frames = spell("cat")
    frames[0] = {"c": 0.4, "k": 0.5}
    probs = frames_to_probs(frames, alphabet)
    assert decode(probs, alphabet) == ["kat"]  # without the package the better letters win
    scorer = decoder_modern.load_scorer(package, alphabet, DEFAULT_ALPHA, DEFAULT_BETA)
    assert decode(probs, alphabet, scorer) == ["cat"]


def test_tf2_flashlight_lm_weight_decides_between_words(package, alphabet):
    """"hat" is acoustically a little better than "cat", the LM much prefers "cat": alpha decides."""
    flashlight_or_skip()
    frames = spell("cat")
    frames[0] = {"c": 0.4, "h": 0.5}
    probs = frames_to_probs(frames, alphabet)
    assert decode(probs, alphabet, decoder_modern.load_scorer(package, alphabet, 2.0, 0.0)) == ["cat"]
    assert decode(probs, alphabet, decoder_modern.load_scorer(package, alphabet, 0.0, 0.0)) == ["hat"]


def test_tf2_flashlight_batch_with_different_lengths_and_empty_entry(alphabet):
    flashlight_or_skip()
    long, short = frames_to_probs(spell("dog"), alphabet), frames_to_probs(spell("on"), alphabet)
    batch = np.zeros((3, long.shape[1], long.shape[2]), dtype=np.float32)
    batch[0], batch[1, :short.shape[1]] = long[0], short[0]
    batch[:, :, -1] = np.where(batch[:, :, :-1].sum(axis=2) == 0, 1.0, batch[:, :, -1])
    texts = decoder_modern.beam_search_batch(batch, [long.shape[1], short.shape[1], 0], alphabet, 16)
    assert texts == ["dog", "on", ""]


# Runs on each stack: decodes the saved cases with that stack's decoder (``probs.npz package alphabet out.json``).
DECODE_CASES = r'''
import json, sys
import numpy as np
from deepspeech_freeze import decoding
from deepspeech_freeze.alphabet import Alphabet
arrays = np.load(sys.argv[1])
alphabet = Alphabet(sys.argv[3])
scorer = decoding.load_scorer(sys.argv[2], alphabet, 0.931289039105002, 1.1834137581510284)
texts = [decoding.beam_search_batch(probs[None], [int(length)], alphabet, 16, scorer=scorer)[0]
         for probs, length in zip(arrays["probs"], arrays["lengths"])]
json.dump(texts, open(sys.argv[4], "w"))
'''


def noisy_cases(alphabet, count, seed=3):
    """Sentences of the test vocabulary spelled with blurred letters: each letter frame gives a random share of its
    mass to random other letters and to the blank, so that the search and the LM decide."""
    rng = np.random.RandomState(seed)
    sentences = ["the cat sat on the hat", "the dog sat on the cat", "a cat on the dog", "the hat sat"]
    cases = []
    for _ in range(count):
        frames = spell(sentences[rng.randint(len(sentences))])
        for frame in frames:
            if frame and list(frame)[0] != " ":
                (char, _), = frame.items()
                frame.clear()
                others = rng.choice(list("acdehknostr"), 2, replace=False)
                share = rng.uniform(0.25, 0.6, 2)
                frame.update({char: 0.9 - share.sum() / 2, others[0]: share[0] / 2, others[1]: share[1] / 2})
        cases.append(frames_to_probs(frames, alphabet)[0])
    return cases


def test_cross_stack_flashlight_draws_word_boundaries_as_ds_ctcdecoder(package, alphabet, tmp_path):
    """The same outputs and package through ds_ctcdecoder 0.7.4 (TF 1.15 stack) and flashlight (TF 2 stack).

    ds_ctcdecoder ends a word only where the model emits a space: letters that spell "the" and "cat" with no space
    between them are not "the cat" there, and must not be here (flashlight by itself joins words without one). On
    blurred spellings, where beam search and LM decide, they agree on at least 34 of 40 (measured: 37; 36 before
    silence stood for a repeated space between words, 29 with silence at the space's full probability; flashlight
    in its own style, words joined without a space and a look-ahead, agreed on 26 of all 44 cases)."""
    crafted = [spell("the cat"), spell("thecat"), spell("the dog sat"), spell("catsat on")]
    cases = [frames_to_probs(frames, alphabet)[0] for frames in crafted] + noisy_cases(alphabet, 40)
    width = max(len(case) for case in cases)
    probs = np.zeros((len(cases), width, alphabet.size + 1), dtype=np.float32)
    for index, case in enumerate(cases):
        probs[index, :len(case)] = case
    np.savez(str(tmp_path / "cases.npz"), probs=probs, lengths=[len(case) for case in cases])
    texts = {}
    for stack in ("tf1", "tf2"):
        out = tmp_path / (stack + ".json")
        stacks.run_python(stack, DECODE_CASES, tmp_path / "cases.npz", package, ENGLISH, out)
        texts[stack] = [" ".join(text.split()) for text in json.loads(out.read_text())]  # WER's view of a text
    ds, flashlight = texts["tf1"], texts["tf2"]
    assert ds[0] == "the cat" and ds[1] != "the cat"  # the premise: what ds_ctcdecoder does
    assert flashlight[:len(crafted)] == ds[:len(crafted)]
    agree = sum(a == b for a, b in zip(ds[len(crafted):], flashlight[len(crafted):]))
    assert agree >= 34, (agree, [pair for pair in zip(ds, flashlight) if pair[0] != pair[1]])


# --- The TF 2 stack's scorer check: decoding.load_scorer loads a package in a child process first (the probe
# decoder_modern.probe_scorer), so a damaged package is one UserError naming the file, not a crash. The TF 1.15
# stack's check (ds_ctcdecoder's probe) is tested on the same files in test_decoding_metrics.py.

tf2_only = stacks.only_on("tf2", "the modern decoder's scorer check (TF 1.15's is in test_decoding_metrics.py)")


@pytest.fixture(scope="module")
def own_lm_files(tmp_path_factory, alphabet):
    """test_decoding_metrics' model and words, packaged on this stack (by the Python writer on TF 2)."""
    folder = tmp_path_factory.mktemp("own")
    (folder / "lm.arpa").write_text(ARPA)
    binary = kenlm_fixtures.arpa_to_kenlm_binary(str(folder / "lm.arpa"), str(folder / "lm.binary"))
    package = scorer_package.write_scorer_package(binary, WORDS, alphabet, str(folder / "lm.scorer"),
                                                  DEFAULT_ALPHA, DEFAULT_BETA)
    return {"folder": folder, "arpa": str(folder / "lm.arpa"), "binary": binary, "scorer": package}


def assert_user_error_naming(path, alphabet, fragment):
    with pytest.raises(UserError) as caught:
        decoding.load_scorer(str(path), alphabet, 1.0, 1.0)
    message = str(caught.value)
    assert "--scorer_path {} is not a usable scorer package".format(path) in message, message
    assert fragment in message, (fragment, message)
    assert "deepspeech_freeze.lm" in message and "\n" not in message and "Traceback" not in message
    return message


@tf2_only
def test_tf2_checked_package_loads_and_the_probe_reports_it(own_lm_files, alphabet):
    info = scorer_package.check_scorer_package(own_lm_files["scorer"], alphabet, decoding.scorer_probe())
    assert decoding.scorer_probe() == decoder_modern.SCORER_PROBE
    assert info == {"order": 3, "utf8": False, "alpha": pytest.approx(DEFAULT_ALPHA, rel=1e-6),
                    "beta": pytest.approx(DEFAULT_BETA, rel=1e-6), "words": len(WORDS)}
    scorer = decoding.load_scorer(own_lm_files["scorer"], alphabet, DEFAULT_ALPHA, DEFAULT_BETA)
    assert isinstance(scorer, decoder_modern.FlashlightScorer) and scorer.words == sorted(WORDS)
    probs = frames_to_probs(spell("c") + [{"e": 0.55, "a": 0.4}, {}] + spell("t"), alphabet)
    assert decoding.beam_search_batch(probs, [probs.shape[1]], alphabet, 64) == ["cet"]
    assert decoding.beam_search_batch(probs, [probs.shape[1]], alphabet, 64, scorer=scorer) == ["cat"]


@tf2_only
def test_tf2_bad_scorer_files_are_user_errors(own_lm_files, alphabet, tmp_path):
    kenlm = "flashlight's KenLM could not load its language model ("
    size = os.path.getsize(own_lm_files["scorer"])
    cut = "no DeepSpeech 0.7 scorer trailer (magic 'TRIE', version 6, an OpenFST vocabulary): the one at byte 560 " \
          "is truncated or damaged ("
    expected = {"random": "does not start with a KenLM binary header", "empty": "it is empty",
                "arpa": "ARPA text language model", "lfs": "Git LFS pointer",
                "unfinished-kenlm": "did not finish building", "old-kenlm": "format version 4",
                "kenlm-format-line": "a KenLM binary with a damaged format line",
                "bare-lm": "no DeepSpeech 0.7 scorer trailer (magic 'TRIE', version 6, an OpenFST vocabulary). ",
                "truncated-lm": kenlm + "Binary file has size 280 but the headers say it should be at least 560)",
                "truncated-header": kenlm + "End of file in",
                "truncated-trailer": cut + "its head is cut short)",
                "truncated-dictionary": cut + "the vocabulary FST is cut short)",
                "truncated-end": cut + "the vocabulary FST is cut short ({} bytes needed, {} in the file))".format(
                    size, size - 1),
                "cut-16": cut + "the vocabulary FST is cut short ({} bytes needed, {} in the file))".format(
                    size, size - 16),
                "trailer-version": "its trailer is of version 7 (DeepSpeech 0.7 reads version 6)",
                "extra-bytes": "truncated, or has bytes after its vocabulary dictionary"}
    files = bad_scorer_files(tmp_path, own_lm_files)
    assert sorted(files) == sorted(expected)
    for name, path in files.items():
        assert_user_error_naming(path, alphabet, expected[name])
    utf8 = utf8_package(own_lm_files, tmp_path)
    with pytest.raises(UserError, match="was built for UTF-8 byte output"):
        decoding.load_scorer(utf8, alphabet, 1.0, 1.0)


@tf2_only
def test_tf2_every_cut_of_a_package_is_refused(own_lm_files, alphabet, tmp_path):
    for path in package_cuts(own_lm_files, tmp_path):
        assert_user_error_naming(path, alphabet, "")


# The modern decoder alone on a file: load it in this process and decode every label equally likely.
UNCHECKED_LOAD = """
import sys
import numpy as np
from deepspeech_freeze import decoder_modern
from deepspeech_freeze.alphabet import Alphabet
alphabet = Alphabet(sys.argv[2])
scorer = decoder_modern.load_scorer(sys.argv[1], alphabet, 1.0, 1.0)
probs = np.full((1, 2 * alphabet.size, alphabet.size + 1), 1.0 / (alphabet.size + 1), np.float32)
decoder_modern.beam_search_batch(probs, [probs.shape[1]], alphabet, 64, scorer=scorer)
"""


@tf2_only
def test_tf2_without_the_check_flashlight_kills_the_process(own_lm_files, alphabet, tmp_path):
    """What the child-process check is for on TF 2: flashlight's KenLM follows the offsets in a trie language model
    (DeepSpeech's kind) unchecked, and one flipped byte near its end crashes the process that loads and uses it
    (measured: the first 8 bytes of each 16 in its last 200 bytes but a few; 7 of these 13 flips). The check turns
    each crash into the UserError."""
    trie = str(tmp_path / "trie.binary")
    subprocess.run([kenlm_fixtures.build_binary_path(), "-a", "255", "-q", "8", "-v", "trie", own_lm_files["arpa"],
                    trie], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    package = open(scorer_package.write_scorer_package(trie, WORDS, alphabet, str(tmp_path / "trie.scorer"), 1.0,
                                                       1.0), "rb").read()
    lm_bytes = os.path.getsize(trie)
    crashed = []
    for offset in range(lm_bytes - 200, lm_bytes - 96, 8):
        path = tmp_path / "flip-{}.scorer".format(offset)
        path.write_bytes(package[:offset] + bytes([package[offset] ^ 0xFF]) + package[offset + 1:])
        result = subprocess.run([sys.executable, "-c", UNCHECKED_LOAD, str(path), ENGLISH], cwd=ROOT,
                                env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        if result.returncode < 0:
            crashed.append(path)
            assert_user_error_naming(path, alphabet, "the decoder died loading it (SIG")
    assert len(crashed) >= 4, crashed


@tf2_only
def test_tf2_flipped_dictionary_indices_are_refused(own_lm_files, alphabet, tmp_path):
    package = open(own_lm_files["scorer"], "rb").read()
    # The last byte of each 16-byte arc is the high byte of its next state (as in test_decoding_metrics).
    for offset in range(len(package) - 1, len(package) - 16 * 6, -16):
        path = tmp_path / "next-state-{}".format(offset)
        path.write_bytes(package[:offset] + bytes([package[offset] ^ 0xFF]) + package[offset + 1:])
        assert_user_error_naming(path, alphabet, "indices outside its tables")


@tf2_only
def test_tf2_damaged_scorer_stops_training_with_one_error_line(own_lm_files, tmp_path, ldc_dir):
    truncated = tmp_path / "kenlm.scorer"
    truncated.write_bytes(open(own_lm_files["scorer"], "rb").read()[:-16])
    result = run_module("deepspeech_freeze.train", "--train_files", str(ldc_dir / "ldc93s1.csv"), "--epochs", "1",
                        "--checkpoint_dir", tmp_path / "ckpt", "--summary_dir", tmp_path / "summaries",
                        "--n_hidden", "32", "--noshow_progressbar", "--alphabet_config_path", ENGLISH,
                        "--scorer_path", truncated, check=False)
    assert result.returncode == 2 and "Traceback" not in result.output, result.output[-2000:]
    errors = [line for line in result.output.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1 and str(truncated) in errors[0] and "is truncated or damaged" in errors[0], errors
    assert "STARTING Optimization" not in result.output


# --- Both stacks: the Decoder's scorer re-weighted in place (the scorer tuner's trials) -------------------------

def test_decoder_reweight_changes_the_loaded_scorer_in_place(own_lm_files, alphabet):
    """``Decoder.reweight`` on this stack's backend (ds_ctcdecoder on TF 1.15, flashlight on TF 2): the loaded scorer
    itself gets the new alpha/beta and the next decode follows them; "hat" is acoustically a little better than
    "cat", which the LM much prefers, so alpha decides."""
    from deepspeech_freeze.config import DecodingConfig
    frames = spell("cat")
    frames[0] = {"c": 0.4, "h": 0.5}
    probs = frames_to_probs(frames, alphabet)
    settings = DecodingConfig(scorer_path=own_lm_files["scorer"], beam_width=64, lm_alpha=0.0, lm_beta=0.0)
    decoder = decoding.Decoder.load(settings, alphabet)
    scorer = decoder.scorer
    assert decoder.decode(probs, [probs.shape[1]]) == ["hat"]
    decoder.reweight(2.0, 0.0)
    assert decoder.scorer is scorer and (scorer.alpha, scorer.beta) == (2.0, 0.0)
    assert (decoder.settings.lm_alpha, decoder.settings.lm_beta) == (2.0, 0.0)
    assert decoder.decode(probs, [probs.shape[1]]) == ["cat"]
    decoder.reweight(0.0, 0.0)
    assert decoder.decode(probs, [probs.shape[1]]) == ["hat"]
    # Without a scorer there is nothing to re-weight; the settings still say what was asked.
    plain = decoding.Decoder(DecodingConfig(beam_width=64), alphabet)
    plain.reweight(1.5, 2.5)
    assert plain.scorer is None and (plain.settings.lm_alpha, plain.settings.lm_beta) == (1.5, 2.5)
    assert plain.decode(probs, [probs.shape[1]]) == ["hat"]
