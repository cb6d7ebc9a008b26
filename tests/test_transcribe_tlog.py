"""DeepSpeech 0.7.4's transcribe.py interface (issue 21, item 3): WebRTC VAD splitting, batches, .tlog files, --src
files and folders, --force; the older --audio interface still works. Uses conftest's English model (n_hidden 100)
and a "long recording" made of LDC93S1 twice with silence around it.
"""
import json
import os
import shutil
import wave

import numpy as np
import pytest

from conftest import ENGLISH, LDC_DIR, LDC_TRANSCRIPT, run_module

from deepspeech_freeze import transcribe, vad

FLAGS = ["--n_hidden", "100", "--alphabet_config_path", ENGLISH, "--beam_width", "32"]
SILENCE_MS = 1500


def ldc_pcm():
    with wave.open(os.path.join(LDC_DIR, "LDC93S1.wav"), "rb") as handle:
        return handle.readframes(handle.getnframes())


def write_wav(path, pcm, rate=16000):
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm)
    return str(path)


@pytest.fixture(scope="module")
def long_recording(tmp_path_factory):
    silence = bytes(2 * 16 * SILENCE_MS)
    folder = tmp_path_factory.mktemp("long")
    pcm = silence + ldc_pcm() + silence + ldc_pcm() + silence
    return write_wav(folder / "long.wav", pcm), pcm


def test_vad_segments_are_the_audio_between_their_timestamps(long_recording):
    _path, pcm = long_recording
    segments = list(vad.vad_split(pcm, 16000, 3))
    assert segments
    for segment in segments:
        assert segment.start_ms < segment.end_ms and segment.start_ms % 30 == 0 and segment.end_ms % 30 == 0
        # The timestamps say exactly where the segment's audio lies (DeepSpeech's are one frame early).
        assert pcm[segment.start_ms * 32:segment.end_ms * 32] == segment.pcm
    # Nothing in the silence between the two utterances; speech on both sides of it.
    first_end = (SILENCE_MS + len(ldc_pcm()) // 32)
    assert not any(first_end + 400 < s.start_ms and s.end_ms < first_end + SILENCE_MS - 400 for s in segments)
    assert any(s.start_ms < first_end for s in segments) and any(s.start_ms > first_end for s in segments)
    assert [s.start_ms for s in segments] == sorted(s.start_ms for s in segments)
    with pytest.raises(Exception, match="Hz"):
        list(vad.vad_split(pcm, 22050))


def test_segment_batches_keep_outliers_apart():
    segments = [vad.Segment(0, d, b"") for d in (100, 20000, 200, 300, 15000)]
    batches = list(transcribe.segment_batches(segments, 2, 10000, 1))
    assert [[s.end_ms for s in b] for b in batches] == [[100, 200], [300], [20000], [15000]]


def test_src_file_to_tlog_and_force(english_model, long_recording, tmp_path):
    path, _ = long_recording
    dst = tmp_path / "out.tlog"
    result = run_module("deepspeech_freeze.transcribe", "--checkpoint_dir", english_model, "--src", path, "--dst",
                        dst, *FLAGS)
    entries = json.loads(dst.read_text())
    assert entries and all(set(e) == {"start", "end", "transcript"} for e in entries)
    assert [e["start"] for e in entries] == sorted(e["start"] for e in entries)
    assert all(isinstance(e["start"], int) and e["start"] < e["end"] for e in entries)
    assert entries == [{"start": s.start_ms, "end": s.end_ms, "transcript": e["transcript"]}
                       for s, e in zip(vad.vad_split(long_recording[1], 16000, 3), entries)]
    assert str(dst) in result.stdout
    before = dst.read_text()
    refused = run_module("deepspeech_freeze.transcribe", "--checkpoint_dir", english_model, "--src", path, "--dst",
                         dst, *FLAGS, check=False)
    assert refused.returncode == 2 and "--force" in refused.output and "Traceback" not in refused.output
    dst.write_text("[]")
    run_module("deepspeech_freeze.transcribe", "--checkpoint_dir", english_model, "--src", path, "--dst", dst,
               "--force", "--batch_size", "1", *FLAGS)
    assert dst.read_text() == before  # batch size changes nothing in the result


def test_src_folder_recursive_and_skips_done(english_model, tmp_path):
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    top = write_wav(tmp_path / "top.wav", ldc_pcm())
    deep = write_wav(nested / "deep.wav", ldc_pcm())
    run_module("deepspeech_freeze.transcribe", "--checkpoint_dir", english_model, "--src", tmp_path, *FLAGS)
    assert os.path.exists(top[:-4] + ".tlog") and not os.path.exists(deep[:-4] + ".tlog")
    with open(top[:-4] + ".tlog", "w") as handle:
        handle.write("kept")
    run_module("deepspeech_freeze.transcribe", "--checkpoint_dir", english_model, "--src", tmp_path, "--recursive",
               *FLAGS)
    assert json.loads(open(deep[:-4] + ".tlog").read())
    assert open(top[:-4] + ".tlog").read() == "kept"  # done files are skipped without --force
    result = run_module("deepspeech_freeze.transcribe", "--checkpoint_dir", english_model, "--src", tmp_path,
                        "--dst", tmp_path / "x.tlog", *FLAGS, check=False)
    assert result.returncode == 2 and "--dst is for a single --src file" in result.output


def test_converted_with_sox_when_not_16k(english_model, tmp_path):
    if shutil.which("sox") is None:
        pytest.skip("sox is not installed")
    src = os.path.join(LDC_DIR, "LDC93S1_pcms16le_2_44100.wav")
    dst = tmp_path / "stereo.tlog"
    run_module("deepspeech_freeze.transcribe", "--checkpoint_dir", english_model, "--src", src, "--dst", dst, *FLAGS)
    assert json.loads(dst.read_text())


def test_audio_interface_still_works(english_model):
    result = run_module("deepspeech_freeze.transcribe", "--checkpoint_dir", english_model, "--audio",
                        os.path.join(LDC_DIR, "LDC93S1.wav"), *FLAGS)
    assert result.stdout.strip()  # one transcript line
    result = run_module("deepspeech_freeze.transcribe", "--checkpoint_dir", english_model, *FLAGS, check=False)
    assert result.returncode == 2 and "--src" in result.output
