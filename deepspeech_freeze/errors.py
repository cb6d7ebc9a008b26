"""User-facing errors: one clear line, a non-zero exit, never a traceback.

Every problem a user can fix (a bad flag, a missing file, a CSV row that cannot be used, a checkpoint that does not
fit the model) is raised as :class:`UserError`. The command-line entry points run their ``main`` through
:func:`run_main` (absl tools) or :func:`run_cli` (argparse tools), which print the message and exit with status 2
instead of showing a traceback.
"""
import sys

EXIT_USER_ERROR = 2


class UserError(Exception):
    """A problem in the user's input, described in a message that says what is wrong, where, and what to do."""


def write_failure(directory, err):
    """The message for a failed write into a save directory (disk full, read-only, ...): what happened and that
    nothing already there was damaged."""
    reason = getattr(err, "strerror", None) or str(err).split("\n")[0]
    return ("cannot write to {} ({}): free disk space or choose another --save_checkpoint_dir; the checkpoints "
            "already there are intact".format(directory, reason))


def run_main(main, argv=None):
    """Run an absl ``main`` so that a :class:`UserError` (or Ctrl-C) ends with one line instead of a traceback."""
    from absl import app
    app.run(lambda args: run_cli(main, args), argv=argv)


def run_cli(main, *args, **kwargs):
    """Run a tool's work ``main(*args, **kwargs)``: a :class:`UserError` is one ``ERROR:`` line and exit status 2,
    Ctrl-C one line and status 130 (the work can be resumed by running the same command again)."""
    try:
        return main(*args, **kwargs)
    except UserError as err:
        sys.stderr.write("ERROR: {}\n".format(err))
        sys.stderr.flush()
        sys.exit(EXIT_USER_ERROR)
    except KeyboardInterrupt as err:
        how = " ({})".format(err.args[0]) if err.args else ""
        sys.stderr.write("ERROR: interrupted{}; run the same command again to resume\n".format(how))
        sys.stderr.flush()
        sys.exit(130)
