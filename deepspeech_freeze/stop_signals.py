"""Ctrl-C and SIGTERM during training: noted by :class:`StopSignals` and acted on between steps, so that the loop
saves a checkpoint and exits instead of being cut off inside a save."""
import signal
import sys


class Interrupted(Exception):
    """Ctrl-C or SIGTERM: the loop saves a checkpoint and exits."""


class StopSignals(object):
    """Ctrl-C (SIGINT) and SIGTERM while training: the first is noted and the loop stops at the next step boundary,
    saves ``train-<step>`` and exits.

    The handler does not raise where the signal lands: an exception thrown into TF's Saver or into a context
    manager half-way through can leave them broken (a Ctrl-C that landed inside a checkpoint save once ended in a
    traceback instead of a save). A second signal stops at once, without that save; every checkpoint already on
    disk stays loadable, as saves are atomic. A SIGINT that the parent shell set to be ignored stays ignored.
    """

    def __init__(self):
        self.received = None  # "Ctrl-C" or "SIGTERM" once a signal came
        self._previous = {}

    def __enter__(self):
        for signum in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(signum) is not signal.SIG_IGN:
                self._previous[signum] = signal.signal(signum, self._note)
        return self

    def __exit__(self, *_exc):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        return False

    def _note(self, signum, _frame):
        if self.received is not None:
            raise KeyboardInterrupt("{} twice".format(self.received))
        self.received = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        sys.stderr.write("{}: stopping after the current step and saving a checkpoint (again: stop now, without "
                         "that save)\n".format(self.received))
        sys.stderr.flush()

    def check(self):
        """Raise :class:`Interrupted` if a signal came; called between steps."""
        if self.received is not None:
            raise Interrupted(self.received)
