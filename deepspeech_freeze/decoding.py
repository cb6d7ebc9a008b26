"""CTC beam search with ds_ctcdecoder 0.7.4 and an optional external scorer, as DeepSpeech 0.7 decodes.

The search library is a :class:`Backend`, chosen once per process by :func:`backend`: ds_ctcdecoder where it is
installed, else (the TF 2 stack: it has no wheels past Python 3.8) flashlight-text through
:mod:`deepspeech_freeze.decoder_modern`, with the same ``.scorer`` packages. Everything else decodes through this
module the same way: :class:`Decoder` (the decoding settings with their scorer loaded) for a model's outputs, its
:meth:`Decoder.reweight` for the scorer tuner's trials, :func:`load_scorer` and :func:`beam_search_batch` for the
parts.

The acoustic model's logits are softmaxed and made batch-major; ds_ctcdecoder's batch decoder searches each entry
with ``beam_width`` beams, optionally rescored by a scorer package (KenLM language model + vocabulary), and the
text of the best beam is the transcript. The scorer's alpha (LM weight) and beta (word insertion bonus) come from
the flags, overriding the defaults stored in the package.
"""
import dataclasses
import logging
import os
import tempfile

import numpy as np

from . import decoder_modern
from .errors import UserError
from .progress import announce_large_file
from .scorer_package import (FST_ALIGNMENT, TRAILER_HEAD, ScorerFileError, VocabularyError, check_scorer_package,
                             native_alphabet, parse_const_fst)

SCORER_HINT = ("A scorer package is a KenLM language model with DeepSpeech 0.7's vocabulary trailer, as written by "
               "DeepSpeech 0.7's generate_package.py (e.g. the release file deepspeech-0.7.4-models.scorer) or by "
               "`python -m deepspeech_freeze.lm`; pass --scorer_path '' to decode without a language model.")

#: What the child process of :func:`~deepspeech_freeze.scorer_package.check_scorer_package` runs for this backend.
SCORER_PROBE = "deepspeech_freeze.decoding:probe_scorer"

# What ds_ctcdecoder's load errors mean for the file.
_LOAD_ERRORS = {
    "DS_ERR_SCORER_UNREADABLE": "ds_ctcdecoder cannot open it",
    "DS_ERR_SCORER_INVALID_LM": "ds_ctcdecoder's KenLM does not read it as a language model",
    "DS_ERR_SCORER_NO_TRIE": "it is a bare KenLM language model without the vocabulary trailer of a scorer package",
    "DS_ERR_SCORER_INVALID_TRIE": "the bytes after its language model are not DeepSpeech's scorer trailer",
    "DS_ERR_SCORER_VERSION_MISMATCH": "its scorer trailer is of another version than DeepSpeech 0.7 reads: rebuild it",
}
# The trailer's head (magic, version, UTF-8 byte, alpha, beta: 25 bytes) and the dictionary's OpenFST header (at
# least 65 bytes more) do not depend on where the trailer starts; the one alignment padding after them (0-15
# bytes, up to OpenFST's 16-byte boundary) does.
_POSITION_FREE_BYTES = 64


def use_ds_ctcdecoder():
    """True when ds_ctcdecoder 0.7.4 is importable (the TF 1.15 stack); else the modern decoder is used."""
    try:
        import ds_ctcdecoder  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    except ImportError:
        return False
    return True


class Backend(object):
    """A CTC beam-search library, by the few operations the package needs of it.

    ``name``: ``'ds_ctcdecoder'`` or ``'flashlight'``; ``probe``: the ``"module:function"`` that
    :func:`~deepspeech_freeze.scorer_package.check_scorer_package` runs in a child process to try a package."""
    name = probe = ""

    def unavailable(self):
        """Why this backend cannot decode in this process, or '' when it can."""
        raise NotImplementedError

    def load_scorer(self, scorer_path, alphabet, alpha, beta):
        """The backend's scorer for a package already checked by the probe."""
        raise NotImplementedError

    def reweight(self, scorer, alpha, beta):
        """Give ``scorer`` (this backend's, loaded) new alpha/beta in place, without reading the package again."""
        raise NotImplementedError

    def beam_search(self, probs, lengths, alphabet, beam_width, scorer, cutoff_prob, cutoff_top_n, num_processes):
        """The best beam's text per entry of checked batch-major ``probs``."""
        raise NotImplementedError


