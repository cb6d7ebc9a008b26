"""Heidelberg Digits: the generated stand-in corpus (espeak-ng voices as speakers, 48 kHz FLAC in the corpus's
layout), the importer (speaker split, subsets, caps, bad input), the runner's --seeds, the seed tables, and
bin/run-digits.sh end to end."""
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import wave

import pytest

from conftest import ROOT, run_module
from deepspeech_freeze.errors import UserError
from deepspeech_freeze.experiments import digits_synth, schemes
from deepspeech_freeze.experiments import run as runner

HD = "deepspeech_freeze.importers.heidelberg_digits"
DIGITS = os.path.join(ROOT, "experiments", "heidelberg-digits")
GERMAN_WORDS = "null eins zwei drei vier fünf sechs sieben acht neun".split()
ENGLISH_WORDS = "zero one two three four five six seven eight nine".split()


@pytest.fixture(scope="module")
def hd_dir(tmp_path_factory):
    """12 speakers x 2 takes x 10 digits x 2 languages, in the corpus's layout."""
    assert shutil.which("espeak-ng") and (shutil.which("sox") or shutil.which("ffmpeg")), \
        "espeak-ng and sox/ffmpeg make the corpus: run bin/install.sh"
    folder = tmp_path_factory.mktemp("hd")
    digits_synth.build(str(folder), speakers=12, takes=2)
    return folder


