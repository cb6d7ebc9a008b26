"""One training process, or many with Horovod (``--horovod``): the trainer talks to both through one interface.

With Horovod each process (one per GPU, or per CPU slot) trains on its own shard of the training set; gradients of
the trainable variables are averaged with allreduce (frozen variables have no gradient, so they take no part);
rank 0 alone restores checkpoints through the transfer spec, writes checkpoints, summaries and logs, and its
variables are broadcast to the others; dev losses are averaged over ranks so that best_dev, early stopping and
plateau decisions are the same everywhere.
"""
import logging

from .tfcompat import tf

from .errors import UserError


class Single(object):
    """The ordinary single-process run."""
    rank, size, local_rank, is_chief = 0, 1, 0, True

    def wrap_optimizer(self, optimizer):
        return optimizer

    def shard(self, dataset):
        return dataset

    def usable_samples(self, count, batch_size):
        return count

    def broadcast(self, session):
        """After rank 0 has initialised or restored: make every rank's variables equal to rank 0's."""

    def mean(self, session, value):
        """The mean of ``value`` over all ranks."""
        return value

    def from_chief(self, session, value):
        """Rank 0's ``value`` (a number) on every rank."""
        return value

    def same_on_all_ranks(self, session, digest):
        """True when every rank passes the same hex ``digest``."""
        return True

    def build(self):
        """Create the collective ops, once the model's variables exist."""

    def configure(self, options):
        return options


class Horovod(Single):
    """Horovod across processes (Gloo or MPI), one process per GPU or CPU slot."""

    def __init__(self):
        try:
            import horovod.tensorflow as hvd  # pylint: disable=import-outside-toplevel
        except ImportError:
            raise UserError("--horovod needs Horovod: bin/install.sh --test builds it (either stack, about 4-6 minutes)")
        hvd.init()
        self.hvd = hvd
        self.rank, self.size, self.local_rank = hvd.rank(), hvd.size(), hvd.local_rank()
        self.is_chief = self.rank == 0
        self._broadcast = None
        self._value = self._mean = self._chief_value = self._digest = self._all_digests = None
        if not self.is_chief:
            logging.getLogger().setLevel(logging.WARNING)

    def wrap_optimizer(self, optimizer):
        return self.hvd.DistributedOptimizer(optimizer)

    def usable_samples(self, count, batch_size):
        """Every rank must run the same number of steps (allreduce waits for all): use a multiple of
        size x batch_size samples."""
        return count - count % (self.size * batch_size)

    def shard(self, dataset):
        return rank_shard(dataset, self.size, self.rank)

    def build(self):
        """Create the broadcast and averaging ops (call once the model's variables exist)."""
        self._broadcast = self.hvd.broadcast_global_variables(0)
        self._value = tf.compat.v1.placeholder(tf.float64, [], name="rank_value")
        self._mean = self.hvd.allreduce(self._value, average=True)
        self._chief_value = self.hvd.broadcast(self._value, 0, name="chief_value")
        self._digest = tf.compat.v1.placeholder(tf.int32, [1, 32], name="rank_digest")
        self._all_digests = self.hvd.allgather(self._digest)

    def broadcast(self, session):
        session.run(self._broadcast)

    def mean(self, session, value):
        return float(session.run(self._mean, {self._value: value}))

    def from_chief(self, session, value):
        return float(session.run(self._chief_value, {self._value: value}))

    def same_on_all_ranks(self, session, digest):
        # Every rank receives every rank's 32 digest bytes and compares them: all ranks decide the same.
        mine = [list(bytes.fromhex(digest))]
        gathered = session.run(self._all_digests, {self._digest: mine})
        return all(list(row) == mine[0] for row in gathered)

    def configure(self, options):
        options.gpu_options.visible_device_list = str(self.local_rank)
        return options


def rank_shard(dataset, size, rank):
    """Rank ``rank``'s elements of ``dataset`` (of ``size`` ranks): every ``size``-th, from the ``rank``-th on.

    The training set's elements are sample indices with their augmentation seeds, each seed derived from
    ``--random_seed``, the epoch and the sample's index in the whole set (:func:`augment.sample_seed
    <deepspeech_freeze.augment.sample_seed>`); every rank builds the same epoch order and keeps only its own
    elements. So no two ranks (nor two towers, which take different batches) augment with the same seed, a sample
    gets the same augmentation whatever the number of ranks, and a rerun with the same seed repeats itself.
    Mixing the rank into the seed would add nothing and would tie a sample's augmentation to the rank count."""
    return dataset.shard(size, rank)


def create(use_horovod):
    """The run's :class:`Single` or :class:`Horovod`."""
    return Horovod() if use_horovod else Single()
