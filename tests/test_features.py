"""The in-graph features (TF 1.15 AudioSpectrogram + Mfcc ops) against an independent numpy reference.

``deepspeech_freeze.audio.samples_to_mfccs`` is run in a tf.compat.v1 Session and compared with
``tests/reference_mfcc.py`` (plain numpy written from the TF kernel sources) on LDC93S1 at 16 kHz, its 8 kHz copy and
a seeded synthetic signal. Deliberately wrong variants of the reference must fail the same tolerance, which shows
the tolerance is tight enough to notice a real formula error.
"""
import os
import sys
import wave

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.ops import gen_audio_ops

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_mfcc as ref  # noqa: E402  (the numpy reference next to this file)

from deepspeech_freeze.audio import samples_to_mfccs  # noqa: E402

DATA_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "smoke_test")
N_INPUT = 26

# Tolerance. TF's kernels compute in double but round to float32 twice (the spectrogram op's output and the MFCC
# op's output); the reference stays in float64. Measured (TF 1.15.5 CPU, numpy 1.18.5):
#   ldc93s1_16k:   max abs 1.87e-06, max rel 6.2e-08  (coefficients in [-52.3, 7.3])
#   ldc93s1_8k:    max abs 1.91e-06, max rel 7.1e-08  (coefficients in [-63.8, 6.5])
#   synthetic_16k: max abs 7.49e-06, max rel 6.2e-08  (c0 = -247.1 in the all-silent frames, log floor)
# i.e. half a float32 ulp of the output value (half-ulp is 3.8e-6 in [32, 64), 7.6e-6 in [128, 256)); the
# spectrogram itself agrees to 6e-8 relative. "rel" is |tf - ref| / max(|ref|, 1): relative for coefficients of
# magnitude >= 1 and absolute below, because near-zero coefficients carry the same absolute float32 noise and a
# plain ratio there measures nothing (plain |tf - ref| / |ref| reaches 1.9e-4 at a coefficient of 3e-5).
# Limits: MAX_ABS_DIFF 2e-5 (2.7x the worst measured, still above a half-ulp at |c0| up to 256) and MAX_REL_DIFF
# 3e-7 (4.3x). Every mutation in MUTATIONS must exceed 10x both limits; the mildest, scaling the samples by
# 32767/32768 (decode_wav's 1/32768 instead of DeepSpeech's 1/32767), moves c0 by 2.7e-4 = 13.7x MAX_ABS_DIFF
# and 1.65e-5 relative = 55x MAX_REL_DIFF; a symmetric Hann window moves coefficients by 0.06-0.18, a missing
# sqrt by 15-72, an upper limit of 4000 instead of 8000 Hz by 7-10.
MAX_ABS_DIFF = 2e-5
MAX_REL_DIFF = 3e-7
REL_FLOOR = 1.0


def load_wav(path):
    """16-bit mono WAV -> (float32 samples scaled by 1/32767 like DeepSpeech's pcm_to_np, sample rate)."""
    with wave.open(path, "rb") as handle:
        assert handle.getnchannels() == 1 and handle.getsampwidth() == 2
        rate = handle.getframerate()
        pcm = np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2")
    return (pcm.astype(np.float32) / np.float32(32767.0)).astype(np.float32), rate


def synthetic_signal():
    """Seeded 1.5 s at 16 kHz: 0.1 s of digital silence (exercises the 1e-12 log floor), then a linear chirp
    50 Hz -> 7900 Hz (amplitude 0.3) plus white noise (std 0.02), then 0.1 s of silence."""
    rate = 16000
    rng = np.random.RandomState(1234)
    t = np.arange(int(1.3 * rate)) / float(rate)
    f0, f1, duration = 50.0, 7900.0, t[-1]
    chirp = 0.3 * np.sin(2 * np.pi * (f0 * t + 0.5 * (f1 - f0) / duration * t ** 2))
    body = chirp + 0.02 * rng.standard_normal(t.shape)
    silence = np.zeros(int(0.1 * rate))
    return np.concatenate([silence, body, silence]).astype(np.float32), rate


