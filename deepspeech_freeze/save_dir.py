"""A training run's save directory, its one owner: checked writable, locked against a second run, and the only
place that writes its ``flags.txt`` and its run record (``run.json``, through
:class:`~deepspeech_freeze.run_record.RunRecord`). Checkpoints are written into it by
:class:`~deepspeech_freeze.checkpoints.Savers`.
"""
import errno
import fcntl
import os
import shutil

from .errors import UserError

LOCK_FILE = ".lock"


def remove_quietly(path):
    """Delete a file or folder if it is there; a failure is ignored (used for leftovers only)."""
    try:
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
    except OSError:
        pass


def check_writable(directory, flag):
    """Create ``directory`` and prove a file can be written there, before any training starts."""
    probe = os.path.join(directory, ".write-test")
    try:
        os.makedirs(directory, exist_ok=True)
        with open(probe, "wb") as handle:
            handle.write(b"x" * 4096)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as err:
        raise UserError("{} {}: cannot write there ({}): choose a writable directory with free space".format(
            flag, directory, err.strerror or err))
    finally:
        remove_quietly(probe)


class SaveDirLock(object):
    """Holds ``<save_dir>/.lock`` (an advisory ``flock``) while a training run writes to the directory, so a second
    run started into the same directory refuses instead of interleaving checkpoints. The kernel drops the lock when
    the holding process ends, however it ends (kill -9 included), so a lock file left behind never blocks."""

    def __init__(self, directory):
        self.directory = directory
        self.path = os.path.join(directory, LOCK_FILE)
        self._handle = None

    def __enter__(self):
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno not in (errno.EAGAIN, errno.EACCES):
                handle.close()
                raise UserError("--save_checkpoint_dir {}: cannot lock it ({})".format(self.directory, err))
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise UserError("--save_checkpoint_dir {} is in use by another training run (pid {}): wait for it to "
                            "finish or stop it, or choose another --save_checkpoint_dir".format(self.directory,
                                                                                               holder))
        handle.seek(0)
        handle.truncate()
        handle.write("{}\n".format(os.getpid()))
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *_exc):
        fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()
        self._handle = None


class SaveDir(object):
    """The save directory of one training invocation. ``enabled`` is False on Horovod ranks other than 0, which
    never write."""

    def __init__(self, config, enabled=True):
        self.path, self.summary_dir, self.enabled = config.save_dir, config.summary_dir, enabled
        self.flags_text = config.flags_text

    def open(self, stack):
        """Check the save and summary directories, lock the save directory (released when ``stack`` exits) and
        write ``flags.txt``."""
        if not self.enabled:
            return
        check_writable(self.path, "--save_checkpoint_dir")
        check_writable(self.summary_dir, "--summary_dir")
        stack.enter_context(SaveDirLock(self.path))  # before anything in it is written
        with open(os.path.join(self.path, "flags.txt"), "w") as handle:
            handle.write(self.flags_text)

    def save_record(self, record):
        """Write the run record (rank 0 only)."""
        if self.enabled:
            os.makedirs(self.path, exist_ok=True)
            record.save(self.path)
