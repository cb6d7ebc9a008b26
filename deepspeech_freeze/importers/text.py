"""Transcript normalisation shared by the importers.

:func:`normalize_german` turns a written German sentence into what the paper's alphabets can spell: lower case,
numbers written out as words (or kept as digits for Swiss German), "ß" -> "ss", punctuation and quotes removed,
hyphens, slashes and dashes turned into spaces, whitespace collapsed. Umlauts and the word-internal apostrophe stay.
:func:`filter_to_alphabet` then says whether the result fits an alphabet, and which characters do not.

Numbers (German, ``keep_digits=False``):

- cardinals: "3 Äpfel" -> "drei äpfel"; thousands separators are understood ("1.000", "1'000" -> 1000);
- decimals: "3,5" -> "drei komma fünf" (the digits after the comma are read one by one);
- ordinals: a number with a full stop that is followed by a lower-case word or a month ("3. mal", "3. Mai"), or
  that follows an article or preposition ("im 21. Jahrhundert", "der 3. Platz"), becomes num2words' ordinal
  ("dritte"; the grammatical case ending, "dritten", is not attempted); any other number with a full stop (the end
  of a sentence) stays a cardinal;
- years: a lone four-digit number from 1100 to 1999 is read as a year ("1999" -> "neunzehnhundertneunundneunzig");
- "%" -> "prozent", "€" -> "euro", "$" -> "dollar", "£" -> "pfund", "&" -> "und", "+" -> "plus", "§" -> "paragraph",
  "°" -> "grad".

Anything else that is not punctuation (a foreign letter such as "é", an emoji, a rare symbol) is left in place so
that :func:`filter_to_alphabet` reports it and the importer drops the sample instead of silently changing it.
"""
import re
import unicodedata

from num2words import num2words

MONTHS = ("januar", "jänner", "februar", "märz", "april", "mai", "juni", "juli", "august", "september", "oktober",
          "november", "dezember")

# Words after which "N." is an ordinal even before a capitalised noun ("im 21. Jahrhundert", "der 3. Platz").
ORDINAL_CUES = ("der", "die", "das", "den", "dem", "des", "am", "im", "zum", "zur", "vom", "beim", "ins", "ans",
                "bis", "ab", "seit", "jeden", "jede", "jeder", "jedes", "ihr", "ihre", "sein", "seine", "unser",
                "unsere", "vor", "nach", "pro")

# Symbols read as words (German). Spaces around them keep neighbouring words apart.
SYMBOL_WORDS_DE = (("%", " prozent "), ("‰", " promille "), ("€", " euro "), ("$", " dollar "), ("£", " pfund "),
                   ("&", " und "), ("+", " plus "), ("§", " paragraph "), ("°", " grad "))

# Typographic apostrophes; between letters they become "'", elsewhere they are quotes and go away.
APOSTROPHES = "\u2019\u2018\u201b\u02bc\u00b4\u0060\u2032"

_THOUSANDS = re.compile(r"(?<![\d.,'’])(\d{1,3})(?:([.'’\u00a0\u202f])\d{3})(?:\2\d{3})*(?![\d]|[.,]\d)")
_QUOTED_WORD = re.compile(r"(?<!\w)['‘’‚`´]([^\W\d_]\w*)['‘’`´](?!\w)")
_DECIMAL = re.compile(r"(?<![\d,])(\d+),(\d+)(?![\d,])")
_ORDINAL = re.compile(r"(?:(\w+)\s+)?(?<![\d.,])(\d+)\.(?=\s+(\w+))")
_NUMBER = re.compile(r"\d+")
_DIGIT_LETTER = re.compile(r"(?<=\d)(?=[^\W\d_])|(?<=[^\W\d_])(?=\d)")
_SPACES = re.compile(r"\s+")


def _strip_thousands(text):
    """ "1.000.000" / "1'000" -> "1000000" / "1000" (well-formed groups of three; also a non-breaking space)."""
    def join(match):
        return re.sub(r"\D", "", match.group(0))
    return _THOUSANDS.sub(join, text)


