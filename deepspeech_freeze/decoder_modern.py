"""CTC beam search with a DeepSpeech ``.scorer`` package on the modern (TF 2) stack, where ds_ctcdecoder has no wheels.

ds_ctcdecoder 0.7.4 exists for Python 3.5-3.8 only. On the TF 2 stack the search is flashlight-text's
``LexiconDecoder`` (a maintained PyPI package with KenLM built in, cp311/cp312 wheels), chosen over pyctcdecode +
kenlm by measurement (``bench/decoders.py``; numbers in docs/tf2-stack.md). A DeepSpeech package still is the
language model:

* the KenLM binary at its start is loaded by flashlight's KenLM directly (KenLM reads its own header and ignores
  the bytes after its search data, as ds_ctcdecoder's KenLM does);
* the vocabulary comes from the package's trailer (int32 ``'TRIE'`` magic, int32 version 6, a utf8 byte, float64
  alpha and beta, then an OpenFST ``ConstFst`` over alphabet labels), read by
  :func:`~deepspeech_freeze.scorer_package.read_vocabulary`: every
  path from the start state to a final state spells one word. That list becomes flashlight's lexicon trie, which
  restricts the beams to vocabulary words as ds_ctcdecoder's dictionary does. (The format's constants are
  :mod:`deepspeech_freeze.scorer_package`'s, whose Python writer makes such trailers where ds_ctcdecoder is missing.)

Before a process decodes with a package, :func:`probe_scorer` loads and uses it once in a child process
(:func:`deepspeech_freeze.decoding.load_scorer` runs it through
:func:`~deepspeech_freeze.scorer_package.check_scorer_package`), as ds_ctcdecoder's probe does on the TF 1.15 stack:
flashlight's KenLM can crash the process on a damaged language model.

Weights as DeepSpeech applies them: ds_ctcdecoder adds ``alpha * ln P_LM(word) + beta`` per completed word, where
KenLM reports log10 probabilities; flashlight adds ``lm_weight * log10 P + word_score``, so ``lm_weight = alpha *
ln 10`` and ``word_score = beta``. Emissions are natural-log softmax probabilities. Without a scorer the
lexicon-free decoder with no LM is used (plain CTC prefix beam search over labels).

Word boundaries as ds_ctcdecoder draws them (chosen by measurement, docs/tf2-stack.md): there a word is scored
when the acoustic model emits the space after it, and a partly spelled word carries no LM score. So each lexicon
spelling here ends with the space label (as in the package's dictionary), the trie is not smeared (no LM
look-ahead), and flashlight's silence token is an extra emission class (:func:`silence_class`). One frame in which
only the space (or, after a completed word, silence) is possible is appended to every utterance, so that its last
word is scored as ds_ctcdecoder scores it at the end; and no end-of-sentence probability is added (ds_ctcdecoder adds none, flashlight's KenLM
would: :func:`without_sentence_end`). Flashlight's own style (words joined by an optional silence, smeared look-ahead) agreed with
ds_ctcdecoder on 263 of 600 utterances; this style on 421.

A difference of the search itself (fifth session, measured on a model trained then; docs/tf2-stack.md): between
words (at the trie's root, after a word's space) flashlight can only stay put by emitting its silence token, where
ds_ctcdecoder absorbs a repeated space as a CTC repeat. With silence never emitted, 394 of 600 transcripts were
identical to ds_ctcdecoder's and WER was 2.14 points lower; silence with the space's probability (which also lets
a space follow a blank between words, as ds_ctcdecoder's dictionary does not) gave 452 and 0.59 points higher;
silence bounded by the previous frame's space probability (:func:`lexicon_emissions`) 502 and 0.02 points higher.
flashlight also keeps a prefix ending in a blank and the same prefix ending in its label as two hypotheses, where
ds_ctcdecoder keeps one prefix; twice the beam was measured (509 identical, 0.48 points lower, twice the time) and
not kept.
"""
import math
import os

import numpy as np

from .errors import UserError
from .scorer_package import ScorerFileError, VocabularyError, kenlm_parameters, read_vocabulary

#: What the child process of :func:`~deepspeech_freeze.scorer_package.check_scorer_package` runs for this backend.
SCORER_PROBE = "deepspeech_freeze.decoder_modern:probe_scorer"


