"""Small synthetic speech corpora (English, German) made with espeak-ng, for the demo and the tests.

``python -m deepspeech_freeze.experiments.synth --language de --target DIR --count 260 --dev 30 --test 40``

Sentences come from a small grammar and vocabulary per language (English ~250 words, German ~130 words with
ä, ö, ü; "ß" is written "ss", as the paper's German alphabet has no ß). Every sentence is distinct, so no test
sentence is also a training sentence, but all splits share the grammar, the vocabulary and the voices: the test
sets are *in-domain*, and their error rates say nothing about real speech.

Each utterance gets a voice (espeak-ng voice + variant), a speed (words per minute) and a pitch drawn with a fixed
seed; espeak-ng writes a WAV, and sox (or ffmpeg) converts it to 16 kHz mono 16-bit PCM under ``DIR/clips/``.
``DIR/{train,dev,test}.csv`` are DeepSpeech CSVs with paths relative to ``DIR``. ``DIR/synth.json`` records the
settings: a second call with the same settings reuses the corpus (in well under a second).
"""
import argparse
import csv
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import wave
from multiprocessing.pool import ThreadPool

from ..alphabet import Alphabet
from ..errors import UserError, run_cli

# Bump when the grammar, the voices or the audio conversion change: cached corpora are then rebuilt.
VERSION = 1
MANIFEST = "synth.json"
SAMPLE_RATE = 16000
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# ----------------------------------------------------------------------------------------------------------------
# English grammar

EN = {
    "names": "anna peter maria john lucy david emma oliver sophie james alice henry grace thomas laura daniel "
             "kate michael sarah robert".split(),
    "adjectives": "old young small big red green blue yellow black white happy tired quiet noisy clean dirty "
                  "heavy light warm cold bright dark lazy clever funny strange famous empty busy gentle brave "
                  "little new wooden golden silver broken careful hungry friendly".split(),
    "nouns": "man woman child teacher doctor farmer driver baker dog cat horse bird fish cow sheep rabbit car "
             "bus train bike boat plane house garden kitchen window door table chair bed lamp book letter "
             "picture phone key bottle cup glass plate spoon knife apple bread cake cheese basket box bag coat "
             "hat shoe ball river road bridge tree flower stone clock radio pencil ticket map".split(),
    "verbs": [("see", "saw"), ("buy", "bought"), ("find", "found"), ("carry", "carried"), ("paint", "painted"),
              ("clean", "cleaned"), ("open", "opened"), ("close", "closed"), ("bring", "brought"),
              ("take", "took"), ("hold", "held"), ("sell", "sold"), ("wash", "washed"), ("watch", "watched"),
              ("follow", "followed"), ("draw", "drew"), ("push", "pushed"), ("pull", "pulled"),
              ("lose", "lost"), ("keep", "kept"), ("fix", "fixed"), ("move", "moved"), ("count", "counted"),
              ("visit", "visited"), ("throw", "threw"), ("catch", "caught"), ("show", "showed"),
              ("hide", "hid"), ("touch", "touched"), ("check", "checked")],
    "determiners": "the a this that every my your his her our their".split(),
    "prepositions": "in on under near behind beside over across into inside".split(),
    "places": "park market station school garden kitchen office village harbour forest library museum "
              "hospital corner square street".split(),
    "adverbs": "quickly slowly quietly carefully happily suddenly gently loudly proudly nearly".split(),
    "times": ["today", "yesterday", "this morning", "last night", "on monday", "on friday", "every day",
              "in the evening", "at noon", "after lunch", "before dinner", "last week"],
    "numbers": "two three four five six seven eight nine ten eleven twelve twenty".split(),
}


def _plural(noun):
    irregular = {"man": "men", "woman": "women", "child": "children", "fish": "fish", "sheep": "sheep",
                 "knife": "knives", "mouse": "mice"}
    if noun in irregular:
        return irregular[noun]
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def english_sentence(rng):
    """One English sentence from the grammar."""
    g = EN
    choice = rng.choice

    def noun_phrase():
        det = choice(g["determiners"])
        adjective = choice(g["adjectives"])
        if det == "a" and adjective[0] in "aeiou":
            det = "an"
        return "{} {} {}".format(det, adjective, choice(g["nouns"]))

    def place():
        return "{} the {}".format(choice(g["prepositions"]), choice(g["places"]))

    base, past = choice(g["verbs"])
    template = rng.randrange(6)
    if template == 0:
        words = [noun_phrase(), past, noun_phrase(), place()]
    elif template == 1:
        words = [choice(g["names"]), past, noun_phrase(), choice(g["times"])]
    elif template == 2:
        words = [noun_phrase(), choice(g["adverbs"]), past, noun_phrase()]
    elif template == 3:
        words = [choice(g["numbers"]), choice(g["adjectives"]), _plural(choice(g["nouns"])), "were", place()]
    elif template == 4:
        words = ["did", choice(g["names"]), base, noun_phrase(), choice(g["times"])]
    else:
        words = [choice(g["names"]), "will", base, noun_phrase(), place(), choice(g["times"])]
    return " ".join(words)


