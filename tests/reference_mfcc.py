"""Independent numpy reference for TF 1.15's ``AudioSpectrogram`` and ``Mfcc`` kernels (no TensorFlow import).

``deepspeech_freeze.audio.samples_to_mfccs`` runs ``gen_audio_ops.audio_spectrogram(magnitude_squared=True)`` and
then ``gen_audio_ops.mfcc``. This module recomputes the same numbers in float64 numpy, following the C++ sources
``tensorflow/core/kernels/{spectrogram.cc, spectrogram_op.cc, mfcc.cc, mfcc_op.cc, mfcc_mel_filterbank.cc,
mfcc_dct.cc}``. Every step is a separate function so a test can swap one step for a deliberately wrong variant.

Precision note: the TF kernels work in double internally, but the spectrogram op's input and output tensors and
the MFCC op's output are float32, so TF's result carries float32 rounding that this reference does not.
"""
import numpy as np

#: Defaults of the TF Mfcc op (``mfcc.cc`` / ``audio_ops.cc``).
DEFAULT_LOWER_FREQUENCY_LIMIT = 20.0
DEFAULT_UPPER_FREQUENCY_LIMIT = 4000.0
DEFAULT_FILTERBANK_CHANNEL_COUNT = 40
DEFAULT_DCT_COEFFICIENT_COUNT = 13
#: ``kFilterbankFloor`` in ``mfcc.cc``: mel energies below it are raised to it before the log.
FILTERBANK_FLOOR = 1e-12


# ---------------------------------------------------------------------------------------------------------------
# Spectrogram (spectrogram.cc / spectrogram_op.cc)
# ---------------------------------------------------------------------------------------------------------------

def periodic_hann(window_length):
    """``GetPeriodicHann``: ``w[i] = 0.5 - 0.5*cos(2*pi*i / L)`` for ``i`` in ``0..L-1``.

    The divisor is ``L`` (periodic window, last sample is not 0), not ``L-1`` as in numpy's symmetric ``np.hanning``.
    """
    i = np.arange(window_length, dtype=np.float64)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * i / window_length)


def fft_length(window_length):
    """``NextPowerOfTwo(window_length)``: the smallest power of two >= the window length (512 -> 512, 400 -> 512)."""
    length = 1
    while length < window_length:
        length *= 2
    return length


def frame_count(n_samples, window_length, step_length):
    """Rows of the op's output: ``1 + (N - window) // stride``, or 0 when ``N < window`` (``spectrogram_op.cc``).

    Only whole windows are used; there is no padding at either end and the tail that does not fill a window is
    dropped (``GetNextWindowOfSamples`` starts window ``k`` at sample ``k * stride``).
    """
    if n_samples < window_length:
        return 0
    return 1 + (n_samples - window_length) // step_length


def frames(samples, window_length, step_length):
    """``[frames, window]`` matrix; row ``k`` is ``samples[k*stride : k*stride + window]`` (no padding)."""
    samples = np.asarray(samples, dtype=np.float64).reshape(-1)
    count = frame_count(samples.shape[0], window_length, step_length)
    starts = np.arange(count) * step_length
    return samples[starts[:, None] + np.arange(window_length)[None, :]]


def power_spectrogram(samples, window_length, step_length, window=None):
    """``AudioSpectrogram`` with ``magnitude_squared=True`` for one channel: ``[frames, fft_length//2 + 1]``.

    ``ProcessCoreFFT``: multiply each frame by the window, zero-pad to ``fft_length`` (no centring, padding goes at
    the end), real FFT (Ooura ``rdft``; its sign convention differs from numpy's but the power does not), and
    ``ComputeSquaredMagnitudeSpectrogram`` stores ``re*re + im*im`` for bins ``0..fft_length/2`` inclusive. No
    scaling by the window sum or FFT length. ``window`` defaults to :func:`periodic_hann`.
    """
    if window is None:
        window = periodic_hann(window_length)
    windowed = frames(samples, window_length, step_length) * np.asarray(window, dtype=np.float64)[None, :]
    spectrum = np.fft.rfft(windowed, n=fft_length(window_length), axis=1)
    return spectrum.real ** 2 + spectrum.imag ** 2


# ---------------------------------------------------------------------------------------------------------------
# Mel filterbank (mfcc_mel_filterbank.cc)
# ---------------------------------------------------------------------------------------------------------------

def hz_to_mel(freq):
    """``FreqToMel``: ``1127 * ln(1 + f/700)`` (natural log, HTK constant)."""
    return 1127.0 * np.log1p(np.asarray(freq, dtype=np.float64) / 700.0)


