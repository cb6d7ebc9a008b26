"""Faults during long runs: kills, interrupts, full or read-only disks, damaged checkpoints, odd CSVs.
Whatever happens, the user reads one line saying what and where, and every checkpoint already written stays
loadable (docs/reliability.md lists every case and its test)."""
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import ENGLISH, LDC_TRANSCRIPT, ROOT, LDC_DIR, run_module, write_csv
from deepspeech_freeze.checkpoints import CheckpointView, find_checkpoint, global_step_of

BASE = ["--n_hidden", "32", "--noshow_progressbar", "--alphabet_config_path", ENGLISH]


def command(csv, ckpt, *extra):
    return [sys.executable, "-m", "deepspeech_freeze.train", "--train_files", csv, "--checkpoint_dir", str(ckpt),
            "--summary_dir", str(ckpt) + "_summaries", *BASE, *extra]


def start(csv, ckpt, *extra, preexec=None):
    """Training as a child process. Its SIGINT is reset to the default first: a shell that runs the suite as a
    background job (as .ci/run does) starts it with SIGINT ignored, every child inherits that, and Python then
    installs no KeyboardInterrupt handler."""
    def child_setup():
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if preexec is not None:
            preexec()
    return subprocess.Popen(command(csv, ckpt, *extra), cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                            preexec_fn=child_setup)


def assert_loadable(path):
    """Every tensor of the checkpoint reads back (index and data files complete)."""
    view = CheckpointView(path)
    for name in view.shapes:
        assert np.all(np.isfinite(view.get_tensor(name))) or name.endswith("global_step")


def wait_for(path, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline and not os.path.exists(path):
        time.sleep(0.05)
    assert os.path.exists(path), path


def snapshot(folder):
    return {name: open(os.path.join(str(folder), name), "rb").read() for name in sorted(os.listdir(str(folder)))
            if os.path.isfile(os.path.join(str(folder), name))}


def _step(name):
    """The step of a ``train-<step>.<suffix>`` file name, or None."""
    head = name.split(".", 1)[0]
    tail = head[len("train-"):]
    return int(tail) if head.startswith("train-") and tail.isdigit() else None


def kill_inside_a_save(process, ckpt, save_number, delay):
    """Kill -9 ``process`` ``delay`` seconds after its ``save_number``-th checkpoint save (counted from 1 in this
    process) starts writing: TF's saver writes ``train-<step>.data-*`` and ``.index`` as ``*.tempstate*`` files first,
    so the first such file of a new step marks the start of a save. Returns False if the process ended first."""
    steps_seen = {_step(n) for n in (os.listdir(ckpt) if os.path.isdir(ckpt) else []) if ".tempstate" in n}
    started = 0
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        names = os.listdir(ckpt) if os.path.isdir(ckpt) else []
        for step in {_step(n) for n in names if ".tempstate" in n} - steps_seen:
            steps_seen.add(step)
            started += 1
            if started == save_number:
                time.sleep(delay)
                process.kill()
                process.wait()
                return True
        time.sleep(0.001)
    process.kill()
    process.wait()
    return False


def landed_mid_save(ckpt, names_before):
    """What a kill left on disk says about when it landed: inside a save if that save's temporary files remain, or
    a newer .index exists than the state file names, or the named checkpoint lacks its .meta (written last)."""
    names = set(os.listdir(ckpt))
    leftovers = [n for n in names - names_before if n.startswith(("train-", "checkpoint")) and
                 (".tempstate" in n or ".tmp" in n)]
    last = find_checkpoint(ckpt, "last")
    newest = max(_step(n) for n in names if n.endswith(".index") and _step(n) is not None)
    return bool(leftovers) or newest > global_step_of(last) or not os.path.exists(last + ".meta")


@pytest.mark.slow
def test_kill_9_inside_saves_never_breaks_the_last_checkpoint(tmp_path, ldc_dir, capsys):
    # n_hidden 256: a save writes ~10 MB (weights and Adam slots), long enough to be hit while it runs.
    csv, ckpt = str(ldc_dir / "ldc93s1.csv"), tmp_path / "ckpt"
    width = ["--n_hidden", "256"]
    run_module("deepspeech_freeze.train", *command(csv, ckpt, "--epochs", "1", *width)[3:])
    rng = random.Random(7)
    attempts, inside = 6, 0
    for attempt in range(attempts):
        names_before = set(os.listdir(str(ckpt)))
        process = start(csv, ckpt, "--epochs", "100000", *width)
        assert kill_inside_a_save(process, str(ckpt), rng.randint(1, 2), rng.uniform(0, 0.004)), \
            "attempt {}: the run ended before a save started:\n{}".format(attempt, process.stdout.read()[-3000:])
        process.stdout.close()
        inside += landed_mid_save(str(ckpt), names_before)
        path = find_checkpoint(str(ckpt), "last")
        assert path is not None, "attempt {}: no loadable checkpoint after kill -9".format(attempt)
        assert_loadable(path)
    with capsys.disabled():
        print("\nkill -9: {} of {} kills landed inside a checkpoint save".format(inside, attempts))
    assert inside >= 2, "only {} of {} kills landed inside a save".format(inside, attempts)
    rerun = run_module("deepspeech_freeze.train", *command(csv, ckpt, "--epochs", "1", *width)[3:])
    assert "Resuming the run in" in rerun.output and "Loading most recent checkpoint from" in rerun.output


@pytest.mark.slow
def test_sigint_saves_a_checkpoint_and_exits_with_a_message(tmp_path, ldc_dir):
    csv, ckpt = str(ldc_dir / "ldc93s1.csv"), tmp_path / "ckpt"
    process = start(csv, ckpt, "--epochs", "100000")
    wait_for(str(ckpt / "train-2.index"))
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 2 and "Traceback" not in output, output[-4000:]
    assert "ERROR: interrupted (Ctrl-C): saved" in output, output[-4000:]
    assert_loadable(find_checkpoint(str(ckpt), "last"))


def test_a_stop_signal_is_noted_and_raised_between_steps_and_a_second_one_stops_at_once():
    # The handler must not raise where the signal lands (inside a Saver or a context manager half-way through): it
    # notes the signal, the loop's check() raises at the next step boundary; only a second signal raises at once.
    from deepspeech_freeze.stop_signals import Interrupted, StopSignals
    # What a terminal gives: SIGINT raises KeyboardInterrupt (a suite run as a background job inherits it ignored).
    outer = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with StopSignals() as stop:
            stop.check()  # nothing came yet
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.01)  # the Python-level handler runs at the next bytecode boundary
            assert stop.received == "Ctrl-C"
            with pytest.raises(Interrupted, match="Ctrl-C"):
                stop.check()
            with pytest.raises(KeyboardInterrupt, match="Ctrl-C twice"):
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.01)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGINT, outer)


