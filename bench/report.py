"""The bench scripts' one report writer (no TensorFlow import, so the parent of per-stack subprocesses can use it)."""
import json


def write_report(path, report):
    """Write a bench report as JSON (nothing when ``path`` is empty)."""
    if path:
        with open(path, "w") as handle:
            json.dump(report, handle, indent=2)