def mel_center_frequencies(channel_count, lower_frequency_limit, upper_frequency_limit):
    """``center_frequencies_``: ``channel_count + 1`` mel values ``mel_low + spacing*(i+1)``, ``i = 0..channel_count``.

    ``spacing = (mel_high - mel_low) / (channel_count + 1)``. Channel ``c`` peaks at centre ``c``; its triangle runs
    from centre ``c-1`` (``mel_low`` for channel 0) to centre ``c+1``; the extra last centre equals ``mel_high``.
    """
    mel_low = hz_to_mel(lower_frequency_limit)
    mel_high = hz_to_mel(upper_frequency_limit)
    spacing = (mel_high - mel_low) / float(channel_count + 1)
    return mel_low + spacing * (np.arange(channel_count + 1, dtype=np.float64) + 1.0)


def filterbank_bin_range(n_bins, sample_rate, lower_frequency_limit, upper_frequency_limit):
    """``(hz_per_sbin, start_index, end_index)``; only bins ``start_index..end_index`` (inclusive) are used.

    ``hz_per_sbin = 0.5 * sample_rate / (n_bins - 1)`` (``n_bins`` = spectrogram width, so this is
    ``sample_rate / fft_length``). ``start_index = int(1.5 + lower / hz_per_sbin)`` -- "always exclude DC; emulate
    HTK" -- which also drops bin 1 for the default 20 Hz limit at 31.25 Hz/bin. ``end_index = int(upper /
    hz_per_sbin)`` (truncation, C++ ``static_cast<int>`` of a positive value).
    """
    hz_per_sbin = 0.5 * float(sample_rate) / float(n_bins - 1)
    start_index = int(1.5 + lower_frequency_limit / hz_per_sbin)
    end_index = int(upper_frequency_limit / hz_per_sbin)
    return hz_per_sbin, start_index, end_index


def filterbank_bands(n_bins, sample_rate, channel_count=DEFAULT_FILTERBANK_CHANNEL_COUNT,
                     lower_frequency_limit=DEFAULT_LOWER_FREQUENCY_LIMIT,
                     upper_frequency_limit=DEFAULT_UPPER_FREQUENCY_LIMIT, start_index=None):
    """TF's per-bin tables ``(band_mapper_, weights_)`` from ``MfccMelFilterbank::Initialize``, as int/float arrays.

    For a used bin ``i`` (``start_index <= i <= end_index``) with mel value ``m = FreqToMel(i * hz_per_sbin)``,
    ``band_mapper_[i]`` = (number of the first ``channel_count`` centres strictly below ``m``) - 1: the channel on
    whose *right* (falling) side the bin lies; -1 means below centre 0, and it never exceeds ``channel_count - 1``
    (the extra top centre only closes the last triangle). ``weights_[i] = (c[b+1] - m) / (c[b+1] - c[b])``, or
    ``(c[0] - m) / (c[0] - mel_low)`` when ``b = -1``. Unused bins get band -2 and weight 0.
    ``start_index`` overrides TF's value; it exists only so tests can build a deliberately wrong filterbank.
    """
    centers = mel_center_frequencies(channel_count, lower_frequency_limit, upper_frequency_limit)
    mel_low = hz_to_mel(lower_frequency_limit)
    hz_per_sbin, tf_start_index, end_index = filterbank_bin_range(n_bins, sample_rate, lower_frequency_limit,
                                                                  upper_frequency_limit)
    if start_index is None:
        start_index = tf_start_index
    bands = np.full(n_bins, -2, dtype=np.int64)
    weights = np.zeros(n_bins, dtype=np.float64)
    for i in range(start_index, min(end_index, n_bins - 1) + 1):
        mel = hz_to_mel(i * hz_per_sbin)
        band = int(np.count_nonzero(centers[:channel_count] < mel)) - 1
        bands[i] = band
        if band >= 0:
            weights[i] = (centers[band + 1] - mel) / (centers[band + 1] - centers[band])
        else:
            weights[i] = (centers[0] - mel) / (centers[0] - mel_low)
    return bands, weights


def weight_matrix_from_bands(bands, weights, channel_count):
    """``[n_bins, channel_count]`` matrix doing what ``MfccMelFilterbank::Compute`` does with the per-bin tables.

    A used bin adds ``weight * magnitude`` to channel ``band`` (skipped when ``band == -1``) and
    ``magnitude - weight * magnitude`` to channel ``band + 1`` (skipped when it equals ``channel_count``). The
    triangles peak at 1 and are not area-normalised.
    """
    matrix = np.zeros((len(bands), channel_count), dtype=np.float64)
    for i, (band, weight) in enumerate(zip(bands, weights)):
        if band == -2:
            continue
        if band >= 0:
            matrix[i, band] += weight
        if band + 1 < channel_count:
            matrix[i, band + 1] += 1.0 - weight
    return matrix