class DsCtcdecoder(Backend):
    """ds_ctcdecoder 0.7.4, DeepSpeech's own decoder (the TF 1.15 stack)."""
    name, probe = "ds_ctcdecoder", SCORER_PROBE

    def unavailable(self):
        return "" if use_ds_ctcdecoder() else "ds_ctcdecoder is not installed"

    def load_scorer(self, scorer_path, alphabet, alpha, beta):
        import ds_ctcdecoder  # pylint: disable=import-outside-toplevel

        try:
            return ds_ctcdecoder.Scorer(float(alpha), float(beta), scorer_path, alphabet)
        except ValueError as err:  # the file changed since the check
            code = str(err).rsplit(" ", 1)[-1]
            name = _error_name(int(code)) if code.isdigit() else str(err)
            raise UserError("--scorer_path {}: ds_ctcdecoder could not load the scorer package ({}). {}".format(
                scorer_path, name, SCORER_HINT))

    def reweight(self, scorer, alpha, beta):
        scorer.reset_params(float(alpha), float(beta))

    def beam_search(self, probs, lengths, alphabet, beam_width, scorer, cutoff_prob, cutoff_top_n, num_processes):
        import ds_ctcdecoder  # pylint: disable=import-outside-toplevel

        decoded = ds_ctcdecoder.ctc_beam_search_decoder_batch(
            probs, lengths.astype(np.int32), alphabet, int(beam_width), int(num_processes or os.cpu_count() or 1),
            cutoff_prob=float(cutoff_prob), cutoff_top_n=int(cutoff_top_n), scorer=scorer)
        return [beams[0][1] if beams else "" for beams in decoded]


class Flashlight(Backend):
    """flashlight-text's decoders over the same packages (:mod:`deepspeech_freeze.decoder_modern`)."""
    name, probe = "flashlight", decoder_modern.SCORER_PROBE

    def unavailable(self):
        return decoder_modern.unavailable_reason()

    def load_scorer(self, scorer_path, alphabet, alpha, beta):
        return decoder_modern.load_scorer(scorer_path, alphabet, alpha, beta)

    def reweight(self, scorer, alpha, beta):
        # FlashlightScorer keeps the weights as plain attributes and reads them at every decode.
        scorer.alpha, scorer.beta = float(alpha), float(beta)

    def beam_search(self, probs, lengths, alphabet, beam_width, scorer, cutoff_prob, cutoff_top_n, num_processes):
        return decoder_modern.beam_search_batch(probs, lengths, alphabet, beam_width, scorer=scorer,
                                                cutoff_prob=cutoff_prob, cutoff_top_n=cutoff_top_n)


_BACKEND = []


def backend():
    """The process's :class:`Backend`, chosen on first use: ds_ctcdecoder where it is importable, else flashlight."""
    if not _BACKEND:
        _BACKEND.append(DsCtcdecoder() if use_ds_ctcdecoder() else Flashlight())
    return _BACKEND[0]


def scorer_probe():
    """The probe (``"module:function"``) of the backend in use, for
    :func:`~deepspeech_freeze.scorer_package.check_scorer_package`."""
    return backend().probe


def _error_name(code):
    import ds_ctcdecoder

    for name in dir(ds_ctcdecoder):
        if name.startswith("DS_ERR_") and getattr(ds_ctcdecoder, name) == code:
            return name
    return "error {}".format(code)


def _saved_trailer(scorer, offset):
    """The trailer ds_ctcdecoder writes for ``scorer``'s dictionary when the trailer starts at byte ``offset``."""
    handle, path = tempfile.mkstemp(suffix=".trailer")
    try:
        os.write(handle, b"\0" * offset)
        os.close(handle)
        if not scorer.save_dictionary(path, True):
            raise ScorerFileError("ds_ctcdecoder could not write its vocabulary dictionary back")
        with open(path, "rb") as saved:
            saved.seek(offset)
            return saved.read()
    finally:
        os.remove(path)


def _check_trailer_ends_the_file(trailer, scorer, scorer_path):
    # ds_ctcdecoder maps the dictionary from the file: bytes missing at the end read as zeros (or crash later, in
    # the middle of a decode) instead of failing the load. Writing the dictionary back touches all of it, and the
    # file must end with exactly those bytes. Only the file's end is searched for the trailer's head: scanning a
    # 1 GB package from the start takes seconds. ``trailer``: the dictionary written back at offset 0.
    size = os.path.getsize(scorer_path)
    with open(scorer_path, "rb") as handle:
        handle.seek(max(0, size - len(trailer) - 2 * FST_ALIGNMENT))
        tail = handle.read()
    start = tail.find(trailer[:_POSITION_FREE_BYTES])
    if start >= 0:
        offset = (size - len(tail) + start) % FST_ALIGNMENT
        if offset:
            trailer = _saved_trailer(scorer, offset)
        if tail[start:] == trailer:
            return
    raise ScorerFileError("it is truncated, or has bytes after its vocabulary dictionary: the file does not end "
                          "where the dictionary does")


