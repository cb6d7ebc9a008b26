"""Transcribe audio with a trained checkpoint (no export needed): DeepSpeech 0.7.4's ``transcribe.py``, and files.

``python -m deepspeech_freeze.transcribe --checkpoint_dir DIR --src long.wav [--dst out.tlog] [--force]
[--vad_aggressiveness 3] [--batch_size 40] [--outlier_duration_ms 10000] [--outlier_batch_size 1]`` (DeepSpeech's
interface): the recording is split at pauses with WebRTC VAD (:mod:`deepspeech_freeze.vad`), the segments are
transcribed in batches (``--batch_size``; segments longer than ``--outlier_duration_ms`` in batches of
``--outlier_batch_size``), and ``long.tlog`` gets a JSON list of ``{"start", "end", "transcript"}`` (ms from the
start of the recording) sorted by start. ``--src DIR`` transcribes every ``*.wav`` of DIR (with ``--recursive``
every one below it) to ``.tlog`` files beside them. Audio that is not 16-bit mono at ``--audio_sample_rate`` is
converted with sox when sox is installed. Decoding: ``--beam_width``, optional ``--scorer_path`` with
``--lm_alpha``/``--lm_beta``, cutoff_top_n 40 (the decoder default DeepSpeech's transcribe.py uses).

Deliberate differences (README): a directory run skips files whose ``.tlog`` exists unless ``--force`` (DeepSpeech
overwrites them and ignores ``--force``); ``--recursive`` finds files at any depth (DeepSpeech's glob finds only one
level down); an existing ``--dst`` without ``--force`` is an error with exit status 2 (DeepSpeech logs it and exits
0); the scorer is optional; timestamps are not 30 ms early; catalog files (DeepSpeech's mode crashes) are refused.

The older interface:

``python -m deepspeech_freeze.transcribe --checkpoint_dir DIR --audio FILE_OR_DIR [--scorer_path S] [--output
out.jsonl]`` prints the transcript of FILE, or one ``<file>\\t<transcript>`` line per ``*.wav`` of DIR (sorted by
name). ``--output`` also writes JSON lines ``{"wav_filename": ..., "transcript": ...}``.

Each file goes through the training graph's features (in-graph WAV decoding and MFCC over the whole file, overlapping
windows built in the graph), batch 1, no dropout; the softmax output is decoded by the CTC beam search
(``--beam_width``, optional ``--scorer_path`` with ``--lm_alpha``/``--lm_beta``). That is what DeepSpeech 0.7.4's
``--one_shot_infer`` computes; :func:`transcribe_files` also serves ``train --one_shot_infer``.
"""
import dataclasses
import glob
import io
import json
import logging
import os
import shutil
import subprocess
import tempfile
import wave

import numpy as np

from .tfcompat import session_config, tf

from . import alphabet_guard, audio, checkpoints, decoding, vad
from .errors import UserError, run_main
from .flags import FLAGS, define_flags
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
    output = create_model(features, n_frames, config.model, dropout=None, overlap=True)
    probs = tf.transpose(a=tf.nn.softmax(output.logits), perm=[1, 0, 2])
    return path, probs, n_frames


def transcribe_files(config, directory, paths):
    """Transcribe WAV files with the model in checkpoint ``directory``; returns a list (in order) of dicts
    ``{"wav_filename", "transcript"}``. Every file is checked before the model is loaded."""
    lengths = [check_audio(path, config) for path in paths]
    decoder = decoding.Decoder.load(config.decoding, config.model.alphabet)
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
                transcript = decoder.decode(batch_probs, batch_frames)[0]
            results.append({"wav_filename": path, "transcript": transcript})
    return results


def audio_paths(target):
    """``target`` itself, or the sorted ``*.wav`` files of directory ``target``."""
    if not target:
        raise UserError("--audio is empty: give a WAV file or a directory of WAV files (or --src, as DeepSpeech's "
                        "transcribe.py, for .tlog files)")
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


# ----------------------------------------------------------------------------------------------------------------
# DeepSpeech 0.7.4's transcribe.py interface: --src, VAD segments, .tlog files

#: The beam search's per-frame label cut-off that DeepSpeech's transcribe.py leaves at the decoder's default.
TLOG_CUTOFF_TOP_N = 40


