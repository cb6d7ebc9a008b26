"""The bench scripts' one report writer (no TensorFlow import, so the parent of per-stack subprocesses can use it)."""
import json
import platform


def write_report(path, report):
    """Write a bench report as JSON (nothing when ``path`` is empty)."""
    if path:
        with open(path, "w") as handle:
            json.dump(report, handle, indent=2)


def cpu_model():
    """The CPU's model name from /proc/cpuinfo (every timing names its CPU; "unknown" where it cannot be read)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