# name -> (loader, window samples, step samples, upper frequency limit, expected frame count)
CASES = {
    "ldc93s1_16k": (lambda: load_wav(os.path.join(DATA_DIR, "LDC93S1.wav")), 512, 320, 8000.0, 145),
    "ldc93s1_8k": (lambda: load_wav(os.path.join(DATA_DIR, "LDC93S1_pcms16le_1_8000.wav")), 256, 160, 4000.0, 145),
    "synthetic_16k": (synthetic_signal, 512, 320, 8000.0, 1 + (24000 - 512) // 320),
}

_CACHE = {}


def case_data(name):
    """(samples, rate, window, step, upper, expected frames, TF mfccs, TF spectrogram), computed once per case."""
    if name not in _CACHE:
        loader, window, step, upper, expected_frames = CASES[name]
        samples, rate = loader()
        graph = tf.Graph()
        with graph.as_default():
            audio = tf.compat.v1.placeholder(tf.float32, [None, 1])
            mfccs, n_frames = samples_to_mfccs(audio, rate, window, step, N_INPUT, upper)
            spectrogram = gen_audio_ops.audio_spectrogram(audio, window_size=window, stride=step,
                                                          magnitude_squared=True)
            with tf.compat.v1.Session(graph=graph) as session:
                tf_mfccs, tf_frames, tf_spectrogram = session.run(
                    [mfccs, n_frames, spectrogram], {audio: samples.reshape(-1, 1)})
        assert tf_frames == tf_mfccs.shape[0]
        _CACHE[name] = (samples, rate, window, step, upper, expected_frames, tf_mfccs, tf_spectrogram[0])
    return _CACHE[name]


def differences(actual, expected):
    """(max |actual - expected|, max |actual - expected| / max(|expected|, REL_FLOOR))."""
    diff = np.abs(np.asarray(actual, np.float64) - np.asarray(expected, np.float64))
    return float(diff.max()), float((diff / np.maximum(np.abs(expected), REL_FLOOR)).max())


def within_tolerance(actual, expected):
    max_abs, max_rel = differences(actual, expected)
    return max_abs <= MAX_ABS_DIFF and max_rel <= MAX_REL_DIFF


def reference_variant(samples, rate, window, step, upper, window_fn=ref.periodic_hann, fft_size=None,
                      sample_offset=0, take_sqrt=True, lower=ref.DEFAULT_LOWER_FREQUENCY_LIMIT, start_index=None,
                      swap_triangle_sides=False, floor=ref.FILTERBANK_FLOOR, log=np.log, dct_table=ref.dct_matrix,
                      channels=ref.DEFAULT_FILTERBANK_CHANNEL_COUNT):
    """The reference pipeline built from its steps, each of which can be replaced by a wrong variant.

    With the defaults this equals ``ref.samples_to_mfccs`` (checked in test_variant_harness_defaults_are_reference).
    """
    n_frames = ref.frame_count(len(samples), window, step)
    framed = ref.frames(np.asarray(samples, np.float64)[sample_offset:], window, step)[:n_frames]
    fft_size = fft_size or ref.fft_length(window)
    spectrum = np.fft.rfft(framed * window_fn(window)[None, :], n=fft_size, axis=1)
    power = spectrum.real ** 2 + spectrum.imag ** 2
    bands, weights = ref.filterbank_bands(power.shape[1], rate, channels, lower, upper, start_index=start_index)
    if swap_triangle_sides:
        weights = np.where(bands == -2, 0.0, 1.0 - weights)
    matrix = ref.weight_matrix_from_bands(bands, weights, channels)
    mel = (np.sqrt(power) if take_sqrt else power) @ matrix
    logged = log(np.maximum(mel, floor))
    return logged @ dct_table(channels, N_INPUT).T


def orthonormal_dct_table(input_length, coefficient_count):
    """scipy-style orthonormal DCT-II: row 0 scaled by sqrt(1/N) instead of TF's sqrt(2/N)."""
    table = ref.dct_matrix(input_length, coefficient_count)
    table[0] /= np.sqrt(2.0)
    return table


def unshifted_dct_table(input_length, coefficient_count):
    """Wrong cosine table: cos(i*pi/N * j) without the half-sample shift."""
    i = np.arange(coefficient_count)[:, None]
    j = np.arange(input_length)[None, :]
    return np.sqrt(2.0 / input_length) * np.cos(i * np.pi / input_length * j)


def variant(**overrides):
    """A mutation that only swaps steps of the reference: ``(samples, rate, window, step, upper) -> mfccs``."""
    return lambda samples, rate, window, step, upper: reference_variant(samples, rate, window, step, upper,
                                                                        **overrides)


# name -> (wrong reference ``(samples, rate, window, step, upper) -> mfccs``, the only case it can be caught on or
# None for every case)
MUTATIONS = {
    "symmetric_hann": (variant(window_fn=np.hanning), None),
    "no_window": (variant(window_fn=np.ones), None),
    "fft_twice_window": (lambda s, r, w, st, u: reference_variant(s, r, w, st, u, fft_size=2 * w), None),
    "one_sample_late_frames": (variant(sample_offset=1), None),
    # decode_wav's 1/32768 instead of DeepSpeech's 1/32767
    "scaled_by_1_over_32768": (lambda s, r, w, st, u: reference_variant(s * (32767.0 / 32768.0), r, w, st, u), None),
    "no_sqrt_power_into_filterbank": (variant(take_sqrt=False), None),
    # 4000 instead of 8000 Hz at 16 kHz (the op's default upper limit), 2000 instead of 4000 at 8 kHz
    "upper_limit_halved": (lambda s, r, w, st, u: reference_variant(s, r, w, st, u / 2.0), None),
    "lower_limit_0hz": (variant(lower=0.0), None),
    "bin_1_not_excluded": (variant(start_index=1), None),
    "dc_bin_included": (variant(start_index=0), None),
    "triangle_sides_swapped": (variant(swap_triangle_sides=True), None),
    "32_filterbank_channels": (variant(channels=32), None),
    "log10": (variant(log=np.log10), None),
    "orthonormal_dct": (variant(dct_table=orthonormal_dct_table), None),
    "dct_without_half_shift": (variant(dct_table=unshifted_dct_table), None),
    # only a signal with digital silence has mel energies below the floor
    "log_floor_1e-10": (variant(floor=1e-10), "synthetic_16k"),
}
MUTATION_CASES = [(mutation, name) for mutation in sorted(MUTATIONS) for name in sorted(CASES)
                  if MUTATIONS[mutation][1] in (None, name)]


def mutated_reference(mutation, name):
    samples, rate, window, step, upper = case_data(name)[:5]
    return MUTATIONS[mutation][0](samples.astype(np.float64), rate, window, step, upper)


@pytest.mark.parametrize("name", sorted(CASES))
def test_mfccs_match_reference(name):
    samples, rate, window, step, upper, expected_frames, tf_mfccs, _ = case_data(name)
    expected = ref.samples_to_mfccs(samples, rate, window, step, N_INPUT, upper)
    assert tf_mfccs.shape == (expected_frames, N_INPUT)
    assert expected.shape == tf_mfccs.shape
    max_abs, max_rel = differences(tf_mfccs, expected)
    assert max_abs <= MAX_ABS_DIFF, (name, max_abs)
    assert max_rel <= MAX_REL_DIFF, (name, max_rel)


def test_ldc93s1_has_145_frames():
    samples, _, window, step, _, _, tf_mfccs, _ = case_data("ldc93s1_16k")
    assert len(samples) == 46797
    assert ref.frame_count(len(samples), window, step) == 145
    assert tf_mfccs.shape == (145, N_INPUT)


@pytest.mark.parametrize("name", sorted(CASES))
def test_spectrogram_matches_reference(name):
    """The intermediate power spectrogram: per bin within float32 rounding, relative to the frame's peak bin."""
    samples, _, window, step, _, expected_frames, _, tf_spectrogram = case_data(name)
    expected = ref.power_spectrogram(samples, window, step)
    assert tf_spectrogram.shape == expected.shape == (expected_frames, ref.fft_length(window) // 2 + 1)
    scale = np.maximum(expected.max(axis=1, keepdims=True), 1e-30)
    assert np.max(np.abs(tf_spectrogram - expected) / np.maximum(np.abs(expected), 1e-9 * scale)) < 1e-6


def test_variant_harness_defaults_are_reference():
    samples, rate, window, step, upper, _, _, _ = case_data("ldc93s1_16k")
    np.testing.assert_allclose(reference_variant(samples, rate, window, step, upper),
                               ref.samples_to_mfccs(samples, rate, window, step, N_INPUT, upper),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mutation,name", MUTATION_CASES)
def test_wrong_reference_fails_tolerance(mutation, name):
    tf_mfccs = case_data(name)[6]
    wrong = mutated_reference(mutation, name)
    assert wrong.shape == tf_mfccs.shape
    max_abs, max_rel = differences(tf_mfccs, wrong)
    # Clearly outside the tolerance, not just at its edge.
    assert max_abs > 10 * MAX_ABS_DIFF and max_rel > 10 * MAX_REL_DIFF, (mutation, name, max_abs, max_rel)


def test_filterbank_details():
    """TF facts the reference relies on, at DeepSpeech's 16 kHz settings (257 bins, 31.25 Hz per bin)."""
    hz_per_bin, start, end = ref.filterbank_bin_range(257, 16000, 20.0, 8000.0)
    assert (hz_per_bin, start, end) == (31.25, 2, 256)  # DC and bin 1 (31.25 Hz > 20 Hz) are both excluded
    matrix = ref.mel_weight_matrix(257, 16000, 40, 20.0, 8000.0)
    assert np.all(matrix[:2] == 0)
    assert np.all(np.abs(matrix[256]) < 1e-12)  # bin 256 (8000 Hz) sits on the top edge: weight 0 up to rounding
    assert np.all(matrix.sum(axis=0) > 0.5)  # no "missing band" at these settings
    used = matrix[start:end + 1].sum(axis=1)
    centers = ref.mel_center_frequencies(40, 20.0, 8000.0)
    mels = ref.hz_to_mel(np.arange(start, end + 1) * hz_per_bin)
    # Between the first and last channel centres every bin's two contributions (falling side of one channel,
    # rising side of the next) add up to 1; below centre 0 only the rising side of channel 0 gets a share, above
    # centre 39 only the falling side of channel 39 (the 41st centre only closes that last triangle).
    inside = (mels > centers[0]) & (mels <= centers[39])
    np.testing.assert_allclose(used[inside], 1.0, atol=1e-12)
    assert np.all(used[~inside] < 1.0)
    np.testing.assert_allclose(ref.periodic_hann(4), [0.0, 0.5, 1.0, 0.5], atol=1e-15)
    np.testing.assert_allclose(ref.dct_matrix(40, 1), np.full((1, 40), np.sqrt(2.0 / 40)))


# python_speech_features (0.6) cannot be aligned with TF's MFCCs meaningfully: it puts the *power* spectrum (scaled
# by 1/NFFT) into the filterbank instead of the magnitude, its triangles are snapped to integer FFT bins
# (floor((nfft+1)*hz/rate)) instead of TF's per-bin mel interpolation, it uses log of a float-eps floor, an
# orthonormal DCT (c0 differs by sqrt(2)), pre-emphasis, a cepstral lifter and c0 replaced by log frame energy by
# default, and it pads a final partial frame (146 frames for LDC93S1, not 145). Switching off pre-emphasis, lifter
# and energy still leaves different filterbank inputs and shapes, so its MFCCs are not compared. Its framing and
# power-spectrum stage, however, can be aligned exactly (same periodic Hann passed as winfunc, first N frames,
# power * NFFT), which gives a sanity check of the spectrogram against a third-party implementation.
def test_spectrogram_matches_python_speech_features():
    from python_speech_features import sigproc  # installed from requirements.txt
    samples, _, window, step, _, expected_frames, _, tf_spectrogram = case_data("ldc93s1_16k")
    framed = sigproc.framesig(samples.astype(np.float64), window, step, winfunc=ref.periodic_hann)
    assert framed.shape[0] == expected_frames + 1  # psf zero-pads one extra, partial frame at the end
    nfft = ref.fft_length(window)
    psf_power = sigproc.powspec(framed[:expected_frames], nfft) * nfft
    scale = psf_power.max(axis=1, keepdims=True)
    assert np.max(np.abs(tf_spectrogram - psf_power) / np.maximum(psf_power, 1e-9 * scale)) < 1e-6
