"""Log lines in DeepSpeech's style (``I message``) and the per-epoch progress bar."""
import logging
import sys

import progressbar


def setup_logging(level=1):
    """Route Python and TF logging to stderr as one-letter-prefixed lines. ``level``: 0 DEBUG ... 3 ERROR."""
    from .tfcompat import tf  # pylint: disable=import-outside-toplevel
    tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname).1s %(message)s"))
    root.addHandler(handler)
    root.setLevel([logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR][max(0, min(3, level))])
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


class EpochProgress(object):
    """``Epoch 3 |   Training | Elapsed Time: 0:00:12 | Steps: 40 | Loss: 12.345678`` (stderr), or nothing."""

    def __init__(self, epoch, label, enabled, dataset=None):
        self.loss = 0.0
        self.bar = None
        if not enabled:
            return
        prefix = "Epoch {} | {:>10}".format(epoch, label)
        widgets = [prefix, " | ", progressbar.widgets.Timer(), " | Steps: ", progressbar.widgets.Counter(), " | ",
                   progressbar.widgets.Variable("mean_loss", format="Loss: {formatted_value}", precision=6)]
        if dataset:
            widgets += [" | Dataset: {}".format(dataset)]
        self.bar = progressbar.ProgressBar(max_value=progressbar.UnknownLength, widgets=widgets, fd=sys.stderr,
                                           redirect_stdout=False, variables={"mean_loss": 0.0})

    def update(self, steps, mean_loss):
        if self.bar is not None:
            self.bar.update(steps, mean_loss=mean_loss)

    def finish(self):
        if self.bar is not None:
            self.bar.finish()