def _german_number(number_text):
    """Cardinal words of a digit string ("007" -> "null null sieben", a leading zero is read digit by digit)."""
    if len(number_text) > 1 and number_text.startswith("0"):
        return " ".join(num2words(int(digit), lang="de") for digit in number_text)
    value = int(number_text)
    if len(number_text) == 4 and 1100 <= value <= 1999:
        return num2words(value, lang="de", to="year")
    return num2words(value, lang="de")


def _german_numbers_to_words(text):
    def decimal(match):
        return " {} komma {} ".format(_german_number(match.group(1)),
                                      " ".join(num2words(int(d), lang="de") for d in match.group(2)))

    def ordinal(match):
        previous, number, following = match.group(1) or "", match.group(2), match.group(3)
        if (following[:1].islower() or following.lower() in MONTHS or previous.lower() in ORDINAL_CUES):
            return "{} {} ".format(previous, num2words(int(number), lang="de", to="ordinal"))
        return match.group(0)  # a full stop that ends a sentence: stays a cardinal below

    text = _DECIMAL.sub(decimal, text)
    text = _ORDINAL.sub(ordinal, text)
    return _NUMBER.sub(lambda match: " {} ".format(_german_number(match.group(0))), text)


def _digits_decimal(text):
    """Keep-digits mode: "3,5" -> "3 komma 5" (a bare comma would otherwise merge or split the number silently)."""
    return _DECIMAL.sub(lambda match: " {} komma {} ".format(match.group(1), match.group(2)), text)


def _fix_apostrophes(text):
    """Word-internal apostrophes become "'", quote-like ones go away ("'Hallo'" -> "Hallo", "geht’s" -> "geht's")."""
    text = _QUOTED_WORD.sub(r"\1", text)  # "'Hallo'" -> "Hallo"
    chars = list(text)
    for i, char in enumerate(chars):
        if char in APOSTROPHES or char == "'":
            before = chars[i - 1] if i > 0 else " "
            after = chars[i + 1] if i + 1 < len(chars) else " "
            inside = before.isalpha() and after.isalpha()
            # "Hans' Hut" (genitive after s/x/z) and "'s" (short for "es"/"das") keep the apostrophe.
            genitive = before.lower() in "sxzß" and before.isalpha() and not after.isalpha()
            clitic = not before.isalpha() and after.lower() == "s" and (i + 2 >= len(chars) or
                                                                       not chars[i + 2].isalpha())
            chars[i] = "'" if (inside or genitive or clitic) else " "
    return "".join(chars)


def _remove_punctuation(text):
    """Punctuation (Unicode category P*) becomes a space, except the apostrophe; other characters are kept."""
    out = []
    for char in text:
        if char == "'":
            out.append(char)
        elif unicodedata.category(char).startswith("P"):
            out.append(" ")
        else:
            out.append(char)
    return "".join(out)


def _prepare(text, symbol_words):
    text = unicodedata.normalize("NFC", text or "")
    for symbol, words in symbol_words:
        text = text.replace(symbol, words)
    # Dashes, slashes and similar joiners separate words.
    for joiner in "-‐‑‒–—―/\\|_~·•":
        text = text.replace(joiner, " ")
    return text


def _finish(text):
    text = _fix_apostrophes(text)
    text = _remove_punctuation(text)
    return _SPACES.sub(" ", text).strip()


def normalize_german(text, keep_digits=False):
    """Normalise a German sentence for the German / Swiss German alphabets (see the module docstring)."""
    text = _prepare(text, SYMBOL_WORDS_DE)
    text = _strip_thousands(text)
    text = _DIGIT_LETTER.sub(" ", text)  # "3D" -> "3 D", "B2B" -> "B 2 B"
    if keep_digits:
        text = _digits_decimal(text)
    else:
        text = _german_numbers_to_words(text)
    text = text.lower()  # after the numbers: the ordinal rule looks at capitals; num2words' "ß" is handled next
    text = text.replace("ß", "ss")
    return _finish(text)


