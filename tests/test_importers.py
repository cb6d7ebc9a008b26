"""Importers on small real corpora: German sentences spoken by espeak-ng, encoded with ffmpeg (MP3 for Common Voice,
FLAC for the Swiss German corpus), imported by running the modules like a user would."""
import csv
import io
import os
import shutil
import subprocess
import wave

import pytest

from conftest import ROOT, run_module
from deepspeech_freeze.alphabet import Alphabet
from deepspeech_freeze.importers.text import filter_to_alphabet, normalize_german



def needs_audio_tools(test):
    """espeak-ng and ffmpeg make the test audio; bin/install.sh installs them, so their absence is a failure."""
    assert shutil.which("espeak-ng") and shutil.which("ffmpeg"), "espeak-ng/ffmpeg missing: run bin/install.sh"
    return test

CV = "deepspeech_freeze.importers.common_voice"
SWISS = "deepspeech_freeze.importers.swiss_german"
GERMAN = os.path.join(ROOT, "data", "alphabets", "german.txt")
SWISS_ALPHABET = os.path.join(ROOT, "data", "alphabets", "swiss_german.txt")

# (split, clip name, sentence, expected transcript or None when the clip must be dropped)
CV_CLIPS = [
    ("train", "cv_1", "Grüße, 3 Äpfel!", "grüsse drei äpfel"),
    ("train", "cv_2", "Die Straße ist 12 Meter lang.", "die strasse ist zwölf meter lang"),
    ("train", "cv_3", "Das Café „Zur Post“ hat geöffnet.", None),  # é is not in the German alphabet
    ("train", "cv_4", "Wir fahren am 3. Mai nach Köln.", "wir fahren am dritte mai nach köln"),
    ("train", "cv_5", "Ça va, sagte er.", None),  # ç neither
    ("dev", "cv_6", "Guten Morgen – wie geht's?", "guten morgen wie geht's"),
    ("test", "cv_7", "Er kaufte 25 Brötchen und Käse.", "er kaufte fünfundzwanzig brötchen und käse"),
]
CORRUPT = ("train", "cv_bad", "Hallo Welt.")


