"""WAV files and the in-graph features (spectrogram -> MFCC), as DeepSpeech 0.7 computes them.

Training data must be mono 16-bit PCM WAV at ``--audio_sample_rate``. Files are checked (header only) before any
training starts, so a bad file ends the run with a message naming it instead of a crash hours later.
"""
import collections
import os
import struct
import wave

from .tfcompat import tf
from tensorflow.python.ops import gen_audio_ops

WavInfo = collections.namedtuple("WavInfo", "sample_rate channels sample_width n_samples")

#: DeepSpeech 0.7 scales training audio by 1/32767 (its pcm_to_np); TF's decode_wav scales by 1/32768.
DECODE_WAV_TO_DS_SCALE = 32768.0 / 32767.0


def wav_info(path):
    """Header facts of a WAV file; returns ``(info, None)`` or ``(None, problem)`` where problem says what is wrong."""
    if not os.path.exists(path):
        return None, "file does not exist"
    if os.path.getsize(path) == 0:
        return None, "file is empty (0 bytes)"
    try:
        with open(path, "rb") as handle:
            with wave.open(handle, "rb") as reader:  # leaves ``handle`` open
                info = WavInfo(reader.getframerate(), reader.getnchannels(), reader.getsampwidth(),
                               reader.getnframes())
            problem = tf_wav_problem(handle, os.fstat(handle.fileno()).st_size)
    except (wave.Error, EOFError) as err:
        return None, "not a PCM WAV file ({}); convert it with: sox IN.wav -b 16 -c 1 OUT.wav".format(err)
    except OSError as err:
        return None, "cannot be read ({})".format(err.strerror or err)
    return (None, problem) if problem is not None else (info, None)


_CONVERT = "convert it again with: sox IN.wav -b 16 -c 1 OUT.wav"


def tf_wav_problem(handle, size):
    """Why TensorFlow's WAV decoder would refuse a file whose header Python's ``wave`` module read fine, or None.

    ``wave`` reads the header and stops at the data chunk; TF's ``decode_wav`` (the input pipeline without
    ``--augment``) walks every chunk and stops the run with an error that names no file. So the rules it applies
    are checked here, on the headers alone (``handle``: the file opened in binary, ``size`` bytes long): the
    ``fmt `` chunk comes first, holds 16 or 18 bytes and agrees with itself; the data chunk holds all the audio its
    size promises (a file cut off by an interrupted copy does not); chunks follow each other without padding and
    no stray bytes follow the last one."""
    handle.seek(12)
    head = handle.read(8)
    if len(head) < 8 or head[:4] != b"fmt ":
        return "its first chunk is {!r}, not 'fmt ' (TensorFlow reads no other layout); {}".format(
            head[:4].decode("latin-1"), _CONVERT)
    (format_size,) = struct.unpack("<I", head[4:])
    if format_size not in (16, 18):
        return "its fmt chunk holds {} bytes, not 16 or 18 (TensorFlow reads only plain PCM headers); {}".format(
            format_size, _CONVERT)
    fields = handle.read(16)
    if len(fields) < 16:
        return "cut off inside its fmt chunk; {}".format(_CONVERT)
    _, channels, rate, byte_rate, block, bits = struct.unpack("<HHIIHH", fields)
    if block != channels * bits // 8 or byte_rate != rate * block:
        return "damaged header: {} bytes per frame and {} bytes per second do not fit {} channel(s) of {}-bit " \
               "audio at {} Hz; {}".format(block, byte_rate, channels, bits, rate, _CONVERT)
    offset, data_found = 20 + format_size, False
    while offset < size:
        handle.seek(offset)
        head = handle.read(8)
        if len(head) < 8:
            return "damaged: {} stray bytes follow its last chunk (at byte {}); {}".format(size - offset, offset,
                                                                                        _CONVERT)
        name, (length,) = head[:4], struct.unpack("<I", head[4:])
        if name == b"data":
            if data_found:
                return "damaged: a second data chunk at byte {}; {}".format(offset, _CONVERT)
            data_found = True
            length -= length % max(1, block)  # TF reads whole frames only
            if offset + 8 + length > size:
                return "cut off: its header promises {} bytes of audio, the file holds {} (an interrupted copy or " \
                       "conversion?); copy or convert it again".format(length, size - offset - 8)
        offset += 8 + length  # a chunk that claims more than is left ends the walk, as in TF
    # wave found a data chunk, so TF missed it: a chunk of odd length before it, whose pad byte TF does not skip.
    return None if data_found else "damaged: TensorFlow finds no data chunk (an odd-sized chunk before it?); " \
                                   "{}".format(_CONVERT)


def wav_problem(info, expected_rate):
    """Why a file with header ``info`` cannot be used at ``expected_rate``, with the fix; None when it is fine."""
    fixes = []
    if info.channels != 1:
        fixes.append("{} channels (mono needed)".format(info.channels))
    if info.sample_width != 2:
        fixes.append("{}-bit samples (16-bit needed)".format(8 * info.sample_width))
    if info.sample_rate != expected_rate:
        fixes.append("{} Hz (--audio_sample_rate is {})".format(info.sample_rate, expected_rate))
    if not fixes:
        return None
    return "{}; convert it with: sox IN.wav -r {} -b 16 -c 1 OUT.wav".format(", ".join(fixes), expected_rate)


def n_feature_frames(n_samples, window_samples, step_samples):
    """Number of feature frames TF's audio_spectrogram makes from ``n_samples`` samples."""
    if n_samples < window_samples:
        return 0
    return 1 + (n_samples - window_samples) // step_samples


def samples_to_mfccs(samples, sample_rate, window_samples, step_samples, n_input, upper_frequency_limit):
    """MFCC features ``[frames, n_input]`` of float samples ``[n, 1]``, and the frame count.

    Power spectrogram (periodic Hann window, magnitude squared), then TF's MFCC op with the given number of
    coefficients and upper frequency limit (DeepSpeech uses audio_sample_rate / 2). No normalisation.
    """
    spectrogram = gen_audio_ops.audio_spectrogram(samples, window_size=window_samples, stride=step_samples,
                                                  magnitude_squared=True)
    mfccs = gen_audio_ops.mfcc(spectrogram=spectrogram, sample_rate=sample_rate, dct_coefficient_count=n_input,
                               upper_frequency_limit=upper_frequency_limit)
    mfccs = tf.reshape(mfccs, [-1, n_input])
    return mfccs, tf.shape(input=mfccs)[0]


def wav_file_to_mfccs(path, window_samples, step_samples, n_input, upper_frequency_limit):
    """In-graph: read and decode a 16-bit mono WAV file (a string tensor path) into MFCC features."""
    decoded = tf.audio.decode_wav(tf.io.read_file(path), desired_channels=1)
    samples = decoded.audio * DECODE_WAV_TO_DS_SCALE
    return samples_to_mfccs(samples, decoded.sample_rate, window_samples, step_samples, n_input,
                            upper_frequency_limit)
