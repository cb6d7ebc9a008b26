#!/usr/bin/env python
"""Corpus WER and speed of the CTC decoders on the same logits and the same DeepSpeech scorer package.

    python bench/decoders.py --checkpoint_dir CKPT --test_files test.csv --scorer_path kenlm.scorer \
        --alphabet_config_path data/alphabets/english.txt [--n_hidden 256] [--beam_width 64] [--output r.json]

1. The acoustic model in ``--checkpoint_dir`` runs once over ``--test_files`` (on the stack running this script);
   its softmax outputs, frame counts and reference transcripts are saved.
2. Each decoder decodes those same outputs in its own process, timed there (decoding only, after loading the
   scorer): ``ds_ctcdecoder`` 0.7.4 with the TF 1.15 stack's interpreter, ``flashlight-text`` (the TF 2 stack's
   decoder, :mod:`deepspeech_freeze.decoder_modern`) and ``pyctcdecode`` + ``kenlm`` with the TF 2 stack's
   interpreter (``--pyctcdecode_python`` to use another one; skipped with a note when it is not installed).
3. Corpus WER/CER (DeepSpeech's definition, :mod:`deepspeech_freeze.metrics`) of each, the difference to
   ds_ctcdecoder in points, and the time per utterance.

Interpreters: ``--tf1_python`` / ``--tf2_python``, else ``$DSF_TF1_PYTHON`` / ``$DSF_TF2_PYTHON``, else ``.venv`` and
``.venv-tf2``.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

from report import write_report  # this script's folder is on sys.path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

VENVS = {"tf1": ".venv", "tf2": ".venv-tf2"}

# Runs in each decoder's process: ``kind probs.npz alphabet scorer alpha beta beam out.json``.
DECODE = r'''
import json, math, sys, time
import numpy as np
kind, npz, alphabet_path, scorer_path, alpha, beta, beam, out = sys.argv[1:]
alpha, beta, beam = float(alpha), float(beta), int(beam)
from deepspeech_freeze.alphabet import Alphabet
alphabet = Alphabet(alphabet_path)
arrays = np.load(npz)
probs, lengths = arrays["probs"], arrays["lengths"]
started = time.time()
if kind == "ds_ctcdecoder":
    from deepspeech_freeze import decoding
    assert decoding.use_ds_ctcdecoder()
    scorer = decoding.load_scorer(scorer_path, alphabet, alpha, beta)
    loaded = time.time()
    texts = []
    for index in range(len(lengths)):  # one utterance at a time and one thread, like the others here
        texts += decoding.beam_search_batch(probs[index:index + 1], lengths[index:index + 1], alphabet, beam,
                                            scorer=scorer, num_processes=1)
elif kind.startswith("flashlight"):  # "flashlight", "flashlight@W" (lm_weight = W * alpha), "flashlight-bN" (beam N)
    from deepspeech_freeze import decoder_modern
    scorer = decoder_modern.load_scorer(scorer_path, alphabet, alpha, beta)
    loaded = time.time()
    per_alpha = float(kind.split("@")[1]) if "@" in kind else None
    beam = int(kind.split("-b")[1]) if "-b" in kind else beam
    texts = decoder_modern.beam_search_batch(probs, lengths, alphabet, beam, scorer=scorer,
                                             lm_weight_per_alpha=per_alpha)
else:
    from pyctcdecode import build_ctcdecoder
    from deepspeech_freeze import scorer_package
    words, _ = scorer_package.read_vocabulary(scorer_path, alphabet)
    decoder = build_ctcdecoder(list(alphabet.labels) + [""], kenlm_model_path=scorer_path, unigrams=words,
                               alpha=alpha, beta=beta)
    loaded = time.time()
    texts = []
    for index in range(len(lengths)):
        log_probs = np.log(np.maximum(probs[index, :lengths[index]].astype(np.float64), 1e-30))
        texts.append(" ".join(decoder.decode(log_probs, beam_width=beam).split()))
finished = time.time()
json.dump({"texts": texts, "load_s": loaded - started, "decode_s": finished - loaded}, open(out, "w"))
'''


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint_dir", required=True)
    parser.add_argument("--test_files", required=True)
    parser.add_argument("--scorer_path", required=True)
    parser.add_argument("--alphabet_config_path", required=True)
    parser.add_argument("--n_hidden", type=int, default=2048)
    parser.add_argument("--beam_width", type=int, default=64)
    parser.add_argument("--lm_alpha", type=float, default=0.931289039105002)
    parser.add_argument("--lm_beta", type=float, default=1.1834137581510284)
    parser.add_argument("--tf1_python")
    parser.add_argument("--tf2_python")
    parser.add_argument("--pyctcdecode_python", help="interpreter with pyctcdecode + kenlm (default: the tf2 one)")
    parser.add_argument("--flashlight_weights", nargs="*", type=float, default=[], metavar="W",
                        help="also run flashlight with lm_weight = W * alpha (default mapping: ln 10)")
    parser.add_argument("--flashlight_beams", nargs="*", type=int, default=[], metavar="N",
                        help="also run flashlight with beam N (ds_ctcdecoder keeps --beam_width)")
    parser.add_argument("--no_pyctcdecode", action="store_true", help="skip pyctcdecode (about 25x slower)")
    parser.add_argument("--probs", help="keep the model outputs in this .npz (and the references beside it); when "
                                        "both exist they are reused instead of running the model again")
    parser.add_argument("--output", help="write the report as JSON to this file")
    return parser.parse_args(argv)


def interpreter(stack, given):
    path = given or os.environ.get("DSF_{}_PYTHON".format(stack.upper())) or os.path.join(ROOT, VENVS[stack],
                                                                                           "bin", "python")
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def model_outputs(args, path):
    """Softmax outputs of the model over the test set, saved to ``path`` with lengths and references."""
    import numpy as np  # pylint: disable=import-outside-toplevel

    from deepspeech_freeze import evaluate  # pylint: disable=import-outside-toplevel
    from deepspeech_freeze.config import from_flags  # pylint: disable=import-outside-toplevel
    from deepspeech_freeze.flags import FLAGS, define_flags  # pylint: disable=import-outside-toplevel

    define_flags()
    FLAGS(["decoders", "--checkpoint_dir", args.checkpoint_dir, "--alphabet_config_path", args.alphabet_config_path,
           "--n_hidden", str(args.n_hidden), "--test_files", args.test_files, "--noshow_progressbar"])
    config = from_flags()
    captured = []
    original = evaluate.decoding.beam_search_batch

    def capture(probs, lengths, *rest, **kwargs):
        captured.append((np.array(probs), np.array(lengths)))
        return [""] * len(lengths)

    evaluate.decoding.beam_search_batch = capture
    try:
        (_, samples), = evaluate.evaluate_sets(config, config.load_dir, config.data.test_files, None)
    finally:
        evaluate.decoding.beam_search_batch = original
    width = max(probs.shape[1] for probs, _ in captured)
    padded = [np.pad(probs, [(0, 0), (0, width - probs.shape[1]), (0, 0)]) for probs, _ in captured]
    np.savez(path, probs=np.concatenate(padded), lengths=np.concatenate([lengths for _, lengths in captured]))
    return samples


def main(argv=None):
    args = parse_args(argv)
    from deepspeech_freeze import metrics  # pylint: disable=import-outside-toplevel

    tf1, tf2 = interpreter("tf1", args.tf1_python), interpreter("tf2", args.tf2_python)
    pyctc = args.pyctcdecode_python or tf2
    plan = [("ds_ctcdecoder", tf1), ("flashlight", tf2)]
    plan += [("flashlight@{}".format(weight), tf2) for weight in args.flashlight_weights]
    plan += [("flashlight-b{}".format(beam), tf2) for beam in args.flashlight_beams]
    plan += [("pyctcdecode", pyctc)] if not args.no_pyctcdecode else []
    results = {}
    with tempfile.TemporaryDirectory(prefix="dsf-decoders-") as folder:
        npz = args.probs or os.path.join(folder, "probs.npz")
        references = npz + ".samples.json"
        if args.probs and os.path.exists(npz) and os.path.exists(references):
            with open(references) as handle:
                samples = json.load(handle)
        else:
            samples = model_outputs(args, npz)
            with open(references, "w") as handle:
                json.dump(samples, handle)
        for kind, python in plan:
            if python is None:
                results[kind] = {"skipped": "no interpreter"}
                continue
            out = os.path.join(folder, kind + ".json")
            run = subprocess.run([python, "-c", DECODE, kind, npz, args.alphabet_config_path, args.scorer_path,
                                  str(args.lm_alpha), str(args.lm_beta), str(args.beam_width), out], cwd=ROOT,
                                 env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, universal_newlines=True)
            if run.returncode != 0:
                results[kind] = {"skipped": run.stdout.strip().splitlines()[-1] if run.stdout.strip() else "failed"}
                continue
            with open(out) as handle:
                decoded = json.load(handle)
            scored, wer, cer, _ = metrics.score_samples(
                [(s["wav_filename"], s["src"], text, s["loss"]) for s, text in zip(samples, decoded["texts"])])
            results[kind] = {"texts": decoded["texts"], "wer": wer, "cer": cer, "load_s": decoded["load_s"], "decode_s": decoded["decode_s"],
                             "ms_per_utterance": 1000.0 * decoded["decode_s"] / max(1, len(samples)),
                             "python": python}
    reference = results.get("ds_ctcdecoder", {}).get("wer")
    print("{} utterances of {}, beam {}, alpha {}, beta {}, scorer {}".format(
        len(samples), args.test_files, args.beam_width, args.lm_alpha, args.lm_beta, args.scorer_path))
    ds_texts = results.get("ds_ctcdecoder", {}).get("texts")
    print("{:<16} {:>8} {:>8} {:>12} {:>12} {:>10}".format("decoder", "WER", "CER", "WER-ds pts", "ms/utt",
                                                           "same as ds"))
    for kind, result in results.items():
        if "skipped" in result:
            print("{:<16} skipped: {}".format(kind, result["skipped"]))
            continue
        delta = "" if reference is None else "{:+.2f}".format(100.0 * (result["wer"] - reference))
        result["wer_minus_ds_points"] = None if reference is None else 100.0 * (result["wer"] - reference)
        same = None if ds_texts is None else sum(a == b for a, b in zip(result["texts"], ds_texts))
        result["identical_to_ds"] = same
        print("{:<16} {:>8.4f} {:>8.4f} {:>12} {:>12.1f} {:>10}".format(
            kind, result["wer"], result["cer"], delta, result["ms_per_utterance"],
            "" if same is None else "{}/{}".format(same, len(samples))))
    report = {"config": vars(args), "utterances": len(samples), "decoders": results}
    write_report(args.output, report)
    return report


if __name__ == "__main__":
    main()