#: flashlight's ``lm_weight`` per unit of DeepSpeech's alpha (flashlight adds ``lm_weight * log10 P``). ln 10 makes
#: the weight DeepSpeech's formula (``alpha * ln P``); see docs/tf2-stack.md for what was measured against
#: ds_ctcdecoder 0.7.4.
LM_WEIGHT_PER_ALPHA = math.log(10.0)
#: flashlight's ``log_add``: True sums the probabilities of a prefix's CTC alignments, as ds_ctcdecoder's prefix beam
#: search does (False keeps the best alignment only).
LOG_ADD = True


def log_softmax(logits):
    """Natural-log softmax over the last axis, float32 (flashlight's emissions)."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - np.max(logits, axis=-1, keepdims=True)
    return (shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))).astype(np.float32)


class FlashlightScorer(object):
    """A scorer package loaded for flashlight-text: KenLM, the lexicon trie and the weights."""

    def __init__(self, path, alphabet, alpha, beta, vocabulary=None):
        # First: a bad package is reported whatever is installed. ``vocabulary``: read_vocabulary's answer, when the
        # caller has read it already.
        words, info = vocabulary or read_vocabulary(path, alphabet)
        try:
            from flashlight.lib.text.decoder import KenLM, SmearingMode, Trie  # pylint: disable=import-outside-toplevel
            from flashlight.lib.text.dictionary import Dictionary  # pylint: disable=import-outside-toplevel
        except ImportError as err:
            raise UserError("--scorer_path {}: decoding without ds_ctcdecoder needs flashlight-text ({}); install the "
                            "stack's requirements (bin/install.sh --stack tf2)".format(path, err))
        if info["utf8"]:
            raise UserError("--scorer_path {}: UTF-8 mode packages are not supported by the modern decoder".format(
                path))
        if not words:
            raise UserError("--scorer_path {}: the package's vocabulary is empty".format(path))
        self.path, self.alpha, self.beta = path, float(alpha), float(beta)
        self.words = words
        self.tokens = token_dictionary(alphabet)
        self.space = _space_label(alphabet)
        # Word indices for flashlight (KenLM maps them to its own vocabulary); <unk> is never emitted (unk_score
        # -inf), as ds_ctcdecoder only spells dictionary words.
        self.word_dict = Dictionary(list(words) + ["<unk>"])
        self.word_dict.set_default_index(self.word_dict.get_index("<unk>"))
        self.unk = self.word_dict.get_index("<unk>")
        self.lm = KenLM(path, self.word_dict)
        self.search_lm = without_sentence_end(self.lm)
        if self.space is None:
            raise UserError("--scorer_path {}: the alphabet has no space label, so words cannot be told apart".format(
                path))
        # Each spelling ends with the space that completes the word (module docstring); the root index is the
        # silence class, one past the blank, which the model never emits.
        self.trie = Trie(alphabet.size + 2, silence_class(alphabet))
        start = self.lm.start(False)
        for word in words:
            index = self.word_dict.get_index(word)
            _, score = self.lm.score(start, index)
            self.trie.insert([self.tokens.get_index(char) for char in word] + [self.space], index, score)
        self.trie.smear(SmearingMode.NONE)


def without_sentence_end(kenlm):
    """``kenlm`` as a flashlight LM whose ``finish`` adds nothing: ds_ctcdecoder never scores ``</s>``.

    A Python subclass of flashlight's LM (its documented extension point); each call goes through Python, which made
    decoding about 1.8x slower on the bench set (7 -> 12.5 ms per utterance at beam 64)."""
    from flashlight.lib.text.decoder import LM  # pylint: disable=import-outside-toplevel

    class WithoutSentenceEnd(LM):
        def __init__(self):
            LM.__init__(self)
            self.inner = kenlm  # kept alive with the decoder

        def start(self, start_with_nothing):
            return self.inner.start(start_with_nothing)

        def score(self, state, token):
            return self.inner.score(state, token)

        def finish(self, state):
            return state, 0.0

    return WithoutSentenceEnd()


def silence_class(alphabet):
    """The emission class given to flashlight as its silence token: one past the CTC blank. It is only emitted
    between words, where it stands for a repeated space (:func:`lexicon_emissions`)."""
    return alphabet.size + 1


#: The log probability of what cannot be emitted (finite: flashlight adds and log-adds scores).
_NEVER = -1e30


def lexicon_emissions(log_probs, space):
    """``[T, C]`` log probabilities -> ``[T + 1, C + 1]``: a silence column, and a last frame in which only the
    space (or silence) is possible: it completes the utterance's last word.

    Between words flashlight stays put by emitting silence, where ds_ctcdecoder repeats the space (a CTC repeat,
    no blank between). Silence at frame t is given ``min(P_t(space), P_t-1(space))``: a repeat continues a space
    at t - 1, so its probability there bounds the path's; and a space after a blank between words, which
    ds_ctcdecoder's dictionary rejects, then costs as much as the space it would continue."""
    frames, classes = log_probs.shape
    emissions = np.full((frames + 1, classes + 1), _NEVER, dtype=np.float32)
    emissions[:frames, :classes] = log_probs
    emissions[frames, space] = 0.0
    space_now = emissions[:frames, space]
    emissions[1:frames, classes] = np.minimum(space_now[1:], space_now[:-1])
    emissions[frames, classes] = 0.0
    return emissions