def test_a_sigint_that_the_shell_ignores_stays_ignored():
    from deepspeech_freeze.stop_signals import StopSignals
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with StopSignals() as stop:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.01)
            assert stop.received is None
    finally:
        signal.signal(signal.SIGINT, old)


def test_a_second_ctrl_c_ends_with_one_line_and_status_130(capsys):
    from deepspeech_freeze.errors import run_cli

    def work():
        raise KeyboardInterrupt("Ctrl-C twice")
    with pytest.raises(SystemExit) as exit_info:
        run_cli(work)
    assert exit_info.value.code == 130
    assert capsys.readouterr().err == "ERROR: interrupted (Ctrl-C twice); run the same command again to resume\n"


@pytest.mark.slow
def test_read_only_save_dir_is_reported_and_untouched(tmp_path, ldc_dir):
    csv, ckpt = str(ldc_dir / "ldc93s1.csv"), tmp_path / "ckpt"
    run_module("deepspeech_freeze.train", *command(csv, ckpt, "--epochs", "1")[3:])
    before = snapshot(ckpt)
    mounted = subprocess.run(["mount", "--bind", str(ckpt), str(ckpt)]).returncode == 0 and \
        subprocess.run(["mount", "-o", "remount,ro,bind", str(ckpt)]).returncode == 0
    try:
        if not mounted:  # without mount rights, a regular file in place of the directory also cannot be written
            pytest.skip("no permission to make a read-only bind mount here")
        result = run_module("deepspeech_freeze.train", *command(csv, ckpt, "--epochs", "1")[3:], check=False)
    finally:
        subprocess.run(["umount", str(ckpt)])
    assert result.returncode == 2 and "Traceback" not in result.output
    assert "Read-only file system" in result.output and "--save_checkpoint_dir" in result.output
    assert snapshot(ckpt) == before


