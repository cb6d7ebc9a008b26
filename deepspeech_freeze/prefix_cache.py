"""Frozen-prefix activation cache (``--frozen_prefix_cache DIR``): frozen bottom layers run once per utterance.

When layers 1..k are frozen and apply no dropout, their output for an utterance never changes during training. The
cache runs them once over each sample set, stores layer k's output per utterance in a TFRecord file (disk-backed,
read as a stream, float32 or ``--frozen_prefix_cache_fp16``), and the trainer then computes only layers k+1..6.
Every variable is still created, so checkpoints keep DeepSpeech's layout and the frozen-layer proof still runs.

Exactness: a frozen layer with dropout (the paper's setting: dropout 0.4 on layers 1, 2, 3, 5) gives a different
output at every step, which a cache cannot reproduce; the trainer refuses and says which rates to set to 0.
A cache file is reused only if its key matches: the prefix weights' fingerprints, k, the feature settings and the
set's rows; it is written to a temporary name and renamed when complete.
"""
import hashlib
import io
import json
import logging
import os

import numpy as np
from .tfcompat import tf

from . import fingerprints, tfcompat
from .data import create_dataset, reading
from .errors import UserError
from .naming import DROPOUT_FLAGS, DROPOUT_INDEX_OF_LAYER, format_layers
from .model import create_model

log = logging.getLogger(__name__)



def prefix_depth(frozen_layers):
    """The largest k (up to 5) such that layers 1..k are all frozen; 0 if layer 1 trains."""
    depth = 0
    while depth < 5 and depth + 1 in frozen_layers:
        depth += 1
    return depth


def check_cacheable(frozen_layers, dropout_rates):
    """The cache depth k for these settings, or a :class:`UserError` explaining why the cache would not be exact."""
    depth = prefix_depth(frozen_layers)
    if depth == 0:
        raise UserError("--frozen_prefix_cache needs the bottom layers frozen (--freeze_layers 1..k, e.g. 3 or "
                        "1-3,5): layer 1 trains here ({})".format(format_layers(frozen_layers) or "nothing frozen"))
    dropped = [(layer, DROPOUT_FLAGS[index]) for layer, index in sorted(DROPOUT_INDEX_OF_LAYER.items())
               if layer <= depth and dropout_rates[index] > 0]
    if dropped:
        # The way out names exactly the flags whose rate is not 0 yet (never one already set to 0).
        flags = sorted({flag for _, flag in dropped})
        raise UserError("--frozen_prefix_cache: frozen layer(s) {} apply dropout during training ({}), as in the "
                        "paper; cached outputs cannot reproduce that. Either set {} to use the cache, or train "
                        "without --frozen_prefix_cache".format(",".join(str(layer) for layer, _ in dropped),
                                                               ", ".join("--" + flag for _, flag in dropped),
                                                               " ".join("--{} 0".format(flag) for flag in flags)))
    return depth


