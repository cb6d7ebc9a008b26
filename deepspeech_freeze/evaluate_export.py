"""Measure the exported model that will actually be deployed (DeepSpeech 0.7.4's ``evaluate_tflite.py``).

``python -m deepspeech_freeze.evaluate_export --model EXPORT/output_graph.pb|.tflite --test_files test.csv
[--scorer_path kenlm.scorer] [--checkpoint_dir CKPT] [--proc N] [--dump PREFIX]``

The stock ``deepspeech`` 0.7.4 package transcribes every WAV of the CSVs with the exported model, in ``--proc``
worker processes (:data:`WORKER`): ``deepspeech`` for a ``.pb``, the
``deepspeech-tflite`` 0.7.4 runtime for a ``.tflite`` (both are the ``deepspeech`` module, so the TFLite one lives in
its own directory: ``--tflite_runtime``, ``$DSF_TFLITE_RUNTIME``, or ``tflite-runtime`` in the client's venv, where
``bin/install.sh --test`` puts it). The client decodes as it does on a phone: the model's own beam width, the
scorer's stored alpha/beta. The corpus WER/CER and DeepSpeech's report are printed, and, when ``--checkpoint_dir``
holds a checkpoint, the checkpoint's own WER/CER on the same set decoded the same way (the export's beam width, the
scorer's stored weights, the client's cutoff_top_n 40), so the two lines differ only by what export changed
(streaming features, quantisation).

The stock client has wheels for Python 3.5-3.8 only: it runs on the TF 1.15 stack's Python. From the TF 2 stack
pass ``--client_python .venv/bin/python`` (the TF 1.15 stack's interpreter); the checkpoint side runs here.

Deliberate differences from ``evaluate_tflite.py``: ``--test_files``/``--scorer_path`` (DeepSpeech's ``--csv`` and
``--scorer`` are accepted too, and the scorer is optional); every row is checked before any work (sample rate,
channels, missing files: one message); results are reported in CSV order with whole file names (DeepSpeech's
report shows single characters and completion order); a client error names the file and stops instead of hanging.
"""
import json
import logging
import os
import subprocess
import sys

from . import alphabet_guard, checkpoints, data, metrics
from .errors import UserError, run_cli
from .flags import FLAGS, define_flags

log = logging.getLogger("deepspeech_freeze")

#: A worker, run as ``python -c WORKER`` by the client's interpreter: the stock ``deepspeech`` 0.7.4 package
#: transcribes WAV files with an exported model. It imports nothing of this package and no TensorFlow:
#: libdeepspeech.so carries its own TensorFlow (or TFLite), which must not meet another one in the same process, and
#: it may run under another interpreter (the TF 1.15 stack's, whose Python the client's wheels are built for). It
#: reads ``{"model", "scorer", "wavs"}`` as JSON on stdin and writes a first JSON line describing the client, then one
#: ``{"wav", "prediction"}`` (or ``{"wav", "error"}``) per file.
WORKER = """
import json
import sys
import wave


def main():
    request = json.loads(sys.stdin.read())
    import numpy as np
    import deepspeech
    model = deepspeech.Model(request["model"])
    if request.get("scorer"):
        model.enableExternalScorer(request["scorer"])
    print(json.dumps({"client": deepspeech.__file__, "version": getattr(deepspeech, "version", lambda: "")(),
                      "beam_width": model.beamWidth(), "sample_rate": model.sampleRate()}), flush=True)
    for path in request["wavs"]:
        try:
            with wave.open(path) as handle:
                audio = np.frombuffer(handle.readframes(handle.getnframes()), np.int16)
            print(json.dumps({"wav": path, "prediction": model.stt(audio)}), flush=True)
        except Exception as err:  # pylint: disable=broad-except  (reported per file by the parent)
            print(json.dumps({"wav": path, "error": "{}: {}".format(type(err).__name__, err)}), flush=True)


main()
"""
#: The native client's beam search keeps the 40 most probable labels per frame (DeepSpeech 0.7.4's modelstate).
CLIENT_CUTOFF_TOP_N = 40
_REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def find_tflite_runtime(client_python, given=""):
    """The directory holding the stock ``deepspeech-tflite`` 0.7.4 module, or a :class:`UserError` saying how to
    install it."""
    venv = os.path.dirname(os.path.dirname(client_python))
    candidates = [given] if given else [os.environ.get("DSF_TFLITE_RUNTIME", ""),
                                        os.path.join(venv, "tflite-runtime"),
                                        os.path.join(_REPOSITORY, ".venv", "tflite-runtime")]
    for candidate in candidates:
        if candidate and os.path.isfile(os.path.join(candidate, "deepspeech", "__init__.py")):
            return candidate
    if given:
        raise UserError("--tflite_runtime {} holds no deepspeech module: install it with `pip install --no-deps "
                        "--target {} deepspeech-tflite==0.7.4`".format(given, given))
    raise UserError("a .tflite model needs the stock deepspeech-tflite 0.7.4 runtime, which was not found (looked in "
                    "$DSF_TFLITE_RUNTIME and {}): install it with `pip install --no-deps --target {} "
                    "deepspeech-tflite==0.7.4` or pass --tflite_runtime DIR".format(
                        os.path.join(venv, "tflite-runtime"), os.path.join(venv, "tflite-runtime")))


