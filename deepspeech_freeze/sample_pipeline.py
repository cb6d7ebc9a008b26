"""The input pipeline when samples need Python: ``--augment``, SDB sample databases, ``--shuffle_batches``.

:func:`data.create_dataset <deepspeech_freeze.data.create_dataset>` has a set's samples loaded here when any of these
is in play (and batches them as it batches the others); otherwise TF decodes the WAV files itself and nothing here
runs.

* The training set's order comes from :class:`EpochSchedule`, a generator that knows the epoch (set by the loop
  before each epoch): it yields each sample's index, its augmentation clock and its seed. DeepSpeech's
  shortest-first order is kept; with ``--shuffle_batches`` the batches (still of similar lengths) come in shuffled
  order from ``--shuffle_start`` on, and the samples left out by the dropped last partial batch differ per epoch.
* Loading and the sample-domain augmentations run in numpy through ``tf.numpy_function`` inside a parallel
  ``Dataset.map``, so they overlap with the training step; the graph domains (signal, spectrogram, features) run as
  TF ops in the same map (:func:`augment.augmented_features <deepspeech_freeze.augment.augmented_features>`).
"""
import logging

import numpy as np

from . import audio, augment, sample_db
from .tfcompat import tf

log = logging.getLogger(__name__)


class EpochSchedule(object):
    """Which samples an epoch trains on, in which order, with which clock and seed.

    ``count`` samples (sorted shortest first), ``usable`` of them per epoch (whole steps only). Without shuffling
    an epoch is samples ``0 .. usable-1`` in order, as DeepSpeech. With ``shuffle_batches`` and ``epoch >=
    shuffle_start``, the window of ``usable`` samples starts at a random offset in ``[0, count-usable]`` (so the
    dropped samples differ per epoch), is cut into batches of ``batch_size`` consecutive samples, and the batches
    pass a shuffle buffer of ``shuffle_buffer`` batches (tf.data's shuffle semantics), seeded by ``--random_seed``
    and the epoch.
    """

    def __init__(self, count, usable, epochs, batch_size, random_seed, shuffle_batches=False, shuffle_start=1,
                 shuffle_buffer=1000):
        self.count, self.usable, self.epochs, self.batch_size = count, usable, max(1, epochs), batch_size
        self.random_seed = random_seed
        self.shuffle_batches, self.shuffle_start, self.shuffle_buffer = shuffle_batches, shuffle_start, shuffle_buffer
        self.epoch = 0

    def order(self, epoch):
        """The sample indices of ``epoch`` in training order."""
        indices = np.arange(self.count)
        if not (self.shuffle_batches and epoch >= self.shuffle_start):
            return indices[:self.usable]
        rng = np.random.default_rng([int(self.random_seed) & 0xFFFFFFFF, int(epoch), 7])
        offset = int(rng.integers(0, self.count - self.usable + 1))
        window = indices[offset:offset + self.usable]
        batches = [window[start:start + self.batch_size] for start in range(0, len(window), self.batch_size)]
        shuffled, buffer = [], []
        for batch in batches:  # tf.data shuffle: fill the buffer, then emit a random element per new one
            buffer.append(batch)
            if len(buffer) >= self.shuffle_buffer:
                shuffled.append(buffer.pop(int(rng.integers(0, len(buffer)))))
        while buffer:
            shuffled.append(buffer.pop(int(rng.integers(0, len(buffer)))))
        return np.concatenate(shuffled) if shuffled else indices[:0]

    def items(self, epoch):
        """``(index, clock, seed)`` of each sample of ``epoch``: the clock counts positions in the epoch."""
        order = self.order(epoch)
        return [(int(index), augment.training_clock(epoch, position, self.epochs, max(1, len(order))),
                 augment.sample_seed(self.random_seed, epoch, int(index)))
                for position, index in enumerate(order)]

    def generate(self):
        """The generator behind the training dataset (reads the epoch set by :meth:`start_epoch`)."""
        for index, clock, seed in self.items(self.epoch):
            yield index, clock, seed

    def start_epoch(self, epoch):
        """Called by the training loop before each epoch."""
        self.epoch = epoch


def needs_python(frame, config, train_phase):
    """Whether this set must be loaded by this module (SDB samples; sample-domain augmentation; the training set
    with any augmentation or batch shuffling)."""
    if any(sample_db.split_sample_id(name)[1] is not None for name in frame["wav_filename"]):
        return True
    return bool(train_phase and (config.data.augment or config.data.shuffle_batches))


#: The first user-facing problem a loader met inside TF (which would otherwise only report it inside an op error
#: with a traceback); :func:`take_error` hands it to the training loop.
_ERRORS = []


def take_error():
    """The :class:`~deepspeech_freeze.errors.UserError` a loader raised inside the pipeline, or None."""
    return _ERRORS.pop(0) if _ERRORS else None