def read_pcm(path, sample_rate):
    """``(pcm bytes, temporary path or None)`` of 16-bit mono audio at ``sample_rate`` from ``path``: a matching WAV
    as it is, anything else converted with sox (when installed) into a temporary WAV the caller removes."""
    info, problem = audio.wav_info(path)
    if info is not None and audio.wav_problem(info, sample_rate) is None:
        with wave.open(path, "rb") as handle:
            return handle.readframes(handle.getnframes()), None
    if not os.path.exists(path):
        raise UserError("--src {} does not exist".format(path))
    sox = shutil.which("sox")
    if sox is None:
        raise UserError("audio file {}: {}; install sox to have it converted, or convert it with: sox IN -r {} -b 16 "
                        "-c 1 OUT.wav".format(path, problem or audio.wav_problem(info, sample_rate), sample_rate))
    handle, converted = tempfile.mkstemp(suffix=".wav")
    os.close(handle)
    result = subprocess.run([sox, path, "-r", str(sample_rate), "-b", "16", "-c", "1", "-e", "signed-integer",
                             converted], stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    if result.returncode != 0:
        os.remove(converted)
        raise UserError("audio file {} cannot be converted by sox: {}".format(
            path, (result.stderr.strip().splitlines() or ["exit status {}".format(result.returncode)])[-1]))
    with wave.open(converted, "rb") as wav:
        return wav.readframes(wav.getnframes()), converted


def build_segment_graph(config):
    """Two graphs in one: float samples ``[n, 1]`` -> MFCCs ``[T, n_input]``; padded MFCC batch ``[B, T, n_input]``
    with frame counts ``[B]`` -> batch-major softmax ``[B, T, n_classes]``."""
    samples = tf.compat.v1.placeholder(tf.float32, [None, 1], name="segment_samples")
    mfccs, _ = audio.samples_to_mfccs(samples, config.data.sample_rate, config.data.window_samples,
                                      config.data.step_samples, config.model.n_input, config.data.sample_rate / 2)
    features = tf.compat.v1.placeholder(tf.float32, [None, None, config.model.n_input], name="segment_features")
    lengths = tf.compat.v1.placeholder(tf.int32, [None], name="segment_lengths")
    output = create_model(features, lengths, config.model, dropout=None, overlap=True)
    probs = tf.transpose(a=tf.nn.softmax(output.logits), perm=[1, 0, 2])
    return {"samples": samples, "mfccs": mfccs, "features": features, "lengths": lengths, "probs": probs}


def segment_batches(segments, batch_size, outlier_ms, outlier_batch_size):
    """Segments grouped as DeepSpeech groups them: up to ``batch_size`` normal ones, then the outliers (longer
    than ``outlier_ms``) ``outlier_batch_size`` at a time."""
    normal = [s for s in segments if s.end_ms - s.start_ms <= outlier_ms]
    outliers = [s for s in segments if s.end_ms - s.start_ms > outlier_ms]
    for group, size in ((normal, batch_size), (outliers, outlier_batch_size)):
        for start in range(0, len(group), size):
            yield group[start:start + size]


class SegmentTranscriber(object):
    """The model loaded once; :meth:`transcribe` turns one recording into tlog entries."""

    def __init__(self, config, directory, settings):
        self.config, self.settings = config, settings
        # DeepSpeech's transcribe.py leaves the cut-offs at the decoder's defaults, not at the flags.
        self.decoder = decoding.Decoder.load(dataclasses.replace(config.decoding, cutoff_prob=1.0,
                                                                 cutoff_top_n=TLOG_CUTOFF_TOP_N),
                                             config.model.alphabet)
        tf.compat.v1.reset_default_graph()
        self.graph = build_segment_graph(config)
        self.session = tf.compat.v1.Session(config=session_config(config.runtime))
        checkpoints.restore_for_evaluation(self.session, directory, config.load_evaluate)

    def close(self):
        self.session.close()

    def transcribe(self, path):
        """``[{"start", "end", "transcript"}]`` of the recording at ``path``, sorted by start."""
        pcm, temporary = read_pcm(path, self.config.data.sample_rate)
        try:
            segments = list(vad.vad_split(pcm, self.config.data.sample_rate, self.settings["vad_aggressiveness"]))
        finally:
            if temporary:
                os.remove(temporary)
        entries = []
        graph = self.graph
        window = self.config.data.window_samples
        for batch in segment_batches(segments, self.settings["batch_size"], self.settings["outlier_duration_ms"],
                                     self.settings["outlier_batch_size"]):
            features = []
            for segment in batch:
                samples = np.frombuffer(segment.pcm, np.int16).astype(np.float32) / 32767.0
                if len(samples) < window:
                    features.append(np.zeros([0, self.config.model.n_input], np.float32))
                    continue
                features.append(self.session.run(graph["mfccs"], {graph["samples"]: samples.reshape(-1, 1)}))
            lengths = np.array([len(f) for f in features], np.int32)
            padded = np.zeros([len(batch), max(1, lengths.max()), self.config.model.n_input], np.float32)
            for row, feature in enumerate(features):
                padded[row, :len(feature)] = feature
            probs = self.session.run(graph["probs"], {graph["features"]: padded, graph["lengths"]: lengths})
            texts = self.decoder.decode(probs, lengths)
            entries.extend({"start": s.start_ms, "end": s.end_ms, "transcript": t} for s, t in zip(batch, texts))
        return sorted(entries, key=lambda entry: entry["start"])


def tlog_jobs(src, dst, recursive, force):
    """``[(audio, tlog)]`` to transcribe for ``--src``/``--dst``, existing tlogs left out (directories) or refused
    (a single file) unless ``force``."""
    if not src:
        raise UserError("--src is empty: give an audio file or a directory of .wav files")
    if not os.path.exists(src):
        raise UserError("--src {} does not exist".format(src))
    if os.path.isdir(src):
        if dst:
            raise UserError("--dst is for a single --src file; a directory's .tlog files are written beside its "
                            ".wav files")
        pattern = os.path.join(src, "**", "*.wav") if recursive else os.path.join(src, "*.wav")
        audio_files = sorted(glob.glob(pattern, recursive=recursive))
        if not audio_files:
            raise UserError("--src {} holds no .wav files{}".format(src, "" if recursive else
                                                                   " (add --recursive to search sub-directories)"))
        jobs = [(path, os.path.splitext(path)[0] + ".tlog") for path in audio_files]
        if not force:
            done = [job for job in jobs if os.path.exists(job[1])]
            for path, tlog in done:
                log.info("Skipping %s: %s exists (--force overwrites)", path, tlog)
            jobs = [job for job in jobs if job not in done]
        return jobs
    if src.endswith(".catalog"):
        raise UserError("--src {}: catalog files are not supported (DeepSpeech 0.7.4's catalog mode crashes); give an "
                        "audio file or a directory".format(src))
    tlog = os.path.abspath(dst) if dst else os.path.splitext(src)[0] + ".tlog"
    if not os.path.isdir(os.path.dirname(tlog)):
        raise UserError("--dst {}: directory {} does not exist".format(dst or tlog, os.path.dirname(tlog)))
    if os.path.exists(tlog) and not force:
        raise UserError("{} exists: pass --force to overwrite it, or choose another --dst".format(tlog))
    return [(src, tlog)]


def write_tlog(path, entries):
    """The tlog file (JSON list, ASCII-escaped as DeepSpeech's json.dump writes it), written atomically."""
    temporary = path + ".tmp"
    with open(temporary, "w") as handle:
        json.dump(entries, handle)
    os.replace(temporary, path)


def transcribe_src(config, directory, settings):
    """DeepSpeech's transcribe.py: every job of :func:`tlog_jobs` to a .tlog; returns the written paths."""
    for name, low in (("batch_size", 1), ("outlier_batch_size", 1)):
        if settings[name] < low:
            raise UserError("--{} {}: give at least {}".format(name, settings[name], low))
    if not settings["outlier_duration_ms"] > 0:
        raise UserError("--outlier_duration_ms {}: give a positive duration".format(settings["outlier_duration_ms"]))
    if settings["vad_aggressiveness"] not in (0, 1, 2, 3):
        raise UserError("--vad_aggressiveness {}: use 0 (least) to 3 (most aggressive)".format(
            settings["vad_aggressiveness"]))
    jobs = tlog_jobs(settings["src"], settings["dst"], settings["recursive"], settings["force"])
    if not jobs:
        log.info("Nothing to transcribe: every .tlog exists (--force overwrites)")
        return []
    transcriber = SegmentTranscriber(config, directory, settings)
    written = []
    try:
        for source, tlog in jobs:
            log.info("Transcribing %s", source)
            entries = transcriber.transcribe(source)
            write_tlog(tlog, entries)
            log.info("Wrote %d segment(s) to %s", len(entries), tlog)
            written.append(tlog)
    finally:
        transcriber.close()
    return written


def main(_argv):
    config = alphabet_guard.trained_model_config()
    if FLAGS.src:
        if FLAGS.audio:
            raise UserError("--src (DeepSpeech's transcribe.py) and --audio both choose the input: give one")
        settings = {name: getattr(FLAGS, name) for name in ("src", "dst", "recursive", "force", "vad_aggressiveness",
                                                            "batch_size", "outlier_duration_ms",
                                                            "outlier_batch_size")}
        for path in transcribe_src(config, config.load_dir, settings):
            print(path)
        return
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
    # DeepSpeech 0.7.4's transcribe.py
    flags.DEFINE_string("src", "", "audio file or directory of .wav files to transcribe into .tlog files")
    flags.DEFINE_string("dst", "", "the .tlog file for a single --src file (default: --src with .tlog)")
    flags.DEFINE_boolean("recursive", False, "with a --src directory: also the .wav files of its sub-directories")
    flags.DEFINE_boolean("force", False, "overwrite existing .tlog files")
    flags.DEFINE_integer("vad_aggressiveness", 3, "WebRTC VAD aggressiveness, 0 (least) to 3 (most)")
    flags.DEFINE_integer("batch_size", 40, "segments per batch")
    flags.DEFINE_float("outlier_duration_ms", 10000, "segments longer than this (ms) are outliers")
    flags.DEFINE_integer("outlier_batch_size", 1, "outlier segments per batch")
    run_main(main)


if __name__ == "__main__":
    entry_point()