def synthesize(text, wav_path):
    subprocess.run(["espeak-ng", "-v", "de", "-w", wav_path, text], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def encode(wav_path, out_path):
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", wav_path, out_path], check=True)


def read_rows(csv_path):
    with io.open(csv_path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, list(reader)


def check_wavs(csv_path):
    """Every row's WAV (relative to the CSV) exists, is 16 kHz mono 16-bit and has the listed size."""
    header, rows = read_rows(csv_path)
    assert header == ["wav_filename", "wav_filesize", "transcript"]
    for name, size, _ in rows:
        assert not os.path.isabs(name)
        path = os.path.join(os.path.dirname(csv_path), name)
        assert int(size) == os.path.getsize(path)
        with wave.open(path, "rb") as handle:
            assert (handle.getframerate(), handle.getnchannels(), handle.getsampwidth()) == (16000, 1, 2)
            assert handle.getnframes() > 16000 * 0.3
    return rows


def test_normalize_german():
    assert normalize_german("Grüße, 3 Äpfel!") == "grüsse drei äpfel"
    assert normalize_german("„Maß“ – 1.000 Leute/Tag (25%)") == "mass eintausend leute tag fünfundzwanzig prozent"
    assert normalize_german("Er sagte: 'Hallo' und ging’s an.") == "er sagte hallo und ging's an"
    assert normalize_german("Es ist 3,5 km lang.") == "es ist drei komma fünf km lang"
    assert normalize_german("Im 21. Jahrhundert, anno 1999.") == \
        "im einundzwanzigste jahrhundert anno neunzehnhundertneunundneunzig"
    assert normalize_german("Grüße, 3 Äpfel!", keep_digits=True) == "grüsse 3 äpfel"
    assert normalize_german("Der Kanton hat 1'200 Stellen, 3,5%.", keep_digits=True) == \
        "der kanton hat 1200 stellen 3 komma 5 prozent"
    alphabet = Alphabet(GERMAN)
    assert filter_to_alphabet("grüsse drei äpfel", alphabet) == ("grüsse drei äpfel", [])
    assert filter_to_alphabet(normalize_german("Ça, café!"), alphabet) == (None, ["ç", "é"])
    assert filter_to_alphabet("", alphabet) == (None, [])
    assert filter_to_alphabet("grüsse 3", Alphabet(SWISS_ALPHABET)) == ("grüsse 3", [])
    assert filter_to_alphabet("grüsse 3", alphabet) == (None, ["3"])


@pytest.fixture(scope="module")
def cv_dir(tmp_path_factory):
    """A Common Voice-like language folder: three TSVs and clips/*.mp3, one of them corrupt."""
    root = tmp_path_factory.mktemp("cv")
    folder, clips, scratch = root / "de", root / "de" / "clips", root / "scratch"
    clips.mkdir(parents=True)
    scratch.mkdir()
    lines = {"train": [], "dev": [], "test": []}
    for number, (split, name, sentence, _) in enumerate(CV_CLIPS):
        synthesize(sentence, str(scratch / (name + ".wav")))
        encode(str(scratch / (name + ".wav")), str(clips / (name + ".mp3")))
        lines[split].append("client{}\t{}.mp3\t{}\t2\t0\n".format(number, name, sentence))
    (clips / (CORRUPT[1] + ".mp3")).write_bytes(b"ID3 this is not an mp3 stream" * 10)
    lines["train"].append("client9\t{}.mp3\t{}\t2\t0\n".format(CORRUPT[1], CORRUPT[2]))
    for split, rows in lines.items():
        with io.open(str(folder / (split + ".tsv")), "w", encoding="utf-8") as handle:
            handle.write("client_id\tpath\tsentence\tup_votes\tdown_votes\n")
            handle.writelines(rows)
    return folder


@pytest.fixture(scope="module")
def cv_import(cv_dir, tmp_path_factory):
    target = tmp_path_factory.mktemp("cv_out")
    result = run_module(CV, "--cv_dir", cv_dir, "--target", target, "--jobs", 2)
    return target, result


@needs_audio_tools
def test_common_voice_import(cv_import):
    target, result = cv_import
    for split in ("train", "dev", "test"):
        rows = check_wavs(str(target / (split + ".csv")))
        expected = [("clips/{}.wav".format(name), text) for s, name, _, text in CV_CLIPS if s == split and text]
        assert [(name, text) for name, _, text in rows] == expected
    output = result.output
    assert "Traceback" not in output
    assert "train.csv: kept 3 of 6 clips" in output
    assert "2 out of alphabet, 1 conversion failed" in output
    assert "'é' in 1 clip(s)" in output and "'ç' in 1 clip(s)" in output
    assert "train.tsv line 4 (cv_3.mp3)" in output  # an example of the dropped clips, with where it came from
    assert "cv_bad.mp3" in output and "could not be converted" in output
    assert "Total: kept 5 clips" in output and " s of audio" in output
    assert not os.path.exists(str(target / "clips" / "cv_bad.wav"))
    assert not [name for name in os.listdir(str(target / "clips")) if name.endswith(".part")]


@needs_audio_tools
def test_common_voice_rerun_skips_conversions(cv_dir, cv_import):
    target, _ = cv_import
    wav = str(target / "clips" / "cv_1.wav")
    before = {name: os.path.getmtime(str(target / "clips" / name)) for name in os.listdir(str(target / "clips"))}
    csv_before = (target / "train.csv").read_bytes()
    result = run_module(CV, "--cv_dir", cv_dir, "--target", target)
    assert "Audio: 0 converted, 5 already converted (skipped), 1 failed." in result.output
    assert os.path.getmtime(wav) == before["cv_1.wav"]
    after = {name: os.path.getmtime(str(target / "clips" / name)) for name in os.listdir(str(target / "clips"))}
    assert after == before
    assert (target / "train.csv").read_bytes() == csv_before


@needs_audio_tools
def test_common_voice_missing_input(cv_dir, tmp_path):
    result = run_module(CV, "--cv_dir", tmp_path / "nowhere", "--target", tmp_path / "out", check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("ERROR: --cv_dir ") and "nowhere" in result.stderr
    assert "Traceback" not in result.output

    partial = tmp_path / "partial"
    (partial / "clips").mkdir(parents=True)
    for split in ("train", "dev"):
        (partial / (split + ".tsv")).write_text("client_id\tpath\tsentence\n")
    result = run_module(CV, "--cv_dir", partial, "--target", tmp_path / "out", check=False)
    assert result.returncode == 2 and "Traceback" not in result.output
    assert result.stderr.startswith("ERROR: ") and "test.tsv" in result.stderr

    result = run_module(CV, "--cv_dir", cv_dir, "--target", tmp_path / "out", "--filter_alphabet",
                        tmp_path / "missing.txt", check=False)
    assert result.returncode == 2 and "--filter_alphabet" in result.stderr and "Traceback" not in result.output


# (speaker, clip name, Standard German sentence, expected transcript or None)
SWISS_TRAIN = [
    ("s1", "ch_1", "Der Kanton hat 3 neue Gesetze.", "der kanton hat 3 neue gesetze"),
    ("s1", "ch_2", "Wir stimmen über 12 Anträge ab.", "wir stimmen über 12 anträge ab"),
    ("s2", "ch_3", "Grüße aus Bern, sagte sie.", "grüsse aus bern sagte sie"),
    ("s2", "ch_4", "Das kostet 1'500 Franken.", "das kostet 1500 franken"),
    ("s3", "ch_5", "Die Debatte dauerte 2 Stunden.", "die debatte dauerte 2 stunden"),
    ("s3", "ch_6", "Merci für die Façade.", None),  # ç is outside the Swiss alphabet too
]
SWISS_TEST = [("s4", "ch_7", "Die Sitzung ist geschlossen.", "die sitzung ist geschlossen")]


@pytest.fixture(scope="module")
def swiss_source(tmp_path_factory):
    """A GermEval-like folder: train.csv (comma-separated, quoted sentences, a speaker column), test.csv and
    clips/*.flac; no dev listing."""
    root = tmp_path_factory.mktemp("swiss")
    source, scratch = root / "germeval", root / "scratch"
    (source / "clips").mkdir(parents=True)
    scratch.mkdir()
    for speaker, name, sentence, _ in SWISS_TRAIN + SWISS_TEST:
        synthesize(sentence, str(scratch / (name + ".wav")))
        encode(str(scratch / (name + ".wav")), str(source / "clips" / (name + ".flac")))
    for split, clips in (("train", SWISS_TRAIN), ("test", SWISS_TEST)):
        with io.open(str(source / (split + ".csv")), "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "sentence", "client_id", "duration"])
            for speaker, name, sentence, _ in clips:
                writer.writerow([name + ".flac", sentence, speaker, "1.0"])
    return source


@needs_audio_tools
def test_swiss_german_import(swiss_source, tmp_path):
    target = tmp_path / "out"
    result = run_module(SWISS, "--source", swiss_source, "--target", target, "--dev_fraction", 0.3)
    output = result.output
    assert "Traceback" not in output
    expected = {name: text for _, name, _, text in SWISS_TRAIN + SWISS_TEST}
    speaker_of = {name: speaker for speaker, name, _, _ in SWISS_TRAIN + SWISS_TEST}
    splits = {}
    for split in ("train", "dev", "test"):
        rows = check_wavs(str(target / (split + ".csv")))
        splits[split] = [os.path.splitext(os.path.basename(name))[0] for name, _, _ in rows]
        for name, (_, _, text) in zip(splits[split], rows):
            assert text == expected[name]  # digits kept, "ß" -> "ss", punctuation gone
    assert splits["test"] == ["ch_7"]
    # dev is carved out of train by speaker: one whole speaker (2 clips), none of them left in train
    assert "dev: no dev listing; carved 2 clips out of train" in output and "grouped by speaker" in output
    dev_speakers = {speaker_of[name] for name in splits["dev"]}
    assert len(dev_speakers) == 1
    assert not dev_speakers & {speaker_of[name] for name in splits["train"]}
    assert len(splits["train"]) + len(splits["dev"]) == 5  # the "ç" clip is dropped
    assert "'ç' in 1 clip(s)" in output and "1 out of alphabet" in output
    # the carving is deterministic
    again = run_module(SWISS, "--source", swiss_source, "--target", tmp_path / "again", "--dev_fraction", 0.3)
    assert (tmp_path / "again" / "dev.csv").read_bytes() == (target / "dev.csv").read_bytes()
    assert "Audio: 6 converted" in again.output


@needs_audio_tools
def test_swiss_german_unlabelled_test_and_tab_listing(swiss_source, tmp_path):
    """A tab-separated listing with other column names, a test listing without text: test is carved from train;
    the German alphabet (no digits) drops the sentences with digits."""
    source = tmp_path / "tabbed"
    (source / "data").mkdir(parents=True)
    with io.open(str(source / "data" / "train.tsv"), "w", encoding="utf-8") as handle:
        handle.write("file\ttext\n")
        for _, name, sentence, _ in SWISS_TRAIN:
            handle.write("{}\t{}\n".format(os.path.join(str(swiss_source), "clips", name), sentence))
    with io.open(str(source / "data" / "test.tsv"), "w", encoding="utf-8") as handle:
        handle.write("file\n{}\n".format(os.path.join(str(swiss_source), "clips", "ch_7.flac")))
    target = tmp_path / "out"
    result = run_module(SWISS, "--source", source, "--target", target, "--dev_fraction", 0.2, "--test_fraction",
                        0.2, "--filter_alphabet", GERMAN)
    assert "has no text column; carved 2 clips out of train" in result.output
    assert "tab-separated" in result.output
    kept = sum(len(check_wavs(str(target / (split + ".csv")))) for split in ("train", "dev", "test"))
    assert kept == 1  # only "Grüße aus Bern" has neither digits nor "ç"
    assert "'3' in 1 clip(s)" in result.output

    missing = run_module(SWISS, "--source", tmp_path / "absent", "--target", target, check=False)
    assert missing.returncode == 2 and missing.stderr.startswith("ERROR: --source ")
    assert "Traceback" not in missing.output
    empty = tmp_path / "empty"
    empty.mkdir()
    no_listing = run_module(SWISS, "--source", empty, "--target", target, check=False)
    assert no_listing.returncode == 2 and "no train listing" in no_listing.stderr
