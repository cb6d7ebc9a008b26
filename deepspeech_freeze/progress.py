"""Progress of a long loop, readable wherever the output goes: the one helper every tool uses.

On a terminal it is a live bar (progressbar2, redrawn in place). Anywhere else (a file, a pipe, a CI log) a redrawn
bar would be one line per update (an import of 2,400 files wrote hundreds), so there it is one plain line every
10 % of the work (when the total is known) or every 30 seconds, whichever comes first, and one when the loop ends:
``Preparing audio | Elapsed Time: 0:00:12 | Files: 240/2400 (10%)``.
"""
import os
import sys
import time

#: Seconds between two lines when the output is not a terminal and the 10 % steps come slower (or are unknown).
LINE_INTERVAL = 30.0
#: Off a terminal, a line each time another 1/LINE_STEPS of the work (10 %) is done.
LINE_STEPS = 10


def _is_terminal(out):
    try:
        return out.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def format_elapsed(seconds):
    """``0:01:05``, as progressbar2's timer shows it."""
    seconds = int(seconds)
    return "{}:{:02d}:{:02d}".format(seconds // 3600, seconds // 60 % 60, seconds % 60)


class Progress(object):
    """Progress of ``total`` updates (None: unknown), e.g. ``Progress("Preparing audio", 2400, noun="Files")``.

    ``update(done, **values)`` reports ``done`` units finished; ``values`` fill the ``fields``: ``(name, format)``
    pairs shown after the counter, e.g. ``("mean_loss", "Loss: {:.6f}")``. ``suffix`` is fixed text at the end.
    ``finish()`` writes the last state. ``enabled=False`` shows nothing; ``out`` is stderr unless given; ``clock``
    is for tests.
    """

    def __init__(self, label, total=None, noun="Steps", fields=(), suffix="", out=None, enabled=True,
                 clock=time.monotonic):
        self.label, self.total, self.noun, self.fields, self.suffix = label, total, noun, tuple(fields), suffix
        self.out = out if out is not None else sys.stderr
        self.enabled = enabled
        self.clock = clock
        self.values = {name: 0.0 for name, _ in self.fields}
        self.done = 0
        self.bar = None
        self.started = self.last_line = clock()
        self.last_step = 0  # the last 10 % step a line was written for
        self.written_done = None  # ``done`` of the last line written (off a terminal)
        if enabled and _is_terminal(self.out):
            self.bar = self._live_bar()

    # ------------------------------------------------------------------------------------------------------------

    def _live_bar(self):
        import progressbar  # pylint: disable=import-outside-toplevel  (progressbar2)
        widgets = [self.label, " | ", progressbar.widgets.Timer(), " | {}: ".format(self.noun)]
        if self.total:
            widgets += [progressbar.widgets.SimpleProgress(format="%(value)d/%(max_value)d"), " (",
                        progressbar.widgets.Percentage(format="%(percentage)d%%"), ") ", progressbar.widgets.Bar()]
        else:
            widgets += [progressbar.widgets.Counter()]
        for name, fmt in self.fields:
            widgets += [" | ", progressbar.widgets.Variable(name, format=_variable_format(fmt))]
        if self.suffix:
            widgets += [" | " + self.suffix]
        return progressbar.ProgressBar(max_value=self.total or progressbar.UnknownLength, widgets=widgets,
                                       fd=self.out, redirect_stdout=False, variables=dict(self.values))

    def line(self):
        """The current state as one line (without the newline)."""
        parts = [self.label, "Elapsed Time: " + format_elapsed(self.clock() - self.started)]
        if self.total:
            parts.append("{}: {}/{} ({}%)".format(self.noun, self.done, self.total,
                                                   int(100 * self.done / self.total)))
        else:
            parts.append("{}: {}".format(self.noun, self.done))
        parts += [fmt.format(self.values[name]) for name, fmt in self.fields]
        if self.suffix:
            parts.append(self.suffix)
        return " | ".join(parts)

    def _write_line(self):
        self.out.write(self.line() + "\n")
        self.out.flush()
        self.last_line = self.clock()
        self.written_done = self.done

    def update(self, done, **values):
        """``done`` units are finished; ``values`` are the fields' new values."""
        self.done = done
        self.values.update(values)
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(min(done, self.total) if self.total else done, **values)
            return
        step = done * LINE_STEPS // self.total if self.total else 0
        if step > self.last_step or self.clock() - self.last_line >= LINE_INTERVAL:
            self.last_step = max(step, self.last_step)
            self._write_line()

    def finish(self):
        """Write the final state (off a terminal: unless the last line already shows it)."""
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.finish()
        elif self.written_done != self.done or self.done == 0:
            self._write_line()


def _variable_format(fmt):
    """``"Loss: {:.6f}"`` -> progressbar2's Variable format ``"Loss: {formatted_value}"`` with the same spec."""
    head, _, rest = fmt.partition("{")
    spec, _, tail = rest.partition("}")
    return head + "{value" + spec + "}" + tail


# ----------------------------------------------------------------------------------------------------------------
# Long steps with no output of their own until they end say that they start.

#: A step that reads a file at least this large (a CSV of ~40k rows whose every WAV is checked, a scorer package
#: whose language model is loaded and probed) takes seconds to minutes: it gets one line when it starts.
LARGE_FILE_BYTES = 4 * 1024 * 1024


def human_size(size):
    """``1.0 GiB``, ``12.3 MiB``, ``512 B``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return "{:.0f} {}".format(size, unit) if unit == "B" else "{:.1f} {}".format(size, unit)
        size /= 1024.0
    return ""  # pragma: no cover


def announce_large_file(log, what, path):
    """Log ``what`` (e.g. "Checking the scorer package") with ``path`` and its size when the file is large."""
    try:
        size = os.path.getsize(path)
    except OSError:
        return  # the step itself reports a missing file
    if size >= LARGE_FILE_BYTES:
        log.info("%s %s (%s) ...", what, path, human_size(size))
