"""Train, test and export a DeepSpeech 0.7 model, with transfer learning and layer freezing.

  python -m deepspeech_freeze.train --train_files train.csv --dev_files dev.csv --test_files test.csv ...
  python -m deepspeech_freeze.train --load_checkpoint_dir en/ --save_checkpoint_dir de/ \
      --alphabet_config_path data/alphabets/german.txt --drop_source_layers 1 --freeze_layers 1-3 ...

Flags have DeepSpeech 0.7.4's names and defaults (plus --freeze_layers, --reinit_layers, --frozen_prefix_cache,
--horovod). Layers are numbered 1, 2, 3 (dense), 4 (LSTM), 5 (dense), 6 (output). Frozen layers keep their dropout.
"""
# Read top to bottom: the loss of one batch -> the training graph -> one pass over a sample set -> the epoch loop
# with best_dev, early stop and plateau -> main.
import collections
import hashlib
import logging
import os
import signal
import sys
import time

import tensorflow as tf

from . import checkpoints, data, distributed, prefix_cache
from .config import build_config
from .errors import UserError, run_main
from .flags import FLAGS, define_flags
from .layers import KIND_OF_LAYER, LAYERS, layer_of_variable
from .logs import EpochProgress, setup_logging
from .model import create_model

log = logging.getLogger("deepspeech_freeze")


# ----------------------------------------------------------------------------------------------------------------
# The graph


def batch_loss(batch, config, dropout, lstm_impl="fused", start_after=0):
    """CTC loss of one batch: ``(mean loss, per-sample losses, files whose loss is not finite)``.
    ``start_after=k``: the batch holds layer k's cached outputs instead of MFCCs (frozen-prefix cache)."""
    filenames, features, n_frames, labels, label_lengths = batch
    output = create_model(features, n_frames, config.n_hidden, config.n_classes, dropout=dropout,
                          frozen_layers=config.transfer.frozen_layers, lstm_impl=lstm_impl, start_after=start_after)
    per_sample = tf.compat.v1.nn.ctc_loss(labels=data.dense_to_sparse(labels, label_lengths),
                                          inputs=output.logits, sequence_length=n_frames)
    non_finite = tf.gather(filenames, tf.compat.v1.where(~tf.math.is_finite(per_sample)))
    return tf.reduce_mean(input_tensor=per_sample), per_sample, non_finite


def available_devices():
    """One tower per visible GPU, or the CPU (``--cpu_towers N``: N virtual CPU devices)."""
    if FLAGS.cpu_towers > 1:
        return ["/cpu:{}".format(index) for index in range(FLAGS.cpu_towers)]
    from tensorflow.python.client import device_lib  # pylint: disable=import-outside-toplevel
    gpus = [d.name for d in device_lib.list_local_devices() if d.device_type == "GPU"]
    return gpus or ["/cpu:0"]


TrainingGraph = collections.namedtuple(
    "TrainingGraph", "iterator dropout loss non_finite train_op global_step learning_rate reduce_learning_rate "
                     "step_summary trainable")


