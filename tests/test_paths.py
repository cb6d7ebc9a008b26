"""Paths as a user types them: the README's transfer command run as written (relative directories, run from a
folder whose name has spaces and non-ASCII characters), checkpoint directories moved after training, and state
files that name checkpoints relative to their directory."""
import io
import os
import re
import shlex
import shutil

import pytest
import tensorflow as tf

from conftest import LDC_DIR, LDC_TRANSCRIPT, ROOT, run_module, write_csv
from deepspeech_freeze import checkpoints

README = os.path.join(ROOT, "README.md")
#: Make the README's paper-sized run small enough for a test; absl takes the last value of a repeated flag.
SHRINK = ["--n_hidden", "100", "--epochs", "1", "--train_batch_size", "1", "--dev_batch_size", "1",
          "--test_batch_size", "1", "--noshow_progressbar"]


def readme_transfer_command():
    """The first ``python -m deepspeech_freeze.train`` command of the README's transfer section, as arguments."""
    with io.open(README, encoding="utf-8") as handle:
        text = handle.read()
    section = text[text.index("## Transfer with frozen layers"):]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    words = shlex.split(block.replace("\\\n", " "))
    assert words[:3] == [".venv/bin/python", "-m", "deepspeech_freeze.train"], words[:3]
    return words[3:]


def workspace(tmp_path, english_model):
    """A user's working folder: the English source model as ``en/``, the German data in ``de/`` (an audio file
    name with a space and an umlaut, CSV rows relative to the CSV), and the repository's alphabets."""
    folder = tmp_path / "mein Ordner ü"
    shutil.copytree(str(english_model), str(folder / "en"))
    shutil.copytree(os.path.join(ROOT, "data", "alphabets"), str(folder / "data" / "alphabets"))
    (folder / "de").mkdir()
    shutil.copy(os.path.join(LDC_DIR, "LDC93S1.wav"), str(folder / "de" / "satz ü.wav"))
    for name in ("train", "dev", "test"):
        write_csv(folder / "de" / "{}.csv".format(name), [("satz ü.wav", 93638, LDC_TRANSCRIPT)])
    return folder


@pytest.mark.slow
def test_readme_transfer_example_runs_verbatim_with_relative_directories(tmp_path, english_model):
    folder = workspace(tmp_path, english_model)
    args = readme_transfer_command()
    assert "en/" in args and "de/" in args and "de/train.csv" in args
    result = run_module("deepspeech_freeze.train", *(args + SHRINK), cwd=folder)
    assert "frozen layers 1-3 unchanged (bit-identical)" in result.output
    assert re.search(r"Test on .*test\.csv - WER: [0-9.]+, CER", result.output), result.output[-2000:]
    assert "Loading best validating checkpoint from {}".format(folder / "de" / "best_dev-") in result.output
    # The state files name checkpoints relative to their directory.
    for state in ("checkpoint", "best_dev_checkpoint"):
        text = (folder / "de" / state).read_text()
        assert re.search(r'^model_checkpoint_path: "(train|best_dev)-\d+"$', text, re.M), text

    # Moved after training (say from a GPU box to a laptop): it evaluates and it resumes.
    moved = tmp_path / "anderswo" / "modell ö"
    moved.parent.mkdir()
    shutil.move(str(folder / "de"), str(moved))
    os.rename(str(folder), str(tmp_path / "gone"))  # nothing may still point into the old place
    csv = str(moved / "test.csv")
    evaluated = run_module("deepspeech_freeze.evaluate", "--checkpoint_dir", "modell ö", "--test_files", csv,
                           "--alphabet_config_path", tmp_path / "gone" / "data" / "alphabets" / "german.txt",
                           "--n_hidden", "100", cwd=moved.parent)
    assert "Loading best validating checkpoint from {}".format(moved / "best_dev-") in evaluated.output
    assert "WER:" in evaluated.output
    before = checkpoints.global_step_of(checkpoints.find_checkpoint(str(moved), "last"))
    resumed = run_module("deepspeech_freeze.train", "--checkpoint_dir", "modell ö", "--train_files", csv,
                         "--dev_files", csv, "--freeze_layers", "3", "--alphabet_config_path",
                         tmp_path / "gone" / "data" / "alphabets" / "german.txt", "--summary_dir", "summaries",
                         *SHRINK, cwd=moved.parent)
    assert "Resuming the run in {}".format(moved) in resumed.output
    assert checkpoints.global_step_of(checkpoints.find_checkpoint(str(moved), "last")) == before + 1


def test_state_file_with_absolute_paths_of_another_machine_still_loads(tmp_path, english_model):
    """DeepSpeech and older versions wrote absolute paths; a moved directory is found by file name."""
    folder = tmp_path / "copy"
    shutil.copytree(str(english_model), str(folder))
    name = os.path.basename(checkpoints.find_checkpoint(str(english_model), "best"))
    (folder / "best_dev_checkpoint").write_text(
        'model_checkpoint_path: "/home/someone/old place/{0}"\nall_model_checkpoint_paths: '
        '"/home/someone/old place/{0}"\n'.format(name))
    assert checkpoints.find_checkpoint(str(folder), "best") == str(folder / name)
    # And the path that must not pass: the state file names a checkpoint that is nowhere.
    (folder / "best_dev_checkpoint").write_text('model_checkpoint_path: "/elsewhere/best_dev-999"\n')
    assert checkpoints.find_checkpoint(str(folder), "best") is None


def test_relative_directory_given_to_find_checkpoint(tmp_path, english_model, monkeypatch):
    """The bug that made a relative --checkpoint_dir unusable: the directory was joined twice."""
    shutil.copytree(str(english_model), str(tmp_path / "en_src"))
    monkeypatch.chdir(str(tmp_path))
    path = checkpoints.find_checkpoint("en_src", "best")
    assert path is not None and os.path.isfile(path + ".index")
    assert tf.compat.v1.train.NewCheckpointReader(path).has_tensor("layer_1/weights")