def run_clients(model, scorer, wavs, proc, client_python, tflite_runtime=""):
    """Transcribe ``wavs`` with the stock client in ``proc`` processes; returns ``(info, {wav: prediction})``."""
    environment = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "TF2_BEHAVIOR")}
    if tflite_runtime:
        environment["PYTHONPATH"] = tflite_runtime
    shards = [wavs[index::proc] for index in range(proc)]
    workers = []
    for shard in shards:
        if not shard:
            continue
        worker = subprocess.Popen([client_python, "-c", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=environment, universal_newlines=True)
        workers.append((worker, json.dumps({"model": model, "scorer": scorer, "wavs": shard})))
    predictions, info = {}, None
    for worker, request in workers:
        out, err = worker.communicate(request)
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        if worker.returncode != 0 or not lines:
            last = (err.strip().splitlines() or ["exit status {}".format(worker.returncode)])[-1]
            if "No module named 'deepspeech'" in err or "No module named deepspeech" in err:
                raise UserError("the stock client is not installed for {} ({}): it has wheels for Python 3.5-3.8 "
                                "only; run this with the TF 1.15 stack or pass --client_python .venv/bin/python"
                                .format(client_python, last))
            raise UserError("the stock deepspeech client could not run model {} ({})".format(model, last))
        info = lines[0]
        for line in lines[1:]:
            if "error" in line:
                raise UserError("the stock deepspeech client failed on {}: {}".format(line["wav"], line["error"]))
            predictions[line["wav"]] = line["prediction"]
    return info, predictions


def checkpoint_rates(config, csv_paths, beam_width, scorer_path):
    """WER/CER of the checkpoint in ``config.load_dir`` on ``csv_paths``, decoded as the client decodes."""
    import dataclasses  # pylint: disable=import-outside-toplevel
    from . import decoding, evaluate  # pylint: disable=import-outside-toplevel  (TF only when a checkpoint is used)
    from .lm_optimizer import stored_weights  # pylint: disable=import-outside-toplevel
    alpha, beta = stored_weights(scorer_path) if scorer_path else (0.0, 0.0)
    settings = dataclasses.replace(config.decoding, beam_width=beam_width, scorer_path=scorer_path, lm_alpha=alpha,
                                   lm_beta=beta, cutoff_prob=1.0, cutoff_top_n=CLIENT_CUTOFF_TOP_N)
    config = dataclasses.replace(config, decoding=settings)
    decoder = decoding.Decoder.load(config.decoding, config.model.alphabet)
    everything = []
    for _path, samples in evaluate.evaluate_sets(config, config.load_dir, csv_paths, decoder):
        everything.extend(samples)
    _scored, wer, cer, _loss = metrics.score_samples(everything)
    return wer, cer


def write_dump(prefix, samples):
    """DeepSpeech's ``--dump``: ``PREFIX.txt`` (file and reference) and ``PREFIX.out`` (file and prediction)."""
    directory = os.path.dirname(os.path.abspath(prefix))
    if not os.path.isdir(directory):
        raise UserError("--dump {}: directory {} does not exist".format(prefix, directory))
    with open(prefix + ".txt", "w", encoding="utf-8") as references, \
            open(prefix + ".out", "w", encoding="utf-8") as predictions:
        for sample in samples:
            references.write("{} {}\n".format(sample["wav_filename"], sample["src"]))
            predictions.write("{} {}\n".format(sample["wav_filename"], sample["res"]))


def evaluate_export(config, model, csv_paths, scorer_path="", proc=1, client_python=None, tflite_runtime="",
                    dump=""):
    """Measure exported ``model`` on ``csv_paths`` (see the module docstring); returns a dict with ``wer``,
    ``cer``, the scored ``samples``, the client ``info`` and, with a checkpoint, ``checkpoint_wer``/``_cer``."""
    if not model or not os.path.isfile(model):
        raise UserError("--model {!r} does not exist: give the exported output_graph.pb or .tflite".format(model))
    if not model.endswith((".pb", ".tflite")):
        raise UserError("--model {}: give an exported .pb or .tflite file (`python -m deepspeech_freeze.export`)"
                        .format(model))
    if scorer_path and not os.path.isfile(scorer_path):
        raise UserError("--scorer_path {} does not exist".format(scorer_path))
    if proc < 1:
        raise UserError("--proc {}: give at least 1 worker process".format(proc))
    client_python = client_python or sys.executable
    if not os.path.isfile(client_python):
        raise UserError("--client_python {} does not exist".format(client_python))
    runtime = find_tflite_runtime(client_python, tflite_runtime) if model.endswith(".tflite") else ""
    frames = [data.load_samples([path], config) for path in csv_paths]  # every row checked before any work
    rows = [(name, text) for frame in frames for name, text in zip(frame["wav_filename"], frame["transcript"])]
    print("Totally {} wav entries found in csv".format(len(rows)))
    info, predictions = run_clients(os.path.abspath(model), scorer_path, sorted({name for name, _ in rows}),
                                    min(proc, max(1, len(rows))), client_python, runtime)
    print("Totally {} wav file transcripted".format(len(predictions)))
    samples, wer, cer, _loss = metrics.score_samples(
        [(name, text, predictions[name], 0.0) for name, text in rows])
    print(metrics.format_report(model, samples, wer, cer, 0.0, report_count=config.decoding.report_count))
    result = {"wer": wer, "cer": cer, "samples": samples, "info": info}
    kind = "TFLite" if runtime else "TensorFlow"
    print("Exported model {} (stock deepspeech 0.7.4 {} client, beam width {}): WER {:.6f}, CER {:.6f}".format(
        model, kind, info["beam_width"], wer, cer))
    if checkpoints.find_checkpoint(config.load_dir, "best") or checkpoints.find_checkpoint(config.load_dir, "last"):
        result["checkpoint_wer"], result["checkpoint_cer"] = checkpoint_rates(config, csv_paths, info["beam_width"],
                                                                              scorer_path)
        print("Checkpoint {} (same set, beam width {}, the scorer's stored alpha/beta): WER {:.6f}, CER {:.6f}"
              .format(config.load_dir, info["beam_width"], result["checkpoint_wer"], result["checkpoint_cer"]))
    else:
        print("No checkpoint in {} to compare with: pass --checkpoint_dir to print the checkpoint's WER/CER beside "
              "the export's".format(config.load_dir))
    if dump:
        write_dump(dump, samples)
    return result


def main(_argv):
    config = alphabet_guard.trained_model_config()
    csv_paths = [path for path in (FLAGS.csv.split(",") if FLAGS.csv else config.data.test_files) if path]
    if not csv_paths:
        raise UserError("--test_files is empty: give the CSV file(s) to measure the exported model on")
    scorer = config.decoding.scorer_path  # --scorer (evaluate_tflite.py's name) is an alias of --scorer_path
    evaluate_export(config, FLAGS.model, [os.path.abspath(path) for path in csv_paths], scorer_path=scorer,
                    proc=FLAGS.proc, client_python=FLAGS.client_python, tflite_runtime=FLAGS.tflite_runtime,
                    dump=FLAGS.dump)


def entry_point():
    """``python -m deepspeech_freeze.evaluate_export``."""
    from absl import app, flags  # pylint: disable=import-outside-toplevel
    define_flags()
    flags.DEFINE_string("model", "", "exported model to measure: output_graph.pb or output_graph.tflite")
    flags.DEFINE_string("csv", "", "DeepSpeech's evaluate_tflite.py name for --test_files")
    flags.DEFINE_integer("proc", 1, "stock-client worker processes (DeepSpeech's default is the CPU count)")
    flags.DEFINE_string("dump", "", "write PREFIX.txt (references) and PREFIX.out (predictions)")
    flags.DEFINE_string("client_python", "", "interpreter with the stock deepspeech 0.7.4 package (default: this "
                                             "one; from the TF 2 stack: .venv/bin/python)")
    flags.DEFINE_string("tflite_runtime", "", "directory holding the deepspeech-tflite 0.7.4 module")
    app.run(lambda args: run_cli(main, args))


if __name__ == "__main__":
    entry_point()