def build_training_graph(config, output_types, output_shapes, devices, wrap_optimizer=lambda optimizer: optimizer,
                         start_after=0):
    """Towers over ``devices`` sharing CPU-resident variables; gradients averaged; one Adam step.

    Only trainable variables (those of layers not frozen) enter ``compute_gradients``, so frozen layers get no
    gradient, no Adam slots, and no backward op runs below the lowest trainable layer.
    """
    iterator = tf.compat.v1.data.Iterator.from_structure(output_types, output_shapes)
    dropout = [tf.compat.v1.placeholder_with_default(0.0, [], name="dropout_{}".format(i)) for i in range(6)]
    global_step = tf.compat.v1.train.get_or_create_global_step()
    learning_rate = tf.compat.v1.get_variable("learning_rate", initializer=FLAGS.learning_rate, trainable=False)
    reduce_learning_rate = tf.compat.v1.assign(learning_rate, learning_rate * FLAGS.plateau_reduction)
    optimizer = tf.compat.v1.train.AdamOptimizer(learning_rate=learning_rate, beta1=FLAGS.beta1,
                                                 beta2=FLAGS.beta2, epsilon=FLAGS.epsilon)
    if FLAGS.automatic_mixed_precision:
        optimizer = tf.compat.v1.train.experimental.enable_mixed_precision_graph_rewrite(optimizer)
    optimizer = wrap_optimizer(optimizer)  # Horovod: allreduce of the (trainable variables') gradients
    lstm_impl = "cudnn" if FLAGS.train_cudnn else "fused"

    tower_grads, tower_losses, tower_non_finite = [], [], []
    trainable = None
    with tf.compat.v1.variable_scope(tf.compat.v1.get_variable_scope()):
        for index, device in enumerate(devices):
            with tf.device(device), tf.compat.v1.name_scope("tower_{}".format(index)):
                loss, _, non_finite = batch_loss(iterator.get_next(), config, dropout, lstm_impl, start_after)
                tf.compat.v1.get_variable_scope().reuse_variables()
                trainable = tf.compat.v1.trainable_variables()
                tower_grads.append(optimizer.compute_gradients(loss, var_list=trainable))
                tower_losses.append(loss)
                tower_non_finite.append(non_finite)
    grads = tower_grads[0] if len(tower_grads) == 1 else average_gradients(tower_grads)
    train_op = optimizer.apply_gradients(grads, global_step=global_step)
    loss = tf.reduce_mean(input_tensor=tf.stack(tower_losses))
    step_summary = tf.compat.v1.summary.scalar("step_loss", loss, collections=["step_summaries"])
    return TrainingGraph(iterator, dropout, loss, tf.concat(tower_non_finite, 0), train_op, global_step,
                         learning_rate, reduce_learning_rate, step_summary, trainable)


def average_gradients(tower_grads):
    """Mean of each variable's gradient over the towers, computed on the CPU."""
    averaged = []
    with tf.device("/cpu:0"):
        for grads_and_vars in zip(*tower_grads):
            grads = [grad for grad, _ in grads_and_vars if grad is not None]
            mean = tf.reduce_mean(input_tensor=tf.stack(grads, 0), axis=0) if grads else None
            averaged.append((mean, grads_and_vars[0][1]))
    return averaged


# ----------------------------------------------------------------------------------------------------------------
# Running


class Interrupted(Exception):
    """Ctrl-C or SIGTERM: the loop saves a checkpoint and exits."""