def mel_weight_matrix(n_bins, sample_rate, channel_count=DEFAULT_FILTERBANK_CHANNEL_COUNT,
                      lower_frequency_limit=DEFAULT_LOWER_FREQUENCY_LIMIT,
                      upper_frequency_limit=DEFAULT_UPPER_FREQUENCY_LIMIT):
    """TF's triangular mel filterbank as a ``[n_bins, channel_count]`` matrix (``spectrum_magnitude @ matrix``)."""
    bands, weights = filterbank_bands(n_bins, sample_rate, channel_count, lower_frequency_limit,
                                      upper_frequency_limit)
    return weight_matrix_from_bands(bands, weights, channel_count)


def mel_energies(power, weights):
    """``MfccMelFilterbank::Compute``: ``sqrt`` of the power spectrum (magnitude), then the weighted sums."""
    return np.sqrt(np.asarray(power, dtype=np.float64)) @ weights


# ---------------------------------------------------------------------------------------------------------------
# Log and DCT (mfcc.cc / mfcc_dct.cc)
# ---------------------------------------------------------------------------------------------------------------

def log_with_floor(values, floor=FILTERBANK_FLOOR):
    """``Mfcc::Compute``: values below ``kFilterbankFloor`` (1e-12) are set to it, then the natural log."""
    return np.log(np.maximum(values, floor))


def dct_matrix(input_length, coefficient_count):
    """``MfccDct`` cosine table ``[coefficient_count, input_length]``: ``sqrt(2/N) * cos(i * pi/N * (j + 0.5))``.

    A DCT-II with the same ``sqrt(2/N)`` factor on every row, coefficient 0 included: it is *not* the orthonormal
    DCT (which uses ``sqrt(1/N)`` for row 0); TF's c0 is ``sqrt(2)`` times the orthonormal one. The first
    ``coefficient_count`` rows are kept.
    """
    i = np.arange(coefficient_count, dtype=np.float64)[:, None]
    j = np.arange(input_length, dtype=np.float64)[None, :]
    return np.sqrt(2.0 / input_length) * np.cos(i * (np.pi / input_length) * (j + 0.5))


def dct(values, coefficient_count):
    """``MfccDct::Compute`` on each row of ``values`` ``[frames, channels]`` -> ``[frames, coefficient_count]``."""
    values = np.asarray(values, dtype=np.float64)
    return values @ dct_matrix(values.shape[-1], coefficient_count).T


# ---------------------------------------------------------------------------------------------------------------
# Whole ops
# ---------------------------------------------------------------------------------------------------------------

def mfcc_from_power_spectrogram(power, sample_rate, dct_coefficient_count=DEFAULT_DCT_COEFFICIENT_COUNT,
                                upper_frequency_limit=DEFAULT_UPPER_FREQUENCY_LIMIT,
                                lower_frequency_limit=DEFAULT_LOWER_FREQUENCY_LIMIT,
                                filterbank_channel_count=DEFAULT_FILTERBANK_CHANNEL_COUNT):
    """The ``Mfcc`` op for one channel: power spectrogram ``[frames, bins]`` -> ``[frames, dct_coefficient_count]``.

    sqrt -> triangular mel filterbank -> log with 1e-12 floor -> scaled DCT-II. The frequency limits are float32
    op attributes in TF, so they are rounded through float32 here too (exact for the usual integer limits).
    """
    power = np.asarray(power, dtype=np.float64)
    weights = mel_weight_matrix(power.shape[-1], sample_rate, filterbank_channel_count,
                                float(np.float32(lower_frequency_limit)), float(np.float32(upper_frequency_limit)))
    return dct(log_with_floor(mel_energies(power, weights)), dct_coefficient_count)


def samples_to_mfccs(samples, sample_rate, window_samples=512, step_samples=320, n_input=26,
                     upper_frequency_limit=None):
    """Reference for ``deepspeech_freeze.audio.samples_to_mfccs``: ``[frames, n_input]`` float64.

    ``upper_frequency_limit`` defaults to ``sample_rate / 2`` (what DeepSpeech passes). Lower limit 20 Hz and 40
    filterbank channels are the TF op defaults, as in DeepSpeech.
    """
    if upper_frequency_limit is None:
        upper_frequency_limit = sample_rate / 2.0
    power = power_spectrogram(samples, window_samples, step_samples)
    return mfcc_from_power_spectrogram(power, sample_rate, n_input, upper_frequency_limit)