def _check_dictionary_indices(trailer):
    # ds_ctcdecoder follows the dictionary's state and arc indices without bounds checks: one flipped bit there
    # crashes a decode hours later, when a beam reaches that arc. ``trailer``: the dictionary written back at offset
    # 0 (the trailer head, then OpenFST's ConstFst), which must end where its arc table does.
    try:
        end = parse_const_fst(trailer, TRAILER_HEAD.size)[3]
    except VocabularyError as err:
        raise ScorerFileError("its vocabulary dictionary: {}".format(err))
    if end != len(trailer):
        raise ScorerFileError("its vocabulary dictionary has a damaged header")


def probe_scorer(scorer_path, alphabet):
    """Load package ``scorer_path`` with ds_ctcdecoder and decode once with it: this backend's scorer probe.

    Returns the package's ``order``, ``utf8`` mode and default ``alpha``/``beta``. Raises :class:`ScorerFileError`
    for a package ds_ctcdecoder refuses, whose dictionary has indices outside its tables, or whose file does not
    end where its dictionary does; on other damaged files ds_ctcdecoder ends the process, which is why
    :func:`~deepspeech_freeze.scorer_package.check_scorer_package` runs this in a child process.
    """
    import ds_ctcdecoder

    scorer = ds_ctcdecoder.Scorer()
    code = scorer.init(scorer_path.encode("utf-8"), native_alphabet(alphabet))
    if code != ds_ctcdecoder.DS_ERR_OK:
        name = _error_name(code)
        raise ScorerFileError(_LOAD_ERRORS.get(name, "ds_ctcdecoder could not load it ({})".format(name)))
    info = {"order": scorer.get_max_order(), "utf8": bool(scorer.is_utf8_mode()), "alpha": scorer.alpha,
            "beta": scorer.beta}
    if info["utf8"]:
        return info  # decoding alphabet labels with it would crash; the caller refuses it
    trailer = _saved_trailer(scorer, 0)
    _check_dictionary_indices(trailer)
    _check_trailer_ends_the_file(trailer, scorer, scorer_path)
    # Every label equally likely for a few frames: the search walks the dictionary and queries the LM.
    probs = np.full((1, 2 * alphabet.size, alphabet.size + 1), 1.0 / (alphabet.size + 1), np.float32)
    beam_search_batch(probs, [probs.shape[1]], alphabet, 64, scorer=scorer, num_processes=1)
    return info


def load_scorer(scorer_path, alphabet, alpha, beta):
    """The scorer for package ``scorer_path`` with ``alpha``/``beta`` set, or None for '': ds_ctcdecoder's
    ``Scorer``, or without ds_ctcdecoder :class:`deepspeech_freeze.decoder_modern.FlashlightScorer` (the
    :func:`backend`'s).

    The package is first loaded and used in a child process (:data:`SCORER_PROBE`), because ds_ctcdecoder aborts or
    crashes the process on truncated or foreign files and on a package in UTF-8 mode; every problem is a
    :class:`UserError` naming the file. Without ds_ctcdecoder the same holds for the modern decoder: its probe
    (:data:`deepspeech_freeze.decoder_modern.SCORER_PROBE`) runs in the child, then
    :func:`deepspeech_freeze.decoder_modern.load_scorer` loads the package here.
    """
    if not scorer_path:
        return None
    where = "--scorer_path {}".format(scorer_path)
    if not os.path.exists(scorer_path):
        raise UserError("{}: the file does not exist. {}".format(where, SCORER_HINT))
    if not os.path.isfile(scorer_path):
        raise UserError("{}: this is not a file. {}".format(where, SCORER_HINT))
    if not os.access(scorer_path, os.R_OK):
        raise UserError("{}: the file is not readable (check its permissions)".format(where))
    announce_large_file(logging.getLogger(__name__), "Checking the scorer package", scorer_path)
    chosen = backend()
    missing = chosen.unavailable()
    if missing:  # not the file's fault: say so before the check blames it (only flashlight can be missing)
        raise UserError("{}: decoding without ds_ctcdecoder needs flashlight-text ({}); install the stack's "
                        "requirements (bin/install.sh --stack tf2)".format(where, missing))
    try:
        info = check_scorer_package(scorer_path, alphabet, chosen.probe)
    except ScorerFileError as err:
        raise UserError("{} is not a usable scorer package: {}. {}".format(where, err, SCORER_HINT))
    except (IOError, OSError) as err:
        raise UserError("{}: cannot read the file ({})".format(where, err))
    if info["utf8"]:
        raise UserError("{} was built for UTF-8 byte output (--utf8) but the model outputs the labels of alphabet "
                        "{}: use a package built for this alphabet (`python -m deepspeech_freeze.lm` makes one)"
                        .format(where, alphabet.path))
    return chosen.load_scorer(scorer_path, alphabet, alpha, beta)