@pytest.mark.slow
def test_disk_full_during_save_leaves_previous_checkpoint(tmp_path, ldc_dir):
    csv, ckpt = str(ldc_dir / "ldc93s1.csv"), tmp_path / "ckpt"
    run_module("deepspeech_freeze.train", *command(csv, ckpt, "--epochs", "1")[3:])
    before = snapshot(ckpt)

    def small_disk():  # files may grow to 60 KB; the next checkpoint's data file is larger: EFBIG, like ENOSPC
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (60000, 60000))
    process = start(csv, ckpt, "--epochs", "3", preexec=small_disk)
    output = process.communicate(timeout=300)[0]
    assert process.returncode == 2 and "Traceback" not in output, output[-3000:]
    errors = [line for line in output.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1 and "cannot write to" in errors[0] and "intact" in errors[0]
    after = snapshot(ckpt)
    for name, data in before.items():
        if name not in ("run.json", "flags.txt", ".lock"):  # rewritten by every run, by design
            assert after.get(name) == data, name
    assert not [n for n in os.listdir(str(ckpt)) if "_temp" in n]
    assert_loadable(find_checkpoint(str(ckpt), "last"))


@pytest.mark.slow
def test_truncated_checkpoint_is_named(tmp_path, ldc_dir):
    csv, ckpt = str(ldc_dir / "ldc93s1.csv"), tmp_path / "ckpt"
    run_module("deepspeech_freeze.train", *command(csv, ckpt, "--epochs", "1")[3:])
    data = str(ckpt / "train-1.data-00000-of-00001")
    with open(data, "r+b") as handle:
        handle.truncate(os.path.getsize(data) // 2)
    result = run_module("deepspeech_freeze.train", *command(csv, ckpt, "--epochs", "1")[3:], check=False)
    assert result.returncode == 2 and "Traceback" not in result.output
    assert "train-1" in result.output and "damaged or incomplete" in result.output


@pytest.mark.slow
def test_state_file_pointing_at_deleted_checkpoint(tmp_path, ldc_dir):
    csv, ckpt = str(ldc_dir / "ldc93s1.csv"), tmp_path / "ckpt"
    run_module("deepspeech_freeze.train", *command(csv, ckpt, "--epochs", "1", "--dev_files", csv)[3:])
    for name in os.listdir(str(ckpt)):
        if name.startswith("best_dev-1."):
            os.remove(str(ckpt / name))
    result = run_module("deepspeech_freeze.train", *command(csv, ckpt, "--epochs", "1")[3:])
    assert "points at" in result.output and "whose files are missing" in result.output
    assert "Loading most recent checkpoint from" in result.output


def test_csv_bom_spaces_unicode_absolute_and_duplicates(tmp_path):
    folder = tmp_path / "dätä mit leerzeichen"
    folder.mkdir()
    shutil.copy(os.path.join(LDC_DIR, "LDC93S1.wav"), str(folder / "große datei.wav"))
    rows = [("große datei.wav", 93638, LDC_TRANSCRIPT), (str(folder / "große datei.wav"), 93638, LDC_TRANSCRIPT)]
    csv = write_csv(folder / "a.csv", rows)
    with open(csv, "rb") as handle:
        content = handle.read()
    with open(csv, "wb") as handle:
        handle.write(b"\xef\xbb\xbf" + content)  # UTF-8 byte order mark
    result = run_module("deepspeech_freeze.train", *command(csv, tmp_path / "ckpt", "--epochs", "1")[3:])
    # Both rows name the same file: kept and trained on twice, as DeepSpeech does (2 steps of batch size 1).
    assert "1 duplicate rows" in result.output and "are kept" in result.output
    assert "Finished training epoch 0" in result.output


def test_csv_with_invalid_utf8_names_the_line(tmp_path):
    csv = tmp_path / "a.csv"
    csv.write_bytes(b"wav_filename,wav_filesize,transcript\nx.wav,1,ok\ny.wav,1,gr\xfc\xdfe\n")
    result = run_module("deepspeech_freeze.train", *command(str(csv), tmp_path / "ckpt", "--epochs", "1")[3:],
                        check=False)
    assert result.returncode == 2 and "line 3 is not valid UTF-8" in result.output


@pytest.mark.parametrize("variant, words", [("LDC93S1_pcms16le_1_8000.wav", ["8000 Hz"]),
                                            ("LDC93S1_pcms16le_2_44100.wav", ["2 channels", "44100 Hz"])])
def test_real_8k_and_44k_stereo_files_are_reported(tmp_path, variant, words):
    shutil.copy(os.path.join(LDC_DIR, variant), str(tmp_path / variant))
    csv = write_csv(tmp_path / "a.csv", [(variant, 1, LDC_TRANSCRIPT)])
    result = run_module("deepspeech_freeze.train", *command(csv, tmp_path / "ckpt", "--epochs", "1")[3:],
                        check=False)
    assert result.returncode == 2 and variant in result.output
    assert all(word in result.output for word in words)


@pytest.mark.slow
def test_8k_audio_trains_with_matching_sample_rate(tmp_path):
    shutil.copy(os.path.join(LDC_DIR, "LDC93S1_pcms16le_1_8000.wav"), str(tmp_path / "a.wav"))
    csv = write_csv(tmp_path / "a.csv", [("a.wav", 1, LDC_TRANSCRIPT)])
    result = run_module("deepspeech_freeze.train", *command(csv, tmp_path / "ckpt", "--epochs", "1",
                                                            "--audio_sample_rate", "8000")[3:])
    assert "Finished training epoch 0" in result.output


def test_float_wav_is_reported(tmp_path):
    import struct
    samples = np.zeros(16000, dtype="<f4").tobytes()
    header = b"RIFF" + struct.pack("<I", 36 + len(samples)) + b"WAVEfmt " + struct.pack(
        "<IHHIIHH", 16, 3, 1, 16000, 64000, 4, 32) + b"data" + struct.pack("<I", len(samples))
    (tmp_path / "f.wav").write_bytes(header + samples)
    csv = write_csv(tmp_path / "a.csv", [("f.wav", 1, "hi")])
    result = run_module("deepspeech_freeze.train", *command(csv, tmp_path / "ckpt", "--epochs", "1")[3:],
                        check=False)
    assert result.returncode == 2 and "f.wav" in result.output and "sox" in result.output


@pytest.mark.slow
def test_non_finite_loss_lists_files_and_optionally_stops(tmp_path, ldc_dir):
    csv = str(ldc_dir / "ldc93s1.csv")
    diverge = ["--epochs", "12", "--learning_rate", "1e7"]
    going = run_module("deepspeech_freeze.train", *command(csv, tmp_path / "a", *diverge)[3:])
    assert "The following files caused an infinite (or NaN) loss:" in going.output
    assert "LDC93S1.wav" in going.output and "Finished training epoch 11" in going.output
    stopped = run_module("deepspeech_freeze.train", *command(csv, tmp_path / "b", *diverge,
                                                             "--stop_on_nonfinite_loss")[3:], check=False)
    assert stopped.returncode == 2 and "--stop_on_nonfinite_loss" in stopped.output
    assert "Traceback" not in stopped.output


def test_freezing_without_a_source_checkpoint_is_rejected(tmp_path, ldc_dir):
    result = run_module("deepspeech_freeze.train", *command(str(ldc_dir / "ldc93s1.csv"), tmp_path / "empty",
                                                            "--epochs", "1", "--freeze_layers", "3")[3:], check=False)
    assert result.returncode == 2 and "Traceback" not in result.output
    assert "--freeze_layers 1-3 but no checkpoint was found" in result.output
    assert not (tmp_path / "empty" / "checkpoint").exists()


# Random bytes; and a KenLM binary header that claims more data than the file has, which makes ds_ctcdecoder's
# KenLM abort the process that loads it.
BAD_SCORERS = {"random": os.urandom(5000),
               "aborts-kenlm": (b"mmap lm http://kheafield.com/code format version 5\n\0\0".ljust(64, b"\0")
                                + open(os.path.join(ROOT, "data", "smoke_test", "LDC93S1.wav"), "rb").read(4096))}


@pytest.mark.parametrize("kind", sorted(BAD_SCORERS))
def test_scorer_that_is_not_a_scorer_fails_before_training(tmp_path, ldc_dir, kind):
    junk = tmp_path / "kenlm.scorer"
    junk.write_bytes(BAD_SCORERS[kind])
    result = run_module("deepspeech_freeze.train", *command(str(ldc_dir / "ldc93s1.csv"), tmp_path / "ckpt",
                                                            "--epochs", "1", "--scorer_path", str(junk))[3:],
                        check=False)
    assert result.returncode == 2 and "Traceback" not in result.output
    assert "kenlm.scorer" in result.output and "STARTING Optimization" not in result.output
    assert len([line for line in result.output.splitlines() if line.startswith("ERROR: ")]) == 1