def rows_of(path):
    with io.open(str(path), encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        assert next(reader) == ["wav_filename", "wav_filesize", "transcript"]
        return list(reader)


def speaker_of(wav_name):
    return int(os.path.basename(wav_name).split("_speaker-")[1][:2])


def test_generated_corpus_has_the_real_layout_and_format(hd_dir):
    names = sorted(os.listdir(str(hd_dir / "audio")))
    assert len(names) == 2 * 12 * 2 * 10
    assert "lang-german_speaker-04_trial-1_digit-7.flac" in names
    assert "lang-english_speaker-11_trial-0_digit-0.flac" in names
    info = subprocess.run(["soxi", str(hd_dir / "audio" / "lang-german_speaker-04_trial-1_digit-7.flac")],
                          stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    assert "Sample Rate    : 48000" in info and "Channels       : 1" in info and "16-bit" in info
    assert "FLAC" in info
    # A second call with the same settings reuses the files.
    before = os.path.getmtime(str(hd_dir / "audio" / names[0]))
    digits_synth.build(str(hd_dir), speakers=12, takes=2)
    assert os.path.getmtime(str(hd_dir / "audio" / names[0])) == before


def test_import_splits_by_speaker_with_transcripts_from_the_names(hd_dir, tmp_path):
    target = tmp_path / "de"
    result = run_module(HD, "--hd_dir", hd_dir, "--target", target, "--language", "german", "--jobs", 2)
    assert "Traceback" not in result.output
    assert "test: speakers 04, 05" in result.output and "dev: speakers 11" in result.output
    splits = {split: rows_of(target / (split + ".csv")) for split in ("train", "dev", "test")}
    assert {speaker_of(name) for name, _, _ in splits["test"]} == {4, 5}
    assert {speaker_of(name) for name, _, _ in splits["dev"]} == {11}
    assert {speaker_of(name) for name, _, _ in splits["train"]} == {0, 1, 2, 3, 6, 7, 8, 9, 10}
    assert [len(splits[s]) for s in ("train", "dev", "test")] == [180, 20, 40]
    for rows in splits.values():
        for name, size, transcript in rows:
            digit = int(name.split("_digit-")[1][0])
            assert transcript == GERMAN_WORDS[digit]
            path = str(target / name)
            assert int(size) == os.path.getsize(path)
            with wave.open(path, "rb") as handle:
                assert (handle.getframerate(), handle.getnchannels(), handle.getsampwidth()) == (16000, 1, 2)
    assert "fünf" in {transcript for _, _, transcript in splits["test"]}


def test_train_speaker_subset_and_take_cap(hd_dir, tmp_path):
    target = tmp_path / "en"
    run_module(HD, "--hd_dir", hd_dir / "audio", "--target", target, "--language", "english",
               "--train_speakers", "0,1,02", "--max_takes", 1, "--test_speakers", "04", "--dev_speakers", "11")
    splits = {split: rows_of(target / (split + ".csv")) for split in ("train", "dev", "test")}
    assert {speaker_of(name) for name, _, _ in splits["train"]} == {0, 1, 2}
    assert [len(splits[s]) for s in ("train", "dev", "test")] == [30, 10, 10]
    assert all("_trial-0_" in name for rows in splits.values() for name, _, _ in rows)
    assert sorted(t for _, _, t in splits["test"]) == sorted(ENGLISH_WORDS)


def expect_error(*args, contains):
    result = run_module(HD, *args, check=False)
    assert result.returncode == 2, result.output
    assert "Traceback" not in result.output
    # The conversion's progress bar may come first on stderr; the message is the one ERROR line, at the end.
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("ERROR: ") and result.stderr.count("ERROR: ") == 1, result.stderr
    for text in contains:
        assert text in message, message
    return message


@pytest.mark.parametrize("extra, contains", [
    (["--language", "french"], ["--language", "english or german"]),
    (["--language", "german", "--test_speakers", "04,13"], ["--test_speakers", "no speaker 13", "00, 01"]),
    (["--language", "german", "--dev_speakers", "05"], ["speaker 05", "--test_speakers and --dev_speakers"]),
    (["--language", "german", "--train_speakers", "00,11"], ["speaker 11", "--dev_speakers and --train_speakers"]),
    (["--language", "german", "--test_speakers", "four"], ["--test_speakers four", "'four' is not a speaker"]),
    (["--language", "german", "--dev_speakers", ""], ["the dev split has no speaker"]),
    (["--language", "german", "--max_takes", "-1"], ["--max_takes is -1"]),
])
def test_bad_flags_name_the_flag_and_write_nothing(hd_dir, tmp_path, extra, contains):
    target = tmp_path / "out"
    expect_error("--hd_dir", hd_dir, "--target", target, *extra, contains=contains)
    assert not [name for name in (os.listdir(str(target)) if target.exists() else []) if name.endswith(".csv")]


def test_missing_or_foreign_folders(hd_dir, tmp_path):
    expect_error("--hd_dir", tmp_path / "nowhere", "--target", tmp_path / "out", "--language", "german",
                 contains=["--hd_dir", "nowhere", "does not exist"])
    (tmp_path / "empty").mkdir()
    expect_error("--hd_dir", tmp_path / "empty", "--target", tmp_path / "out", "--language", "german",
                 contains=["has no .flac files"])
    only_english = tmp_path / "english_only" / "audio"
    only_english.mkdir(parents=True)
    source = hd_dir / "audio" / "lang-english_speaker-00_trial-0_digit-0.flac"
    shutil.copy(str(source), str(only_english / source.name))
    expect_error("--hd_dir", only_english.parent, "--target", tmp_path / "out", "--language", "german",
                 contains=["has no german files"])
    assert not (tmp_path / "out").exists()


def small_copy(hd_dir, folder, speakers=(0, 4, 11)):
    """One take of each digit by three speakers (train 00, test 04, dev 11), German."""
    audio = folder / "audio"
    audio.mkdir(parents=True)
    for speaker in speakers:
        for digit in range(10):
            name = digits_synth.file_name("german", speaker, 0, digit)
            shutil.copy(str(hd_dir / "audio" / name), str(audio / name))
    return folder


def test_a_badly_named_file_stops_the_import(hd_dir, tmp_path):
    corpus = small_copy(hd_dir, tmp_path / "hd")
    (corpus / "audio" / "lang-german_speaker-4_trial-0_digit-1.flac").write_bytes(b"")
    (corpus / "audio" / "README.txt").write_text("other files are ignored")
    message = expect_error("--hd_dir", corpus, "--target", tmp_path / "out", "--language", "german",
                           "--test_speakers", "04", contains=["lang-german_speaker-4_trial-0_digit-1.flac",
                                                              "does not follow the Heidelberg Digits pattern"])
    assert "speaker-NN" in message and not (tmp_path / "out").exists()


@pytest.mark.parametrize("damage", [b"", b"fLaC this is no longer a flac stream" * 20])
def test_a_damaged_file_stops_the_import_and_keeps_the_earlier_csvs(hd_dir, tmp_path, damage):
    corpus = small_copy(hd_dir, tmp_path / "hd")
    target = tmp_path / "out"
    flags = ["--hd_dir", corpus, "--target", target, "--language", "german", "--test_speakers", "04"]
    run_module(HD, *flags)
    before = {split: (target / (split + ".csv")).read_bytes() for split in ("train", "dev", "test")}
    assert len(rows_of(target / "train.csv")) == 10
    broken = corpus / "audio" / digits_synth.file_name("german", 0, 1, 3)
    broken.write_bytes(damage)
    expect_error(*flags, contains=[str(broken), "cannot be converted", "extract the archive again",
                                   "no CSV was written"])
    assert {split: (target / (split + ".csv")).read_bytes() for split in ("train", "dev", "test")} == before
    assert not [name for name in os.listdir(str(target / "clips")) if ".part" in name]
    assert not (target / "clips" / "lang-german_speaker-00_trial-1_digit-3.wav").exists()
    # Without the damaged file the import works again and reuses the converted audio.
    broken.unlink()
    assert "Audio: 0 converted, 30 already converted" in run_module(HD, *flags).output


# ----------------------------------------------------------------------------------------------------------------
# The runner's --seeds


def test_seeds_are_parsed_and_checked():
    assert runner.parse_seeds("1, 2,3") == [1, 2, 3] and runner.parse_seeds("") is None
    for bad, expected in (("1,x", "'x' is not a seed"), ("1,1", "seed 1 is given twice"), ("-1", "'-1'")):
        with pytest.raises(UserError) as caught:
            runner.parse_seeds(bad)
        assert expected in str(caught.value)
    assert runner.seed_source("/runs/seed-{seed}/baseline", 7) == "/runs/seed-7/baseline"


def test_seed_conflicts_and_missing_seed_sources_are_errors(tmp_path, hd_dir):
    data = tmp_path / "data"
    run_module(HD, "--hd_dir", hd_dir, "--target", data, "--language", "german", "--max_takes", 1)
    german = os.path.join(ROOT, "data", "alphabets", "german.txt")
    common = dict(scheme_path=DIGITS, data_dir=str(data), alphabet=german, out=str(tmp_path / "runs"))
    with pytest.raises(UserError) as caught:
        runner.run(seeds=[1, 2], overrides=["random_seed=5"], only="baseline", **common)
    assert "sets random_seed" in str(caught.value) and "--seeds" in str(caught.value)
    with pytest.raises(UserError) as caught:
        runner.run(source=str(tmp_path / "src-{seed}"), only="transfer-0", **common)
    assert "contains {seed} but no --seeds" in str(caught.value)
    (tmp_path / "src-1").mkdir()
    with pytest.raises(UserError) as caught:
        runner.run(seeds=[1], source=str(tmp_path / "src-{seed}"), only="transfer-0", **common)
    assert "src-1 holds no checkpoint" in str(caught.value)
    assert not (tmp_path / "runs").exists()


def test_digits_scheme_is_table2_sized_for_two_cores():
    paper = schemes.load_scheme(os.path.join(ROOT, "experiments", "eberhard2021"))
    digits = schemes.load_scheme(DIGITS)
    # The paper's 8 rows first, then the 5 variants (tests/test_experiments.py checks those).
    plain = digits.rows[:len(paper.rows)]
    assert [(r.name, r.label, r.order) for r in plain] == [(r.name, r.label, r.order) for r in paper.rows]
    assert [r.compare_with for r in digits.rows[len(paper.rows):]] == [
        "baseline", "transfer-0", "freeze-1-2", "transfer-0", "freeze-1-3"]
    for a, b in zip(paper.rows, plain):
        assert a.flags.get("freeze_layers") == b.flags.get("freeze_layers")
        assert a.flags.get("drop_source_layers") == b.flags.get("drop_source_layers")
        assert a.from_scratch == b.from_scratch
    assert digits.common["n_hidden"] == 256 and "random_seed" not in digits.common
    assert plain[-1].flags["epochs"] * 2 == digits.common["epochs"]  # 1-5 frozen: half, as in the paper


# ----------------------------------------------------------------------------------------------------------------
# End to end: bin/run-digits.sh on the generated corpus, 2 seeds, tiny model


TINY = ["--set", "n_hidden=32", "--set", "epochs=2", "--set", "train_batch_size=8", "--set", "beam_width=4"]
# Three plain rows, and one augmented and one reuse variant of transfer-0 (the English source stays the plain baseline).
ROWS = ("baseline", "transfer-0", "freeze-1-3", "transfer-0-augment", "transfer-0-reuse")


@pytest.fixture(scope="module")
def digits_run(hd_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("digits")
    command = [os.path.join(ROOT, "bin", "run-digits.sh"), str(hd_dir), "--seeds", "1,2", "--only", ",".join(ROWS),
               "--max_takes", "1", "--source_epochs", "2"] + TINY
    result = subprocess.run(command, cwd=ROOT, env=dict(os.environ, DSF_DIGITS_DIR=str(work),
                                                        DSF_VENV_PYTHON=sys.executable),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:]
    return work, result.stdout


def read_json(path):
    with io.open(str(path), encoding="utf-8") as handle:
        return json.load(handle)


@pytest.mark.slow
def test_run_digits_end_to_end(digits_run):
    work, output = digits_run
    assert "== digits finished in" in output and "Traceback" not in output
    assert "frozen layers 1-3 unchanged (bit-identical)" in output
    for seed in (1, 2):
        source = read_json(work / "english" / "seed-{}".format(seed) / "baseline" / "result.json")
        assert source["seed"] == seed and source["flags"]["random_seed"] == seed and source["epochs_run"] == 2
        assert "augment" not in source["flags"] and source["label"] == "Baseline (from scratch)"
        assert os.listdir(str(work / "english" / "seed-{}".format(seed))) == ["baseline"]
        for name in ROWS:
            result = read_json(work / "german" / "seed-{}".format(seed) / name / "result.json")
            assert result["seed"] == seed and result["flags"]["random_seed"] == seed
            assert result["test_samples"] == 20  # speakers 04 and 05, one take of each digit
            if name != "baseline":
                # each seed transfers from the source model trained with the same seed
                assert "/english/seed-{}/baseline/".format(seed) in result["source_checkpoint"]
    augmented = read_json(work / "german" / "seed-1" / "transfer-0-augment" / "result.json")
    assert augmented["compare_with"] == "transfer-0" and len(augmented["flags"]["augment"]) == 4
    assert augmented["label"].startswith("Transfer, 0 frozen + augment pitch[p=0.3,pitch=1~0.1], tempo[")
    log = (work / "german" / "seed-1" / "transfer-0-augment" / "train.log").read_text(encoding="utf-8")
    assert " --augment=pitch[p=0.3,pitch=1~0.1] --augment=tempo[p=0.3,factor=1~0.15] --augment=frequency_mask[" in log
    reuse = read_json(work / "german" / "seed-1" / "transfer-0-reuse" / "result.json")
    assert reuse["flags"]["reuse_output_rows"] is True and reuse["compare_with"] == "transfer-0"
    log = (work / "german" / "seed-1" / "transfer-0-reuse" / "train.log").read_text(encoding="utf-8")
    assert "Reused output rows: 28 of 31 labels shared with the source alphabet" in log
    # The seed changes the run: the two from-scratch German models differ.
    first = read_json(work / "german" / "seed-1" / "baseline" / "result.json")
    second = read_json(work / "german" / "seed-2" / "baseline" / "result.json")
    assert first["history"][0]["dev_loss"] != second["history"][0]["dev_loss"]


@pytest.mark.slow
def test_run_digits_tables_show_seed_statistics(digits_run):
    work, output = digits_run
    markdown = (work / "german" / "results.md").read_text(encoding="utf-8")
    assert "| Scheme | seeds | WER mean ± sd | WER 95 % CI | CER mean ± sd | CER 95 % CI |" in markdown
    assert "| Baseline (from scratch) | 2 |" in markdown and "| Layers 1-3 frozen | 2 |" in markdown
    assert "Δ WER vs Baseline (from scratch)" in markdown and "Δ CER vs Transfer, 0 frozen" in markdown
    # Each variant against its plain row, its label naming the augmentation.
    paired = markdown.split("against the row it varies")[1].split("Notes:")[0]
    assert "| Transfer, 0 frozen + augment pitch[p=0.3,pitch=1\\~0.1], tempo[" in paired
    assert "| Transfer, 0 frozen + output rows of shared characters reused | Transfer, 0 frozen | " in paired
    assert "paired bootstrap over the test utterances" in markdown and "speaker-independent" in markdown
    assert "open-vocabulary German" in markdown and "English source model (2 epochs" in markdown
    with io.open(str(work / "german" / "summary.csv"), encoding="utf-8") as handle:
        summary = {row["scheme"]: row for row in csv.DictReader(handle)}
    baseline = [read_json(work / "german" / "seed-{}".format(s) / "baseline" / "result.json")["wer"]
                for s in (1, 2)]
    assert float(summary["baseline"]["wer_mean"]) == pytest.approx(sum(baseline) / 2)
    assert summary["baseline"]["wer_vs_baseline_p"] == "" and summary["freeze-1-3"]["wer_vs_baseline_p"] != ""
    assert summary["transfer-0"]["wer_vs_transfer_p"] == ""
    assert summary["transfer-0-augment"]["compare_with"] == "transfer-0"
    assert summary["transfer-0-augment"]["wer_vs_counterpart_p"] != "" and summary["transfer-0"]["compare_with"] == ""
    with io.open(str(work / "german" / "results.csv"), encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted((row["scheme"], row["seed"]) for row in rows) == sorted(
        (name, str(seed)) for name in ROWS for seed in (1, 2))
    png = (work / "german" / "learning_curves.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10000


@pytest.mark.slow
def test_run_digits_rerun_reuses_everything_and_bad_input_stops(digits_run, hd_dir):
    work, _ = digits_run
    before = (work / "german" / "results.md").read_text(encoding="utf-8")
    command = [os.path.join(ROOT, "bin", "run-digits.sh"), str(hd_dir), "--seeds", "1,2", "--only", ",".join(ROWS),
               "--max_takes", "1", "--source_epochs", "2"] + TINY
    env = dict(os.environ, DSF_DIGITS_DIR=str(work), DSF_VENV_PYTHON=sys.executable)
    again = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, timeout=600)
    assert again.returncode == 0, again.stdout[-3000:]
    assert "Finished training" not in again.stdout
    assert again.stdout.count("exists (delete the folder to run it again)") == 2 + 10  # 2 sources, 5 rows x 2
    assert "Audio: 0 converted" in again.stdout
    assert (work / "german" / "results.md").read_text(encoding="utf-8") == before
    missing = subprocess.run(command[:1] + [str(work / "nowhere")] + command[2:], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)
    assert missing.returncode == 2 and "ERROR: --hd_dir" in missing.stdout and "Traceback" not in missing.stdout


def test_run_digits_usage_and_missing_option_values(tmp_path):
    script = os.path.join(ROOT, "bin", "run-digits.sh")
    env = dict(os.environ, DSF_DIGITS_DIR=str(tmp_path / "work"), DSF_VENV_PYTHON=sys.executable)
    for args, expected in (([], "bin/run-digits.sh HD_DIR"), (["--seeds", "1"], "bin/run-digits.sh HD_DIR"),
                           ([str(tmp_path), "--seeds"], "ERROR: --seeds needs a value")):
        result = subprocess.run([script] + args, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
        assert result.returncode == 2 and expected in result.stdout, result.stdout
    assert not (tmp_path / "work").exists()