def softmax_batch_major(time_major_logits):
    """Softmax over the last axis of ``[T, B, n_classes]`` logits, returned batch-major ``[B, T, n_classes]``.

    Computed in float64 and returned in the input's floating type (float32 logits give float32 probabilities,
    as TensorFlow's softmax does in DeepSpeech)."""
    logits = np.asarray(time_major_logits)
    dtype = logits.dtype if np.issubdtype(logits.dtype, np.floating) else np.float64
    shifted = logits.astype(np.float64) - np.max(logits, axis=-1, keepdims=True)
    exp = np.exp(shifted)
    probs = exp / np.sum(exp, axis=-1, keepdims=True)
    return np.ascontiguousarray(np.transpose(probs, (1, 0, 2)).astype(dtype))


def beam_search_batch(probs, seq_lengths, alphabet, beam_width, scorer=None, cutoff_prob=1.0, cutoff_top_n=300,
                      num_processes=None):
    """Transcripts (the best beam's text) for batch-major softmax ``probs`` ``[B, T, n_classes]``.

    ``seq_lengths`` holds each entry's number of valid frames. ``n_classes`` must be the alphabet's size + 1 (the
    CTC blank is the last class). ``num_processes`` (decoder threads) defaults to the number of CPUs.
    """
    probs = np.asarray(probs)
    if probs.ndim != 3:
        raise ValueError("probs must be [batch, time, classes], got shape {}".format(probs.shape))
    if probs.shape[2] != alphabet.size + 1:
        raise UserError("the model outputs {} classes but alphabet {} has {} labels (+1 blank = {}): decode with "
                        "the alphabet the model was trained with".format(
                            probs.shape[2], getattr(alphabet, "path", ""), alphabet.size, alphabet.size + 1))
    if probs.dtype not in (np.float32, np.float64):
        probs = probs.astype(np.float64)
    probs = np.ascontiguousarray(probs)
    lengths = np.asarray(seq_lengths).reshape(-1)
    if lengths.shape[0] != probs.shape[0]:
        raise ValueError("{} sequence lengths for a batch of {}".format(lengths.shape[0], probs.shape[0]))
    if np.any(lengths < 0) or np.any(lengths > probs.shape[1]):
        raise ValueError("sequence lengths {} outside 0..{}".format(lengths.tolist(), probs.shape[1]))
    if int(beam_width) < 1:
        raise UserError("--beam_width {} must be at least 1".format(beam_width))
    if probs.shape[0] == 0:
        return []
    return backend().beam_search(probs, lengths, alphabet, beam_width, scorer, cutoff_prob, cutoff_top_n,
                                 num_processes)


class Decoder(object):
    """A model's outputs to transcripts as a :class:`~deepspeech_freeze.config.DecodingConfig` says: its beam width
    and cut-offs, and its scorer (:meth:`load` loads ``--scorer_path``, so a bad one fails before any work)."""

    def __init__(self, settings, alphabet, scorer=None):
        self.settings, self.alphabet, self.scorer = settings, alphabet, scorer

    @classmethod
    def load(cls, settings, alphabet):
        """The decoder with ``settings.scorer_path`` loaded (none for '') with ``--lm_alpha``/``--lm_beta``."""
        return cls(settings, alphabet, load_scorer(settings.scorer_path, alphabet, settings.lm_alpha,
                                                   settings.lm_beta))

    def reweight(self, alpha, beta):
        """Decode from now on with scorer weights ``alpha``/``beta``: the loaded scorer is changed in place, not
        read again (the scorer tuner tries thousands of pairs). Without a scorer only the settings change."""
        if self.scorer is not None:
            backend().reweight(self.scorer, alpha, beta)
        self.settings = dataclasses.replace(self.settings, lm_alpha=float(alpha), lm_beta=float(beta))

    def decode(self, probs, n_frames):
        """Transcripts of batch-major softmax ``probs`` ``[B, T, n_classes]`` with ``n_frames`` valid frames each."""
        settings = self.settings
        return beam_search_batch(probs, n_frames, self.alphabet, settings.beam_width, scorer=self.scorer,
                                 cutoff_prob=settings.cutoff_prob, cutoff_top_n=settings.cutoff_top_n)