class PrefixCache(object):
    """Layer ``depth``'s outputs for each sample set, in ``directory``."""

    def __init__(self, directory, config, depth, fp16=False):
        self.directory, self.config, self.depth, self.fp16 = directory, config, depth, fp16
        #: The batches hold layer ``depth``'s outputs: the model computes only the layers above it.
        self.start_after = depth
        self.sets = {}  # path -> (frame, name)
        self._iterator = self._output = None
        self._inits = {}

    def _path(self, name):
        return os.path.join(self.directory, name + ".tfrecord")

    def dataset(self, name, frame, batch_size, train_phase, shard=None):
        """The cached set as batches shaped like :func:`data.create_dataset`'s, with layer-k outputs instead of
        MFCCs: ``(wav_filename, activations [B, T, n_hidden], n_frames, labels, label_lengths)``."""
        self.sets[name] = frame
        hidden, dtype = self.config.model.n_hidden, tf.float16 if self.fp16 else tf.float32
        spec = {"wav_filename": tf.io.FixedLenFeature([], tf.string), "activations": tf.io.FixedLenFeature([], tf.string),
                "n_frames": tf.io.FixedLenFeature([], tf.int64), "labels": tf.io.VarLenFeature(tf.int64)}

        def parse(record):
            item = tf.io.parse_single_example(record, spec)
            activations = tf.cast(tf.reshape(tf.io.decode_raw(item["activations"], dtype), [-1, hidden]), tf.float32)
            labels = tf.cast(tf.sparse.to_dense(item["labels"]), tf.int32)
            return (item["wav_filename"], activations, tf.cast(item["n_frames"], tf.int32), labels,
                    tf.size(input=labels, out_type=tf.int32))

        dataset = tf.data.TFRecordDataset(self._path(name))
        if shard is not None:
            dataset = shard(dataset)
        dataset = dataset.map(parse, num_parallel_calls=tf.data.experimental.AUTOTUNE)
        dataset = dataset.padded_batch(batch_size, padded_shapes=([], [None, hidden], [], [None], []),
                                       drop_remainder=train_phase)
        return dataset.prefetch(tf.data.experimental.AUTOTUNE)

    def build_graph(self, raw_datasets):
        """The forward pass through the frozen layers 1..k, sharing the training graph's variables."""
        raw = {name: create_dataset(frame, self.config, 16, train_phase=False) for name, frame in raw_datasets}
        first = next(iter(raw.values()))
        self._iterator = tf.compat.v1.data.Iterator.from_structure(tf.compat.v1.data.get_output_types(first),
                                                                   tfcompat.iterator_shapes(first))
        self._inits = {name: self._iterator.make_initializer(dataset) for name, dataset in raw.items()}
        filenames, features, n_frames, labels, label_lengths = self._iterator.get_next()
        with tf.compat.v1.variable_scope(tf.compat.v1.get_variable_scope(), reuse=True):
            output = create_model(features, n_frames, self.config.model, dropout=None,
                                  frozen_layers=frozenset(range(1, 7)), stop_after=self.depth)
        layer = output.layers[self.depth]
        time_major = tf.reshape(layer, [-1, tf.shape(input=features)[0], self.config.model.n_hidden])
        self._output = {"filenames": filenames, "activations": tf.transpose(a=time_major, perm=[1, 0, 2]),
                        "n_frames": n_frames, "labels": labels, "label_lengths": label_lengths}

    def _key(self, session, frame):
        digest = hashlib.sha256()
        prefix = fingerprints.of_layers(session, frozenset(range(1, self.depth + 1)))
        for name in sorted(prefix):
            digest.update(prefix[name].encode())
        data = self.config.data
        digest.update(json.dumps([self.depth, self.fp16, self.config.model.n_hidden, self.config.model.relu_clip,
                                  data.sample_rate, data.window_samples, data.step_samples]).encode())
        for row in frame[["wav_filename", "wav_filesize", "transcript"]].itertuples(index=False):
            digest.update("{}\t{}\t{}\n".format(*row).encode("utf-8"))
        return digest.hexdigest()

    def fill(self, session):
        """Compute and store every set whose cache is missing or stale (after the weights are restored)."""
        os.makedirs(self.directory, exist_ok=True)
        for name, frame in self.sets.items():
            key, path = self._key(session, frame), self._path(name)
            meta = path + ".json"
            if os.path.isfile(path) and os.path.isfile(meta):
                with io.open(meta, encoding="utf-8") as handle:
                    if json.load(handle).get("key") == key:
                        log.info("Frozen-prefix cache %s is up to date (layers 1-%d)", path, self.depth)
                        continue
            log.info("Computing layers 1-%d once for %d samples into %s", self.depth, len(frame), path)
            session.run(self._inits[name])
            temporary = path + ".tmp"
            count = 0
            with tf.io.TFRecordWriter(temporary) as writer:
                while True:
                    try:
                        with reading(frame, self.config):  # a damaged sample: one message naming it
                            batch = session.run(self._output)
                    except tf.errors.OutOfRangeError:
                        break
                    for index, frames in enumerate(batch["n_frames"]):
                        values = batch["activations"][index, :frames].astype(np.float16 if self.fp16 else np.float32)
                        labels = batch["labels"][index, :batch["label_lengths"][index]]
                        example = tf.train.Example(features=tf.train.Features(feature={
                            "wav_filename": tf.train.Feature(bytes_list=tf.train.BytesList(
                                value=[batch["filenames"][index]])),
                            "activations": tf.train.Feature(bytes_list=tf.train.BytesList(value=[values.tobytes()])),
                            "n_frames": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(frames)])),
                            "labels": tf.train.Feature(int64_list=tf.train.Int64List(value=labels.tolist()))}))
                        writer.write(example.SerializeToString())
                        count += 1
            os.replace(temporary, path)
            with io.open(meta, "w", encoding="utf-8") as handle:
                json.dump({"key": key, "samples": count, "layers": "1-{}".format(self.depth), "fp16": self.fp16},
                          handle)
            log.info("Stored %d samples (%.1f MB)", count, os.path.getsize(path) / 1e6)

    def start_epoch(self, epoch):
        """Nothing to do: the stored outputs stay valid while the frozen layers stay frozen."""

    def end_epoch(self):
        """Nothing to do."""
