"""What a command prints, on the stack running the suite: a quiet start (TensorFlow's start-up chatter only with
--log_level 0, its errors always), progress that stays readable in a pipe or file and live on a terminal, and one
line when a long step starts."""
import io
import logging
import os
import pty
import re
import select
import shutil
import subprocess
import sys

import pytest

from conftest import ENGLISH, LDC_DIR, ROOT, subprocess_pythonpath, write_csv
from deepspeech_freeze import progress as progress_module
from deepspeech_freeze.progress import LARGE_FILE_BYTES, Progress, announce_large_file


def user_environment():
    """A user's environment: none of the TF variables the package set in this test process when it was imported."""
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("TF_CPP_MIN_LOG_LEVEL", "TF2_BEHAVIOR")}
    environment.update(PYTHONPATH=subprocess_pythonpath(), PYTHONIOENCODING="utf-8")
    return environment


def run_cli(module, *args):
    """``python -m module args`` into a pipe; returns (exit status, stdout + stderr)."""
    result = subprocess.run([sys.executable, "-m", module] + [str(a) for a in args], cwd=ROOT,
                            env=user_environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=600)
    return result.returncode, result.stdout


def run_in_terminal(module, *args):
    """``python -m module args`` with a pseudo-terminal as stdout and stderr; returns everything it wrote."""
    leader, follower = pty.openpty()
    child = subprocess.Popen([sys.executable, "-m", module] + [str(a) for a in args], cwd=ROOT,
                             env=user_environment(), stdin=subprocess.DEVNULL, stdout=follower, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 600)
        if not ready:
            child.kill()
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    child.wait(timeout=60)
    os.close(leader)
    return child.returncode, b"".join(chunks).decode("utf-8", "replace")


# ----------------------------------------------------------------------------------------------------------------
# A quiet start


def test_a_command_starts_with_its_own_line_and_tf_chatter_needs_log_level_0():
    status, output = run_cli("deepspeech_freeze.evaluate")
    assert status == 2 and output.splitlines() == [
        "ERROR: --test_files is empty: give the CSV file(s) to evaluate"], output
    # Asked for: TensorFlow's own start-up lines (its deprecation notice on both stacks) come back.
    status, output = run_cli("deepspeech_freeze.evaluate", "--log_level", "0")
    assert status == 2 and "disable_resource_variables" in output and "is deprecated" in output, output
    assert output.splitlines()[-1].startswith("ERROR: --test_files is empty")


