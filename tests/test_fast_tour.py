"""Quick real runs of the modules whose thorough tests are slow (tests/test_export.py trains DeepSpeech's 200-epoch
smoke test first): export, transcription and the LDC93S1 importer, on the small shared English model. They keep
`make test-fast` exercising every module; the slow tests check the results in depth."""
import csv
import io
import json
import os

import stacks
from conftest import ENGLISH, LDC_DIR, LDC_TRANSCRIPT, run_module
from deepspeech_freeze.importers.ldc93s1 import import_ldc93s1

MODEL_FLAGS = ["--n_hidden", "100", "--alphabet_config_path", ENGLISH, "--noshow_progressbar"]


@stacks.only_on("tf1", "export is the TF 1.15 stack's; on TF 2 it refuses (tests/test_tf2_stack.py)")
def test_export_writes_a_graph_the_client_format_needs(english_model, tmp_path):
    result = run_module("deepspeech_freeze.export", "--checkpoint_dir", english_model, "--export_dir",
                        tmp_path / "export", *MODEL_FLAGS)
    assert "Models exported at" in result.output
    graph = tmp_path / "export" / "output_graph.pb"
    assert graph.is_file() and graph.stat().st_size > 100 * 1000  # the weights are in it (n_hidden 100: ~1 MB)


def test_transcribe_writes_one_json_line_per_file(english_model, tmp_path):
    output = tmp_path / "out.jsonl"
    wav = os.path.join(LDC_DIR, "LDC93S1.wav")
    run_module("deepspeech_freeze.transcribe", "--checkpoint_dir", english_model, "--audio", wav, "--output", output,
               *MODEL_FLAGS)
    lines = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    # A 3-epoch model does not transcribe yet: only the shape of the result is checked here.
    assert len(lines) == 1 and lines[0]["wav_filename"] == wav and isinstance(lines[0]["transcript"], str)


def test_ldc93s1_importer_writes_the_deepspeech_csv(tmp_path):
    path = import_ldc93s1(LDC_DIR, str(tmp_path / "ldc"))
    with io.open(path, encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows == [["wav_filename", "wav_filesize", "transcript"], ["LDC93S1.wav", "93638", LDC_TRANSCRIPT]]
    assert (tmp_path / "ldc" / "LDC93S1.wav").stat().st_size == 93638
