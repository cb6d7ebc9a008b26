"""Train, test and export a DeepSpeech 0.7 model, with transfer learning and layer freezing.

  python -m deepspeech_freeze.train --train_files train.csv --dev_files dev.csv --test_files test.csv ...
  python -m deepspeech_freeze.train --load_checkpoint_dir en/ --save_checkpoint_dir de/ \
      --alphabet_config_path data/alphabets/german.txt --drop_source_layers 1 --freeze_layers 1-3 ...

Flags have DeepSpeech 0.7.4's names and defaults (plus --freeze_layers, --reinit_layers, --frozen_prefix_cache,
--horovod). Layers are numbered 1, 2, 3 (dense), 4 (LSTM), 5 (dense), 6 (output). Frozen layers keep their dropout.
"""
# Read top to bottom as a story: the loss of one batch -> the training graph -> one pass over a sample set ->
# validation (best_dev, early stop, plateau) -> one training epoch -> fit (the whole run) -> main (train, then
# test and export). Only main() looks at the flags; everything else receives the Config.
import collections
import contextlib
import dataclasses
import hashlib
import logging
import os
import sys
import time

from .tfcompat import session_config, tf

from . import (advice, alphabet_guard, checkpoints, data, distributed, fingerprints, frozen_proof, lstm, precision,
               prefix_cache, tfcompat, towers)
from .config import from_flags
from .errors import UserError, run_main
from .flags import define_flags
from .logs import EpochProgress, setup_logging
from .model import create_model
from .naming import KIND_OF_LAYER, LAYERS, layer_of_variable
from .run_record import RunRecord
from .save_dir import SaveDir
from .stop_signals import Interrupted, StopSignals

log = logging.getLogger("deepspeech_freeze")


# ----------------------------------------------------------------------------------------------------------------
# The graph


def batch_loss(batch, config, dropout, start_after=0):
    """CTC loss of one batch: ``(mean loss, per-sample losses, files whose loss is not finite)``.
    ``start_after=k``: the batch holds layer k's cached outputs instead of MFCCs (frozen-prefix cache)."""
    filenames, features, n_frames, labels, label_lengths = batch
    training = config.training
    forward = lstm.forward_kind(training.lstm_forward, training.lstm_gradient)
    output = create_model(features, n_frames, config.model, dropout=dropout,
                          frozen_layers=config.transfer.frozen_layers,
                          lstm_impl="cudnn" if training.train_cudnn else forward, start_after=start_after,
                          lstm_gradient=training.lstm_gradient)
    per_sample = tf.compat.v1.nn.ctc_loss(labels=data.dense_to_sparse(labels, label_lengths),
                                          inputs=output.logits, sequence_length=n_frames)
    non_finite = tf.gather(filenames, tf.compat.v1.where(~tf.math.is_finite(per_sample)))
    return tf.reduce_mean(input_tensor=per_sample), per_sample, non_finite


TrainingGraph = collections.namedtuple(
    "TrainingGraph", "initializers dropout loss non_finite train_op global_step learning_rate reduce_learning_rate "
                     "step_summary")


