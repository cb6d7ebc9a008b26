"""Bad input ends with one clear line (file, row or flag, and what to do), exit 2, no traceback, and leaves the
checkpoints already on disk untouched."""
import hashlib
import os
import shutil
import wave

import numpy as np
import pytest

from conftest import ENGLISH, LDC_TRANSCRIPT, LDC_DIR, run_module, write_csv


def digest_tree(folder):
    digest = hashlib.sha256()
    for root, _, files in sorted(os.walk(str(folder))):
        for name in sorted(files):
            with open(os.path.join(root, name), "rb") as handle:
                digest.update(name.encode() + handle.read())
    return digest.hexdigest()


@pytest.fixture
def workdir(tmp_path, english_model):
    """A copy of a trained model's checkpoint dir (to prove it is not damaged) and the LDC93S1 WAV."""
    shutil.copytree(str(english_model), str(tmp_path / "ckpt"))
    shutil.copy(os.path.join(LDC_DIR, "LDC93S1.wav"), str(tmp_path / "good.wav"))
    return tmp_path


def train(workdir, csv, *extra):
    before = digest_tree(workdir / "ckpt")
    result = run_module("deepspeech_freeze.train", "--train_files", csv, "--checkpoint_dir", workdir / "ckpt",
                        "--summary_dir", workdir / "summaries", "--n_hidden", "100", "--epochs", "1",
                        "--noshow_progressbar", *(extra or ("--alphabet_config_path", ENGLISH)), check=False)
    errors = [line for line in result.output.splitlines() if line.startswith("ERROR")]
    assert result.returncode == 2, result.output[-3000:]
    assert "Traceback" not in result.output
    assert len(errors) == 1, result.output
    assert digest_tree(workdir / "ckpt") == before, "checkpoints changed"
    return result.output


def write_wav(path, rate=16000, channels=1, width=2, seconds=1.0):
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(width)
        handle.setframerate(rate)
        handle.writeframes(np.zeros(int(rate * seconds) * channels * width, dtype=np.uint8).tobytes())
    return str(path)


def test_missing_wav_names_row_and_file(workdir):
    csv = write_csv(workdir / "a.csv", [("good.wav", 93638, LDC_TRANSCRIPT), ("nope.wav", 10, "hi")])
    output = train(workdir, csv)
    assert "a.csv row 3" in output and "nope.wav" in output and "does not exist" in output


def test_unreadable_wav(workdir):
    (workdir / "junk.wav").write_bytes(os.urandom(2000))
    output = train(workdir, write_csv(workdir / "a.csv", [("junk.wav", 2000, "hi")]))
    assert "junk.wav" in output and "not a PCM WAV file" in output and "sox" in output


@pytest.mark.slow
def test_empty_wav(workdir):
    (workdir / "empty.wav").write_bytes(b"")
    output = train(workdir, write_csv(workdir / "a.csv", [("empty.wav", 0, "hi")]))
    assert "empty.wav" in output and "empty (0 bytes)" in output


@pytest.mark.parametrize("rate, channels, width, words", [
    (8000, 1, 2, "8000 Hz"), (16000, 2, 2, "2 channels"), (16000, 1, 1, "8-bit")])
def test_wav_format_problems_are_reported_with_the_fix(workdir, rate, channels, width, words):
    write_wav(workdir / "odd.wav", rate, channels, width)
    output = train(workdir, write_csv(workdir / "a.csv", [("odd.wav", 100, "hi")]))
    assert "odd.wav" in output and words in output and "sox IN.wav -r 16000 -b 16 -c 1 OUT.wav" in output


@pytest.mark.slow
def test_csv_without_transcript_column(workdir):
    csv = write_csv(workdir / "a.csv", [("good.wav", 1)], header=("wav_filename", "wav_filesize"))
    output = train(workdir, csv)
    assert "a.csv has no transcript column" in output and "wav_filename,wav_filesize,transcript" in output


