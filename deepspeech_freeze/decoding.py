"""CTC beam search with ds_ctcdecoder 0.7.4 and an optional external scorer, as DeepSpeech 0.7 decodes.

The acoustic model's logits are softmaxed and made batch-major; ds_ctcdecoder's batch decoder searches each entry
with ``beam_width`` beams, optionally rescored by a scorer package (KenLM language model + vocabulary), and the
text of the best beam is the transcript. The scorer's alpha (LM weight) and beta (word insertion bonus) come from
the flags, overriding the defaults stored in the package.
"""
import os

import numpy as np

from .errors import UserError
from .scorer_package import ScorerFileError, inspect_scorer_package

SCORER_HINT = ("A scorer package is a KenLM language model with DeepSpeech 0.7's vocabulary trailer, as written by "
               "DeepSpeech 0.7's generate_package.py (e.g. the release file deepspeech-0.7.4-models.scorer) or by "
               "`python -m deepspeech_freeze.lm`; pass --scorer_path '' to decode without a language model.")


def _error_name(code):
    import ds_ctcdecoder

    for name in dir(ds_ctcdecoder):
        if name.startswith("DS_ERR_") and getattr(ds_ctcdecoder, name) == code:
            return name
    return "error {}".format(code)


def load_scorer(scorer_path, alphabet, alpha, beta, utf8=False):
    """The ds_ctcdecoder ``Scorer`` for package ``scorer_path`` with ``alpha``/``beta`` set, or None for ''.

    The file is checked before ds_ctcdecoder sees it (ds_ctcdecoder aborts or crashes the process on truncated or
    foreign files, and on a scorer whose UTF-8 mode differs from the alphabet's); every problem is a
    :class:`UserError` naming the file. ``utf8`` says whether ``alphabet`` is the byte alphabet of ``--utf8``.
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
    try:
        info = inspect_scorer_package(scorer_path)
    except ScorerFileError as err:
        raise UserError("{} is not a usable scorer package: {}. {}".format(where, err, SCORER_HINT))
    except (IOError, OSError) as err:
        raise UserError("{}: cannot read the file ({})".format(where, err))
    if info["utf8"] != bool(utf8):
        built = "UTF-8 byte output (--utf8)" if info["utf8"] else "alphabet labels"
        used = "UTF-8 bytes (--utf8)" if utf8 else "the labels of alphabet {}".format(getattr(alphabet, "path", ""))
        raise UserError("{} was built for {} but the model outputs {}: use a package built for this alphabet "
                        "(`python -m deepspeech_freeze.lm` makes one)".format(where, built, used))
    import ds_ctcdecoder

    try:
        return ds_ctcdecoder.Scorer(float(alpha), float(beta), scorer_path, alphabet)
    except ValueError as err:
        code = str(err).rsplit(" ", 1)[-1]
        name = _error_name(int(code)) if code.isdigit() else str(err)
        raise UserError("{}: ds_ctcdecoder could not load the scorer package ({}). {}".format(where, name,
                                                                                           SCORER_HINT))


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
    import ds_ctcdecoder

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
    decoded = ds_ctcdecoder.ctc_beam_search_decoder_batch(
        probs, lengths.astype(np.int32), alphabet, int(beam_width), int(num_processes or os.cpu_count() or 1),
        cutoff_prob=float(cutoff_prob), cutoff_top_n=int(cutoff_top_n), scorer=scorer)
    return [beams[0][1] if beams else "" for beams in decoded]