def normalize_text(text, language="de", keep_digits=False):
    """Normalise for ``language``: German rules for "de"; otherwise lower case, punctuation and whitespace, and
    numbers via num2words when it knows the language (digits are kept when it does not)."""
    if language == "de":
        return normalize_german(text, keep_digits=keep_digits)
    text = _prepare(text, ())
    text = _DIGIT_LETTER.sub(" ", text)
    if not keep_digits:
        def words(match):
            try:
                return " {} ".format(num2words(int(match.group(0)), lang=language))
            except (NotImplementedError, OverflowError, KeyError):
                return match.group(0)
        text = _NUMBER.sub(words, _strip_thousands(text))
    return _finish(text.lower())


def filter_to_alphabet(text, alphabet):
    """``(text, [])`` when every character of ``text`` is a label of ``alphabet`` (an ``Alphabet`` or ``None`` for
    no filtering); ``(None, sorted missing characters)`` when some are not; ``(None, [])`` for an empty text."""
    if not text:
        return None, []
    if alphabet is None:
        return text, []
    missing = alphabet.missing_characters(text)
    if missing:
        return None, sorted(missing)
    return text, []


# ----------------------------------------------------------------------------------------------------------------
# Rules of DeepSpeech 0.7.4's German corpus importers (Tuda-De, Spoken Wikipedia, M-AILABS), applied around
# normalize_german.

_CO2 = re.compile(r"\bco2\b", re.IGNORECASE)


def expand_co2(text):
    """Tuda-De's one number rule: "CO2" is read "c o zwei" (``import_tuda.py``); other numbers are left to
    :func:`normalize_german`."""
    return _CO2.sub("c o zwei", text)


def fold_to_ascii(text, alphabet=None, keep="äöüß"):
    """``--normalize`` of DeepSpeech's German importers: a character that is neither in ``keep`` nor in
    ``alphabet`` (an ``Alphabet``; ``None``: every character outside ``keep``) is replaced by its NFKD decomposition's
    ASCII part ("é" -> "e", "ﬁ" -> "fi"); a character with no ASCII form vanishes."""
    out = []
    for char in text:
        if char in keep or char == " " or (alphabet is not None and not alphabet.missing_characters(char)):
            out.append(char)
        else:
            out.append(unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode("ascii"))
    return "".join(out)


# Spoken Wikipedia's pronunciations spell numbers word by word ("ein tausend neun hundert vier und achtzig");
# import_swc.py joins the common patterns. Years: "ein tausend neun hundert achtzig er" -> "neunzehnhundert
# achtziger", "ein tausend acht hundert" -> "achtzehnhundert".
_SWC_DECADE = re.compile(r"\bein tausend (\w+) hundert (\w+) er\b")
_SWC_CENTURY = re.compile(r"\bein tausend (acht|neun) hundert\b")
# Digit groups read out after a "punkt" ("drei punkt null null null null null null" = 3.000.000).
_SWC_GROUPS = (
    (re.compile(r"\beins punkt null null null null null null null null null\b"), "eine milliarde"),
    (re.compile(r"\bpunkt null null null null null null null null null\b"), "milliarden"),
    (re.compile(r"\beins punkt null null null null null null\b"), "eine million"),
    (re.compile(r"\bpunkt null null null null null null\b"), "millionen"),
    (re.compile(r"\beins punkt null null null\b"), "ein tausend"),
    (re.compile(r"\bpunkt null null null\b"), "tausend"),
)
_SWC_DELETE = re.compile(r"[/()\[\]{}<>:]")


def swc_number_words(text):
    """``(text, None)`` with Spoken Wikipedia's spelled-out number patterns joined (``import_swc.py``'s German
    substitutions), or ``(None, rule)`` for a label that starts with "punkt null" (a digit group without its
    number, which import_swc.py rejects)."""
    text = _SWC_DELETE.sub("", text)
    text = _SPACES.sub(" ", text.lower()).strip()
    text = _SWC_DECADE.sub(lambda m: "{}zehnhundert {}er".format(m.group(1), m.group(2)), text)
    text = _SWC_CENTURY.sub(lambda m: "{}zehnhundert".format(m.group(1)), text)
    for pattern, words in _SWC_GROUPS:
        text = pattern.sub(words, text)
    if text.startswith("punkt null"):
        return None, "starts with 'punkt null' (a digit group without its number)"
    return text, None
