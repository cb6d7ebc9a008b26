"""The German corpus importers (Tuda-De, Spoken Wikipedia, M-AILABS, VoxForge) and the merge tool, on tiny corpora
generated in each corpus's layout: German sentences spoken by espeak-ng, stored as the corpus stores them (16 kHz
WAV next to XML, OGG Vorbis parts next to aligned.swc, 22 kHz WAV with metadata.csv, WAV and FLAC sessions with
PROMPTS). Each importer first meets a damaged copy (a broken metadata file, audio without text, text without audio,
an empty transcript, undecodable audio), then the repaired corpus, whose re-run keeps the WAVs already converted."""
import io
import os
import shutil
import subprocess
import wave

import pytest

from conftest import ROOT, run_module
from test_importers import check_wavs, needs_audio_tools, read_rows

from deepspeech_freeze.importers import common, swc
from deepspeech_freeze.importers.text import expand_co2, fold_to_ascii, normalize_german, swc_number_words

TUDA = "deepspeech_freeze.importers.tuda"
SWC = "deepspeech_freeze.importers.swc"
MAILABS = "deepspeech_freeze.importers.m_ailabs"
VOXFORGE = "deepspeech_freeze.importers.voxforge"
MERGE = "deepspeech_freeze.importers.merge"
BROKEN_AUDIO = b"RIFF\x10\x00\x00\x00WAVEfmt this is not audio" * 4

