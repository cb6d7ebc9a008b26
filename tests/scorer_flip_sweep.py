"""By hand, not collected by pytest (minutes): flip every byte of a tiny scorer package, one at a time, and sort
each damaged file into refused by ``decoding.load_scorer``, accepted and decoding fine, or accepted and then
killing a decoding process (the guarantee is that this last count is 0).

    python tests/scorer_flip_sweep.py                  # every byte of test_decoding_metrics' package (~1.1 kB)
    python tests/scorer_flip_sweep.py --first 560 --last 1088

Each accepted file is decoded in a process of its own with ds_ctcdecoder alone: every vocabulary word spelled out,
all of them in one utterance, and 40 frames of equal probabilities at beam 256.
"""
import argparse
import collections
import os
import subprocess
import sys
import tempfile

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
sys.path[:0] = [ROOT, TESTS]

import kenlm_fixtures  # noqa: E402
import test_decoding_metrics as fixtures  # noqa: E402  (its ARPA model, words and decode script)
from deepspeech_freeze import decoding, scorer_package  # noqa: E402
from deepspeech_freeze.alphabet import Alphabet  # noqa: E402
from deepspeech_freeze.errors import UserError  # noqa: E402

UNIFORM = """
u = np.full((1, 40, alphabet.size + 1), 1.0 / (alphabet.size + 1), np.float32)
ds_ctcdecoder.ctc_beam_search_decoder_batch(u, np.array([40], np.int32), alphabet, 256, 1, scorer=scorer)
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--first", type=int, default=0, help="first byte offset to flip")
    parser.add_argument("--last", type=int, default=None, help="end of the range (default: the package's size)")
    args = parser.parse_args()
    alphabet = Alphabet(fixtures.ENGLISH)
    folder = tempfile.mkdtemp(prefix="scorer-flips-")
    arpa = os.path.join(folder, "lm.arpa")
    with open(arpa, "w") as handle:
        handle.write(fixtures.ARPA)
    binary = kenlm_fixtures.arpa_to_kenlm_binary(arpa, os.path.join(folder, "lm.binary"))
    package = scorer_package.write_scorer_package(binary, fixtures.WORDS, alphabet, os.path.join(folder, "p.scorer"),
                                                  1.0, 1.0)
    data = open(package, "rb").read()
    decode = fixtures.DECODE_ALL + UNIFORM.replace("\n", "\n    ")  # the uniform frames inside its loop
    counts, reasons, killers = collections.Counter(), collections.Counter(), []
    path = os.path.join(folder, "flipped.scorer")
    for offset in range(args.first, min(args.last or len(data), len(data))):
        with open(path, "wb") as handle:
            handle.write(data[:offset] + bytes([data[offset] ^ 0xFF]) + data[offset + 1:])
        try:
            decoding.load_scorer(path, alphabet, 1.0, 1.0)
        except UserError as err:
            counts["refused"] += 1
            reasons[str(err).split("scorer package: ")[-1].split(" (")[0].split(":")[0][:70]] += 1
            continue
        result = subprocess.run([sys.executable, "-c", decode, fixtures.ENGLISH, " ".join(fixtures.WORDS), path],
                                env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        if result.returncode < 0:
            counts["accepted, then killed a decode"] += 1
            killers.append((offset, result.returncode))
        else:
            counts["accepted, decodes"] += 1
    print("package of {} bytes (KenLM part {}), bytes {}-{} flipped (xor 0xff):".format(
        len(data), os.path.getsize(binary), args.first, min(args.last or len(data), len(data)) - 1))
    for name in ("refused", "accepted, decodes", "accepted, then killed a decode"):
        print("  {}: {}".format(name, counts[name]))
    print("  offsets that killed a decode: {}".format(killers or "none"))
    print("  reasons for refusing: {}".format("; ".join("{} x{}".format(r, n) for r, n in reasons.most_common())))
    return 1 if killers else 0


if __name__ == "__main__":
    sys.exit(main())