def _raise_interrupted(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


def session_config():
    """TF session options from the performance flags."""
    options = tf.compat.v1.ConfigProto(allow_soft_placement=True, log_device_placement=FLAGS.log_placement,
                                       inter_op_parallelism_threads=FLAGS.inter_op_parallelism_threads,
                                       intra_op_parallelism_threads=FLAGS.intra_op_parallelism_threads,
                                       device_count={"CPU": max(1, FLAGS.cpu_towers)})
    options.gpu_options.allow_growth = FLAGS.use_allow_growth
    return options


class RunState(object):
    """What the loop carries between epochs (the one mutable object of a run)."""

    def __init__(self, record, dropout_rates, dist):
        self.record = record
        self.dropout_rates = dropout_rates
        self.dist = dist
        self.best_dev_loss = float("inf")
        self.epochs_without_improvement = 0
        self.last_checkpoint_time = time.time()

    def save_record(self, config):
        """Write run.json (rank 0 only)."""
        if self.dist.is_chief:
            checkpoints.write_run(config.save_dir, self.record)


def run_set(session, graph, state, savers, epoch, label, init_op, train, writer=None, dataset=None):
    """One pass over a sample set; returns the mean loss per batch. Training also steps the optimizer and saves
    ``train-<step>`` every ``--checkpoint_secs``."""
    session.run(init_op)
    feed = {rate_ph: rate for rate_ph, rate in zip(graph.dropout, state.dropout_rates)} if train else {}
    fetches = {"loss": graph.loss, "non_finite": graph.non_finite, "step": graph.global_step,
               "summary": graph.step_summary}
    if train:
        fetches["train_op"] = graph.train_op
    total, steps = 0.0, 0
    progress = EpochProgress(epoch, label, FLAGS.show_progressbar and state.dist.is_chief, dataset)
    while True:
        try:
            result = session.run(fetches, feed_dict=feed)
        except tf.errors.OutOfRangeError:
            break
        if len(result["non_finite"]):
            files = [name.decode("utf-8") for name in result["non_finite"].ravel()]
            log.warning("The following files caused an infinite (or NaN) loss: %s", ",".join(files))
            if FLAGS.stop_on_nonfinite_loss and train:
                raise UserError("non-finite loss at step {} (--stop_on_nonfinite_loss); files: {}".format(
                    result["step"], ",".join(files)))
        total += result["loss"]
        steps += 1
        if writer is not None:
            writer.add_summary(result["summary"], result["step"])
        progress.update(steps, total / steps)
        if train and FLAGS.checkpoint_secs > 0 and time.time() - state.last_checkpoint_time > FLAGS.checkpoint_secs:
            savers.save_train(session, graph.global_step)
            state.last_checkpoint_time = time.time()
    progress.finish()
    return total / steps if steps else 0.0


def write_epoch_summary(writer, tag, value, step):
    """Per-epoch scalar for TensorBoard (no writer: not rank 0, nothing to do)."""
    if writer is None:
        return
    summary = tf.compat.v1.Summary(value=[tf.compat.v1.Summary.Value(tag=tag, simple_value=value)])
    writer.add_summary(summary, step)
    writer.flush()


def fit(config, dist):
    """Train for ``--epochs`` epochs; returns the run record (with the frozen proof line, if any).

    ``dist`` is :mod:`~deepspeech_freeze.distributed`'s Single or Horovod: only its rank 0 restores through the
    transfer spec and writes anything; the other ranks receive rank 0's variables by broadcast.
    """
    train_set = data.load_samples(config.train_files, config, reject_short=FLAGS.reject_short_audio)
    dev_sets = [(path, data.load_samples([path], config)) for path in config.dev_files]
    metrics_sets = [(path, data.load_samples([path], config)) for path in config.metrics_files]
    prefix = frozen_prefix_cache(config, dist)
    cache = data.FeatureCache("" if prefix else FLAGS.feature_cache)
    cache.prepare()
    devices = available_devices()
    per_step = FLAGS.train_batch_size * len(devices) * dist.size
    if len(train_set) < per_step:
        raise UserError("the training set has {} usable samples but one step takes {} (--train_batch_size {} x {} "
                        "tower(s) x {} process(es)); training drops incomplete batches, so no step would run: lower "
                        "--train_batch_size".format(len(train_set), per_step, FLAGS.train_batch_size, len(devices),
                                                    dist.size))
    train_set = train_set.iloc[:dist.usable_samples(len(train_set), FLAGS.train_batch_size * len(devices))]

    tf.compat.v1.reset_default_graph()
    tf.compat.v1.set_random_seed(FLAGS.random_seed)
    if prefix:
        named = [("train", train_set)] + [(_set_name(path), frame) for path, frame in dev_sets + metrics_sets]
        train_data = prefix.dataset("train", train_set, FLAGS.train_batch_size, True, dist.shard)
        other = {path: prefix.dataset(_set_name(path), frame, FLAGS.dev_batch_size, False, dist.shard)
                 for path, frame in dev_sets + metrics_sets}
    else:
        train_data = data.create_dataset(train_set, config, FLAGS.train_batch_size, train_phase=True,
                                         cache_prefix=cache.prefix, shard=dist.shard)
        other = {path: data.create_dataset(frame, config, FLAGS.dev_batch_size, train_phase=False, shard=dist.shard)
                 for path, frame in dev_sets + metrics_sets}
    shapes = tf.compat.v1.data.get_output_shapes(train_data)
    types = tf.compat.v1.data.get_output_types(train_data)
    graph = build_training_graph(config, types, shapes, devices, dist.wrap_optimizer,
                                 start_after=prefix.depth if prefix else 0)
    train_init = graph.iterator.make_initializer(train_data)
    other_init = {path: graph.iterator.make_initializer(dataset) for path, dataset in other.items()}
    if prefix:
        prefix.build_graph(named)
    dist.build()

    writers = {}
    if dist.is_chief:
        checkpoints.check_writable(config.save_dir, "--save_checkpoint_dir")
        checkpoints.check_writable(config.summary_dir, "--summary_dir")
        with open(os.path.join(config.save_dir, "flags.txt"), "w") as handle:
            handle.write(FLAGS.flags_into_string())
        writers = {name: tf.compat.v1.summary.FileWriter(os.path.join(config.summary_dir, name), max_queue=120)
                   for name in ("train", "dev", "metrics")}
    savers = checkpoints.Savers(config.save_dir, FLAGS.max_to_keep, enabled=dist.is_chief)

    with tf.compat.v1.Session(config=dist.configure(session_config())) as session:
        if dist.is_chief:
            record = checkpoints.restore_for_training(session, config)
        else:
            session.run(tf.compat.v1.global_variables_initializer())
            record = {"finished": True}
        dist.broadcast(session)
        if prefix:
            prefix.fill(session)
        state = RunState(record, config.dropout_rates, dist)
        log.info("Trainable layers: %s; frozen: %s", _layer_list(config, frozen=False),
                 _layer_list(config, frozen=True))
        first_epoch = dist.from_chief(session, epochs_already_done(record, session.run(graph.global_step)))
        if first_epoch:
            log.info("The interrupted run had finished %d of its epochs; continuing with epoch %d", first_epoch,
                     first_epoch)
        old_handlers = {sig: signal.signal(sig, _raise_interrupted) for sig in (signal.SIGTERM,)}
        record["train_audio_seconds"] = float(train_set["n_samples"].sum()) / config.sample_rate
        log.info("STARTING Optimization")
        started = time.time()
        try:
            for epoch in range(first_epoch, FLAGS.epochs):
                epoch_started = time.time()
                if cache.prefix and FLAGS.cache_for_epochs > 0 and epoch > 0 and epoch % FLAGS.cache_for_epochs == 0:
                    log.info("Invalidating feature cache")
                    cache.invalidate()
                train_loss = run_set(session, graph, state, savers, epoch, "Training", train_init, train=True,
                                     writer=writers.get("train"))
                cache.mark_complete()
                step = session.run(graph.global_step)
                log.info("Finished training epoch %d - loss: %f", epoch, train_loss)
                write_epoch_summary(writers.get("train"), "epoch_loss", train_loss, step)
                # The epoch's end step is recorded before the checkpoint is written: whenever the process dies,
                # a checkpoint at step >= this one holds the whole epoch.
                record["epoch_end_steps"].append(int(step))
                record["history"].append({"epoch": epoch, "step": int(step), "train_loss": float(train_loss),
                                          "seconds": round(time.time() - epoch_started, 3)})
                state.save_record(config)
                savers.save_train(session, graph.global_step)
                state.last_checkpoint_time = time.time()
                if dev_sets and not after_dev(session, graph, state, savers, epoch, config, dev_sets, other_init,
                                              writers.get("dev")):
                    break
                for path, _ in metrics_sets:
                    loss = run_set(session, graph, state, savers, epoch, "Metrics", other_init[path], train=False,
                                   writer=writers.get("metrics"), dataset=path)
                    log.info("Metrics on %s - loss: %f", path, loss)
                log.info("-" * 80)
        except (KeyboardInterrupt, Interrupted) as err:
            path = savers.save_train(session, graph.global_step)
            state.save_record(config)
            raise UserError("interrupted ({}): saved {}; run the same command again to resume".format(
                err.args[0] if err.args else "Ctrl-C", path))
        finally:
            for sig, handler in old_handlers.items():
                signal.signal(sig, handler)
            for writer in writers.values():
                writer.close()
        log.info("FINISHED optimization in %s", _duration(time.time() - started))
        if dist.size > 1:
            digest = weights_digest(session)
            sys.stderr.write("rank {} of {}: weights sha256 {}\n".format(dist.rank, dist.size, digest))
            if not dist.same_on_all_ranks(session, digest):
                raise UserError("rank {}: the ranks' weights differ after training (sha256 {} here)".format(
                    dist.rank, digest))
            log.info("Weights identical on all %d ranks (sha256 %s)", dist.size, digest)
    record["finished"] = True
    state.save_record(config)
    if dist.is_chief:
        proof = checkpoints.verify_frozen(record, config.save_dir)
        if proof:
            log.info("%s", proof)
    return record


def weights_digest(session):
    """sha256 over every layer variable's value, in name order: equal digests mean bit-identical models."""
    digest = hashlib.sha256()
    for variable in sorted(tf.compat.v1.global_variables(), key=lambda v: v.op.name):
        if layer_of_variable(variable.op.name) is not None:
            digest.update(variable.op.name.encode())
            digest.update(session.run(variable).tobytes())
    return digest.hexdigest()


def frozen_prefix_cache(config, dist):
    """The run's :class:`~deepspeech_freeze.prefix_cache.PrefixCache`, or None without ``--frozen_prefix_cache``."""
    if not FLAGS.frozen_prefix_cache:
        return None
    if dist.size > 1 or FLAGS.train_cudnn:
        raise UserError("--frozen_prefix_cache is not supported with --horovod or --train_cudnn yet: drop one")
    depth = prefix_cache.check_cacheable(config.transfer.frozen_layers, config.dropout_rates)
    if FLAGS.feature_cache:
        log.warning("--feature_cache is not used with --frozen_prefix_cache (the cache holds layer %d's outputs)",
                    depth)
    log.info("Frozen-prefix cache: layers 1-%d run once per utterance; training computes layers %d-6", depth,
             depth + 1)
    return prefix_cache.PrefixCache(FLAGS.frozen_prefix_cache, config, depth, FLAGS.frozen_prefix_cache_fp16)


def _set_name(path):
    return "set-" + hashlib.sha1(os.path.abspath(path).encode("utf-8")).hexdigest()[:12]


def epochs_already_done(record, step):
    """Epochs of an interrupted run that the checkpoint at ``step`` already contains (0 for a finished or new run,
    whose next invocation trains ``--epochs`` more, as DeepSpeech does). Resets the record for this invocation."""
    if record.get("finished", True):
        record["epoch_end_steps"] = []
    record["epoch_end_steps"] = [s for s in record.get("epoch_end_steps", []) if s <= step]
    record["history"] = [entry for entry in record.get("history", []) if entry["step"] <= step]
    record["finished"] = False
    return len(record["epoch_end_steps"])


def after_dev(session, graph, state, savers, epoch, config, dev_sets, other_init, writer):
    """Validate, save best_dev, and decide on early stop and plateau; returns False to stop training."""
    losses = []
    for path, frame in dev_sets:
        loss = run_set(session, graph, state, savers, epoch, "Validation", other_init[path], train=False,
                       writer=writer, dataset=path)
        losses.append((loss, len(frame)))
        log.info("Finished validating epoch %d on %s - loss: %f", epoch, path, loss)
    # Weighted by each set's number of batches, as DeepSpeech weights by steps.
    weights = [max(1, -(-count // FLAGS.dev_batch_size)) for _, count in losses]
    dev_loss = sum(loss * weight for (loss, _), weight in zip(losses, weights)) / sum(weights)
    dev_loss = state.dist.mean(session, dev_loss)  # Horovod: every rank decides on the same number
    step = session.run(graph.global_step)
    write_epoch_summary(writer, "epoch_loss", dev_loss, step)

    if dev_loss > state.best_dev_loss - FLAGS.es_min_delta:
        state.epochs_without_improvement += 1
    else:
        state.epochs_without_improvement = 0
    record = state.record
    record["history"][-1]["dev_loss"] = float(dev_loss)
    if dev_loss < state.best_dev_loss:
        state.best_dev_loss = dev_loss
        path = savers.save_best(session, graph.global_step)
        log.info("Saved new best validating model with loss %f to: %s", dev_loss, path)
        record.update(best_dev_loss=float(dev_loss), best_dev_epoch=epoch, best_dev_step=int(step))
    state.save_record(config)

    if FLAGS.early_stop and state.epochs_without_improvement == FLAGS.es_epochs:
        log.info("Early stop triggered as the loss did not improve the last %d epochs", FLAGS.es_epochs)
        return False
    if FLAGS.reduce_lr_on_plateau and state.epochs_without_improvement > 0 and \
            state.epochs_without_improvement % FLAGS.plateau_epochs == 0:
        if state.dist.is_chief:
            checkpoints.restore_best(session, config)
        state.dist.broadcast(session)
        session.run(graph.reduce_learning_rate)
        log.info("Encountered a plateau, reducing learning rate to %s", session.run(graph.learning_rate))
        savers.save_best(session, graph.global_step)
    return True


def _layer_list(config, frozen):
    chosen = [n for n in LAYERS if (n in config.transfer.frozen_layers) == frozen]
    return ", ".join("{} ({})".format(n, KIND_OF_LAYER[n]) for n in chosen) or "none"


def _duration(seconds):
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return "{}:{:02d}:{:02d}".format(hours, minutes, seconds)


# ----------------------------------------------------------------------------------------------------------------
# main


def main(_argv):
    """Train, then test and export, as DeepSpeech.py's main does."""
    setup_logging(FLAGS.log_level)
    config = build_config(training=bool(FLAGS.train_files))
    scorer = None
    if FLAGS.scorer_path:
        from . import evaluate  # pylint: disable=import-outside-toplevel
        scorer = evaluate.check_scorer(config)  # fail early on a bad scorer, before hours of training
    dist = distributed.create(FLAGS.horovod)
    on_cpu = FLAGS.train_files and available_devices() == ["/cpu:0"]
    if on_cpu and FLAGS.train_cudnn:
        raise UserError("--train_cudnn needs a GPU with cuDNN and none is visible here: train without it (the "
                        "checkpoints stay compatible; cuDNN checkpoints load on CPU with --load_cudnn)")
    if on_cpu and FLAGS.automatic_mixed_precision:
        # TF skips the float16 rewrite without a GPU but keeps the loss-scaling optimizer wrapper, whose scaling
        # changes float32 rounding: losses differ slightly from a run without the flag.
        log.warning("--automatic_mixed_precision: no GPU is visible, so TF will not convert the graph to float16; "
                    "only its dynamic loss scaling applies (drop the flag on CPU)")
    if FLAGS.train_files:
        try:
            fit(config, dist)
        except checkpoints.FrozenLayersChanged as err:
            log.error("%s", err)
            sys.exit(3)
    if not dist.is_chief:
        return  # testing, export and inference are rank 0's
    if config.test_files:
        # Always the model this run produced (its save directory), never the transfer source.
        from . import evaluate  # pylint: disable=import-outside-toplevel
        evaluate.test(config, config.save_dir if FLAGS.train_files else config.load_dir, scorer)
    if FLAGS.export_dir:
        from . import export  # pylint: disable=import-outside-toplevel
        export.export(config, config.save_dir if FLAGS.train_files else config.load_dir)
    if FLAGS.one_shot_infer:
        from . import transcribe  # pylint: disable=import-outside-toplevel
        directory = config.save_dir if FLAGS.train_files else config.load_dir
        print(transcribe.transcribe_files(config, directory, [FLAGS.one_shot_infer])[0]["transcript"])


def entry_point():
    """``python -m deepspeech_freeze.train``."""
    define_flags()
    run_main(main)


if __name__ == "__main__":
    entry_point()
