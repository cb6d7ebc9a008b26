"""Sample sets: DeepSpeech CSV files -> checked samples -> a batched tf.data pipeline of MFCC features.

All checks run before training: every row's WAV header, transcript and length are validated up front, so a bad row
ends the run at start-up with a message naming the CSV row and the file, never hours later mid-epoch.
"""
import contextlib
import glob
import io
import logging
import os

import numpy as np
import pandas as pd
from .tfcompat import tf

from . import audio, sample_db, sample_pipeline
from .errors import UserError
from .progress import announce_large_file

log = logging.getLogger(__name__)

COLUMNS = ("wav_filename", "wav_filesize", "transcript")
MAX_LISTED_PROBLEMS = 10


def _first_bad_utf8_line(path):
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return None


def read_csv(path, labelled=True):
    """Read one DeepSpeech CSV into a DataFrame with absolute ``wav_filename``, ``wav_filesize``, ``transcript``
    and ``origin`` (``"<csv> row <line>"``). Relative WAV paths are resolved against the CSV's directory."""
    if not os.path.isfile(path):
        raise UserError("CSV file {} does not exist: check the --*_files flag".format(path))
    try:
        frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.EmptyDataError:
        raise UserError("CSV file {} is empty: it needs the header line {}".format(path, ",".join(COLUMNS)))
    except UnicodeDecodeError:
        raise UserError("CSV file {} line {} is not valid UTF-8: save the file as UTF-8"
                        .format(path, _first_bad_utf8_line(path)))
    except pd.errors.ParserError as err:
        raise UserError("CSV file {} cannot be parsed ({}): each row needs {} values".format(path, err, len(COLUMNS)))
    frame.columns = [str(column).strip() for column in frame.columns]
    required = ["wav_filename"] + (["transcript"] if labelled else [])
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise UserError("CSV file {} has no {} column (found: {}): the header must be {}".format(
            path, " or ".join(missing), ", ".join(frame.columns) or "nothing", ",".join(COLUMNS)))
    base = os.path.dirname(os.path.abspath(path))
    frame["origin"] = ["{} row {}".format(path, index + 2) for index in range(len(frame))]
    frame["wav_filename"] = [os.path.normpath(os.path.join(base, name)) for name in frame["wav_filename"]]
    if "transcript" not in frame.columns:
        frame["transcript"] = ""
    sizes = pd.to_numeric(frame["wav_filesize"], errors="coerce") if "wav_filesize" in frame.columns else None
    frame["wav_filesize"] = [
        int(size) if sizes is not None and size == size else
        (os.path.getsize(name) if os.path.isfile(name) else 0)
        for size, name in zip(sizes if sizes is not None else [None] * len(frame), frame["wav_filename"])]
    return frame[["wav_filename", "wav_filesize", "transcript", "origin"]]


def ctc_min_frames(labels):
    """Time steps CTC needs for ``labels``: one per label plus a blank between each pair of repeated labels."""
    repeats = sum(1 for a, b in zip(labels, labels[1:]) if a == b)
    return len(labels) + repeats


def _describe(problems, total, what):
    lines = ["{} of {} samples in {} cannot be used:".format(len(problems), total, what)]
    lines += ["  {} ({}): {}".format(origin, name, problem) for origin, name, problem in problems[:MAX_LISTED_PROBLEMS]]
    if len(problems) > MAX_LISTED_PROBLEMS:
        lines.append("  ... and {} more".format(len(problems) - MAX_LISTED_PROBLEMS))
    lines.append("Fix or remove these rows and run again.")
    return "\n".join(lines)


def audio_problem(name, config):
    """``(header facts, None)`` of one sample's audio (a WAV path or an SDB sample id), or ``(facts or None, why it
    cannot be used)``: missing, unreadable, damaged, or in a format other than ``--audio_sample_rate`` mono 16-bit."""
    if sample_db.split_sample_id(name)[1] is not None:
        info, problem = sample_pipeline.sample_info(name, config.data.read_buffer)
    else:
        info, problem = audio.wav_info(name)
    if info is not None:
        problem = audio.wav_problem(info, config.data.sample_rate)
    return info, problem


