"""Log lines in DeepSpeech's style (``I message``) and the per-epoch progress bar."""
import logging
import sys

from .progress import Progress


def setup_logging(level=1):
    """Route Python and TF logging to stderr as one-letter-prefixed lines. ``level``: 0 DEBUG ... 3 ERROR.

    TensorFlow's own warnings and info lines (deprecation notices and the like, including those it printed while
    starting, which tfcompat held back) show at level 0 only; its errors always show, once, in the same format."""
    from . import tfcompat  # pylint: disable=import-outside-toplevel
    tf = tfcompat.tf
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname).1s %(message)s"))
    root.addHandler(handler)
    root.setLevel([logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR][max(0, min(3, level))])
    tf_logger = logging.getLogger("tensorflow")
    for own in list(tf_logger.handlers):  # TF's "WARNING:tensorflow:" handler: its lines go through ours instead
        tf_logger.removeHandler(own)
    tf_logger.propagate = True
    tf_level = logging.INFO if level <= 0 else logging.ERROR
    tf.compat.v1.logging.set_verbosity(tf_level)
    tf_logger.setLevel(tf_level)
    if level <= 0:
        sys.stderr.write("".join(tfcompat.STARTUP_LINES))
        for record in tfcompat.STARTUP_RECORDS:
            tf_logger.handle(record)


class EpochProgress(object):
    """``Epoch 3 |   Training | Elapsed Time: 0:00:12 | Steps: 40 | Loss: 12.345678`` (stderr), or nothing: a live
    bar on a terminal, elsewhere a line every 30 s and one at the end (see :mod:`deepspeech_freeze.progress`)."""

    def __init__(self, epoch, label, enabled, dataset=None):
        self.progress = Progress("Epoch {} | {:>10}".format(epoch, label), fields=[("mean_loss", "Loss: {:.6f}")],
                                 suffix="Dataset: {}".format(dataset) if dataset else "", enabled=enabled)

    def update(self, steps, mean_loss):
        self.progress.update(steps, mean_loss=mean_loss)

    def finish(self):
        self.progress.finish()
