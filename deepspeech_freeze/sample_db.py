"""DeepSpeech 0.7.4's sample databases (``.sdb``) and its Opus container, read and written byte for byte as it does.

An SDB is one file holding many utterances, so a corpus on a network disk is read sequentially instead of as
thousands of small files. Layout (all integers unsigned big-endian)::

    b"SAMPLEDB" | u64 M | M bytes of JSON metadata (the schema) |
    u64 L (8 + bytes of all entries) | u64 N | N entries | u64 8 + 8N | u64 N | N x u64 absolute entry offsets

Each entry is ``u32 E`` (bytes that follow) and then, per schema column, ``u32 length`` + bytes: the audio (a whole
RIFF WAV file, or the Opus container below) and, in labelled databases, the UTF-8 transcript.

The Opus container is ``u32 PCM byte length | u32 sample rate | u8 channels | u8 sample width`` and then packets of
60 ms, each ``u16 length`` + the Opus packet (the last chunk zero-padded), encoded with application "audio".

This module is pure Python and numpy (opuslib for Opus); nothing here builds a graph.
"""
import io
import json
import os
import struct
import threading
import wave

import numpy as np

from .errors import UserError

MAGIC = b"SAMPLEDB"
MIME_OPUS = "application/vnd.mozilla.opus"
MIME_WAV = "audio/wav"
AUDIO_TYPES = {"opus": MIME_OPUS, "wav": MIME_WAV}
OPUS_FRAME_MS = 60
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
#: DeepSpeech's PCM <-> float scale (its pcm_to_np divides by the int16 maximum).
PCM_SCALE = 32767.0


# ----------------------------------------------------------------------------------------------------------------
# PCM and WAV


def pcm_to_float(pcm_bytes):
    """16-bit little-endian PCM bytes -> float32 samples in [-1, 1] (divided by 32767, as DeepSpeech)."""
    return np.frombuffer(pcm_bytes, dtype="<i2").astype(np.float32) / PCM_SCALE


def float_to_pcm(samples):
    """float samples -> 16-bit PCM bytes, x 32767 as DeepSpeech. Rounded (DeepSpeech truncates, so a float32 value
    a hair below its step loses the step on a round trip) and clipped at +-1 (DeepSpeech wraps around)."""
    scaled = np.clip(np.rint(np.asarray(samples, dtype=np.float64).reshape(-1) * PCM_SCALE), -32768, 32767)
    return scaled.astype("<i2").tobytes()


