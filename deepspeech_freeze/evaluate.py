"""Test a trained model: CTC beam search (ds_ctcdecoder 0.7.4, optional scorer), WER/CER, DeepSpeech's report.

``python -m deepspeech_freeze.evaluate --test_files test.csv --checkpoint_dir DIR [--scorer_path ...]`` loads
best_dev, else the latest train checkpoint (``--load_evaluate``), exactly as trained: nothing is re-initialised.
This module does not import the trainer.
"""
import logging

from .tfcompat import session_config, tf

from . import alphabet_guard, checkpoints, data, decoding, metrics, tfcompat
from .errors import UserError, run_main
from .flags import define_flags
from .model import create_model
from .progress import Progress

log = logging.getLogger("deepspeech_freeze")


def load_decoder(config):
    """The :class:`~deepspeech_freeze.decoding.Decoder`, its scorer loaded once at start-up so that a bad
    ``--scorer_path`` fails before any work."""
    return decoding.Decoder.load(config.decoding, config.model.alphabet)


def build_eval_graph(config, output_types, output_shapes):
    """Iterator, batch-major softmax probabilities, frame counts, per-sample losses and file names (no dropout)."""
    iterator = tf.compat.v1.data.Iterator.from_structure(output_types, output_shapes)
    filenames, features, n_frames, labels, label_lengths = iterator.get_next()
    output = create_model(features, n_frames, config.model, dropout=None)
    losses = tf.compat.v1.nn.ctc_loss(labels=data.dense_to_sparse(labels, label_lengths), inputs=output.logits,
                                      sequence_length=n_frames)
    probs = tf.transpose(a=tf.nn.softmax(output.logits), perm=[1, 0, 2])
    return iterator, {"filenames": filenames, "probs": probs, "n_frames": n_frames, "losses": losses}


def model_outputs(config, directory, csv_paths, keys=None):
    """The model loaded from ``directory`` run over every CSV once, at test time: yields ``(csv, frame, batches)``
    per CSV in turn, ``batches`` an iterator of fetched dicts (``keys``: which of :func:`build_eval_graph`'s
    fetches; default all) that must be read to its end before the next CSV comes. A damaged sample ends in one
    message naming it."""
    sets = [(path, data.load_samples([path], config)) for path in csv_paths]
    tf.compat.v1.reset_default_graph()
    datasets = {path: data.create_dataset(frame, config, config.data.test_batch_size, train_phase=False)
                for path, frame in sets}
    first = next(iter(datasets.values()))
    iterator, fetches = build_eval_graph(config, tf.compat.v1.data.get_output_types(first),
                                         tfcompat.iterator_shapes(first))
    if keys is not None:
        fetches = {key: fetches[key] for key in keys}
    inits = {path: iterator.make_initializer(dataset) for path, dataset in datasets.items()}

    def batches(session, frame):
        while True:
            try:
                with data.reading(frame, config):
                    batch = session.run(fetches)
            except tf.errors.OutOfRangeError:
                return
            yield batch

    with tf.compat.v1.Session(config=session_config(config.runtime)) as session:
        checkpoints.restore_for_evaluation(session, directory, config.load_evaluate)
        for path, frame in sets:
            session.run(inits[path])
            yield path, frame, batches(session, frame)


def evaluate_sets(config, directory, csv_paths, decoder, decode=True):
    """Run every test CSV through the model loaded from ``directory``; returns ``[(csv, samples)]`` where each
    sample is a dict with wav_filename, src, res (empty when ``decode`` is False: losses only) and loss.
    ``decoder``: a :class:`~deepspeech_freeze.decoding.Decoder` (None: the decoding settings without a scorer)."""
    results = []
    decoder = decoder or decoding.Decoder(config.decoding, config.model.alphabet)
    for path, frame, batches in model_outputs(config, directory, csv_paths):
        log.info("Testing model on %s", path)
        transcripts = dict(zip(frame["wav_filename"], frame["transcript"]))
        samples = []
        n_batches = -(-len(frame) // config.data.test_batch_size)
        progress = Progress("Test epoch", n_batches, suffix="Dataset: {}".format(path),
                            enabled=config.training.show_progressbar)
        for batch in batches:
            hypotheses = decoder.decode(batch["probs"], batch["n_frames"]) if decode \
                else [""] * len(batch["losses"])
            for name, hypothesis, loss in zip(batch["filenames"], hypotheses, batch["losses"]):
                name = name.decode("utf-8")
                samples.append({"wav_filename": name, "src": transcripts[name], "res": hypothesis,
                                "loss": float(loss)})
            progress.update(min(progress.done + 1, n_batches))
        progress.finish()
        results.append((path, samples))
    return results


def test(config, directory, decoder=None):
    """Test on ``--test_files``, print DeepSpeech's report per CSV, write ``--test_output_file``; returns
    ``{csv: (wer, cer, loss)}``. ``decoder``: one already loaded (:func:`load_decoder`; else it is loaded here)."""
    decoder = decoder or load_decoder(config)
    summary, everything = {}, []
    for path, samples in evaluate_sets(config, directory, config.data.test_files, decoder):
        scored, wer, cer, loss = metrics.score_samples(samples)
        print(metrics.format_report(path, scored, wer, cer, loss, report_count=config.decoding.report_count))
        summary[path] = (wer, cer, loss)
        everything.extend(scored)
    if config.decoding.test_output_file:
        metrics.write_json(config.decoding.test_output_file, everything)
    return summary


def main(_argv):
    config = alphabet_guard.trained_model_config()
    if not config.data.test_files:
        raise UserError("--test_files is empty: give the CSV file(s) to evaluate")
    test(config, config.load_dir)


if __name__ == "__main__":
    define_flags()
    run_main(main)
