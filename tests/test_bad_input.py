"""Bad input ends with one clear line (file, row or flag, and what to do), exit 2, no traceback, and leaves the
checkpoints already on disk untouched."""
import hashlib
import os
import shutil
import wave

import numpy as np
import pytest

from conftest import ENGLISH, LDC_TRANSCRIPT, LDC_DIR, run_module, write_csv
from deepspeech_freeze import sample_db


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


# ----------------------------------------------------------------------------------------------------------------
# Damaged audio in any sample set (train, dev, test; CSV and SDB; with and without --augment): damage the headers
# show (a WAV cut off, stray bytes, an empty file, an SDB entry cut off) stops the run before any work; damage only
# decoding shows (an Opus packet libopus refuses) stops it when the pipeline meets it, with the same kind of
# message. Either way the model files already in the checkpoint folder stay as they were.


def cut_wav(workdir, name="cut.wav"):
    """A copy of good.wav cut in half, as an interrupted copy leaves it: the header promises twice the audio."""
    whole = (workdir / "good.wav").read_bytes()
    (workdir / name).write_bytes(whole[:len(whole) // 2])
    return write_csv(workdir / (name[:-4] + ".csv"), [(name, len(whole) // 2, LDC_TRANSCRIPT)])


def damaged_sdb(workdir, damage):
    """``workdir/bad.sdb`` holding good.wav as Opus, its first packet ``cut`` (its length runs past the entry) or
    ``undecodable`` (framing intact, but a packet libopus refuses); returns (path, the entry's byte offset)."""
    samples, rate = sample_db.read_wav_bytes((workdir / "good.wav").read_bytes(), "good.wav")
    path = str(workdir / "bad.sdb")
    with sample_db.SDBWriter(path) as writer:
        writer.add(samples, rate, LDC_TRANSCRIPT)
    database = sample_db.SDB(path)
    offset = database.offsets[0]
    database.close()
    data = bytearray(open(path, "rb").read())
    packet = offset + 4 + 4 + 10  # entry size, audio column size, Opus header: the first packet's u16 length
    if damage == "cut":
        data[packet:packet + 2] = b"\xff\xff"
    else:
        data[packet + 2:packet + 4] = b"\x03\x00"  # code 3 (a frame count follows) with 0 frames: invalid
    open(path, "wb").write(bytes(data))
    return path, offset


def model_files(folder):
    """sha256 of each checkpoint and run-record file (flags.txt and the lock are each command's own, by design)."""
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in os.listdir(str(folder))
            if name not in ("flags.txt", ".lock")}


def fails_cleanly(result):
    """One ERROR line, exit 2, no traceback; returns the output."""
    errors = [line for line in result.output.splitlines() if line.startswith("ERROR")]
    assert result.returncode == 2, result.output[-3000:]
    assert "Traceback" not in result.output, result.output[-3000:]
    assert len(errors) == 1, result.output[-3000:]
    return result.output


def evaluate(workdir, csv):
    before = digest_tree(workdir / "ckpt")
    result = run_module("deepspeech_freeze.evaluate", "--test_files", csv, "--checkpoint_dir", workdir / "ckpt",
                        "--n_hidden", "100", "--noshow_progressbar", "--alphabet_config_path", ENGLISH, check=False)
    assert digest_tree(workdir / "ckpt") == before, "checkpoints changed"
    return fails_cleanly(result)


GOOD_CSV = [("good.wav", 93638, LDC_TRANSCRIPT)]


SLOW = pytest.mark.slow  # the same check as a fast case of the test, in another set or path


@pytest.mark.parametrize("where", [pytest.param("--train_files", marks=SLOW), "--dev_files",
                                   pytest.param("--test_files", marks=SLOW), pytest.param("--augment", marks=SLOW)])
def test_cut_off_wav_in_any_set_stops_before_training(workdir, where):
    """Python's wave module reads a cut-off WAV without a word; TF's decoder (training without --augment, every
    dev and test set) stopped with a traceback naming no file. The test set is checked before training too."""
    cut = cut_wav(workdir)
    good = write_csv(workdir / "good.csv", GOOD_CSV)
    sets = {"--train_files": [cut], "--augment": [cut, "--augment", "volume[dbfs=-10]"]}.get(
        where, [good, where, cut])
    output = train(workdir, *sets[:1], "--alphabet_config_path", ENGLISH, *sets[1:])
    assert "cut.csv row 2" in output and "cut.wav" in output and "cut off" in output
    assert "Fix or remove these rows" in output


def test_evaluate_names_every_damaged_wav(workdir):
    cut_wav(workdir)
    (workdir / "empty.wav").write_bytes(b"")
    (workdir / "junk.wav").write_bytes(os.urandom(2000))
    (workdir / "tail.wav").write_bytes((workdir / "good.wav").read_bytes() + b"xyz")  # TF refuses stray bytes
    csv = write_csv(workdir / "t.csv", GOOD_CSV + [(name, 10, LDC_TRANSCRIPT) for name in
                                                   ("cut.wav", "empty.wav", "junk.wav", "tail.wav")])
    output = evaluate(workdir, csv)
    assert "4 of 5 samples in {} cannot be used".format(csv) in output
    for row, name, problem in ((3, "cut.wav", "cut off"), (4, "empty.wav", "file is empty (0 bytes)"),
                               (5, "junk.wav", "not a PCM WAV file"), (6, "tail.wav", "damaged: 3 stray bytes")):
        assert "t.csv row {} ({}): {}".format(row, workdir / name, problem) in output


@pytest.mark.parametrize("where", ["evaluate", pytest.param("--dev_files", marks=SLOW),
                                   pytest.param("--test_files", marks=SLOW)])
def test_sdb_entry_cut_off_stops_before_any_work(workdir, where):
    path, offset = damaged_sdb(workdir, "cut")
    if where == "evaluate":
        output = evaluate(workdir, path)
    else:
        output = train(workdir, write_csv(workdir / "good.csv", GOOD_CSV), where, path, "--alphabet_config_path",
                       ENGLISH)
    assert "bad.sdb (sample 0 at byte {}): Opus packet at byte 10 is cut off".format(offset) in output
    assert "rebuild the sample database" in output


@pytest.mark.parametrize("where", ["evaluate", "--train_files", pytest.param("--augment", marks=SLOW),
                                   pytest.param("--dev_files", marks=SLOW), pytest.param("--test_files", marks=SLOW)])
def test_undecodable_sdb_sample_is_named_when_met(workdir, where):
    """The framing is intact, so the start-up checks pass; decoding meets the damage: in the first training step,
    in validation after the first epoch, or in the test after training. The epoch trained before the dev or test
    pass keeps its checkpoint, as any finished epoch does; what was in the folder before is untouched."""
    path, offset = damaged_sdb(workdir, "undecodable")
    ckpt = workdir / "ckpt"
    before = model_files(ckpt)
    if where == "evaluate":
        output = evaluate(workdir, path)
    else:
        sets = {"--train_files": [path], "--augment": [path, "--augment", "volume[dbfs=-10]"]}.get(
            where, [write_csv(workdir / "good.csv", GOOD_CSV), where, path])
        output = fails_cleanly(run_module(
            "deepspeech_freeze.train", "--train_files", *sets, "--checkpoint_dir", ckpt, "--summary_dir",
            workdir / "summaries", "--n_hidden", "100", "--epochs", "1", "--noshow_progressbar",
            "--alphabet_config_path", ENGLISH, check=False))
    assert "bad.sdb (sample 0 at byte {}): Opus packet at byte 10 cannot be decoded".format(offset) in output
    assert "rebuild the sample database" in output
    after = model_files(ckpt)
    progressed = ("checkpoint", "run.json") if where in ("--dev_files", "--test_files") else ()
    assert {name: after.get(name) for name in before if name not in progressed} == \
        {name: digest for name, digest in before.items() if name not in progressed}
    assert (len(after) > len(before)) == bool(progressed)  # only a finished epoch adds its checkpoint


def test_a_file_damaged_after_the_start_up_checks_is_named_when_met(tmp_path):
    """A WAV cut off while a run goes on (after the start-up checks passed it): TF's decoder fails naming no file;
    ``data.reading`` runs the checks again and names the CSV row. Errors that are not about a sample pass as they
    are, and so does the end of the data."""
    from deepspeech_freeze import data
    from deepspeech_freeze.alphabet import Alphabet
    from deepspeech_freeze.config import Config, DataConfig, ModelConfig
    from deepspeech_freeze.errors import UserError
    from deepspeech_freeze.tfcompat import tf
    shutil.copy(os.path.join(LDC_DIR, "LDC93S1.wav"), str(tmp_path / "a.wav"))
    csv = write_csv(tmp_path / "a.csv", [("a.wav", 93638, LDC_TRANSCRIPT)])
    config = Config(ModelConfig(Alphabet(ENGLISH), n_hidden=8), DataConfig(test_files=(csv,)))
    frame = data.load_samples([csv], config)
    with tf.Graph().as_default():
        batches = [tf.compat.v1.data.make_one_shot_iterator(
            data.create_dataset(frame, config, 1, train_phase=False)).get_next() for _ in range(3)]
        with tf.compat.v1.Session() as session:
            with data.reading(frame, config):
                assert session.run(batches[0])[1].shape[0] == 1
                with pytest.raises(tf.errors.OutOfRangeError):
                    session.run(batches[0])
            with pytest.raises(tf.errors.InvalidArgumentError):  # not about a sample: unchanged
                with data.reading(frame, config):
                    session.run(tf.compat.v1.assert_equal(1, 2))
            whole = (tmp_path / "a.wav").read_bytes()
            (tmp_path / "a.wav").write_bytes(whole[:len(whole) // 2])
            with pytest.raises(tf.errors.InvalidArgumentError) as raw:
                session.run(batches[1])
            assert "a.wav" not in raw.value.message  # what the user saw before: no file, and a traceback
            with pytest.raises(UserError) as info:
                with data.reading(frame, config):
                    session.run(batches[2])
    assert "1 of 1 samples in {} cannot be used".format(csv) in str(info.value)
    assert "a.csv row 2 ({}): cut off".format(tmp_path / "a.wav") in str(info.value)


def wav_variants(good):
    """Damaged and odd copies of the WAV file bytes ``good`` (a 44-byte header: RIFF, fmt of 16, data)."""
    import struct
    fmt, data = good[12:36], good[36:]

    def riff(body):
        return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body
    return {
        "good": good,
        "cut": good[:len(good) // 2],
        "header only": good[:44],
        "odd data size": riff(fmt + b"data" + struct.pack("<I", len(data) - 1) + data[:-1]),
        "stray bytes": good + b"xyz",
        "list first": riff(b"LIST" + struct.pack("<I", 4) + b"INFO" + fmt + data),
        "odd-sized chunk before data": riff(fmt + b"LIST" + struct.pack("<I", 5) + b"INFOx\0" + data),
        "byte rate": good[:28] + struct.pack("<I", 12345) + good[32:],
        "two data chunks": riff(fmt + data + data),
        "chunk after data": riff(fmt + data + b"LIST" + struct.pack("<I", 4) + b"INFO"),
        "chunk after data claims too much": good + b"LIST" + struct.pack("<I", 255) + b"x",  # TF reads it
    }


def test_the_wav_check_refuses_exactly_what_tensorflow_refuses(tmp_path):
    """wav_info (the start-up check) against TF's own decoder, on damaged and odd layouts: a file passes the check
    if and only if decode_wav reads it, so no run meets a WAV its checks let through and TF refuses."""
    from deepspeech_freeze import audio
    from deepspeech_freeze.tfcompat import tf
    good = open(os.path.join(LDC_DIR, "LDC93S1.wav"), "rb").read()
    verdicts = {}
    with tf.Graph().as_default():
        contents = tf.compat.v1.placeholder(tf.string, [])
        decoded = tf.audio.decode_wav(contents, desired_channels=1).audio
        with tf.compat.v1.Session() as session:
            for name, variant in wav_variants(good).items():
                path = tmp_path / (name.replace(" ", "_") + ".wav")
                path.write_bytes(variant)
                try:
                    session.run(decoded, {contents: variant})
                    tf_reads = True
                except tf.errors.InvalidArgumentError:
                    tf_reads = False
                info, problem = audio.wav_info(str(path))
                verdicts[name] = (tf_reads, problem)
    assert {name: tf_reads for name, (tf_reads, _) in verdicts.items()} == {
        name: problem is None for name, (_, problem) in verdicts.items()}, verdicts
    assert verdicts["good"] == (True, None) and verdicts["chunk after data claims too much"] == (True, None)
    assert sum(1 for tf_reads, _ in verdicts.values() if not tf_reads) == 8
    assert "cut off: its header promises 93594 bytes of audio, the file holds 46775" in verdicts["cut"][1]
    assert "3 stray bytes" in verdicts["stray bytes"][1] and "sox" in verdicts["stray bytes"][1]