def wav_bytes(samples, sample_rate):
    """A whole mono 16-bit RIFF WAV file holding ``samples`` (floats in [-1, 1])."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(sample_rate)
        handle.writeframes(float_to_pcm(samples))
    return buffer.getvalue()


class DamagedAudio(UserError):
    """Audio bytes (a WAV file's, or an Opus container's) that are cut off or cannot be decoded; the message starts
    with where they are."""


def read_wav_bytes(data, where):
    """``(float32 samples, sample rate)`` of a mono 16-bit WAV file's bytes; ``where`` names it in errors."""
    try:
        with wave.open(io.BytesIO(data), "rb") as handle:
            if handle.getnchannels() != 1 or handle.getsampwidth() != 2:
                raise UserError("{}: {} channel(s), {}-bit: training audio must be mono 16-bit PCM".format(
                    where, handle.getnchannels(), 8 * handle.getsampwidth()))
            promised = handle.getnframes()
            pcm = handle.readframes(promised)
            rate = handle.getframerate()
    except (wave.Error, EOFError) as err:
        raise DamagedAudio("{}: not a PCM WAV file ({})".format(where, err))
    if len(pcm) < 2 * promised:  # wave returns what there is without a word
        raise DamagedAudio("{}: WAV audio cut off: its header promises {} samples, it holds {}".format(
            where, promised, len(pcm) // 2))
    return pcm_to_float(pcm), rate


# ----------------------------------------------------------------------------------------------------------------
# Opus container


def _opuslib():
    try:
        import opuslib  # pylint: disable=import-outside-toplevel
    except Exception as err:  # opuslib raises a plain Exception when libopus is missing
        raise UserError("Opus needs the Python package opuslib and the system library libopus ({}): "
                        "pip install opuslib==3.0.1 and apt-get install libopus0".format(err))
    return opuslib


def encode_opus(samples, sample_rate, bitrate=None):
    """float samples (mono) -> DeepSpeech's Opus container bytes (60 ms packets, application "audio")."""
    if sample_rate not in OPUS_RATES:
        raise UserError("Opus cannot store {} Hz audio (it supports {} Hz)".format(
            sample_rate, ", ".join(str(rate) for rate in OPUS_RATES)))
    opuslib = _opuslib()
    pcm = float_to_pcm(samples)
    encoder = opuslib.Encoder(sample_rate, 1, "audio")
    if bitrate:
        encoder.bitrate = int(bitrate)
    frame_samples = sample_rate * OPUS_FRAME_MS // 1000
    frame_bytes = frame_samples * 2
    out = [struct.pack(">IIBB", len(pcm), sample_rate, 1, 2)]
    for start in range(0, len(pcm), frame_bytes):
        chunk = pcm[start:start + frame_bytes]
        if len(chunk) < frame_bytes:
            chunk = chunk + b"\0" * (frame_bytes - len(chunk))
        packet = encoder.encode(chunk, frame_samples)
        out.append(struct.pack(">H", len(packet)) + packet)
    return b"".join(out)


def opus_duration(data):
    """Seconds of audio in an Opus container (from its header alone)."""
    pcm_length, rate, channels, width = struct.unpack(">IIBB", data[:10])
    return pcm_length / float(rate * channels * width)


def _opus_header(data, where):
    """``(PCM byte length, sample rate)`` from an Opus container's header, which must be mono 16-bit."""
    if len(data) < 10:
        raise DamagedAudio("{}: truncated Opus header ({} bytes)".format(where, len(data)))
    pcm_length, rate, channels, width = struct.unpack(">IIBB", data[:10])
    if channels != 1 or width != 2 or rate not in OPUS_RATES:
        raise DamagedAudio("{}: Opus header says {} Hz, {} channel(s), {}-bit: not DeepSpeech's mono 16-bit Opus"
                           .format(where, rate, channels, 8 * width))
    return pcm_length, rate


def opus_packets(data, where):
    """``(byte position, packet)`` of each packet an Opus container needs for the audio its header promises (one
    per 60 ms); a container cut off before its last packet is a :class:`DamagedAudio` naming the byte. Reading the
    packet lengths costs nothing next to decoding, so sample sets check this at start-up."""
    pcm_length, rate = _opus_header(data, where)
    frame_bytes = 2 * rate * OPUS_FRAME_MS // 1000
    needed = -(-pcm_length // frame_bytes)
    position = 10
    for number in range(needed):
        if position + 2 > len(data):
            raise DamagedAudio("{}: Opus audio cut off at byte {} (after {} of its {} packets)".format(
                where, position, number, needed))
        (size,) = struct.unpack(">H", data[position:position + 2])
        packet = data[position + 2:position + 2 + size]
        if len(packet) != size:
            raise DamagedAudio("{}: Opus packet at byte {} is cut off".format(where, position))
        yield position, packet
        position += 2 + size


def decode_opus(data, where="Opus data"):
    """DeepSpeech's Opus container bytes -> ``(float32 samples, sample rate)``."""
    pcm_length, rate = _opus_header(data, where)
    decoder = _opuslib().Decoder(rate, 1)
    frame_samples = rate * OPUS_FRAME_MS // 1000
    pcm = []
    for position, packet in opus_packets(data, where):
        try:
            pcm.append(decoder.decode(packet, frame_samples))
        except Exception as err:  # opuslib.OpusError, whose str() is libopus's reason as a bytes literal
            reason = str(err)
            reason = reason[2:-1] if reason[:2] in ("b'", 'b"') else reason
            raise DamagedAudio("{}: Opus packet at byte {} cannot be decoded ({})".format(where, position, reason))
    return pcm_to_float(b"".join(pcm)[:pcm_length]), rate


# ----------------------------------------------------------------------------------------------------------------
# Sample databases


def parse_file_size(text):
    """``--read_buffer``: ``1MB``, ``64k``, ``4096`` -> bytes (binary multiples k/m/g/t, a trailing b ignored).

    DeepSpeech concatenates every digit (``1.5MB`` is 15 MiB); a value with anything but digits and one unit is
    refused here instead."""
    value = text.strip().lower()
    if value.endswith("b"):
        value = value[:-1]
    power = 0
    if value and value[-1] in "kmgt":
        power = "kmgt".index(value[-1]) + 1
        value = value[:-1]
    if not value.isdigit():
        raise UserError("--read_buffer {}: use a whole number of bytes with an optional unit, e.g. 1MB, 512k or "
                        "65536".format(text))
    return int(value) * 1024 ** power


class SDBError(UserError):
    """A damaged or foreign sample database: the message names the file and the byte offset."""


class SDBWriter(object):
    """Writes a sample database in DeepSpeech 0.7.4's layout; entries in insertion order; ``close()`` (or leaving the
    ``with`` block) writes the index, without which the file cannot be read. The file is written under a temporary
    name and renamed at the end, so an interrupted conversion never leaves a file that looks complete."""

    def __init__(self, path, audio_type="opus", bitrate=None, labeled=True, buffering=1 << 20):
        if audio_type not in AUDIO_TYPES:
            raise UserError("audio type {}: use opus or wav".format(audio_type))
        self.path, self.audio_type, self.bitrate, self.labeled = path, audio_type, bitrate, labeled
        schema = [{"content": "speech", "mime-type": AUDIO_TYPES[audio_type]}]
        if labeled:
            schema.append({"content": "transcript", "mime-type": "text/plain"})
        meta = json.dumps({"schema": schema}).encode("utf-8")
        self.partial = path + ".partial"
        self.handle = open(self.partial, "wb", buffering=buffering)
        self.handle.write(MAGIC + struct.pack(">Q", len(meta)) + meta)
        self.data_start = self.handle.tell()
        self.handle.write(b"\0" * 16)  # L and N, filled in by close()
        self.offsets = []

    def add_encoded(self, audio_bytes, transcript=None):
        """Append an entry whose audio is already in this database's format (WAV file bytes or Opus container)."""
        columns = [audio_bytes]
        if self.labeled:
            columns.append((transcript or "").encode("utf-8"))
        body = b"".join(struct.pack(">I", len(column)) + column for column in columns)
        self.offsets.append(self.handle.tell())
        self.handle.write(struct.pack(">I", len(body)) + body)
        return len(self.offsets) - 1

    def add(self, samples, sample_rate, transcript=None):
        """Append float samples, encoded as this database's audio type."""
        if self.audio_type == "opus":
            encoded = encode_opus(samples, sample_rate, self.bitrate)
        else:
            encoded = wav_bytes(samples, sample_rate)
        return self.add_encoded(encoded, transcript)

    def close(self):
        """Write the index and move the finished file into place."""
        if self.handle is None:
            return
        index_start = self.handle.tell()
        count = len(self.offsets)
        self.handle.write(struct.pack(">QQ", 8 + 8 * count, count))
        self.handle.write(b"".join(struct.pack(">Q", offset) for offset in self.offsets))
        self.handle.seek(self.data_start)
        self.handle.write(struct.pack(">QQ", index_start - self.data_start - 8, count))
        self.handle.close()
        self.handle = None
        os.replace(self.partial, self.path)

    def abort(self):
        """Drop the unfinished file."""
        if self.handle is not None:
            self.handle.close()
            self.handle = None
            os.remove(self.partial)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *_exc):
        if exc_type is None:
            self.close()
        else:
            self.abort()


class SDB(object):
    """Reads a sample database: ``len(db)``, ``db.entry(i)`` (audio bytes, transcript or None), ``db.audio(i)``
    (float32 samples, rate), ``db.duration(i)``. Every structural problem is one :class:`SDBError` naming the file
    and the byte offset where the damage was found."""

    def __init__(self, path, labeled=None, buffering=1 << 20):
        self.path = path
        if not os.path.isfile(path):
            raise UserError("sample database {} does not exist".format(path))
        self.size = os.path.getsize(path)
        self.lock = threading.Lock()
        self.handle = open(path, "rb", buffering=buffering)
        if self._read(0, 8) != MAGIC:
            raise self._error(0, "not a sample database (no SAMPLEDB magic)")
        (meta_length,) = struct.unpack(">Q", self._read(8, 8))
        try:
            meta = json.loads(self._read(16, meta_length).decode("utf-8"))
            schema = meta["schema"]
        except (ValueError, KeyError, TypeError):
            raise self._error(16, "metadata is not DeepSpeech's JSON with a schema")
        speech = [i for i, column in enumerate(schema)
                  if column.get("content") == "speech" and column.get("mime-type") in (MIME_OPUS, MIME_WAV)]
        if not speech:
            raise self._error(16, "no speech data (missing in schema)")
        self.speech_column = speech[0]
        self.mime = schema[self.speech_column]["mime-type"]
        transcripts = [i for i, column in enumerate(schema) if column.get("content") == "transcript"]
        if labeled and not transcripts:
            raise self._error(16, "no transcript data (missing in schema): this database is unlabeled")
        self.transcript_column = transcripts[0] if transcripts and labeled is not False else None
        self.n_columns = len(schema)
        data_start = 16 + meta_length
        data_length, count = struct.unpack(">QQ", self._read(data_start, 16))
        index_start = data_start + 8 + data_length
        index_length, index_count = struct.unpack(">QQ", self._read(index_start, 16))
        if index_count != count or index_length != 8 + 8 * count:
            raise self._error(index_start, "wrong sample index ({} entries in the header, {} in the index)".format(
                count, index_count))
        raw = self._read(index_start + 16, 8 * count)
        self.offsets = list(struct.unpack(">{}Q".format(count), raw))
        for number, offset in enumerate(self.offsets):
            if not data_start + 16 <= offset < index_start:
                raise self._error(index_start + 16 + 8 * number, "wrong sample index (entry {} points to byte {}, "
                                  "outside the sample data)".format(number, offset))

    def _error(self, offset, what):
        return SDBError("sample database {} is damaged at byte {}: {}; rebuild it (python -m "
                        "deepspeech_freeze.build_sdb)".format(self.path, offset, what))

    def _read(self, offset, length):
        with self.lock:  # the input pipeline's parallel map reads through one shared handle
            self.handle.seek(offset)
            data = self.handle.read(length)
        if len(data) != length:
            raise self._error(offset, "file ends after {} of {} bytes (truncated, or an unfinished write)".format(
                len(data), length))
        return data

    def __len__(self):
        return len(self.offsets)

    def sample_id(self, index):
        """DeepSpeech's sample id ``<sdb path>:<index>``."""
        return "{}:{}".format(self.path, index)

    def entry(self, index):
        """``(audio bytes, transcript or None)`` of entry ``index``."""
        offset = self.offsets[index]
        (entry_length,) = struct.unpack(">I", self._read(offset, 4))
        position, columns = offset + 4, []
        for _ in range(self.n_columns):
            if position + 4 > offset + 4 + entry_length:
                raise self._error(position, "entry {} is shorter than its schema".format(index))
            (length,) = struct.unpack(">I", self._read(position, 4))
            if position + 4 + length > offset + 4 + entry_length:
                raise self._error(position, "entry {} has a column longer than the entry".format(index))
            columns.append(self._read(position + 4, length))
            position += 4 + length
        transcript = None
        if self.transcript_column is not None:
            try:
                transcript = columns[self.transcript_column].decode("utf-8")
            except UnicodeDecodeError:
                raise self._error(offset, "transcript of entry {} is not UTF-8".format(index))
        return columns[self.speech_column], transcript

    def _where(self, index):
        return "{} (sample {} at byte {})".format(self.path, index, self.offsets[index])

    def _damaged(self, err):
        """A :class:`DamagedAudio` of one entry as an :class:`SDBError` that says what to do."""
        return SDBError("{}; rebuild the sample database from the original audio (python -m "
                        "deepspeech_freeze.build_sdb)".format(err))

    def audio(self, index):
        """``(float32 samples, sample rate)`` of entry ``index``."""
        data, _ = self.entry(index)
        try:
            if self.mime == MIME_OPUS:
                return decode_opus(data, self._where(index))
            return read_wav_bytes(data, self._where(index))
        except DamagedAudio as err:
            raise self._damaged(err) from None

    def header(self, index):
        """``(sample rate, channels, sample width, n_samples)`` of entry ``index`` without decoding its audio. The
        audio's framing is checked too (an Opus container's packet lengths, a WAV file's length), so an entry cut
        off is found here; damage inside a packet shows only when it is decoded (:meth:`audio`)."""
        data, _ = self.entry(index)
        if self.mime == MIME_OPUS:
            if len(data) < 10:
                raise self._error(self.offsets[index], "Opus header of sample {} is cut off".format(index))
            pcm_length, rate, channels, width = struct.unpack(">IIBB", data[:10])
            if channels == 1 and width == 2 and rate in OPUS_RATES:  # any other format is refused by its caller
                try:
                    for _ in opus_packets(data, self._where(index)):
                        pass
                except DamagedAudio as err:
                    raise self._damaged(err) from None
            return rate, channels, width, pcm_length // max(1, channels * width)
        try:
            with wave.open(io.BytesIO(data), "rb") as handle:
                facts = handle.getframerate(), handle.getnchannels(), handle.getsampwidth(), handle.getnframes()
                held = len(handle.readframes(facts[3])) // max(1, facts[1] * facts[2])
        except (wave.Error, EOFError) as err:
            raise self._damaged("{}: not a PCM WAV file ({})".format(self._where(index), err)) from None
        if held < facts[3]:
            raise self._damaged("{}: WAV audio cut off: its header promises {} samples, it holds {}".format(
                self._where(index), facts[3], held))
        return facts

    def close(self):
        """Close the file."""
        self.handle.close()


def is_sdb(path):
    """Whether ``path`` names a sample database (by its extension, as DeepSpeech decides)."""
    return path.lower().endswith(".sdb")


def split_sample_id(sample_id):
    """``'/x/train.sdb:12'`` -> ``('/x/train.sdb', 12)``; a WAV path -> ``(path, None)``."""
    head, sep, tail = sample_id.rpartition(":")
    if sep and tail.isdigit() and is_sdb(head):
        return head, int(tail)
    return sample_id, None


_OPEN = {}


def open_sdb(path, buffering=1 << 20):
    """A per-process shared reader of ``path`` (loaders call this for every sample)."""
    key = (path, buffering)
    if key not in _OPEN:
        _OPEN[key] = SDB(path, labeled=None, buffering=buffering)
    return _OPEN[key]


def load_audio(sample_id, buffering=1 << 20):
    """``(float32 samples, rate)`` of a sample id: a WAV path or ``<sdb>:<index>``."""
    path, index = split_sample_id(sample_id)
    if index is None:
        with open(path, "rb") as handle:
            return read_wav_bytes(handle.read(), path)
    return open_sdb(path, buffering).audio(index)


def read_source(path, buffering=1 << 20):
    """All audio of a CSV or SDB (an overlay's noise source): a list of ``(sample id, float32 samples, rate)``.
    A CSV is taken in ascending ``wav_filesize`` (DeepSpeech's order), an SDB in stored order."""
    import csv  # pylint: disable=import-outside-toplevel
    if is_sdb(path):
        database = SDB(path, labeled=False, buffering=buffering)
        try:
            return [(database.sample_id(i),) + database.audio(i) for i in range(len(database))]
        finally:
            database.close()
    if not path.lower().endswith(".csv"):
        raise UserError("{}: unknown file type (use a .csv or .sdb file)".format(path))
    with io.open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if rows and "wav_filename" not in rows[0]:
        raise UserError("CSV file {} has no wav_filename column".format(path))
    base = os.path.dirname(os.path.abspath(path))
    rows.sort(key=lambda row: int(row.get("wav_filesize") or 0) if (row.get("wav_filesize") or "0").isdigit() else 0)
    result = []
    for row in rows:
        name = os.path.normpath(os.path.join(base, row["wav_filename"]))
        if not os.path.isfile(name):
            raise UserError("{}: {} does not exist".format(path, name))
        result.append((name,) + load_audio(name))
    return result