# ----------------------------------------------------------------------------------------------------------------
# German grammar (with agreement: nominative subject, accusative object, dative after place prepositions)

DE = {
    "names": "anna jürgen günter bärbel käthe sören jörg lena uwe björn hanna lukas".split(),
    # noun, gender (m/f/n), plural
    "nouns": [("mann", "m", "männer"), ("hund", "m", "hunde"), ("vogel", "m", "vögel"), ("apfel", "m", "äpfel"),
              ("löffel", "m", "löffel"), ("schlüssel", "m", "schlüssel"), ("stuhl", "m", "stühle"),
              ("bäcker", "m", "bäcker"), ("zug", "m", "züge"), ("bruder", "m", "brüder"),
              ("koch", "m", "köche"), ("korb", "m", "körbe"),
              ("frau", "f", "frauen"), ("tür", "f", "türen"), ("brücke", "f", "brücken"),
              ("strasse", "f", "strassen"), ("schüssel", "f", "schüsseln"), ("tochter", "f", "töchter"),
              ("küche", "f", "küchen"), ("mütze", "f", "mützen"), ("lehrerin", "f", "lehrerinnen"),
              ("blume", "f", "blumen"),
              ("kind", "n", "kinder"), ("mädchen", "n", "mädchen"), ("buch", "n", "bücher"),
              ("fenster", "n", "fenster"), ("brötchen", "n", "brötchen"), ("haus", "n", "häuser"),
              ("glas", "n", "gläser"), ("boot", "n", "boote"), ("fahrrad", "n", "fahrräder"),
              ("märchen", "n", "märchen")],
    # stems, inflected by the grammar (alt -> alte, alten)
    "adjectives": "alt jung klein gross grün rot blau müd fröhlich schön schwer leer warm kalt hell lustig bös "
                  "neu weiss hübsch dünn".split(),
    "verbs": "sieht kauft trägt hört öffnet füllt grüsst zählt wäscht sucht findet malt braucht holt bemerkt "
             "erklärt schätzt vergisst".split(),
    # preposition, and its contraction with dem (m/n) where German uses one
    "prepositions": [("in", "im"), ("auf", None), ("vor", None), ("hinter", None), ("neben", None),
                     ("unter", None), ("über", None), ("an", "am")],
    "times": ["heute", "morgen früh", "am abend", "übermorgen", "jeden tag", "schon wieder", "sehr gründlich",
              "ganz schnell", "später", "nächste woche"],
    "numbers": "zwei drei vier fünf sechs sieben acht neun zehn elf zwölf".split(),
}

_NOMINATIVE = {"m": "der", "f": "die", "n": "das"}
_ACCUSATIVE = {"m": "den", "f": "die", "n": "das"}
_DATIVE = {"m": "dem", "f": "der", "n": "dem"}


def german_sentence(rng):
    """One German sentence from the grammar (transcript spelling: lower case, ss for ß)."""
    g = DE
    choice = rng.choice

    def subject():
        noun, gender, _ = choice(g["nouns"])
        return "{} {}e {}".format(_NOMINATIVE[gender], choice(g["adjectives"]), noun)

    def obj():
        noun, gender, _ = choice(g["nouns"])
        ending = "en" if gender == "m" else "e"
        return "{} {}{} {}".format(_ACCUSATIVE[gender], choice(g["adjectives"]), ending, noun)

    def place():
        noun, gender, _ = choice(g["nouns"])
        preposition, contraction = choice(g["prepositions"])
        adjective = choice(g["adjectives"]) + "en"
        if gender in "mn" and contraction:
            return "{} {} {}".format(contraction, adjective, noun)
        return "{} {} {} {}".format(preposition, _DATIVE[gender], adjective, noun)

    template = rng.randrange(5)
    if template == 0:
        words = [subject(), choice(g["verbs"]), obj(), place()]
    elif template == 1:
        words = [choice(g["names"]), choice(g["verbs"]), obj(), choice(g["times"])]
    elif template == 2:
        words = [choice(g["times"]), choice(g["verbs"]), subject(), obj()]
    elif template == 3:
        _, _, plural = choice(g["nouns"])
        words = [choice(g["names"]), "zählt", choice(g["numbers"]), choice(g["adjectives"]) + "e", plural,
                 place()]
    else:
        words = [subject(), choice(g["verbs"]), obj(), choice(g["times"])]
    return " ".join(words)


