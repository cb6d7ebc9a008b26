"""List the characters of DeepSpeech CSVs and write an alphabet file from them (DeepSpeech 0.7.4's
``util/check_characters.py``, with its arguments).

``python -m deepspeech_freeze.check_characters -csv train.csv,dev.csv [-alpha] [-unicode] [--output alphabet.txt]``

* prints the unique characters of every transcript as a list, or with ``-alpha``/``--alphabet-format`` one per
  line (the space is a line holding one space);
* by default refuses a transcript that Unicode NFKC normalisation would change (the same letter can be stored in
  two ways, e.g. ``ä`` as one code point or as ``a`` + combining diaeresis, and an alphabet then needs both);
  ``-unicode``/``--disable-unicode-variants`` skips that check;
* ``--output FILE`` (ours) writes the characters as an alphabet file that ``--alphabet_config_path`` reads.

Deliberate differences from DeepSpeech: the ``transcript`` column is found by its header name (DeepSpeech always
reads the third column); characters are printed sorted (DeepSpeech prints Python's set order, which changes from
run to run); a problem is one message naming the file and row with exit status 2 like every other command here (DeepSpeech exits -1).
"""
import argparse
import csv
import io
import os
import sys
import unicodedata

from .alphabet import parse_alphabet_text
from .errors import UserError

#: DeepSpeech's CSV column, read by name here.
TRANSCRIPT = "transcript"


def characters_of(csv_paths, check_unicode=True):
    """The sorted unique characters of the transcripts of ``csv_paths``; a :class:`UserError` names the file and
    row of an unreadable CSV or (with ``check_unicode``) of a transcript that NFKC normalisation changes."""
    found = set()
    for path in csv_paths:
        if not os.path.isfile(path):
            raise UserError("CSV file {} does not exist".format(path))
        try:
            with io.open(path, encoding="utf-8", newline="") as handle:
                reader = csv.reader(handle)
                header = next(reader, None)
                if header is None or TRANSCRIPT not in header:
                    raise UserError("{} has no '{}' column in its header row ({}): DeepSpeech CSVs have the "
                                    "columns wav_filename,wav_filesize,transcript".format(
                                        path, TRANSCRIPT, ",".join(header or [])))
                column = header.index(TRANSCRIPT)
                for row_number, row in enumerate(reader, start=2):
                    if not row:
                        continue
                    if len(row) <= column:
                        raise UserError("{} row {} has {} column(s) but no transcript (column {})".format(
                            path, row_number, len(row), column + 1))
                    transcript = row[column]
                    if check_unicode and unicodedata.normalize("NFKC", transcript) != transcript:
                        raise UserError(
                            "{} row {}: transcript {!r} has characters that Unicode NFKC normalisation changes (to "
                            "{!r}): normalise the transcripts, or pass --disable-unicode-variants to list them as "
                            "they are".format(path, row_number, transcript,
                                              unicodedata.normalize("NFKC", transcript)))
                    found.update(transcript)
        except UnicodeDecodeError as err:
            raise UserError("CSV file {} is not valid UTF-8 ({}): save it as UTF-8".format(path, err))
        except csv.Error as err:
            raise UserError("CSV file {} cannot be read as CSV ({})".format(path, err))
    return sorted(found)


def alphabet_text(characters):
    """The alphabet file holding ``characters`` (one per line; ``#`` escaped, as comments start with it)."""
    lines = ["\\#" if char == "#" else char for char in characters]
    text = "# Each line is one label; the line order is the output layer's order.\n" + "".join(
        line + "\n" for line in lines)
    parse_alphabet_text(text)  # a file that the alphabet reader would not read back is a bug here
    return text


def write_alphabet(path, characters):
    """Write the alphabet file; refuses to write over an existing file or into a missing directory."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UserError("--output {}: directory {} does not exist".format(path, directory))
    if os.path.exists(path):
        raise UserError("--output {} exists; choose another file name or remove it first".format(path))
    unsafe = [char for char in characters if char in "\r\n"]
    if unsafe:
        raise UserError("the transcripts hold line breaks ({!r}), which an alphabet file cannot hold as labels: "
                        "clean the transcripts".format(unsafe))
    with io.open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(alphabet_text(characters))


def parse_args(argv):
    parser = argparse.ArgumentParser(description="List the characters of DeepSpeech CSV transcripts")
    parser.add_argument("-csv", "--csv-files", required=True, help="comma-separated CSV files")
    parser.add_argument("-alpha", "--alphabet-format", action="store_true",
                        help="print one character per line, as an alphabet file holds them")
    parser.add_argument("-unicode", "--disable-unicode-variants", action="store_true",
                        help="do not refuse transcripts that Unicode NFKC normalisation changes")
    parser.add_argument("--output", default="", help="also write the characters as an alphabet file here")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    paths = [path.strip() for path in args.csv_files.split(",") if path.strip()]
    try:
        if not paths:
            raise UserError("-csv/--csv-files is empty: give one or more CSV files, comma-separated")
        print("### Reading in the following transcript files: ###")
        print("### {} ###".format(paths))
        characters = characters_of(paths, check_unicode=not args.disable_unicode_variants)
        print("### The following unique characters were found in your transcripts: ###")
        if args.alphabet_format:
            for char in characters:
                print(char)
            print("### ^^^ You can copy-paste these into data/alphabet.txt ###")
        else:
            print(characters)
        if args.output:
            write_alphabet(args.output, characters)
            print("### Wrote the alphabet file {} ({} labels) ###".format(args.output, len(characters)))
    except UserError as err:
        print("ERROR: {}".format(err), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