def test_a_real_tensorflow_error_still_shows_in_full():
    code = ("from deepspeech_freeze.logs import setup_logging\n"
            "from deepspeech_freeze.tfcompat import tf\n"
            "setup_logging(1)\n"
            "tf.compat.v1.logging.error('an error TF logs')\n"
            "tf.compat.v1.logging.warning('a warning TF logs')\n"
            "with tf.compat.v1.Session() as session:\n"
            "    session.run(tf.debugging.assert_equal(tf.constant(1), tf.constant(2), message='the real TF error'))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=user_environment(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, timeout=600)
    assert result.returncode == 1
    assert result.stdout.count("an error TF logs") == 1 and "a warning TF logs" not in result.stdout
    assert "Traceback" in result.stdout and "InvalidArgumentError" in result.stdout
    assert "the real TF error" in result.stdout, result.stdout[-3000:]


def test_only_tf2s_cpp_start_up_notices_are_held_back():
    from deepspeech_freeze import tfcompat  # pylint: disable=import-outside-toplevel
    notices = ["WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
               "I0000 00:00:1796514711.964511   22718 port.cc:153] oneDNN custom operations are on.\n"]
    assert all(tfcompat._CPP_STARTUP_NOISE.match(line) for line in notices)
    for line in ["E0000 00:00:1796514711.964511   22718 op_kernel.cc:1] a real error\n",
                 "F0000 00:00:1796514711.964511   22718 cpu_feature_guard.cc:1] fatal\n", "Traceback (most recent\n"]:
        assert not tfcompat._CPP_STARTUP_NOISE.match(line)


# ----------------------------------------------------------------------------------------------------------------
# Readable progress


class FakeClock(object):
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_off_a_terminal_progress_is_a_line_per_10_percent_or_30_seconds():
    out, clock = io.StringIO(), FakeClock()
    bar = Progress("Preparing audio", 200, noun="Files", out=out, clock=clock)
    for done in range(1, 201):  # a 10 % step every 20 s
        clock.now += 1.0
        bar.update(done)
    bar.finish()
    lines = out.getvalue().splitlines()
    assert len(lines) == 10 and lines[-1] == "Preparing audio | Elapsed Time: 0:03:20 | Files: 200/200 (100%)"
    assert lines[0] == "Preparing audio | Elapsed Time: 0:00:20 | Files: 20/200 (10%)"
    # Slower than 10 % per 30 s: a line every 30 s in between.
    out, clock.now = io.StringIO(), 0.0
    bar = Progress("Preparing audio", 10, noun="Files", out=out, clock=clock)
    for done in range(1, 11):
        clock.now += 15.0
        bar.update(done // 4)
    bar.finish()
    assert [line.split(" | ")[1:] for line in out.getvalue().splitlines()][:2] == [
        ["Elapsed Time: 0:00:30", "Files: 0/10 (0%)"], ["Elapsed Time: 0:01:00", "Files: 1/10 (10%)"]]
    # Unknown total (a training epoch): a line per 30 s, and the final state once.
    out, clock.now = io.StringIO(), 0.0
    bar = Progress("Epoch 0 |   Training", fields=[("mean_loss", "Loss: {:.6f}")], out=out, clock=clock)
    for done in range(1, 101):
        clock.now += 3.0
        bar.update(done, mean_loss=1.0 / done)
    bar.finish()
    lines = out.getvalue().splitlines()
    assert len(lines) == 10 and lines[-1].endswith("Steps: 100 | Loss: 0.010000"), lines
    assert lines[0] == "Epoch 0 |   Training | Elapsed Time: 0:00:30 | Steps: 10 | Loss: 0.100000"


def cv_corpus(folder, clips):
    """A Common Voice-like folder with ``clips`` short MP3 clips in train (and one each in dev and test)."""
    clip_dir = folder / "clips"
    clip_dir.mkdir(parents=True)
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-t", "1.2", "-i",
                    os.path.join(LDC_DIR, "LDC93S1.wav"), str(clip_dir / "c0.mp3")], check=True)
    rows = {"train": [], "dev": [], "test": []}
    for number in range(clips + 2):
        if number:
            shutil.copy(str(clip_dir / "c0.mp3"), str(clip_dir / "c{}.mp3".format(number)))
        split = "dev" if number == clips else "test" if number == clips + 1 else "train"
        rows[split].append("client{0}\tc{0}.mp3\thallo welt\t2\t0\n".format(number))
    for split, lines in rows.items():
        with io.open(str(folder / (split + ".tsv")), "w", encoding="utf-8") as handle:
            handle.write("client_id\tpath\tsentence\tup_votes\tdown_votes\n")
            handle.writelines(lines)
    return folder


def test_an_import_into_a_pipe_prints_a_few_progress_lines_and_a_terminal_gets_the_live_bar(tmp_path):
    source = cv_corpus(tmp_path / "cv", 38)  # 40 conversions
    status, output = run_cli("deepspeech_freeze.importers.common_voice", "--cv_dir", source, "--target",
                             tmp_path / "piped", "--jobs", "1")
    assert status == 0, output[-3000:]
    progress_lines = [line for line in output.splitlines() if "Elapsed Time" in line]
    assert 1 <= len(progress_lines) <= 11, output[-3000:]
    assert progress_lines[-1].endswith("Files: 40/40 (100%)") and "\r" not in output
    status, output = run_in_terminal("deepspeech_freeze.importers.common_voice", "--cv_dir", source, "--target",
                                     tmp_path / "terminal", "--jobs", "1")
    assert status == 0, output[-3000:]
    output = re.sub(r"\x1b\[[0-9;]*m", "", output)  # progressbar2 4.5 colours the numbers on a terminal
    redraws = [part for part in output.split("\r") if "Preparing audio | Elapsed Time" in part]
    assert len(redraws) >= 2 and "40/40 (100%)" in redraws[-1], output[-3000:]  # redrawn in place


