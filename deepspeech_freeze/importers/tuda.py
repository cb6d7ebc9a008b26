"""Tuda-De (German Distant Speech, ``german-speechdata-package-v2``) -> 16 kHz mono WAV + DeepSpeech CSVs, as
DeepSpeech 0.7.4's ``bin/import_tuda.py`` does.

Usage::

    python -m deepspeech_freeze.importers.tuda --tuda_dir german-speechdata-package-v2 --target data/tuda \\
        [--filter_alphabet data/alphabets/german.txt] [--normalize] [--max_seconds 10] [--jobs N]

``--tuda_dir`` is the extracted ``german-speechdata-package-v2.tar.gz`` (or the folder holding it): ``train/``,
``dev/`` and ``test/``, each with one ``<id>.xml`` per utterance and one WAV per microphone, ``<id>_<mic>.wav``
(Kinect-RAW, Kinect-Beam, Samson, Yamaha, Realtek). As in DeepSpeech:

- the corpus's own train/dev/test folders are the splits;
- **every microphone's WAV is its own clip** with the same transcript, the XML's first ``cleaned_sentence``; a WAV
  belongs to the XML named by the part of its name before the first ``_``;
- "CO2" is read "c o zwei"; ``--normalize`` replaces a character outside ä, ö, ü, ß and ``--filter_alphabet`` by
  its ASCII form ("é" -> "e");
- clips longer than ``--max_seconds`` (default 10) or with less than 30 ms of audio per transcript character are
  dropped.

Unlike DeepSpeech, the transcript goes through the shared German normalisation (numbers as words, "ß" -> "ss",
punctuation removed; DeepSpeech dropped every sentence with a digit, silently); each dropped sentence is counted and
reported like every other drop; the audio is converted (DeepSpeech only accepted 16 kHz mono 16-bit WAVs and dropped
the rest); and problems in the corpus are reported, never a traceback: an XML that cannot be parsed or has no
``cleaned_sentence`` ("damaged metadata"), a WAV without its XML ("no transcript"), an XML without any WAV ("audio
missing"), a WAV that cannot be read ("conversion failed"). WAVs go to ``TARGET/clips/<split>/``;
``TARGET/{train,dev,test}.csv``. Conversion, re-runs and the report are those of :mod:`.common`.
"""
import os
import xml.etree.ElementTree as ElementTree

from absl import flags

from ..errors import UserError, run_main
from . import common
from .text import expand_co2, fold_to_ascii, normalize_german

FLAGS = flags.FLAGS
PACKAGE = "german-speechdata-package-v2"


def package_folder(tuda_dir):
    """The folder holding train/, dev/ and test/: ``--tuda_dir`` itself or its ``german-speechdata-package-v2``."""
    what = "give the extracted german-speechdata-package-v2.tar.gz (the folder holding train/, dev/ and test/)"
    common.existing_folder("tuda_dir", tuda_dir, what)
    for folder in (tuda_dir, os.path.join(tuda_dir, PACKAGE)):
        present = [split for split in common.SPLITS if os.path.isdir(os.path.join(folder, split))]
        if present:
            missing = [split for split in common.SPLITS if split not in present]
            if missing:
                raise UserError("{} has no {} folder: the Tuda-De archive looks incompletely extracted; extract "
                                "it again".format(folder, " or ".join(missing)))
            return folder
    raise UserError("--tuda_dir {} has no train/, dev/ and test/ folders (nor {}/ with them): {}".format(
        tuda_dir, PACKAGE, what))


def read_sentence(xml_path):
    """``(cleaned sentence, None)`` of one utterance XML, or ``(None, problem)``."""
    try:
        root = ElementTree.parse(xml_path).getroot()
    except (ElementTree.ParseError, OSError) as err:
        return None, "cannot be parsed ({})".format(err)
    element = root.find(".//cleaned_sentence")
    if element is None:
        return None, "has no cleaned_sentence element"
    return element.text or "", None


def _listing(folder):
    """``({utterance: [wav names]}, {utterance: xml name})`` of one split folder."""
    wavs, xmls = {}, {}
    for name in sorted(os.listdir(folder)):
        if name.lower().endswith(".wav") and "_" in name:
            wavs.setdefault(name.split("_", 1)[0], []).append(name)
        elif name.lower().endswith(".xml"):
            xmls[os.path.splitext(name)[0]] = name
    return wavs, xmls


def tuda_clips(tuda_dir):
    """The corpus's entries (:class:`~.common.Entries`): a :class:`~.common.Clip` per microphone WAV, a
    :class:`~.common.Skip` per WAV whose XML is damaged or absent and per XML without any WAV; made one split
    folder at a time."""
    package = package_folder(tuda_dir)
    count = 0
    for split in common.SPLITS:
        wavs, xmls = _listing(os.path.join(package, split))
        count += sum(len(names) for names in wavs.values()) + len(set(xmls) - set(wavs))
    if not count:
        raise UserError("{} has no <id>.xml / <id>_<microphone>.wav files in train/, dev/ or test/: give the "
                        "extracted Tuda-De corpus".format(package))

    def entries():
        for split in common.SPLITS:
            folder = os.path.join(package, split)
            wavs, xmls = _listing(folder)
            for utterance in sorted(set(wavs) | set(xmls)):
                where = os.path.join(split, xmls.get(utterance, utterance + ".xml"))
                if utterance not in xmls:
                    for wav in wavs[utterance]:
                        yield common.Skip(split, "no_transcript", os.path.join(split, wav),
                                          "no {}.xml next to it".format(utterance))
                    continue
                if utterance not in wavs:
                    yield common.Skip(split, "missing", where, "no {}_<microphone>.wav next to it".format(utterance))
                    continue
                sentence, problem = read_sentence(os.path.join(folder, xmls[utterance]))
                for wav in wavs[utterance]:
                    if problem is not None:
                        yield common.Skip(split, "metadata", where, problem)
                        continue
                    yield common.Clip(split, os.path.abspath(os.path.join(folder, wav)),
                                      common.wav_name(os.path.join(split, wav)), sentence,
                                      "{} ({})".format(where, wav.split("_", 1)[1]))
    return common.Entries(entries, count)


def tuda_normalizer(alphabet, normalize):
    """The transcript of a ``cleaned_sentence``."""
    def transcript(text):
        text = normalize_german(expand_co2(text))
        return fold_to_ascii(text, alphabet) if normalize else text
    return transcript


def import_tuda(tuda_dir, target, alphabet, normalize=False, jobs=1, max_seconds=10.0, out=None):
    """Import Tuda-De into ``target``; returns the summary of :func:`.common.import_clips`."""
    return common.import_clips(tuda_clips(tuda_dir), target, alphabet, tuda_normalizer(alphabet, normalize),
                               jobs=jobs, max_seconds=max_seconds, ms_per_char=30.0, out=out)


def main(_argv):
    alphabet = common.check_common_flags(FLAGS)
    import_tuda(FLAGS.tuda_dir, FLAGS.target, alphabet, FLAGS.normalize, FLAGS.jobs, FLAGS.max_seconds)


def define_flags():
    flags.DEFINE_string("tuda_dir", "", "the extracted german-speechdata-package-v2 folder (train/, dev/, test/)")
    common.define_normalize_flag("sentence")
    common.define_common_flags(common.repo_path("data", "alphabets", "german.txt"), 10.0)


if __name__ == "__main__":
    define_flags()
    run_main(main)