def build_training_graph(config, datasets, devices, wrap_optimizer=lambda optimizer: optimizer, start_after=0):
    """Towers over ``devices`` sharing CPU-resident variables; gradients averaged; one Adam step.

    ``datasets`` maps set names to tf.data datasets of one structure; the graph reads whichever set's initializer
    (``graph.initializers[name]``) ran last. Only trainable variables (those of layers not frozen) enter
    ``compute_gradients``, so frozen layers get no gradient, no Adam slots, and no backward op runs below the
    lowest trainable layer.
    """
    training = config.training
    first = next(iter(datasets.values()))
    iterator = tf.compat.v1.data.Iterator.from_structure(tf.compat.v1.data.get_output_types(first),
                                                         tfcompat.iterator_shapes(first))
    dropout = [tf.compat.v1.placeholder_with_default(0.0, [], name="dropout_{}".format(i)) for i in range(6)]
    global_step = tf.compat.v1.train.get_or_create_global_step()
    learning_rate = tf.compat.v1.get_variable("learning_rate", initializer=training.learning_rate, trainable=False)
    reduce_learning_rate = tf.compat.v1.assign(learning_rate, learning_rate * training.plateau_reduction)
    optimizer = tf.compat.v1.train.AdamOptimizer(learning_rate=learning_rate, beta1=training.beta1,
                                                 beta2=training.beta2, epsilon=training.epsilon)
    precision.mark_graph(precision.of_training(training, devices))
    optimizer = precision.wrap_optimizer(optimizer, precision.of_training(training, devices))
    optimizer = wrap_optimizer(optimizer)  # Horovod: allreduce of the (trainable variables') gradients

    grads, tower_losses, tower_non_finite = towers.tower_gradients(
        devices, optimizer, lambda: batch_loss(iterator.get_next(), config, dropout, start_after))
    train_op = optimizer.apply_gradients(grads, global_step=global_step)
    loss = tf.reduce_mean(input_tensor=tf.stack(tower_losses))
    step_summary = tf.compat.v1.summary.scalar("step_loss", loss, collections=["step_summaries"])
    initializers = {name: iterator.make_initializer(dataset) for name, dataset in datasets.items()}
    return TrainingGraph(initializers, dropout, loss, tf.concat(tower_non_finite, 0), train_op, global_step,
                         learning_rate, reduce_learning_rate, step_summary)


# ----------------------------------------------------------------------------------------------------------------
# The loop


class Loop(object):
    """What one training invocation carries between its steps and epochs: the session, the graph, the run record
    (rank 0's, or a copy of its validation state on other ranks) and its save directory, the savers, the summary
    writers, the :class:`StopSignals` the steps check, and ``sets``: each sample set's samples by its id in the
    graph, for naming a sample that cannot be loaded."""

    def __init__(self, config, dist, session, graph, record, save_dir, savers, writers, stop, sets):
        self.config, self.dist, self.session, self.graph = config, dist, session, graph
        self.record, self.save_dir, self.savers, self.writers, self.stop = record, save_dir, savers, writers, stop
        self.sets = sets
        self.last_checkpoint_time = time.time()

    def save_record(self):
        """Write run.json (rank 0 only)."""
        self.save_dir.save_record(self.record)

    def save_train(self):
        """Save ``train-<step>`` and restart the ``--checkpoint_secs`` clock."""
        self.last_checkpoint_time = time.time()
        return self.savers.save_train(self.session, self.graph.global_step)

    def epoch_summary(self, writer, value):
        """Per-epoch scalar for TensorBoard (no writer: not rank 0, nothing to do)."""
        writer = self.writers.get(writer)
        if writer is not None:
            step = self.session.run(self.graph.global_step)
            writer.add_summary(tf.compat.v1.Summary(value=[tf.compat.v1.Summary.Value(
                tag="epoch_loss", simple_value=value)]), step)
            writer.flush()


def run_epoch(loop, epoch, label, set_id, train, writer=None, dataset=None):
    """One pass over a sample set; returns the mean loss per batch. Training also steps the optimizer and saves
    ``train-<step>`` every ``--checkpoint_secs``."""
    graph, training = loop.graph, loop.config.training
    loop.session.run(graph.initializers[set_id])
    feed = dict(zip(graph.dropout, loop.config.model.dropout_rates)) if train else {}
    fetches = {"loss": graph.loss, "non_finite": graph.non_finite, "step": graph.global_step,
               "summary": graph.step_summary}
    if train:
        fetches["train_op"] = graph.train_op
    total, steps = 0.0, 0
    progress = EpochProgress(epoch, label, training.show_progressbar and loop.dist.is_chief, dataset)
    while True:
        try:
            with data.reading(loop.sets[set_id], loop.config):  # a damaged sample: one message, no traceback
                result = loop.session.run(fetches, feed_dict=feed)
        except tf.errors.OutOfRangeError:
            break
        loop.stop.check()
        if len(result["non_finite"]):
            files = [name.decode("utf-8") for name in result["non_finite"].ravel()]
            log.warning("The following files caused an infinite (or NaN) loss: %s", ",".join(files))
            if training.stop_on_nonfinite_loss and train:
                raise UserError("non-finite loss at step {} (--stop_on_nonfinite_loss); files: {}".format(
                    result["step"], ",".join(files)))
        total += result["loss"]
        steps += 1
        if loop.writers.get(writer) is not None:
            loop.writers[writer].add_summary(result["summary"], result["step"])
        progress.update(steps, total / steps)
        if train and 0 < training.checkpoint_secs < time.time() - loop.last_checkpoint_time:
            loop.save_train()
    progress.finish()
    return total / steps if steps else 0.0