@pytest.mark.slow
def test_empty_csv_and_missing_csv(workdir):
    (workdir / "empty.csv").write_text("")
    assert "is empty" in train(workdir, str(workdir / "empty.csv"))
    assert "does not exist" in train(workdir, str(workdir / "missing.csv"))


@pytest.mark.slow
def test_missing_and_empty_alphabet(workdir):
    csv = write_csv(workdir / "a.csv", [("good.wav", 93638, LDC_TRANSCRIPT)])
    output = train(workdir, csv, "--alphabet_config_path", str(workdir / "none.txt"))
    assert "none.txt does not exist" in output and "--alphabet_config_path" in output
    (workdir / "empty.txt").write_text("# only a comment\n")
    assert "holds no labels" in train(workdir, csv, "--alphabet_config_path", str(workdir / "empty.txt"))


def test_transcript_outside_alphabet(workdir):
    output = train(workdir, write_csv(workdir / "a.csv", [("good.wav", 93638, "grüße 42")]))
    assert "a.csv row 2" in output and "'ü'" in output and "'4'" in output and "--filter_alphabet" in output


@pytest.mark.slow
def test_empty_transcript(workdir):
    output = train(workdir, write_csv(workdir / "a.csv", [("good.wav", 93638, "")]))
    assert "a.csv row 2" in output and "empty transcript" in output


@pytest.mark.slow
def test_bad_flags(workdir):
    csv = write_csv(workdir / "a.csv", [("good.wav", 93638, LDC_TRANSCRIPT)])
    assert "--train_batch_size 0" in train(workdir, csv, "--train_batch_size", "0", "--alphabet_config_path", ENGLISH)
    assert "--epochs -1" in train(workdir, csv, "--epochs", "-1", "--alphabet_config_path", ENGLISH)
    assert "--freeze_layers 7" in train(workdir, csv, "--freeze_layers", "7", "--alphabet_config_path", ENGLISH)
    assert "--freeze_layers 1-6" in train(workdir, csv, "--freeze_layers", "1-6", "--alphabet_config_path", ENGLISH)
    assert "contradict" in train(workdir, csv, "--load_cudnn", "--train_cudnn", "--alphabet_config_path", ENGLISH)
    assert "--train_cudnn needs a GPU" in train(workdir, csv, "--train_cudnn", "--alphabet_config_path", ENGLISH)
    # One sample, batch 2: DeepSpeech trained 0 steps with "loss 0.000000"; here it is an error.
    assert "no step would run" in train(workdir, csv, "--train_batch_size", "2", "--alphabet_config_path", ENGLISH)


@pytest.mark.slow
def test_audio_too_short_for_transcript_is_skipped_with_warning(tmp_path):
    write_wav(tmp_path / "short.wav", seconds=0.1)  # 4 feature frames
    shutil.copy(os.path.join(LDC_DIR, "LDC93S1.wav"), str(tmp_path / "good.wav"))
    csv = write_csv(tmp_path / "a.csv", [("short.wav", 3200, "a long sentence"), ("good.wav", 93638, LDC_TRANSCRIPT)])
    args = ["--train_files", csv, "--checkpoint_dir", tmp_path / "ckpt", "--summary_dir", tmp_path / "s",
            "--n_hidden", "32", "--epochs", "1", "--noshow_progressbar", "--alphabet_config_path", ENGLISH]
    result = run_module("deepspeech_freeze.train", *args)
    assert "short.wav" in result.output and "too short" in result.output and "skipped" in result.output
    assert "infinite" not in result.output
    rejected = run_module("deepspeech_freeze.train", *args, "--reject_short_audio", check=False)
    assert rejected.returncode == 2 and "short.wav" in rejected.output and "Traceback" not in rejected.output
    # The advice follows the flag: "pass --reject_short_audio" only to a user who did not.
    assert "pass --reject_short_audio to stop instead" in result.output
    assert "pass --reject_short_audio" not in rejected.output and "(--reject_short_audio)" in rejected.output