SENTENCES = {
    "zug": "Der Zug fährt um acht Uhr ab.",
    "kaffee": "Wir trinken Kaffee in der Küche.",
    "luft": "Das CO2 in der Luft steigt.",
    "strasse": "Die Straße ist heute sehr lang.",
    "morgen": "Guten Morgen, wie geht es dir?",
    "buch": "Er liest ein Buch über Berlin.",
}
TRANSCRIPTS = {
    "zug": "der zug fährt um acht uhr ab",
    "kaffee": "wir trinken kaffee in der küche",
    "luft": "das c o zwei in der luft steigt",
    "strasse": "die strasse ist heute sehr lang",
    "morgen": "guten morgen wie geht es dir",
    "buch": "er liest ein buch über berlin",
}


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y"] + [str(a) for a in args], check=True)


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """``{key: 22050 Hz WAV path}`` of every sentence, spoken by espeak-ng."""
    assert shutil.which("espeak-ng") and shutil.which("ffmpeg"), "espeak-ng/ffmpeg missing: run bin/install.sh"
    folder = tmp_path_factory.mktemp("speech")
    paths = {}
    for key, sentence in SENTENCES.items():
        paths[key] = str(folder / (key + ".wav"))
        subprocess.run(["espeak-ng", "-v", "de", "-w", paths[key], sentence], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return paths


def seconds(path):
    with wave.open(path, "rb") as handle:
        return handle.getnframes() / float(handle.getframerate())


def no_part_files(folder):
    return [os.path.join(d, f) for d, _, files in os.walk(str(folder)) for f in files if f.endswith(".part")]


def transcripts(target):
    return {split: sorted(text for _, _, text in check_wavs(str(target / (split + ".csv"))))
            for split in ("train", "dev", "test")}


def split_line(output, split):
    return next(line for line in output.splitlines() if "{}.csv: kept".format(split) in line)


# ---------------------------------------------------------------------------------------------------------------
# Text rules


def test_german_corpus_text_rules():
    assert normalize_german(expand_co2("Das CO2-Problem")) == "das c o zwei problem"
    assert expand_co2("co2 und CO2") == "c o zwei und c o zwei"
    assert fold_to_ascii("café straße ﬁx") == "cafe straße fix"
    assert swc_number_words("ein tausend neun hundert achtzig er") == ("neunzehnhundert achtziger", None)
    assert swc_number_words("ein tausend acht hundert") == ("achtzehnhundert", None)
    assert swc_number_words("drei punkt null null null null null null") == ("drei millionen", None)
    assert swc_number_words("(Zitat): ende") == ("zitat ende", None)
    text, rule = swc_number_words("punkt null null eins")
    assert text is None and "punkt null" in rule
    assert swc_number_words("eins punkt null") == ("eins punkt null", None)  # anchored: only a leading one


def test_swc_chunking_and_split_sizes():
    # (text, start, end): untimed words join the next timed one; leading untimed words are dropped
    tokens = [("vorab", None, None), ("eins", 0, 400), ("und", None, None), ("zwei", 500, 900),
              ("drei", 1000, 1500)]
    assert swc.chunk_sentence(tokens, 10000, True) == [(0, 1500, "eins und zwei drei")]
    # a chunk that would pass max_ms is closed; the next starts where it ended
    assert swc.chunk_sentence(tokens, 1000, True) == [(0, 900, "eins und zwei"), (900, 1500, "drei")]
    # a word with a digit closes the chunk and is dropped
    numbered = [("a", 0, 100), ("1984", None, None), ("b", 300, 400)]
    assert swc.chunk_sentence(numbered, 10000, True) == [(0, 100, "a"), (300, 400, "b")]
    assert swc.chunk_sentence(numbered, 10000, False) == [(0, 400, "a 1984 b")]
    assert swc.chunk_sentence([("x", None, None)], 10000, True) == []
    assert [swc.sample_size(n) for n in (1000, 10000, 100000, 1000000)] == [331, 3097, 13548, 16359]
    # whole speakers, smallest first, alternately dev and test
    splits = swc.assign_splits(list(range(6)), ["anna"] * 3 + ["bernd"] * 2 + ["<unknown>"])
    assert splits == ["train"] * 3 + ["test"] * 2 + ["dev"]


def test_swc_audio_parts_in_number_order(tmp_path):
    for name in ("audio10.ogg", "audio2.ogg", "audio1.ogg", "aligned.swc", "audio.wav"):
        (tmp_path / name).write_bytes(b"")
    assert [os.path.basename(p) for p in swc.audio_parts(str(tmp_path))] == ["audio1.ogg", "audio2.ogg",
                                                                             "audio10.ogg"]


# ---------------------------------------------------------------------------------------------------------------
# Tuda-De

TUDA_XML = ('<?xml version="1.0" encoding="utf-8"?>\n<recording><speaker_id>{speaker}</speaker_id>'
            '<rate>16000</rate><sentence>{raw}</sentence><cleaned_sentence>{clean}</cleaned_sentence>'
            '<corpus>PARL</corpus><gender>male</gender></recording>\n')


def tuda_xml(folder, utterance, sentence, speaker="a1b2"):
    (folder / (utterance + ".xml")).write_text(TUDA_XML.format(speaker=speaker, raw=sentence, clean=sentence),
                                               encoding="utf-8")


def tuda_corpus(root, speech):
    """german-speechdata-package-v2/ with a damaged train folder; returns (package, repair function)."""
    package = root / "german-speechdata-package-v2"
    for split in ("train", "dev", "test"):
        (package / split).mkdir(parents=True)
    train = package / "train"
    layout = [("train", "2014-01-01-10-00-00", "zug", ("Kinect-RAW", "Samson")),
              ("train", "2014-01-01-10-00-01", "luft", ("Yamaha",)),
              ("dev", "2014-01-01-10-00-02", "kaffee", ("Realtek",)),
              ("test", "2014-01-01-10-00-03", "strasse", ("Samson",))]
    for split, utterance, key, mics in layout:
        tuda_xml(package / split, utterance, SENTENCES[key])
        for mic in mics:
            ffmpeg("-i", speech[key], "-ar", 16000, package / split / "{}_{}.wav".format(utterance, mic))
    # the damage: a cut-off XML, a WAV without XML, an XML without WAV, an empty sentence, an undecodable WAV
    (train / "2014-01-01-10-00-04.xml").write_text("<recording><cleaned_sentence>Guten Mor", encoding="utf-8")
    ffmpeg("-i", speech["morgen"], "-ar", 16000, train / "2014-01-01-10-00-04_Samson.wav")
    ffmpeg("-i", speech["buch"], "-ar", 16000, train / "2014-01-01-10-00-05_Samson.wav")
    tuda_xml(train, "2014-01-01-10-00-06", SENTENCES["kaffee"])
    tuda_xml(train, "2014-01-01-10-00-07", "")
    ffmpeg("-i", speech["zug"], "-ar", 16000, train / "2014-01-01-10-00-07_Yamaha.wav")
    tuda_xml(train, "2014-01-01-10-00-08", SENTENCES["strasse"])
    (train / "2014-01-01-10-00-08_Realtek.wav").write_bytes(BROKEN_AUDIO)

    def repair():
        tuda_xml(train, "2014-01-01-10-00-04", SENTENCES["morgen"])
        tuda_xml(train, "2014-01-01-10-00-05", SENTENCES["buch"])
        ffmpeg("-i", speech["kaffee"], "-ar", 16000, train / "2014-01-01-10-00-06_Kinect-Beam.wav")
        tuda_xml(train, "2014-01-01-10-00-07", SENTENCES["zug"])
        ffmpeg("-i", speech["strasse"], "-ar", 16000, train / "2014-01-01-10-00-08_Realtek.wav")
    return package, repair


@needs_audio_tools
def test_tuda_damaged_then_repaired(speech, tmp_path):
    package, repair = tuda_corpus(tmp_path, speech)
    target = tmp_path / "out"
    result = run_module(TUDA, "--tuda_dir", tmp_path, "--target", target, "--jobs", 2)
    output = result.output
    assert "Traceback" not in output
    assert transcripts(target) == {
        "train": sorted([TRANSCRIPTS["zug"]] * 2 + [TRANSCRIPTS["luft"]]),  # one row per microphone
        "dev": [TRANSCRIPTS["kaffee"]], "test": [TRANSCRIPTS["strasse"]]}
    train = split_line(output, "train")
    assert "kept 3 of 8 clips" in train
    for count in ("1 empty transcript", "1 audio missing", "1 conversion failed", "1 damaged metadata",
                  "1 no transcript"):
        assert count in train, train
    assert "train/2014-01-01-10-00-04.xml: cannot be parsed" in output
    assert "train/2014-01-01-10-00-05_Samson.wav: no 2014-01-01-10-00-05.xml" in output
    assert "train/2014-01-01-10-00-06.xml: no 2014-01-01-10-00-06_<microphone>.wav" in output
    assert "2014-01-01-10-00-08_Realtek.wav" in output and "could not be converted" in output
    assert not no_part_files(target)
    assert not os.path.exists(str(target / "clips" / "train" / "2014-01-01-10-00-08_Realtek.wav"))
    # Tuda-De's 16 kHz mono WAVs are copied sample for sample
    name = "2014-01-01-10-00-00_Samson.wav"
    with wave.open(str(package / "train" / name), "rb") as source, \
            wave.open(str(target / "clips" / "train" / name), "rb") as imported:
        assert imported.readframes(imported.getnframes()) == source.readframes(source.getnframes())

    repair()
    again = run_module(TUDA, "--tuda_dir", package, "--target", target)
    assert "Audio: 5 converted, 5 already converted (skipped), 0 failed." in again.output
    assert "train.csv: kept 8 of 8 clips" in again.output and "dropped none" in again.output
    assert len(transcripts(target)["train"]) == 8

    # a folder that is not the corpus: one line, exit 2
    wrong = run_module(TUDA, "--tuda_dir", package / "train", "--target", target, check=False)
    assert wrong.returncode == 2 and wrong.stderr.startswith("ERROR: --tuda_dir ")
    assert len(wrong.stderr.strip().splitlines()) == 1 and "Traceback" not in wrong.output


# ---------------------------------------------------------------------------------------------------------------
# Spoken Wikipedia

def swc_xml(speaker, sentences):
    """aligned.swc text: ``sentences`` are lists of (word, start ms or None, end ms, pronunciation)."""
    meta = '<prop key="DC.identifier" value="https://de.wikipedia.org/wiki/X" group="DC"/>'
    if speaker:
        meta += '<prop key="reader.name" value="{}"/>'.format(speaker)
    body = []
    for words in sentences:
        tokens = []
        for word, start, end, spoken in words:
            if start is None:
                tokens.append('<t text="{0}">{0}</t>'.format(word))
            else:
                tokens.append('<t>{}<n pronunciation="{}" start="{}" end="{}"/></t>'.format(word, spoken, start,
                                                                                           end))
        body.append("<s>{}</s>".format(" ".join(tokens)))
    ignored = '<ignored><s><t>Quellen<n pronunciation="quellen" start="0" end="300"/></t></s></ignored>'
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<article><meta>{}</meta><d><section><p>{}</p></section>{}</d>'
            '</article>\n'.format(meta, "".join(body), ignored))