LANGUAGES = {
    "en": {"sentence": english_sentence, "alphabet": "english.txt",
           # espeak-ng voices with variants (male m1-m7, female f1-f5): 8 speakers
           "voices": ["en-us+m1", "en-us+f2", "en+m3", "en+f4", "en-gb-scotland+m5", "en-gb-x-rp+f3",
                      "en-029+m2", "en-us+m7"]},
    "de": {"sentence": german_sentence, "alphabet": "german.txt",
           "voices": ["de+m1", "de+f2", "de+m3", "de+f4", "de+m5", "de+f3"]},
}
SPEEDS = (130, 180)  # words per minute, drawn uniformly
PITCHES = (35, 65)  # espeak-ng pitch 0-99, drawn uniformly


def vocabulary(language, count=2000, seed=0):
    """The distinct words of ``count`` sentences (an estimate of the grammar's vocabulary, for the docs)."""
    rng = random.Random(seed)
    make = LANGUAGES[language]["sentence"]
    return sorted({word for _ in range(count) for word in make(rng).split()})


def make_sentences(language, count, rng):
    """``count`` distinct sentences (a UserError when the grammar cannot produce that many)."""
    make = LANGUAGES[language]["sentence"]
    seen, sentences = set(), []
    tries = 0
    while len(sentences) < count:
        tries += 1
        if tries > 50 * count + 1000:
            raise UserError("the {} grammar produced only {} distinct sentences; ask for fewer".format(
                language, len(sentences)))
        sentence = make(rng)
        if sentence not in seen:
            seen.add(sentence)
            sentences.append(sentence)
    return sentences


# ----------------------------------------------------------------------------------------------------------------
# Audio


def _converter():
    for tool in ("sox", "ffmpeg"):
        if shutil.which(tool):
            return tool
    raise UserError("neither sox nor ffmpeg is installed: install one (e.g. apt-get install sox)")


def check_tools():
    """The audio converter to use; a UserError when espeak-ng or both converters are missing."""
    if not shutil.which("espeak-ng"):
        raise UserError("espeak-ng is not installed: install it (apt-get install espeak-ng) to synthesise speech")
    return _converter()


def synthesize(text, voice, speed, pitch, wav_path, converter):
    """Speak ``text`` into ``wav_path`` (16 kHz mono 16-bit PCM); the file appears only when complete."""
    with tempfile.TemporaryDirectory(prefix="dsf-synth-") as tmp:
        raw = os.path.join(tmp, "espeak.wav")
        _run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", raw, text], text)
        part = wav_path + ".part.wav"
        if converter == "sox":
            command = ["sox", "-V1", raw, "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", "-e", "signed-integer",
                       part]
        else:
            command = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", raw, "-ac", "1", "-ar",
                       str(SAMPLE_RATE), "-acodec", "pcm_s16le", "-fflags", "+bitexact", "-flags:a", "+bitexact",
                       part]
        _run(command, text)
        os.replace(part, wav_path)


def _run(command, text):
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if result.returncode != 0:
        raise UserError("{} failed for {!r}: {}".format(command[0], text, result.stderr.decode("utf-8", "replace")
                                                        .strip().splitlines()[-1:] or result.returncode))


def wav_seconds(path):
    with wave.open(path, "rb") as handle:
        return handle.getnframes() / float(handle.getframerate())


# ----------------------------------------------------------------------------------------------------------------
# Corpus