def test_training_into_a_pipe_prints_one_progress_line_per_epoch_and_set(tmp_path, ldc_dir):
    csv = str(ldc_dir / "ldc93s1.csv")
    status, output = run_cli("deepspeech_freeze.train", "--train_files", csv, "--dev_files", csv, "--epochs", "2",
                             "--n_hidden", "16", "--checkpoint_dir", tmp_path / "ckpt", "--summary_dir",
                             tmp_path / "summaries", "--alphabet_config_path", ENGLISH)
    assert status == 0, output[-3000:]
    lines = output.splitlines()
    # The command's own first line comes first (no TF chatter), and says what the first long step is.
    assert lines[0] == "I Building the training graph (n_hidden 16, 1 tower(s)) ...", output[:2000]
    for epoch in (0, 1):
        for label in ("  Training", "Validation"):
            shown = [line for line in lines if line.startswith("Epoch {} | {}".format(epoch, label))]
            assert len(shown) == 1 and "Steps: 1 | Loss: " in shown[0], output[-3000:]
    assert "\r" not in output


# ----------------------------------------------------------------------------------------------------------------
# Long steps say that they start


def test_a_large_file_gets_a_line_when_its_step_starts(tmp_path, caplog):
    log = logging.getLogger("deepspeech_freeze.test")
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    small.write_bytes(b"x" * 1000)
    large.write_bytes(b"x" * LARGE_FILE_BYTES)
    with caplog.at_level(logging.INFO):
        announce_large_file(log, "Loading", str(small))
        announce_large_file(log, "Loading", str(large))
        announce_large_file(log, "Loading", str(tmp_path / "missing.csv"))
    assert [record.getMessage() for record in caplog.records] == ["Loading {} (4.0 MiB) ...".format(large)]
    assert progress_module.human_size(1024 ** 3) == "1.0 GiB"


def test_loading_a_large_csv_and_checking_a_large_scorer_say_so_first(tmp_path, caplog):
    from deepspeech_freeze import data, decoding  # pylint: disable=import-outside-toplevel
    from deepspeech_freeze.alphabet import Alphabet  # pylint: disable=import-outside-toplevel
    from deepspeech_freeze.config import Config, DataConfig, ModelConfig  # pylint: disable=import-outside-toplevel
    from deepspeech_freeze.errors import UserError  # pylint: disable=import-outside-toplevel
    rows = [("missing-{}.wav".format(number), 1000, "a" * 400) for number in range(LARGE_FILE_BYTES // 400 + 1)]
    big_csv = write_csv(tmp_path / "big.csv", rows)
    config = Config(ModelConfig(Alphabet(ENGLISH), n_hidden=16), DataConfig())
    scorer = tmp_path / "big.scorer"
    scorer.write_bytes(os.urandom(1024) * (LARGE_FILE_BYTES // 1024))
    with caplog.at_level(logging.INFO):
        with pytest.raises(UserError):
            data.load_samples([big_csv], config)
        with pytest.raises(UserError):
            decoding.load_scorer(str(scorer), Alphabet(ENGLISH), 0.75, 1.85)
    messages = [record.getMessage() for record in caplog.records]
    assert "Loading {} (".format(big_csv) in messages[0], messages
    assert "Checking the scorer package {} (4.0 MiB) ...".format(scorer) in messages, messages
