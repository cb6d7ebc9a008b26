"""User-facing errors: one clear line, a non-zero exit, never a traceback.

Every problem a user can fix (a bad flag, a missing file, a CSV row that cannot be used, a checkpoint that does not
fit the model) is raised as :class:`UserError`. The command-line entry points run their ``main`` through
:func:`run_main`, which prints the message and exits with status 2 instead of showing a traceback.
"""
import sys

EXIT_USER_ERROR = 2


class UserError(Exception):
    """A problem in the user's input, described in a message that says what is wrong, where, and what to do."""


def run_main(main, argv=None):
    """Run an absl ``main`` so that a :class:`UserError` (or Ctrl-C) ends with one line instead of a traceback."""
    from absl import app

    def guarded(args):
        try:
            return main(args)
        except UserError as err:
            sys.stderr.write("ERROR: {}\n".format(err))
            sys.stderr.flush()
            sys.exit(EXIT_USER_ERROR)

    app.run(guarded, argv=argv)
