"""The README's workflow "transfer -> tune the scorer -> export -> measure the export -> transcribe a long recording"
runs as written: its bash block is executed in a user's folder, each command shrunk with flags appended (absl takes
the last value of a repeated flag), nothing else changed. The commands use ``.venv/bin/python``, the TF 1.15
stack (export and the stock client are its), so this runs once, on that stack.
"""
import io
import json
import os
import re
import shutil
import subprocess
import wave

import pytest

from conftest import LDC_DIR, LDC_TRANSCRIPT, ROOT, write_csv
import stacks

pytestmark = [pytest.mark.slow, stacks.only_on("tf1", "the README's commands use the TF 1.15 stack's .venv")]

README = os.path.join(ROOT, "README.md")
SHRINK = {
    "train": ["--n_hidden", "100", "--epochs", "1", "--noshow_progressbar"],
    "lm": ["--arpa_order", "3", "--discount_fallback", "--max_arpa_memory", "64M", "--top_k", "20"],
    "lm_optimizer": ["--n_hidden", "100", "--n_trials", "2", "--beam_width", "16", "--noshow_progressbar"],
    "export": ["--n_hidden", "100"],
    "evaluate_export": ["--n_hidden", "100", "--proc", "1"],
    "transcribe": ["--n_hidden", "100", "--beam_width", "16"],
}


def workflow_script():
    """The README's workflow block with each ``.venv/bin/python -m deepspeech_freeze.X`` command shrunk."""
    with io.open(README, encoding="utf-8") as handle:
        text = handle.read()
    section = text[text.index("## From a transferred checkpoint to a deployed model"):]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    lines, shrunk = block.replace("\\\n", " ").split("\n"), []
    for line in lines:
        found = re.match(r"\.venv/bin/python -m deepspeech_freeze\.(\w+) ", line)
        if found:
            line += " " + " ".join(SHRINK.get(found.group(1), []))
        shrunk.append(line)
    return "set -euo pipefail\n" + "\n".join(shrunk) + "\n"


def test_readme_workflow_runs_as_written(tmp_path, english_model):
    folder = tmp_path / "work"
    shutil.copytree(str(english_model), str(folder / "en"))
    shutil.copytree(os.path.join(ROOT, "data", "alphabets"), str(folder / "data" / "alphabets"))
    os.symlink(os.path.dirname(os.path.dirname(stacks.require("tf1"))), str(folder / ".venv"))
    (folder / "de").mkdir()
    shutil.copy(os.path.join(LDC_DIR, "LDC93S1.wav"), str(folder / "de" / "satz.wav"))
    for name in ("train", "dev", "test"):
        write_csv(folder / "de" / "{}.csv".format(name), [("satz.wav", 93638, LDC_TRANSCRIPT)])
    words = LDC_TRANSCRIPT.split() + "das ist ein kleiner satz über grüne wiesen".split()
    with io.open(str(folder / "de" / "corpus.txt"), "w", encoding="utf-8") as handle:
        for i in range(60):
            handle.write(" ".join(words[(i + k * 3) % len(words)] for k in range(6)) + "\n")
        handle.write(LDC_TRANSCRIPT + "\n")
    with wave.open(os.path.join(LDC_DIR, "LDC93S1.wav"), "rb") as handle:
        pcm = handle.readframes(handle.getnframes())
    with wave.open(str(folder / "interview.wav"), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(16000)
        handle.writeframes(bytes(32000) + pcm + bytes(32000) + pcm + bytes(32000))
    env = {key: value for key, value in os.environ.items() if key != "TF2_BEHAVIOR"}
    env.update(PYTHONPATH=ROOT, PYTHONIOENCODING="utf-8")
    result = subprocess.run(["bash", "-c", workflow_script()], cwd=str(folder), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-5000:]
    output = result.stdout
    assert "Reused output rows: 28 of 31 labels" in output
    assert "Best params: lm_alpha=" in output and (folder / "de" / "lm" / "tuned.scorer").is_file()
    assert re.search(r"^Exported model de/export/output_graph.tflite .*TFLite client.*: WER", output, re.M)
    assert re.search(r"^Checkpoint .*: WER", output, re.M)
    entries = json.loads((folder / "interview.tlog").read_text())
    assert entries and all(entry["start"] < entry["end"] for entry in entries)