def _loader(augmentations, sample_rate, buffering):
    def load(sample_id, clock, seed):
        try:
            samples, _ = sample_db.load_audio(sample_id.decode("utf-8"), buffering)
            if augmentations:
                samples = augment.apply_sample_augmentations(samples, sample_rate, float(clock), int(seed),
                                                             augmentations)
        except sample_db.UserError as err:
            _ERRORS.append(err)
            raise
        return np.asarray(samples, dtype=np.float32).reshape(-1, 1)
    return load


def sample_dataset(frame, config, padded, lengths, train_phase, shard=None, schedule=None):
    """The samples of a set that needs Python, one element each, as
    :func:`data.create_dataset <deepspeech_freeze.data.create_dataset>` batches them: ``(wav_filename, features
    [T,26], n_frames, labels [L], label_length)``. ``padded``/``lengths``: the set's label rows
    (:func:`data.padded_labels <deepspeech_freeze.data.padded_labels>`). ``schedule`` (an :class:`EpochSchedule`)
    orders the training set; other sets run in order with clock 0 and are never augmented."""
    data_config = config.data
    augmentations = augment.parse_augmentations(data_config.augment, data_config.sample_rate,
                                                data_config.read_buffer) if train_phase else []
    sample_augs = [item for item in augmentations if isinstance(item, augment.SampleAugmentation)]
    graph_augs = [item for item in augmentations if isinstance(item, augment.GraphAugmentation)]
    names = tf.constant(frame["wav_filename"].values.astype(str))
    padded_t, lengths_t = tf.constant(padded), tf.constant(lengths)

    if schedule is not None:
        dataset = tf.data.Dataset.from_generator(schedule.generate, (tf.int64, tf.float64, tf.int64),
                                                 (tf.TensorShape([]), tf.TensorShape([]), tf.TensorShape([])))
    else:
        dataset = tf.data.Dataset.from_tensor_slices((np.arange(len(frame), dtype=np.int64),
                                                      np.zeros(len(frame), np.float64),
                                                      np.zeros(len(frame), np.int64)))
    if shard is not None:
        dataset = shard(dataset)
    python_load = sample_augs or any(sample_db.split_sample_id(name)[1] is not None for name in frame["wav_filename"])
    load_fn = _loader(sample_augs, data_config.sample_rate, data_config.read_buffer)

    def load(index, clock, seed):
        filename = tf.gather(names, index)
        label_length = tf.gather(lengths_t, index)
        label_row = tf.gather(padded_t, index)[:label_length]
        if python_load:
            samples = tf.compat.v1.numpy_function(load_fn, [filename, clock, seed], tf.float32)
            samples.set_shape([None, 1])
        else:
            decoded = tf.audio.decode_wav(tf.io.read_file(filename), desired_channels=1)
            samples = decoded.audio * audio.DECODE_WAV_TO_DS_SCALE
        if graph_augs:
            features, n_frames = augment.augmented_features(
                samples, data_config.sample_rate, clock, seed, label_length, graph_augs, data_config.window_samples,
                data_config.step_samples, config.model.n_input, data_config.feature_win_step)
        else:
            features, n_frames = audio.samples_to_mfccs(samples, data_config.sample_rate, data_config.window_samples,
                                                        data_config.step_samples, config.model.n_input,
                                                        data_config.sample_rate / 2)
        return filename, features, n_frames, label_row, label_length

    return dataset.map(load, num_parallel_calls=tf.data.experimental.AUTOTUNE)


def sdb_frame(path, buffering):
    """The rows of a sample database as ``data.read_csv`` returns a CSV's: ``wav_filename`` is the sample id
    ``<sdb>:<index>``, ``wav_filesize`` the size its audio has as a 16-bit WAV file (so sorting by it sorts by
    duration, and the database's own order is kept for equal lengths)."""
    import pandas as pd  # pylint: disable=import-outside-toplevel
    database = sample_db.SDB(path, labeled=None, buffering=buffering)
    try:
        rows = []
        for index in range(len(database)):
            _, transcript = database.entry(index)
            _, _, _, n_samples = database.header(index)
            rows.append((database.sample_id(index), 44 + 2 * n_samples, transcript or "",
                         "{} sample {}".format(path, index)))
    finally:
        database.close()
    return pd.DataFrame(rows, columns=["wav_filename", "wav_filesize", "transcript", "origin"])


def sample_info(sample_id, buffering):
    """``(audio.WavInfo, None)`` or ``(None, problem)`` for an SDB sample id (the header only)."""
    path, index = sample_db.split_sample_id(sample_id)
    try:
        rate, channels, width, n_samples = sample_db.open_sdb(path, buffering).header(index)
    except sample_db.UserError as err:
        return None, str(err)
    return audio.WavInfo(rate, channels, width, n_samples), None