def load_samples(csv_paths, config, labelled=True, reject_short=False):
    """Read and check the CSVs of one flag; returns a DataFrame sorted by file size, with a ``labels`` column.

    Problems that make a row unusable (missing or unreadable WAV, wrong format or rate, empty transcript,
    characters outside the alphabet) end the run with one message listing the rows. Samples whose audio has
    fewer feature frames than CTC needs for their transcript are listed and skipped (or rejected with
    ``reject_short``), since they could only produce an infinite loss.
    """
    if not csv_paths:
        return None
    for path in csv_paths:
        announce_large_file(log, "Loading", path)  # reading the rows and checking every WAV takes a while
    buffering = config.data.read_buffer
    frame = pd.concat([sample_pipeline.sdb_frame(path, buffering) if sample_db.is_sdb(path) else
                       read_csv(path, labelled) for path in csv_paths], ignore_index=True)
    what = ",".join(csv_paths)
    if frame.empty:
        raise UserError("{} holds no samples: add rows below the header".format(what))
    duplicated = frame.duplicated(subset=["wav_filename", "transcript"])
    if duplicated.any():
        # DeepSpeech trains on a row as often as it is listed: users repeat rows to up-sample a scarce speaker.
        log.info("%d duplicate rows in %s are kept: each is trained on as often as it is listed (first: %s)",
                 int(duplicated.sum()), what, frame.loc[duplicated, "origin"].iloc[0])

    problems, short, labels_column, frames_column, samples_column = [], [], [], [], []
    for row in frame.itertuples(index=False):
        labels, n_frames, n_samples = [], 0, 0
        info, problem = audio_problem(row.wav_filename, config)
        if info is not None:
            n_samples = info.n_samples
            n_frames = audio.n_feature_frames(n_samples, config.data.window_samples, config.data.step_samples)
        if problem is None and labelled:
            if not row.transcript.strip():
                problem = "empty transcript: every sample needs one"
            else:
                missing = config.model.alphabet.missing_characters(row.transcript)
                if missing:
                    problem = "transcript has {} not in alphabet {}: add them to the alphabet or drop the row " \
                              "(importers have --filter_alphabet)".format(
                                  ", ".join(repr(char) for char in missing), config.model.alphabet.path)
                else:
                    labels = config.model.alphabet.encode(row.transcript)
                    if n_frames < ctc_min_frames(labels):
                        short.append((row.origin, row.wav_filename, "{} feature frames but the transcript needs "
                                      "{}".format(n_frames, ctc_min_frames(labels))))
        if problem is not None:
            problems.append((row.origin, row.wav_filename, problem))
        labels_column.append(labels)
        frames_column.append(n_frames)
        samples_column.append(n_samples)
    if problems:
        raise UserError(_describe(problems, len(frame), what))
    frame["labels"] = labels_column
    frame["n_frames"] = frames_column
    frame["n_samples"] = samples_column
    if short:
        if reject_short:
            raise UserError(_describe(short, len(frame), what).replace(
                "Fix or remove", "Audio too short for its transcript (--reject_short_audio). Fix or remove"))
        log.warning("%s\n(these are skipped; pass --reject_short_audio to stop instead)",
                    _describe(short, len(frame), what).replace("cannot be used", "are too short for their "
                                                               "transcripts").replace("\nFix or remove these rows "
                                                                                      "and run again.", ""))
        frame = frame[~frame["origin"].isin(set(item[0] for item in short))].reset_index(drop=True)
        if frame.empty:
            raise UserError("no sample of {} is long enough for its transcript".format(what))
    # Shortest first, as DeepSpeech 0.7 does (stable, so equal sizes keep CSV order); never shuffled.
    return frame.sort_values("wav_filesize", kind="mergesort").reset_index(drop=True)