def timed(key, offset_ms, duration_ms):
    """The words of a sentence spread evenly over its audio."""
    words = SENTENCES[key].rstrip(".?").replace(",", "").split()
    step = duration_ms / len(words)
    spoken = {"CO2": "c o zwei"}  # SWC's pronunciations spell numbers out
    return [(word, int(offset_ms + i * step), int(offset_ms + (i + 1) * step), spoken.get(word, word.lower()))
            for i, word in enumerate(words)]


def swc_article(folder, speech, keys, speaker, parts=1, extra=()):
    """An article folder: the sentences' speech as OGG Vorbis (44.1 kHz stereo, in ``parts`` files) and its
    alignment."""
    folder.mkdir(parents=True, exist_ok=True)
    offset, sentences = 0, []
    for key in keys:
        duration = int(seconds(speech[key]) * 1000)
        sentences.append(timed(key, offset, duration))
        offset += duration
    groups = [keys[i::parts] for i in range(parts)] if parts > 1 else [keys]
    if parts > 1:  # parts in order: audio1 holds the first sentences
        size = -(-len(keys) // parts)
        groups = [keys[i * size:(i + 1) * size] for i in range(parts)]
    for number, group in enumerate(groups, start=1):
        name = "audio.ogg" if parts == 1 else "audio{}.ogg".format(number)
        inputs = [w for key in group for w in ("-i", speech[key])]
        ffmpeg(*(inputs + ["-filter_complex", "concat=n={}:v=0:a=1".format(len(group)), "-ar", 44100, "-ac", 2,
                           "-c:a", "libvorbis", folder / name]))
    (folder / "aligned.swc").write_text(swc_xml(speaker, sentences + list(extra)), encoding="utf-8")
    return offset


def swc_corpus(root, speech):
    german = root / "german"
    end = swc_article(german / "Berlin", speech, ["zug", "kaffee", "strasse"], "Anna",
                      extra=[[("Gedankenstrich", 100, 900, "–")],  # an empty transcript
                             [("Sehr", None, None, ""), ("gut", None, None, "")]])  # no timed words
    assert end > 3000
    swc_article(german / "Köln", speech, ["morgen", "buch"], "Bernd", parts=2)
    swc_article(german / "Hamburg", speech, ["luft"], None)
    (german / "Defekt").mkdir()
    (german / "Defekt" / "aligned.swc").write_text("<article><meta><prop key=", encoding="utf-8")
    shutil.copy(str(german / "Hamburg" / "audio.ogg"), str(german / "Defekt" / "audio.ogg"))
    (german / "Stumm").mkdir()
    shutil.copy(str(german / "Hamburg" / "aligned.swc"), str(german / "Stumm" / "aligned.swc"))
    (german / "Kaputt").mkdir()
    shutil.copy(str(german / "Hamburg" / "aligned.swc"), str(german / "Kaputt" / "aligned.swc"))
    (german / "Kaputt" / "audio.ogg").write_bytes(b"OggS" + BROKEN_AUDIO)
    (german / "Ohne").mkdir()
    shutil.copy(str(german / "Hamburg" / "audio.ogg"), str(german / "Ohne" / "audio.ogg"))

    def repair():
        for name in ("Defekt", "Stumm", "Kaputt"):
            shutil.rmtree(str(german / name))
            swc_article(german / name, speech, ["luft"], "Carla")
    return german, repair


@needs_audio_tools
def test_swc_damaged_then_repaired(speech, tmp_path):
    german, repair = swc_corpus(tmp_path, speech)
    target = tmp_path / "out"
    result = run_module(SWC, "--swc_dir", tmp_path, "--target", target, "--jobs", 2)
    output = result.output
    assert "Traceback" not in output
    # 6 chunks, speakers Anna (3), Bernd (2), unknown (1): dev and test take the smallest speakers whole
    assert transcripts(target) == {
        "train": sorted(TRANSCRIPTS[k] for k in ("zug", "kaffee", "strasse")),
        "dev": [TRANSCRIPTS["luft"]], "test": sorted(TRANSCRIPTS[k] for k in ("morgen", "buch"))}
    skipped = next(line for line in output.splitlines() if line.startswith("Skipped before the split"))
    for count in ("1 empty transcript", "1 audio missing", "1 conversion failed", "1 damaged metadata",
                  "1 no transcript", "1 no timestamps"):
        assert count in skipped, skipped
    assert "Defekt/aligned.swc: cannot be parsed" in output
    assert "Stumm: no audio.ogg" in output and "Ohne: no aligned.swc" in output
    assert "Kaputt:" in output and "Berlin sentence 5: no timed words" in output
    assert "Quellen" not in (target / "train.csv").read_text(encoding="utf-8")  # the ignored section
    # the chunks are cut from the article at their times, from both parts of Köln in order
    rows = read_rows(str(target / "test.csv"))[1]
    durations = sorted(seconds(str(target / name)) for name, _, _ in rows)
    expected = sorted(int(seconds(speech[k]) * 1000) / 1000.0 for k in ("morgen", "buch"))
    assert durations == pytest.approx(expected, abs=0.02)
    assert all(name.startswith("clips/Köln/") for name, _, _ in rows)
    assert not no_part_files(target)

    repair()
    again = run_module(SWC, "--swc_dir", german, "--target", target)
    assert "Audio: 3 converted, 6 already converted (skipped), 0 failed." in again.output
    assert "Total: kept 9 clips" in again.output
    skipped = next(line for line in again.output.splitlines() if line.startswith("Skipped before the split"))
    assert "failed" not in skipped and "damaged" not in skipped and "missing" not in skipped


# ---------------------------------------------------------------------------------------------------------------
# M-AILABS

def mailabs_corpus(root, speech):
    """de_DE/by_book/{female,male,mix}/... with 22 kHz WAVs; the last book damaged."""
    books = [("by_book/female/eva_k/grune_haus", ["zug", "kaffee", "luft", "strasse"]),
             ("by_book/male/karlsson/kleine_lord", ["morgen", "buch", "zug", "kaffee"]),
             ("by_book/mix/sturmzeit", ["strasse", "morgen", "buch"])]
    language = root / "de_DE"
    for book, keys in books:
        folder = language / book
        (folder / "wavs").mkdir(parents=True)
        lines = []
        for number, key in enumerate(keys, start=1):
            name = "{}_{:02d}_f{:06d}".format(os.path.basename(book), 1, number)
            shutil.copy(speech[key], str(folder / "wavs" / (name + ".wav")))
            lines.append("{}|{}|{}".format(name, SENTENCES[key], SENTENCES[key].replace("CO2", "CO zwei")))
        (folder / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    damaged = language / books[2][0]
    good = (damaged / "metadata.csv").read_text(encoding="utf-8")
    lines = good.splitlines()
    lines.insert(1, "sturmzeit_01_f000009 this line lost its separators")  # damaged metadata
    lines[2] = lines[2].split("|")[0] + "|Buch|"  # an empty normalised text
    lines.append("sturmzeit_01_f000010|Fehlt.|Fehlt.")  # audio missing
    (damaged / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (damaged / "wavs" / "sturmzeit_01_f000001.wav").write_bytes(BROKEN_AUDIO)

    def repair():
        (damaged / "metadata.csv").write_text(good, encoding="utf-8")
        shutil.copy(speech["strasse"], str(damaged / "wavs" / "sturmzeit_01_f000001.wav"))
    return language, repair


@needs_audio_tools
def test_mailabs_damaged_then_repaired(speech, tmp_path):
    language, repair = mailabs_corpus(tmp_path, speech)
    target = tmp_path / "out"
    result = run_module(MAILABS, "--mailabs_dir", tmp_path, "--target", target, "--jobs", 2)
    output = result.output
    assert "Traceback" not in output
    # entries in path order (female, male, mix), i % 10: 0 test, 1 dev, rest train
    # entries 0-3 female, 4-7 male, 8-12 mix: 8 undecodable, 9 damaged line, 10 empty text, 12 missing WAV
    got = transcripts(target)
    assert got["test"] == [TRANSCRIPTS["zug"]]
    assert got["dev"] == sorted([TRANSCRIPTS["kaffee"], TRANSCRIPTS["buch"]])
    assert len(got["train"]) == 6
    train, test = split_line(output, "train"), split_line(output, "test")
    assert "kept 6 of 9 clips" in train and "1 damaged metadata" in train and "1 conversion failed" in train
    assert "1 audio missing" in train
    assert "kept 1 of 2 clips" in test and "1 empty transcript" in test
    assert "sturmzeit/metadata.csv line 2: 'sturmzeit_01_f000009 this line" in output
    assert not no_part_files(target)
    assert os.path.getsize(str(language / "by_book/mix/sturmzeit/wavs/sturmzeit_01_f000001.wav")) == \
        len(BROKEN_AUDIO)  # the corpus is never changed

    repair()
    again = run_module(MAILABS, "--mailabs_dir", language, "--target", target)
    assert "Audio: 2 converted, 9 already converted (skipped), 0 failed." in again.output
    assert "Total: kept 11 clips" in again.output
    skipped = run_module(MAILABS, "--mailabs_dir", language, "--target", tmp_path / "skip", "--skiplist",
                         "sturmzeit, lord")
    assert "not reading 2 metadata.csv file(s)" in skipped.output and "Total: kept 4 clips" in skipped.output


# ---------------------------------------------------------------------------------------------------------------
# VoxForge

def voxforge_corpus(root, speech):
    """Three sessions (WAV at 16 kHz, FLAC at 48 kHz, WAV at 22 kHz) and one without PROMPTS."""
    corpus = root / "voxforge-de"
    sessions = [("anna-20080101-abc", "wav", 16000, ["zug", "kaffee"]),
                ("bernd-20090202-def", "flac", 48000, ["luft", "strasse"]),
                ("carla-20100303-ghi", "wav", 22050, ["morgen", "buch"])]
    for session, kind, rate, keys in sessions:
        (corpus / session / "etc").mkdir(parents=True)
        (corpus / session / kind).mkdir()
        lines = []
        for number, key in enumerate(keys, start=1):
            name = "de-{:04d}".format(number)
            ffmpeg("-i", speech[key], "-ar", rate, corpus / session / kind / "{}.{}".format(name, kind))
            lines.append("{}/mfc/{} {}".format(session, name, SENTENCES[key].upper().rstrip(".?")))
        (corpus / session / "etc" / "PROMPTS").write_text("\n".join(lines) + "\n", encoding="utf-8")
    carla = corpus / "carla-20100303-ghi"
    good = (carla / "etc" / "PROMPTS").read_text(encoding="utf-8")
    (carla / "etc" / "PROMPTS").write_text(good + "carla-20100303-ghi/mfc/de-0003 FEHLT\n"
                                           "carla-20100303-ghi/mfc/de-0004\n", encoding="utf-8")
    shutil.copy(str(carla / "wav" / "de-0001.wav"), str(carla / "wav" / "de-0004.wav"))
    (carla / "wav" / "de-0002.wav").write_bytes(BROKEN_AUDIO)
    (corpus / "dora-20110404-jkl" / "wav").mkdir(parents=True)

    def repair():
        (carla / "etc" / "PROMPTS").write_text(good, encoding="utf-8")
        ffmpeg("-i", speech["buch"], "-ar", 22050, carla / "wav" / "de-0002.wav")
        shutil.rmtree(str(corpus / "dora-20110404-jkl"))
    return corpus, repair


@needs_audio_tools
def test_voxforge_damaged_then_repaired(speech, tmp_path):
    corpus, repair = voxforge_corpus(tmp_path, speech)
    target = tmp_path / "out"
    result = run_module(VOXFORGE, "--voxforge_dir", corpus, "--target", target, "--test_fraction", 0.25,
                        "--dev_fraction", 0.25, "--jobs", 2)
    output = result.output
    assert "Traceback" not in output
    assert "4 sessions: 1 test, 1 dev, 2 train" in output
    assert transcripts(target) == {"test": sorted(TRANSCRIPTS[k] for k in ("zug", "kaffee")),
                                   # from FLAC; "CO2" -> "co zwei" (the c o rule is Tuda-De's)
                                   "dev": sorted(["das co zwei in der luft steigt", TRANSCRIPTS["strasse"]]),
                                   "train": [TRANSCRIPTS["morgen"]]}
    train = split_line(output, "train")
    for count in ("1 empty transcript", "1 audio missing", "1 conversion failed", "1 damaged metadata"):
        assert count in train, train
    assert "dora-20110404-jkl: no etc/PROMPTS" in output
    assert not no_part_files(target)

    repair()
    again = run_module(VOXFORGE, "--voxforge_dir", corpus, "--target", target, "--test_fraction", 0.34,
                       "--dev_fraction", 0.34)
    assert "Audio: 1 converted, 5 already converted (skipped), 0 failed." in again.output
    assert "Total: kept 6 clips" in again.output and "dropped none" in split_line(again.output, "train")


def test_importers_refuse_missing_folders(tmp_path):
    for module, flag in ((TUDA, "--tuda_dir"), (SWC, "--swc_dir"), (MAILABS, "--mailabs_dir"),
                         (VOXFORGE, "--voxforge_dir")):
        result = run_module(module, flag, tmp_path / "nowhere", "--target", tmp_path / "out", check=False)
        assert result.returncode == 2, result.output
        assert result.stderr.startswith("ERROR: {} ".format(flag)) and "nowhere" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not os.path.exists(str(tmp_path / "out" / "train.csv"))


@needs_audio_tools
def test_interrupted_conversion_resumes_with_the_files_already_converted(speech, tmp_path):
    """Ctrl-C in the middle of a conversion: exit 130 with one line, no CSV, no half-written WAV; the same command
    again converts only what is left."""
    import signal
    import sys
    import time
    from conftest import subprocess_pythonpath
    book = tmp_path / "de_DE" / "by_book" / "female" / "eva" / "buch"
    (book / "wavs").mkdir(parents=True)
    clips = 120
    lines = []
    for number in range(clips):
        os.link(speech["zug"], str(book / "wavs" / "b_{:04d}.wav".format(number)))
        lines.append("b_{0:04d}|{1}|{1}".format(number, SENTENCES["zug"]))
    (book / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    target = tmp_path / "out"
    command = [sys.executable, "-m", MAILABS, "--mailabs_dir", str(tmp_path), "--target", str(target), "--jobs", "1"]
    environment = dict(os.environ, PYTHONPATH=subprocess_pythonpath(), PYTHONIOENCODING="utf-8")
    # A suite started in the background hands its children SIGINT ignored; a user's Ctrl-C reaches a shell's child.
    process = subprocess.Popen(command, env=environment, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               universal_newlines=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    clips_dir = target / "clips" / "by_book" / "female" / "eva" / "buch" / "wavs"
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if clips_dir.is_dir() and len([n for n in os.listdir(str(clips_dir)) if n.endswith(".wav")]) >= 10:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr
    assert "ERROR: interrupted; run the same command again to resume" in stderr
    assert not [name for name in os.listdir(str(target)) if name.endswith(".csv")]
    assert not no_part_files(target)
    done = sorted(n for n in os.listdir(str(clips_dir)) if n.endswith(".wav"))
    assert 10 <= len(done) < clips
    for name in done:  # every WAV left behind is complete
        assert common.wav_seconds(str(clips_dir / name)) == (pytest.approx(seconds(speech["zug"]), abs=0.01), None)

    again = run_module(MAILABS, "--mailabs_dir", tmp_path, "--target", target)
    assert "Audio: {} converted, {} already converted (skipped), 0 failed.".format(clips - len(done), len(done)) \
        in again.output
    assert "Total: kept {} clips".format(clips) in again.output


# ---------------------------------------------------------------------------------------------------------------
# The README's recipe, command by command, on the generated corpora

def readme_recipe():
    """The commands of the README's German source model section, as argument lists."""
    import re
    import shlex
    with io.open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        text = handle.read()
    section = text[text.index("## A German source model of the paper's lineage"):]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    commands = [shlex.split(line) for line in block.replace("\\\n", " ").splitlines() if line.strip()]
    for words in commands:
        assert words[:2] == [".venv/bin/python", "-m"], words
    return [words[2:] for words in commands]


@pytest.mark.slow
@needs_audio_tools
def test_readme_german_recipe_runs_as_written(speech, tmp_path, english_model):
    from test_lm import SMALL, make_corpus
    from test_paths import SHRINK
    work = tmp_path / "arbeit"
    work.mkdir()
    # Common Voice: one MP3 clip per split
    cv = work / "cv-corpus" / "de"
    (cv / "clips").mkdir(parents=True)
    for split, key in (("train", "zug"), ("dev", "kaffee"), ("test", "buch")):
        ffmpeg("-i", speech[key], cv / "clips" / (key + ".mp3"))
        (cv / (split + ".tsv")).write_text("client_id\tpath\tsentence\n{}\t{}.mp3\t{}\n".format(
            split, key, SENTENCES[key]), encoding="utf-8")
    for make in (tuda_corpus, swc_corpus, mailabs_corpus, voxforge_corpus):
        make(work, speech)[1]()  # the corpus, repaired
    make_corpus(str(work / "german_sentences.txt"))
    shutil.copytree(os.path.join(ROOT, "data", "alphabets"), str(work / "data" / "alphabets"))
    shutil.copytree(str(english_model), str(work / "runs" / "deepspeech-0.7.4-checkpoint"))

    extra = {"deepspeech_freeze.lm": SMALL + ["--top_k", 40], "deepspeech_freeze.train": SHRINK}
    commands = readme_recipe()
    assert [words[0] for words in commands] == [
        "deepspeech_freeze.importers." + name for name in ("common_voice", "tuda", "swc", "m_ailabs", "voxforge",
                                                            "merge")] + ["deepspeech_freeze.lm",
                                                                         "deepspeech_freeze.train"]
    outputs = {}
    for module, *args in commands:
        outputs[module] = run_module(module, *(args + extra.get(module, [])), cwd=work).output
        assert "Traceback" not in outputs[module]
    merged = {split: len(read_rows(str(work / "data" / "de-all" / (split + ".csv")))[1])
              for split in ("train", "dev", "test")}
    parts = {split: sum(len(read_rows(str(work / "data" / name / (split + ".csv")))[1])
                        for name in ("cv-de", "tuda", "swc", "m-ailabs", "voxforge"))
             for split in ("train", "dev", "test")}
    assert merged == parts and all(merged.values())
    for split in ("train", "dev", "test"):
        check_wavs(str(work / "data" / "de-all" / (split + ".csv")))  # paths relative to the merged folder
    assert os.path.isfile(str(work / "lm" / "de-all" / "kenlm.scorer"))
    assert "Test on" in outputs["deepspeech_freeze.train"] and "WER:" in outputs["deepspeech_freeze.train"]
    assert os.path.isdir(str(work / "runs" / "de-all"))


def test_import_in_batches_keeps_the_listing_order(speech, tmp_path, monkeypatch):
    """import_clips works through a generator in batches (memory stays flat): rows keep the listing order across
    batches, a WAV named again in a later batch is reused, Skips are counted, and nothing is left as .part."""
    monkeypatch.setattr(common, "BATCH", 2)
    keys = ["zug", "kaffee", "strasse", "morgen", "buch"]

    def entries():
        for number, key in enumerate(keys):
            yield common.Clip("train" if number % 2 == 0 else "dev", speech[key], "clips/{}.wav".format(key),
                              SENTENCES[key], "entry {}".format(number))
        yield common.Skip(None, "metadata", "listing line 9", "cut off")
        yield common.Clip("test", speech["zug"], "clips/zug.wav", SENTENCES["zug"], "entry 6")  # a later batch
        yield common.Clip("test", str(tmp_path / "gone.wav"), "clips/gone.wav", "Weg.", "entry 7")

    out = io.StringIO()
    summary = common.import_clips(common.Entries(entries, 8), str(tmp_path / "out"), None, normalize_german,
                                  jobs=2, out=out)
    assert [text for _, _, text in read_rows(str(tmp_path / "out" / "train.csv"))[1]] == \
        [TRANSCRIPTS[k] for k in ("zug", "strasse", "buch")]
    assert [text for _, _, text in read_rows(str(tmp_path / "out" / "dev.csv"))[1]] == \
        [TRANSCRIPTS[k] for k in ("kaffee", "morgen")]
    assert read_rows(str(tmp_path / "out" / "test.csv"))[1][0][0] == "clips/zug.wav"
    assert (summary["converted"], summary["reused"]) == (5, 1)
    assert summary["test"]["dropped"]["missing"] == 1 and summary["unsplit"]["metadata"] == 1
    assert "Skipped before the split: 1 damaged metadata" in out.getvalue()
    assert not no_part_files(tmp_path / "out")


def test_importer_scale_bench_runs(tmp_path):
    """bench/importer_scale.py at a tiny size: it generates the corpus, imports it and prints speed and memory."""
    import json
    import sys
    report = tmp_path / "r.json"
    result = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "importer_scale.py"), "--sizes", "30,60",
                             "--jobs", "1", "--output", str(report)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True)
    assert result.returncode == 0, result.stdout
    assert "CPU: " in result.stdout and "clips/s" in result.stdout
    results = json.loads(report.read_text())["results"]
    assert [r["clips"] for r in results] == [30, 60] and all(r["peak_rss_kib"] > 0 for r in results)
    assert "Total: kept 60 clips, 0.02 h of audio." in results[1]["report"]


@needs_audio_tools
def test_swc_flags_chunk_length_and_unknown_speakers(speech, tmp_path):
    german = tmp_path / "german"
    swc_article(german / "Berlin", speech, ["zug", "kaffee"], "Anna")
    swc_article(german / "Hamburg", speech, ["luft"], None)
    target = tmp_path / "out"
    result = run_module(SWC, "--swc_dir", german, "--target", target, "--max_seconds", 1.2,
                        "--exclude_unknown_speakers", "--add_meta")
    rows = []
    for split in ("train", "dev", "test"):
        header, split_rows = read_rows(str(target / (split + ".csv")))
        assert header == ["wav_filename", "wav_filesize", "transcript", "article", "speaker"]
        assert all(row[3:] == ["https://de.wikipedia.org/wiki/X", "Anna"] for row in split_rows)
        rows += [row[:3] for row in split_rows]
    assert len(rows) >= 4  # two sentences of about 2 s, cut into chunks of at most 1.2 s
    assert all(seconds(str(target / name)) <= 1.2 + 0.01 for name, _, _ in rows)
    assert not [name for name, _, _ in rows if name.startswith("clips/Hamburg/")]
    assert "excluded" in result.output and "unknown speaker (--exclude_unknown_speakers)" in result.output
    # the words of the chunks, in order, are the sentences' words
    words = " ".join(text for _, _, text in sorted(rows, key=lambda r: int(r[0].split("/")[-1].split("-")[0])))
    assert words == TRANSCRIPTS["zug"] + " " + TRANSCRIPTS["kaffee"]


def test_merge_keeps_splits_rewrites_paths_and_refuses_incomplete_sources(tmp_path):
    for corpus, names in (("a", ("x", "y")), ("b", ("z", "x"))):
        (tmp_path / corpus / "clips").mkdir(parents=True)
        for split in ("train", "dev", "test"):
            rows = []
            for name in names if split == "train" else names[:1]:
                wav = tmp_path / corpus / "clips" / "{}-{}.wav".format(split, name)
                wav.write_bytes(b"RIFF")
                rows.append("clips/{}-{}.wav,4,satz {}".format(split, name, name))
            (tmp_path / corpus / (split + ".csv")).write_text(
                "wav_filename,wav_filesize,transcript\n" + "\n".join(rows) + "\n", encoding="utf-8")
    # the same WAV listed by two sources is kept once
    with io.open(str(tmp_path / "b" / "train.csv"), "a", encoding="utf-8") as handle:
        handle.write("../a/clips/train-x.wav,4,satz x\n")
    result = run_module(MERGE, "--sources", "a,b", "--target", "all", "--lm_text", "all/lm.txt", cwd=tmp_path)
    train = read_rows(str(tmp_path / "all" / "train.csv"))[1]
    assert [name for name, _, _ in train] == ["../a/clips/train-x.wav", "../a/clips/train-y.wav",
                                              "../b/clips/train-z.wav", "../b/clips/train-x.wav"]
    assert [name for name, _, _ in read_rows(str(tmp_path / "all" / "dev.csv"))[1]] == \
        ["../a/clips/dev-x.wav", "../b/clips/dev-z.wav"]
    assert "1 clips listed more than once were kept once" in result.output
    assert (tmp_path / "all" / "lm.txt").read_text(encoding="utf-8").split("\n")[:4] == \
        ["satz x", "satz y", "satz z", "satz x"]

    before = (tmp_path / "all" / "train.csv").read_bytes()
    os.remove(str(tmp_path / "b" / "test.csv"))
    missing = run_module(MERGE, "--sources", "a,b", "--target", "all", cwd=tmp_path, check=False)
    assert missing.returncode == 2 and "b has no test.csv" in missing.stderr
    os.remove(str(tmp_path / "a" / "clips" / "dev-x.wav"))
    gone = run_module(MERGE, "--sources", "a", "--target", "all", cwd=tmp_path, check=False)
    assert gone.returncode == 2 and "dev.csv line 2: clips/dev-x.wav does not exist" in gone.stderr
    for result in (missing, gone):
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert (tmp_path / "all" / "train.csv").read_bytes() == before  # nothing written by a refused merge


@pytest.mark.parametrize("module, folder_flag", [("deepspeech_freeze.importers.voxforge", "--voxforge_dir"),
                                                 ("deepspeech_freeze.importers.swiss_german", "--source")])
@pytest.mark.parametrize("fractions, expected", [
    (["--dev_fraction=1.5"], "--dev_fraction is 1.5: give a fraction from 0 to below 1"),
    (["--test_fraction=-0.1"], "--test_fraction is -0.1: give a fraction from 0 to below 1"),
    (["--dev_fraction=0.5", "--test_fraction=0.5"], "--dev_fraction + --test_fraction is 1.0: leave some"),
])
def test_split_fractions_are_checked_before_any_work(tmp_path, module, folder_flag, fractions, expected):
    """Both importers that carve dev/test out by fraction refuse impossible fractions with one line, exit 2, before
    touching --target."""
    target = tmp_path / "out"
    result = run_module(module, folder_flag, tmp_path, "--target", target, *fractions, check=False)
    assert result.returncode == 2 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1 and expected in errors[0], result.output
    assert not target.exists()