def build_corpus(language, target, count, dev=0, test=0, seed=1, jobs=None, out=None):
    """Synthesise (or reuse) a corpus in ``target``; returns its manifest (settings, sizes, seconds per split)."""
    out = out or sys.stdout
    if language not in LANGUAGES:
        raise UserError("--language {}: choose one of {}".format(language, ", ".join(sorted(LANGUAGES))))
    if count < 3 or dev < 0 or test < 0 or dev + test >= count:
        raise UserError("--count {} with --dev {} and --test {}: the training split would be empty".format(
            count, dev, test))
    spec = LANGUAGES[language]
    settings = {"version": VERSION, "language": language, "count": count, "dev": dev, "test": test,
                "seed": seed, "voices": spec["voices"], "speeds": list(SPEEDS), "pitches": list(PITCHES)}
    target = os.path.abspath(target)
    cached = _read_manifest(target)
    if cached is not None and cached.get("settings") == settings and _complete(target, cached):
        out.write("[synth] {}: reusing {} utterances in {}\n".format(language, count, target))
        return cached

    converter = check_tools()
    rng = random.Random("{}-{}".format(language, seed))
    sentences = make_sentences(language, count, rng)
    alphabet = Alphabet(os.path.join(ROOT, "data", "alphabets", spec["alphabet"]))
    for sentence in sentences:
        missing = alphabet.missing_characters(sentence)
        if missing:  # a grammar bug, never the user's
            raise AssertionError("{!r} has characters outside {}: {}".format(sentence, alphabet.path, missing))
    splits = ["test"] * test + ["dev"] * dev + ["train"] * (count - dev - test)
    utterances = []
    for index, (sentence, split) in enumerate(zip(sentences, splits)):
        utterances.append({"split": split, "transcript": sentence,
                           "wav": os.path.join("clips", "{}-{:05d}.wav".format(language, index)),
                           "voice": rng.choice(spec["voices"]), "speed": rng.randint(*SPEEDS),
                           "pitch": rng.randint(*PITCHES)})
    os.makedirs(os.path.join(target, "clips"), exist_ok=True)
    if os.path.exists(os.path.join(target, MANIFEST)):
        os.remove(os.path.join(target, MANIFEST))  # invalid until this build completes

    def job(utterance):
        synthesize(utterance["transcript"], utterance["voice"], utterance["speed"], utterance["pitch"],
                   os.path.join(target, utterance["wav"]), converter)
        return wav_seconds(os.path.join(target, utterance["wav"]))

    pool = ThreadPool(jobs or max(2, os.cpu_count() or 1))
    try:
        seconds = pool.map(job, utterances)
    finally:
        pool.close()
        pool.join()
    summary = {}
    for split in ("train", "dev", "test"):
        chosen = [(u, s) for u, s in zip(utterances, seconds) if u["split"] == split]
        with io.open(os.path.join(target, split + ".csv"), "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(("wav_filename", "wav_filesize", "transcript"))
            for utterance, _ in chosen:
                writer.writerow((utterance["wav"], os.path.getsize(os.path.join(target, utterance["wav"])),
                                 utterance["transcript"]))
        summary[split] = {"utterances": len(chosen), "seconds": round(sum(s for _, s in chosen), 2)}
    manifest = {"settings": settings, "splits": summary,
                "vocabulary": len({w for u in utterances for w in u["transcript"].split()}),
                "note": "synthetic espeak-ng speech; dev and test are in-domain (same grammar, vocabulary and "
                        "voices as train)"}
    with io.open(os.path.join(target, MANIFEST), "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2, ensure_ascii=False)
    out.write("[synth] {}: {} utterances ({} words of vocabulary, {} voices) in {}: {}\n".format(
        language, count, manifest["vocabulary"], len(spec["voices"]), target,
        ", ".join("{} {} ({:.0f} s)".format(split, v["utterances"], v["seconds"]) for split, v in summary.items())))
    return manifest


def _read_manifest(target):
    try:
        with io.open(os.path.join(target, MANIFEST), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def _complete(target, manifest):
    for split in ("train", "dev", "test"):
        path = os.path.join(target, split + ".csv")
        if not os.path.isfile(path):
            return False
        with io.open(path, encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        if len(rows) != manifest["splits"][split]["utterances"]:
            return False
        if not all(os.path.isfile(os.path.join(target, row["wav_filename"])) for row in rows):
            return False
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m deepspeech_freeze.experiments.synth",
                                     description="Synthesise a small in-domain speech corpus with espeak-ng.")
    parser.add_argument("--language", required=True, choices=sorted(LANGUAGES))
    parser.add_argument("--target", required=True, help="folder for clips/ and train/dev/test.csv")
    parser.add_argument("--count", type=int, default=300, help="utterances in all (default 300)")
    parser.add_argument("--dev", type=int, default=30, help="of which in dev.csv (default 30)")
    parser.add_argument("--test", type=int, default=30, help="of which in test.csv (default 30)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of sentences, voices, speeds (default 1)")
    parser.add_argument("--jobs", type=int, default=None, help="parallel syntheses (default: CPUs, at least 2)")
    args = parser.parse_args(argv)
    run_cli(build_corpus, args.language, args.target, args.count, args.dev, args.test, args.seed, args.jobs)


if __name__ == "__main__":
    main()