@contextlib.contextmanager
def reading(frame, config):
    """Around a ``session.run`` that reads batches of sample set ``frame``: an error TF raises because a sample
    cannot be loaded becomes the :class:`UserError` that names it, instead of a traceback.

    The start-up checks (:func:`load_samples`) run again first, since a file changed while the run went on is named
    best by them, with its CSV row; otherwise the loader's own message is used (damage inside an SDB sample's audio,
    which only decoding finds). Any other error, and the end of the data (``OutOfRangeError``), pass unchanged."""
    try:
        yield
    except tf.errors.OutOfRangeError:
        raise
    except tf.errors.OpError:
        loader_error = sample_pipeline.take_error()
        # The CSV or SDB files the set was read from: each row's origin is "<file> row <n>" or "<file> sample <n>".
        what = ",".join(dict.fromkeys(origin.rsplit(" ", 2)[0] for origin in frame["origin"]))
        log.info("A step over %s failed: checking its samples again in case one is damaged", what)
        problems = [(row.origin, row.wav_filename, problem) for row in frame.itertuples(index=False)
                    for problem in [audio_problem(row.wav_filename, config)[1]] if problem is not None]
        if problems:
            raise UserError(_describe(problems, len(frame), what)) from None
        if loader_error is not None:
            raise loader_error from None
        raise


def dense_to_sparse(labels, lengths):
    """Padded ``[B, L]`` labels and their lengths -> the SparseTensor ``ctc_loss`` expects."""
    mask = tf.sequence_mask(lengths, tf.shape(input=labels)[1])
    indices = tf.compat.v1.where(mask)
    values = tf.gather_nd(labels, indices)
    return tf.SparseTensor(indices, values, tf.cast(tf.shape(input=labels), tf.int64))


class FeatureCache(object):
    """``--feature_cache``: TF's dataset cache plus a completion marker.

    TF writes the cache while the first epoch runs; a crash leaves a partial cache that TF would later read as if it
    were complete (DeepSpeech then trained 0 steps with loss 0). The marker file is written only after a whole
    epoch has gone through, and a cache without it is deleted before use.
    """

    def __init__(self, prefix):
        self.prefix = prefix
        self.marker = prefix + ".complete" if prefix else ""

    def _files(self):
        return [path for path in glob.glob(glob.escape(self.prefix) + "*")
                if path == self.marker or path.startswith(self.prefix + ".") or path.startswith(self.prefix + "_")]

    def prepare(self):
        """Delete an incomplete cache left by an earlier run; create the cache's directory."""
        if not self.prefix:
            return
        if not os.path.exists(self.marker) and self._files():
            log.warning("Deleting incomplete feature cache %s (left by an interrupted run)", self.prefix)
            self.invalidate()
        directory = os.path.dirname(os.path.abspath(self.prefix))
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as err:
            raise UserError("--feature_cache {}: cannot create {} ({})".format(self.prefix, directory, err.strerror))

    def mark_complete(self):
        """Record that a full epoch has written the cache."""
        if self.prefix and not os.path.exists(self.marker):
            with io.open(self.marker, "w") as handle:
                handle.write("complete\n")

    def invalidate(self):
        """Delete the cache and its marker (``--cache_for_epochs``)."""
        for path in self._files():
            os.remove(path)


def padded_labels(frame):
    """The label rows of ``frame`` as one zero-padded ``[N, L]`` int32 array (L: the longest, at least 1) and their
    lengths ``[N]``."""
    labels = list(frame["labels"])
    padded = np.zeros((len(labels), max(1, max(len(item) for item in labels))), dtype=np.int32)
    for index, item in enumerate(labels):
        padded[index, :len(item)] = item
    return padded, np.array([len(item) for item in labels], dtype=np.int32)