def _space_label(alphabet):
    """The index of the space label (the word separator), or None when the alphabet has none."""
    return alphabet.labels.index(" ") if " " in alphabet.labels else None


def token_dictionary(alphabet):
    """flashlight's token Dictionary: the alphabet's labels in order, then the CTC blank (last class)."""
    from flashlight.lib.text.dictionary import Dictionary  # pylint: disable=import-outside-toplevel

    return Dictionary(list(alphabet.labels) + ["<blank>"])


def load_scorer(scorer_path, alphabet, alpha, beta):
    """The package at ``scorer_path`` ready for :func:`beam_search_batch`, or None for ''; problems are UserErrors."""
    if not scorer_path:
        return None
    try:
        return FlashlightScorer(scorer_path, alphabet, alpha, beta)
    except VocabularyError as err:
        raise UserError("--scorer_path {} is not a usable scorer package: {}".format(scorer_path, err))
    except (IOError, OSError) as err:
        raise UserError("--scorer_path {}: cannot read the file ({})".format(scorer_path, err))
    except RuntimeError as err:  # KenLM's loader reports a foreign or damaged binary this way
        raise UserError("--scorer_path {}: KenLM could not load the language model ({})".format(scorer_path, err))


def _kenlm_refused(err):
    reason = [line.strip() for line in str(err).splitlines() if line.strip()]  # KenLM's last line says why
    return ScorerFileError("flashlight's KenLM could not load its language model ({})".format(
        reason[-1] if reason else type(err).__name__))


def _check_language_model(scorer_path):
    """Raise ScorerFileError with KenLM's reason when flashlight's KenLM refuses the file's language model."""
    from flashlight.lib.text.decoder import KenLM  # pylint: disable=import-outside-toplevel
    from flashlight.lib.text.dictionary import Dictionary  # pylint: disable=import-outside-toplevel

    try:
        KenLM(scorer_path, Dictionary(["<unk>"]))
    except RuntimeError as err:
        raise _kenlm_refused(err)


def probe_scorer(scorer_path, alphabet):
    """Load package ``scorer_path`` as :func:`load_scorer` does and decode once with it: this backend's scorer
    probe, run in a child process by :func:`~deepspeech_freeze.scorer_package.check_scorer_package`.

    Returns the package's ``order``, ``utf8`` mode, default ``alpha``/``beta`` and its number of ``words``. Raises
    :class:`~deepspeech_freeze.scorer_package.ScorerFileError` for a package whose trailer or dictionary is
    missing or damaged, whose file does not end where its dictionary does (the check ds_ctcdecoder's probe makes
    too), whose vocabulary is empty, or whose language model flashlight's KenLM refuses. flashlight-text loads KenLM
    in-process, and KenLM follows the offsets in its data: on a damaged language model it can crash the process, so
    this probe runs in a child.
    """
    try:
        words, info = read_vocabulary(scorer_path, alphabet)
    except VocabularyError as err:
        _check_language_model(scorer_path)  # a truncated language model is the better reason, where it is one
        raise ScorerFileError(str(err))
    if info["fst_end"] != os.path.getsize(scorer_path):
        raise ScorerFileError("it is truncated, or has bytes after its vocabulary dictionary: the file does not end "
                              "where the dictionary does")
    parameters = kenlm_parameters(scorer_path)
    answer = {"order": parameters[0] if parameters else None, "utf8": info["utf8"], "alpha": info["alpha"],
              "beta": info["beta"], "words": len(words)}
    if info["utf8"]:
        return answer  # the caller refuses it (this decoder spells alphabet labels)
    if not words:
        raise ScorerFileError("its vocabulary dictionary holds no word")
    try:
        scorer = FlashlightScorer(scorer_path, alphabet, 1.0, 1.0, vocabulary=(words, info))
    except RuntimeError as err:  # KenLM's exceptions, e.g. a language model shorter than its header says
        raise _kenlm_refused(err)
    # Every label equally likely for a few frames: the search walks the lexicon and queries the LM.
    probs = np.full((1, 2 * alphabet.size, alphabet.size + 1), 1.0 / (alphabet.size + 1), np.float32)
    beam_search_batch(probs, [probs.shape[1]], alphabet, 64, scorer=scorer)
    return answer


