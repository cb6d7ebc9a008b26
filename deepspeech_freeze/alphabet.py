"""Alphabet files as DeepSpeech 0.7 reads them, and text <-> label conversion.

Format: one UTF-8 label per line, the label index is the line order, lines starting with ``#`` are comments, a line
starting with ``\\#`` is the literal ``#`` label, and a line holding one space is the space label.
"""
import io
import os
import struct

from .errors import UserError


class Alphabet(object):
    """The labels of an alphabet file. The CTC blank is not a label: it is index ``size`` (the last output)."""

    def __init__(self, path):
        self.path = path
        if not path:
            raise UserError("no alphabet file given: set --alphabet_config_path (e.g. data/alphabets/english.txt)")
        if not os.path.isfile(path):
            raise UserError("alphabet file {} does not exist: check --alphabet_config_path".format(path))
        try:
            with io.open(path, "r", encoding="utf-8", newline="") as handle:
                text = handle.read()
        except UnicodeDecodeError as err:
            raise UserError("alphabet file {} is not valid UTF-8 ({}): save it as UTF-8".format(path, err))
        self.labels = parse_alphabet_text(text, path)
        self._index = {label: i for i, label in enumerate(self.labels)}

    @classmethod
    def from_labels(cls, labels, path):
        """An alphabet of ``labels`` that were read elsewhere (a run record); ``path`` names where, in messages."""
        alphabet = cls.__new__(cls)
        alphabet.path = path
        alphabet.labels = list(labels)
        alphabet._index = {label: i for i, label in enumerate(alphabet.labels)}
        return alphabet

    @property
    def size(self):
        """Number of labels, without the CTC blank."""
        return len(self.labels)

    def encode(self, transcript, where=""):
        """Label indices of ``transcript``; a character outside the alphabet is a :class:`UserError`."""
        try:
            return [self._index[char] for char in transcript]
        except KeyError as err:
            raise UserError(
                "{}transcript {!r} contains {!r}, which is not in alphabet {}: add it to the alphabet or remove "
                "the sample (importers have --filter_alphabet)".format(where, transcript, err.args[0], self.path))

    def missing_characters(self, transcript):
        """The characters of ``transcript`` that are not labels, in order of first appearance."""
        seen = []
        for char in transcript:
            if char not in self._index and char not in seen:
                seen.append(char)
        return seen

    def decode(self, labels):
        """Text of a label sequence (no blanks expected)."""
        return "".join(self.labels[i] for i in labels)

    def serialize(self):
        """DeepSpeech's binary form (read by ds_ctcdecoder and stored in exported models).

        A little-endian uint16 count, then for each label: uint16 index, uint16 byte length, UTF-8 bytes.
        """
        out = [struct.pack("<H", self.size)]
        for index, label in enumerate(self.labels):
            data = label.encode("utf-8")
            out.append(struct.pack("<HH", index, len(data)))
            out.append(data)
        return b"".join(out)


def parse_alphabet_text(text, path="<alphabet>"):
    """Labels of an alphabet file's text; raises :class:`UserError` for an empty alphabet or duplicates."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline after the last label
    elif lines and lines[-1] != "":
        # DeepSpeech silently drops a last label without newline; we accept it but only if it is not a comment.
        pass
    labels = []
    for number, line in enumerate(lines, start=1):
        line = line[:-1] if line.endswith("\r") else line
        if line.startswith("#"):
            continue
        if line.startswith("\\#"):
            line = "#" + line[2:]
        if line == "":
            raise UserError("alphabet file {} line {} is empty: each line holds one label (a single space for the "
                            "space label)".format(path, number))
        if line in labels:
            raise UserError("alphabet file {} line {} repeats the label {!r}".format(path, number, line))
        labels.append(line)
    if not labels:
        raise UserError("alphabet file {} holds no labels: add one label per line".format(path))
    return labels