def create_dataset(frame, config, batch_size, train_phase, cache_prefix="", shard=None, schedule=None):
    """A tf.data pipeline of ``(wav_filename, features [B,T,26], n_frames [B], labels [B,L], label_lengths [B])``.

    WAV decoding and MFCC run in parallel inside TF; batches are zero-padded to their longest sample. Training drops
    the last partial batch, dev and test keep it (DeepSpeech 0.7.4). ``shard`` (Horovod) picks this process's
    samples before anything is read. SDB samples, ``--augment`` and ``--shuffle_batches`` (the training set, ordered
    by ``schedule``) are loaded by :mod:`~deepspeech_freeze.sample_pipeline`; the batching is the same.
    """
    padded, lengths = padded_labels(frame)
    if schedule is not None or sample_pipeline.needs_python(frame, config, train_phase):
        dataset = sample_pipeline.sample_dataset(frame, config, padded, lengths, train_phase, shard,
                                                 schedule if train_phase else None)
    else:
        dataset = tf.data.Dataset.from_tensor_slices((frame["wav_filename"].values.astype(str), padded, lengths))
        if shard is not None:
            dataset = shard(dataset)

        def load(filename, label_row, label_length):
            features, n_frames = audio.wav_file_to_mfccs(filename, config.data.window_samples,
                                                         config.data.step_samples, config.model.n_input,
                                                         config.data.sample_rate / 2)
            return filename, features, n_frames, label_row[:label_length], label_length

        dataset = dataset.map(load, num_parallel_calls=tf.data.experimental.AUTOTUNE)
    if cache_prefix:
        dataset = dataset.cache(cache_prefix)
    dataset = dataset.padded_batch(batch_size, padded_shapes=([], [None, config.model.n_input], [], [None], []),
                                   drop_remainder=train_phase)
    return dataset.prefetch(tf.data.experimental.AUTOTUNE)


class PlainInputs(object):
    """The training loop's inputs computed from the audio: MFCC batches, the training set through
    ``--feature_cache`` when one is given. :class:`~deepspeech_freeze.prefix_cache.PrefixCache` is the other kind
    (layer-k outputs stored once); the loop uses both through the same methods."""
    #: The batches hold MFCCs: the model computes every layer.
    start_after = 0

    def __init__(self, config):
        self.config = config
        self.cache = FeatureCache(config.data.feature_cache)
        self.cache.prepare()
        self.schedule = None
        #: Samples in one training step over all towers and ranks (set by the loop); the rest of an epoch is left out.
        self.samples_per_step = None
        if config.data.augment and config.data.feature_cache:
            # DeepSpeech 0.7.4 caches augmented features too (its flag help says otherwise), and warns; so do we.
            if config.data.cache_for_epochs == 0:
                log.warning("--augment with --feature_cache: the features of the first epoch, augmented once, are "
                            "cached and reused by every later epoch, which can over-fit; --cache_for_epochs N "
                            "re-augments every N epochs")
        if config.data.feature_cache and config.data.cache_for_epochs == 1:
            log.warning("--cache_for_epochs 1 rebuilds the feature cache in every epoch and never reads it: use "
                        "N > 1, or drop --feature_cache")

    def dataset(self, name, frame, batch_size, train_phase, shard=None, usable=None):
        """Batches of sample set ``name`` (``'train'`` is the one that goes through the feature cache).
        ``usable``: how many training samples make whole steps (the rest is left out each epoch)."""
        schedule = None
        data_config = self.config.data
        if name == "train" and (data_config.augment or data_config.shuffle_batches):
            per_step = self.samples_per_step or batch_size
            schedule = self.schedule = sample_pipeline.EpochSchedule(
                len(frame), len(frame) - len(frame) % per_step if usable is None else usable, self.config.training.epochs, batch_size,
                self.config.training.random_seed, data_config.shuffle_batches, data_config.shuffle_start,
                data_config.shuffle_buffer)
        return create_dataset(frame, self.config, batch_size, train_phase,
                              cache_prefix=self.cache.prefix if name == "train" else "", shard=shard,
                              schedule=schedule)

    def build_graph(self, named_sets):
        """Nothing to build: the MFCCs are computed inside each batch's pipeline."""

    def fill(self, session):
        """Nothing to precompute."""

    def start_epoch(self, epoch):
        """``--cache_for_epochs N``: rebuild the feature cache every N epochs."""
        if self.schedule is not None:
            self.schedule.start_epoch(epoch)
        every = self.config.data.cache_for_epochs
        if self.cache.prefix and every > 0 and epoch > 0 and epoch % every == 0:
            log.info("Invalidating feature cache")
            self.cache.invalidate()

    def end_epoch(self):
        """A whole epoch went through: the feature cache is complete."""
        self.cache.mark_complete()