def validate(loop, epoch, dev_sets):
    """Validate on the dev sets, save best_dev when the loss improved, and decide on early stop and the plateau;
    returns False to stop training."""
    config, session, graph, record = loop.config, loop.session, loop.graph, loop.record
    training = config.training
    losses = []
    for path, frame in dev_sets:
        loss = run_epoch(loop, epoch, "Validation", sample_set_id(path), train=False, writer="dev", dataset=path)
        losses.append((loss, len(frame)))
        log.info("Finished validating epoch %d on %s - loss: %f", epoch, path, loss)
    # Weighted by each set's number of batches, as DeepSpeech weights by steps.
    weights = [max(1, -(-count // config.data.dev_batch_size)) for _, count in losses]
    dev_loss = sum(loss * weight for (loss, _), weight in zip(losses, weights)) / sum(weights)
    dev_loss = loop.dist.mean(session, dev_loss)  # Horovod: every rank decides on the same number
    loop.epoch_summary("dev", dev_loss)
    if record.validated(epoch, session.run(graph.global_step), dev_loss, training.es_min_delta):
        path = loop.savers.save_best(session, graph.global_step)
        log.info("Saved new best validating model with loss %f to: %s", dev_loss, path)
    loop.save_record()

    if training.early_stop and record.early_stop_due(training.es_epochs):
        log.info("Early stop triggered as the loss did not improve the last %d epochs", training.es_epochs)
        return False
    if training.reduce_lr_on_plateau and record.plateau_due(training.plateau_epochs):
        if loop.dist.is_chief:
            checkpoints.restore_best(session, config)
        loop.dist.broadcast(session)
        session.run(graph.reduce_learning_rate)
        log.info("Encountered a plateau, reducing learning rate to %s", session.run(graph.learning_rate))
        loop.savers.save_best(session, graph.global_step)
    return True


def train_one_epoch(loop, epoch, inputs):
    """One epoch over the training set; its end step goes into the run record before its checkpoint is written, so
    whenever the process dies, a checkpoint at a step >= the recorded one holds the whole epoch."""
    started = time.time()
    inputs.start_epoch(epoch)
    train_loss = run_epoch(loop, epoch, "Training", "train", train=True, writer="train")
    inputs.end_epoch()
    log.info("Finished training epoch %d - loss: %f", epoch, train_loss)
    loop.epoch_summary("train", train_loss)
    loop.record.end_epoch(epoch, loop.session.run(loop.graph.global_step), train_loss, time.time() - started)
    loop.save_record()
    loop.save_train()


# ----------------------------------------------------------------------------------------------------------------
# The run


def sample_set_id(path):
    """The name a dev or metrics CSV's sample set has in the graph and in the frozen-prefix cache."""
    return "set-" + hashlib.sha1(os.path.abspath(path).encode("utf-8")).hexdigest()[:12]


def load_sample_sets(config, dist, devices):
    """``{name: samples}`` for training, dev and metrics sets (the training set cut so that every Horovod rank
    runs the same number of full steps), plus the dev and metrics ``[(csv, samples)]`` lists."""
    batch = config.data.train_batch_size
    train_set = data.load_samples(config.data.train_files, config, reject_short=config.data.reject_short_audio)
    dev_sets = [(path, data.load_samples([path], config)) for path in config.data.dev_files]
    metrics_sets = [(path, data.load_samples([path], config)) for path in config.data.metrics_files]
    per_step = batch * len(devices) * dist.size
    if len(train_set) < per_step:
        raise UserError(advice.batch_too_large(len(train_set), batch, len(devices), dist.size))
    left_out = len(train_set) % per_step
    if left_out:
        log.info("The last partial training step is dropped (as in DeepSpeech): %d of %d training samples are left "
                 "out in each epoch (%s)", left_out, len(train_set), "different ones per epoch with --shuffle_batches"
                 if config.data.shuffle_batches else "the same longest ones every epoch; --shuffle_batches varies them")
    if not config.data.shuffle_batches:  # with shuffling the epoch schedule picks the samples left out
        train_set = train_set.iloc[:dist.usable_samples(len(train_set), batch * len(devices))]
    named = {"train": train_set}
    named.update((sample_set_id(path), frame) for path, frame in dev_sets + metrics_sets)
    return named, dev_sets, metrics_sets


def training_inputs(config, dist):
    """The run's inputs: :class:`~deepspeech_freeze.prefix_cache.PrefixCache` with ``--frozen_prefix_cache``,
    else :class:`~deepspeech_freeze.data.PlainInputs`."""
    training = config.training
    if not training.frozen_prefix_cache:
        return data.PlainInputs(config)
    if dist.size > 1 or training.train_cudnn:
        raise UserError("--frozen_prefix_cache is not supported with --horovod or --train_cudnn yet: drop one")
    depth = prefix_cache.check_cacheable(config.transfer.frozen_layers, config.model.dropout_rates)
    if config.data.feature_cache:
        log.warning("--feature_cache is not used with --frozen_prefix_cache (the cache holds layer %d's outputs)",
                    depth)
    log.info("Frozen-prefix cache: layers 1-%d run once per utterance; training computes layers %d-6", depth,
             depth + 1)
    return prefix_cache.PrefixCache(training.frozen_prefix_cache, config, depth, training.frozen_prefix_cache_fp16)


def open_outputs(config, save_dir, stack):
    """Rank 0: open the save directory (checked, locked against a second run, ``flags.txt``) and the TensorBoard
    writers (closed, and the lock released, when ``stack`` exits)."""
    if not save_dir.enabled:
        return {}
    save_dir.open(stack)
    writers = {name: tf.compat.v1.summary.FileWriter(os.path.join(config.summary_dir, name), max_queue=120)
               for name in ("train", "dev", "metrics")}
    for writer in writers.values():
        stack.callback(writer.close)
    return writers


def start(session, config, dist, graph, save_dir):
    """Rank 0 restores through the transfer spec (the other ranks receive its variables and its validation state);
    returns the run record and the epoch this invocation starts at."""
    if dist.is_chief:
        record = RunRecord.load(config.save_dir)
        path, resumed = checkpoints.restore_for_training(session, config, record)
        if not resumed:
            record = RunRecord.new(config, path, fingerprints.of_layers(session, config.transfer.frozen_layers))
        elif record.best_dev_loss is not None:
            log.info("Best dev loss so far: %f (epoch %s, step %s); best_dev only moves to a better model",
                     record.best_dev_loss, record.best_dev_epoch, record.best_dev_step)
        record.config = dict(config.as_record(), stack=tfcompat.STACK)
        if not resumed:
            save_dir.save_record(record)
    else:
        record = RunRecord()
        session.run(tf.compat.v1.global_variables_initializer())
    dist.broadcast(session)
    first_epoch = int(dist.from_chief(session, record.start_invocation(session.run(graph.global_step))))
    best = dist.from_chief(session, float("inf") if record.best_dev_loss is None else record.best_dev_loss)
    record.best_dev_loss = None if best == float("inf") else best
    record.epochs_without_improvement = int(dist.from_chief(session, record.epochs_without_improvement))
    if first_epoch:
        log.info("The interrupted run had finished %d of its epochs; continuing with epoch %d", first_epoch,
                 first_epoch)
    log.info("Trainable layers: %s; frozen: %s", layer_list(config, frozen=False), layer_list(config, frozen=True))
    return record, first_epoch


def fit(config, dist=None):
    """Train for ``--epochs`` epochs; returns the :class:`~deepspeech_freeze.run_record.RunRecord`.

    ``dist`` is :mod:`~deepspeech_freeze.distributed`'s Single (default) or Horovod: only its rank 0 restores through
    the transfer spec and writes anything; the other ranks receive rank 0's variables by broadcast. Callable
    in-process with a hand-built :class:`~deepspeech_freeze.config.Config`.
    """
    dist = dist or distributed.Single()
    config = resolve_lstm(config)
    devices = towers.available_devices(config.runtime)
    sets, dev_sets, metrics_sets = load_sample_sets(config, dist, devices)
    inputs = training_inputs(config, dist)
    inputs.samples_per_step = config.data.train_batch_size * len(devices) * dist.size
    tf.compat.v1.reset_default_graph()
    tf.compat.v1.set_random_seed(config.training.random_seed)
    batch_size = {name: config.data.train_batch_size if name == "train" else config.data.dev_batch_size
                  for name in sets}
    datasets = {name: inputs.dataset(name, frame, batch_size[name], name == "train", dist.shard)
                for name, frame in sets.items()}
    if dist.is_chief:  # seconds at n_hidden 2048, with no output of its own
        log.info("Building the training graph (n_hidden %d, %d tower(s)) ...", config.model.n_hidden, len(devices))
    graph = build_training_graph(config, datasets, devices, dist.wrap_optimizer, inputs.start_after)
    inputs.build_graph(list(sets.items()))
    dist.build()
    save_dir = SaveDir(config, enabled=dist.is_chief)
    with contextlib.ExitStack() as stack:
        writers = open_outputs(config, save_dir, stack)
        options = precision.configure_session(session_config(config.runtime),  # bfloat16: the rewrite is here
                                              precision.of_training(config.training, devices))
        session = stack.enter_context(tf.compat.v1.Session(config=dist.configure(options)))
        record, first_epoch = start(session, config, dist, graph, save_dir)
        inputs.fill(session)
        record.train_audio_seconds = float(sets["train"]["n_samples"].sum()) / config.data.sample_rate
        stop = stack.enter_context(StopSignals())
        loop = Loop(config, dist, session, graph, record, save_dir,
                    checkpoints.Savers(config.save_dir, config.training.max_to_keep, enabled=dist.is_chief), writers,
                    stop, sets)
        log.info("STARTING Optimization")
        started = time.time()
        try:
            for epoch in range(first_epoch, config.training.epochs):
                train_one_epoch(loop, epoch, inputs)
                if dev_sets and not validate(loop, epoch, dev_sets):
                    break
                for path, _ in metrics_sets:
                    loss = run_epoch(loop, epoch, "Metrics", sample_set_id(path), False, writer="metrics",
                                     dataset=path)
                    log.info("Metrics on %s - loss: %f", path, loss)
                log.info("-" * 80)
        except Interrupted as err:
            path = loop.save_train()
            loop.save_record()
            raise UserError("interrupted ({}): saved {}; run the same command again to resume".format(
                err.args[0], path))
        log.info("FINISHED optimization in %s", duration(time.time() - started))
        check_ranks_agree(session, dist)
        record.finished = True
        loop.save_record()
    if dist.is_chief:
        proof = frozen_proof.verify_frozen(record, config.save_dir)
        if proof:
            log.info("%s", proof)
    return record


def resolve_lstm(config):
    """``config`` with the LSTM forward and gradient this stack builds for it (the run record keeps them)."""
    training = config.training
    gradient = lstm.gradient_kind(training.lstm_gradient)
    training = dataclasses.replace(training, lstm_gradient=gradient,
                                   lstm_forward=lstm.forward_kind(training.lstm_forward, gradient))
    return dataclasses.replace(config, training=training)


def check_ranks_agree(session, dist):
    """Horovod: every rank must end with bit-identical weights."""
    if dist.size == 1:
        return
    digest = weights_digest(session)
    sys.stderr.write("rank {} of {}: weights sha256 {}\n".format(dist.rank, dist.size, digest))
    if not dist.same_on_all_ranks(session, digest):
        raise UserError("rank {}: the ranks' weights differ after training (sha256 {} here)".format(dist.rank,
                                                                                                    digest))
    log.info("Weights identical on all %d ranks (sha256 %s)", dist.size, digest)


def weights_digest(session):
    """sha256 over every layer variable's value, in name order: equal digests mean bit-identical models."""
    digest = hashlib.sha256()
    for variable in sorted(tf.compat.v1.global_variables(), key=lambda v: v.op.name):
        if layer_of_variable(variable.op.name) is not None:
            digest.update(variable.op.name.encode())
            digest.update(session.run(variable).tobytes())
    return digest.hexdigest()


def layer_list(config, frozen):
    """``'1 (dense), 2 (dense)'``: the frozen (or the trainable) layers for the log."""
    chosen = [n for n in LAYERS if (n in config.transfer.frozen_layers) == frozen]
    return ", ".join("{} ({})".format(n, KIND_OF_LAYER[n]) for n in chosen) or "none"


def duration(seconds):
    """``h:mm:ss``."""
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return "{}:{:02d}:{:02d}".format(hours, minutes, seconds)


# ----------------------------------------------------------------------------------------------------------------
# main


def check_devices(config):
    """Refuse ``--train_cudnn`` without a GPU; say what ``--automatic_mixed_precision`` does here
    (:mod:`~deepspeech_freeze.precision`)."""
    if not config.is_training:
        return
    devices = towers.available_devices(config.runtime)
    if config.training.train_cudnn and devices == ["/cpu:0"]:
        raise UserError("--train_cudnn needs a GPU with cuDNN and none is visible here: train without it (the "
                        "checkpoints stay compatible; cuDNN checkpoints load on CPU with --load_cudnn)")
    precision.announce(precision.of_training(config.training, devices))


def main(_argv):
    """Train, then test and export, as DeepSpeech.py's main does."""
    config = from_flags()
    setup_logging(config.runtime.log_level)
    # The model's recorded alphabet: checked (or taken) before a scorer is loaded or a graph is built with it.
    config = (alphabet_guard.resolve_for_training(config) if config.is_training
              else alphabet_guard.resolve(config, config.trained_dir))
    decoder = None
    if config.decoding.scorer_path:
        from . import evaluate  # pylint: disable=import-outside-toplevel
        decoder = evaluate.load_decoder(config)  # fail early on a bad scorer, before hours of training
    if config.export.export_dir and tfcompat.export_unsupported_reason():
        raise UserError(tfcompat.export_unsupported_reason())  # before training, not after it
    dist = distributed.create(config.runtime.horovod)
    check_devices(config)
    if config.is_training and dist.is_chief:
        for path in config.data.test_files:  # a bad test sample (its header) stops the run now, not after training
            data.load_samples([path], config)
    if config.is_training:
        try:
            fit(config, dist)
        except frozen_proof.FrozenLayersChanged as err:
            log.error("%s", err)
            sys.exit(3)
    if not dist.is_chief:
        return  # testing, export and inference are rank 0's
    if config.data.test_files:
        from . import evaluate  # pylint: disable=import-outside-toplevel
        evaluate.test(config, config.trained_dir, decoder)
    if config.export.export_dir:
        from . import export  # pylint: disable=import-outside-toplevel
        export.export(config, config.trained_dir)
    if config.one_shot_infer:
        from . import transcribe  # pylint: disable=import-outside-toplevel
        print(transcribe.transcribe_files(config, config.trained_dir, [config.one_shot_infer])[0]["transcript"])


def entry_point():
    """``python -m deepspeech_freeze.train``."""
    define_flags()
    run_main(main)


if __name__ == "__main__":
    entry_point()
