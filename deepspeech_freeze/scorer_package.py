"""Scorer packages (``.scorer`` files): writing one, and checking one in a child process before a decoder loads it.

A package is a KenLM binary language model (``build_binary -v``: no vocabulary strings) followed by DeepSpeech 0.7's
trailer: the magic ``'TRIE'``, version 6, a UTF-8-mode byte, the default alpha and beta, then an OpenFST dictionary
of the vocabulary spelled in alphabet labels. ds_ctcdecoder writes the trailer itself (``fill_dictionary`` +
``save_dictionary``), as DeepSpeech's ``generate_package.py`` does.

ds_ctcdecoder ends the whole process on many files that are not complete packages: KenLM's exceptions abort it, a
damaged dictionary crashes it. So before a training, evaluation or transcription process loads a package,
:func:`check_scorer_package` loads it once in a child process with a *probe*, a function ``probe(path, alphabet)``
of the decoder backend that loads the package, uses it, and returns what it found
(``deepspeech_freeze.decoding:probe_scorer`` for ds_ctcdecoder; another backend names its own). Whatever goes
wrong in the child, an abort or a crash included, comes back as one :class:`ScorerFileError`.
"""
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys

from .errors import UserError

_KENLM = b"mmap lm http://kheafield.com/code"
KENLM_MAGIC = _KENLM + b" format version 5\n"  # how every KenLM binary ds_ctcdecoder 0.7.4 reads begins


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
    result = subprocess.run([sys.executable, "-m", "deepspeech_freeze.scorer_package", probe, path, alphabet.path],
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
    """The child's side of :func:`check_scorer_package`: ``probe path alphabet_path``; one JSON line on stdout."""
    from .alphabet import Alphabet

    probe, path, alphabet_path = argv
    module, function = probe.split(":")
    try:
        answer = {"info": getattr(importlib.import_module(module), function)(path, Alphabet(alphabet_path))}
    except ScorerFileError as err:
        answer = {"problem": str(err)}
    sys.stdout.write("\n" + json.dumps(answer) + "\n")


def native_alphabet(alphabet):
    """ds_ctcdecoder's own Alphabet for ``alphabet``."""
    import ds_ctcdecoder

    serialized = alphabet.serialize()
    native = ds_ctcdecoder.Alphabet()
    if native.deserialize(serialized, len(serialized)) != 0:
        raise UserError("ds_ctcdecoder could not read alphabet {}".format(getattr(alphabet, "path", alphabet)))
    return native


def write_scorer_package(lm_binary_path, vocabulary_words, alphabet, package_path, default_alpha, default_beta):
    """Write a ``.scorer`` package as DeepSpeech 0.7's ``generate_package.py`` does and return its path.

    ``lm_binary_path`` is a KenLM binary built without vocabulary strings (``build_binary -v``).
    ``vocabulary_words`` are the words the decoder may spell; ds_ctcdecoder leaves out words with characters
    outside ``alphabet``. ``default_alpha``/``default_beta`` are stored in the package (the decoder's flags override
    them).
    """
    import ds_ctcdecoder

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
    directory = os.path.dirname(os.path.abspath(package_path))
    if not os.path.isdir(directory):
        os.makedirs(directory)
    shutil.copyfile(path, package_path)
    if not scorer.save_dictionary(package_path, True):
        raise UserError("could not append the vocabulary trailer to {}".format(package_path))
    return package_path


if __name__ == "__main__":
    # Run as a module this file is __main__: use the package's copy, whose ScorerFileError the probes raise.
    from deepspeech_freeze.scorer_package import run_probe as _run_probe

    _run_probe(sys.argv[1:])