def beam_search_batch(probs, seq_lengths, alphabet, beam_width, scorer=None, cutoff_prob=1.0, cutoff_top_n=300,
                      num_processes=None, lm_weight_per_alpha=None):
    """Transcripts for batch-major softmax ``probs`` ``[B, T, n_classes]`` (same contract as ds_ctcdecoder's path in
    :mod:`deepspeech_freeze.decoding`). ``cutoff_top_n`` limits the labels tried per frame (flashlight's
    ``beam_size_token``); ``cutoff_prob`` and ``num_processes`` are accepted for the same signature.
    ``lm_weight_per_alpha`` overrides :data:`LM_WEIGHT_PER_ALPHA` (bench/decoders.py compares mappings)."""
    from flashlight.lib.text.decoder import (CriterionType, LexiconDecoder,  # pylint: disable=import-outside-toplevel
                                             LexiconDecoderOptions, LexiconFreeDecoder,
                                             LexiconFreeDecoderOptions, ZeroLM)

    del cutoff_prob, num_processes
    n_classes = alphabet.size + 1
    blank = alphabet.size
    emissions_all = np.log(np.maximum(np.asarray(probs, dtype=np.float64), 1e-30)).astype(np.float32)
    token_beam = int(min(max(1, cutoff_top_n), n_classes))
    per_alpha = LM_WEIGHT_PER_ALPHA if lm_weight_per_alpha is None else float(lm_weight_per_alpha)
    if scorer is not None:
        options = LexiconDecoderOptions(beam_size=int(beam_width), beam_size_token=token_beam,
                                        beam_threshold=1e9, lm_weight=scorer.alpha * per_alpha,
                                        word_score=scorer.beta, unk_score=float("-inf"), sil_score=0.0,
                                        log_add=LOG_ADD, criterion_type=CriterionType.CTC)
        decoder = LexiconDecoder(options, scorer.trie, scorer.search_lm, silence_class(alphabet), blank, scorer.unk, [],
                                 False)
    else:
        options = LexiconFreeDecoderOptions(beam_size=int(beam_width), beam_size_token=token_beam,
                                            beam_threshold=1e9, lm_weight=0.0, sil_score=0.0, log_add=LOG_ADD,
                                            criterion_type=CriterionType.CTC)
        space = _space_label(alphabet)
        silence = space if space is not None else blank
        decoder = LexiconFreeDecoder(options, ZeroLM(), silence, blank, [])
    transcripts = []
    for entry, length in zip(emissions_all, np.asarray(seq_lengths).reshape(-1)):
        length = int(length)
        if length == 0:
            transcripts.append("")
            continue
        emissions = np.ascontiguousarray(entry[:length])
        if scorer is not None:
            emissions = lexicon_emissions(emissions, scorer.space)
        results = decoder.decode(emissions.ctypes.data, emissions.shape[0], emissions.shape[1])
        if not results:
            transcripts.append("")
        elif scorer is not None:  # the words of the best beam (indices into the package's vocabulary)
            transcripts.append(" ".join(scorer.word_dict.get_entry(index) for index in results[0].words
                                        if index >= 0 and index != scorer.unk))
        else:
            transcripts.append(_tokens_to_text(results[0].tokens, alphabet, blank))
    return transcripts


def _tokens_to_text(tokens, alphabet, blank):
    """CTC collapse of flashlight's token path (repeats merged, blanks dropped), spaces trimmed and single."""
    text, previous = [], None
    for token in tokens:
        if token != previous and 0 <= token < blank:
            text.append(alphabet.labels[token])
        previous = token
    return " ".join("".join(text).split())


def unavailable_reason():
    """Why flashlight-text cannot be used here (its import error), or '' when it imports."""
    try:
        import flashlight.lib.text.decoder  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    except ImportError as err:
        return str(err)
    return ""

