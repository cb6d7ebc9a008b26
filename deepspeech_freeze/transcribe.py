"""Transcribe WAV files with a trained checkpoint (no export needed).

``python -m deepspeech_freeze.transcribe --checkpoint_dir DIR --audio FILE_OR_DIR [--scorer_path S] [--output
out.jsonl]`` prints the transcript of FILE, or one ``<file>\\t<transcript>`` line per ``*.wav`` of DIR (sorted by
name). ``--output`` also writes JSON lines ``{"wav_filename": ..., "transcript": ...}``.

Each file goes through the training graph's features (in-graph WAV decoding and MFCC over the whole file, overlapping
windows built in the graph), batch 1, no dropout; the softmax output is decoded by the CTC beam search
(``--beam_width``, optional ``--scorer_path`` with ``--lm_alpha``/``--lm_beta``). That is what DeepSpeech 0.7.4's
``--one_shot_infer`` computes; :func:`transcribe_files` also serves ``train --one_shot_infer``.
"""
import glob
import io
import json
import logging
import os

from .tfcompat import tf

from . import alphabet_guard, audio, checkpoints, decoding
from .config import from_flags, session_config
from .errors import UserError, run_main
from .flags import FLAGS, define_flags
from .logs import setup_logging
from .model import create_model

log = logging.getLogger("deepspeech_freeze")


def check_audio(path, config):
    """Number of samples of a usable WAV file; a :class:`UserError` naming the file otherwise."""
    info, problem = audio.wav_info(path)
    if info is not None:
        problem = audio.wav_problem(info, config.data.sample_rate)
    if problem is not None:
        raise UserError("audio file {}: {}".format(path, problem))
    return info.n_samples


def build_graph(config):
    """A file-path placeholder -> batch-major softmax ``[1, T, n_classes]`` and the frame count ``[1]``."""
    path = tf.compat.v1.placeholder(tf.string, [], name="wav_filename")
    features, n_frames = audio.wav_file_to_mfccs(path, config.data.window_samples, config.data.step_samples,
                                                 config.model.n_input, config.data.sample_rate / 2)
    features = tf.expand_dims(features, 0)
    n_frames = tf.expand_dims(n_frames, 0)
    output = create_model(features, n_frames, config.model.n_hidden, config.model.n_classes, dropout=None,
                          overlap=True, relu_clip=config.model.relu_clip)
    probs = tf.transpose(a=tf.nn.softmax(output.logits), perm=[1, 0, 2])
    return path, probs, n_frames


def transcribe_files(config, directory, paths):
    """Transcribe WAV files with the model in checkpoint ``directory``; returns a list (in order) of dicts
    ``{"wav_filename", "transcript"}``. Every file is checked before the model is loaded."""
    lengths = [check_audio(path, config) for path in paths]
    decoder = config.decoding
    scorer = decoding.load_scorer(decoder.scorer_path, config.model.alphabet, decoder.lm_alpha, decoder.lm_beta)
    tf.compat.v1.reset_default_graph()
    path_input, probs, n_frames = build_graph(config)
    results = []
    with tf.compat.v1.Session(config=session_config(config.runtime)) as session:
        checkpoints.restore_for_evaluation(session, directory, config.load_evaluate)
        for path, n_samples in zip(paths, lengths):
            if audio.n_feature_frames(n_samples, config.data.window_samples, config.data.step_samples) == 0:
                log.warning("%s is shorter than one feature window (%d samples): empty transcript", path,
                            config.data.window_samples)
                transcript = ""
            else:
                try:
                    batch_probs, batch_frames = session.run([probs, n_frames], feed_dict={path_input: path})
                except tf.errors.OpError as err:
                    raise UserError("audio file {} cannot be decoded ({}): convert it with: sox IN.wav -r {} -b 16 "
                                    "-c 1 OUT.wav".format(path, err.message.split("\n")[0], config.data.sample_rate))
                transcript = decoding.beam_search_batch(
                    batch_probs, batch_frames, config.model.alphabet, decoder.beam_width, scorer=scorer,
                    cutoff_prob=decoder.cutoff_prob, cutoff_top_n=decoder.cutoff_top_n)[0]
            results.append({"wav_filename": path, "transcript": transcript})
    return results


def audio_paths(target):
    """``target`` itself, or the sorted ``*.wav`` files of directory ``target``."""
    if not target:
        raise UserError("--audio is empty: give a WAV file or a directory of WAV files")
    if os.path.isdir(target):
        paths = sorted(glob.glob(os.path.join(target, "*.wav")))
        if not paths:
            raise UserError("directory {} holds no *.wav files".format(target))
        return paths
    return [target]


def write_jsonl(path, results):
    """One JSON object per line, UTF-8, non-ASCII characters kept as they are."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UserError("--output {}: directory {} does not exist".format(path, directory))
    with io.open(path, "w", encoding="utf-8") as handle:
        for result in results:
            handle.write(json.dumps(result, ensure_ascii=False) + "\n")


def main(_argv):
    setup_logging(FLAGS.log_level)
    config = from_flags()
    config = alphabet_guard.resolve(config, config.load_dir)
    paths = audio_paths(FLAGS.audio)
    results = transcribe_files(config, config.load_dir, paths)
    single = len(paths) == 1 and not os.path.isdir(FLAGS.audio)
    for result in results:
        print(result["transcript"] if single else "{}\t{}".format(result["wav_filename"], result["transcript"]))
    if FLAGS.output:
        write_jsonl(FLAGS.output, results)
        log.info("Wrote %d transcript(s) to %s", len(results), FLAGS.output)


def entry_point():
    """``python -m deepspeech_freeze.transcribe``."""
    from absl import flags  # pylint: disable=import-outside-toplevel
    define_flags()
    flags.DEFINE_string("audio", "", "WAV file to transcribe, or a directory whose *.wav files are transcribed")
    flags.DEFINE_string("output", "", "also write the transcripts to this file as JSON lines")
    run_main(main)


if __name__ == "__main__":
    entry_point()
