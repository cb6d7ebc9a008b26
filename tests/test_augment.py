"""``--augment``: DeepSpeech 0.7.4's spec syntax and each augmentation's documented effect, measured on short
synthetic audio (a tone's frequency for pitch, the frame count for tempo, zeroed bands for the masks, the peak SNR
for overlay, ...). Every effect is also checked against its broken variant (p=0, a different seed, another value),
so each test can fail."""
import math

import numpy as np
import pytest

from deepspeech_freeze import augment as A
from deepspeech_freeze import sample_db
from deepspeech_freeze.errors import UserError
from deepspeech_freeze.tfcompat import tf
from deepspeech_freeze.augment import DEEPSPEECH_EXAMPLE as DS_EXAMPLE

RATE = 16000
WINDOW, STEP, N_INPUT, STEP_MS = 512, 320, 26, 20


def tone(freq, seconds=0.5, amplitude=0.5, rate=RATE):
    t = np.arange(int(seconds * rate)) / float(rate)
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture(scope="module")
def noise_csv(tmp_path_factory):
    """A CSV with one second of a 3 kHz tone (an integer number of cycles, so any cyclic offset is still the tone)."""
    folder = tmp_path_factory.mktemp("noise")
    with open(str(folder / "noise.wav"), "wb") as handle:
        handle.write(sample_db.wav_bytes(tone(3000, 1.0, 0.9), RATE))
    path = folder / "noise.csv"
    path.write_text(u"wav_filename,wav_filesize,transcript\nnoise.wav,32044,\n")
    return str(path)


def run_graph(build):
    """Evaluate the tensors ``build()`` returns in a fresh graph."""
    with tf.Graph().as_default():
        fetches = build()
        with tf.compat.v1.Session() as session:
            return session.run(fetches)


def spectrogram_of(samples):
    from tensorflow.python.ops import gen_audio_ops
    return gen_audio_ops.audio_spectrogram(tf.constant(samples.reshape(-1, 1)), window_size=WINDOW, stride=STEP,
                                           magnitude_squared=True)


def graph_apply(spec, domain_input, domain, clock=0.5, seed=7, label_length=1):
    """One graph augmentation applied to a numpy array of its domain."""
    aug = A.parse_augmentation(spec)

    def build():
        context = {"sample_rate": RATE, "win_step_ms": float(STEP_MS), "label_length": tf.constant(label_length)}
        tensor = domain_input() if callable(domain_input) else tf.constant(domain_input)
        out = A.apply_graph_augmentations(tensor, domain, [aug], tf.constant(clock, tf.float64),
                                          tf.constant(seed, tf.int64), context)
        return tensor, out
    return run_graph(build)


def sample_apply(spec, audio, clock=0.5, seed=7, noise=None):
    aug = A.parse_augmentation(spec.format(noise=noise))
    return A.apply_sample_augmentations(audio, RATE, clock, seed, [aug])


# ----------------------------------------------------------------------------------------------------------------
# Syntax


def test_value_forms_and_int_rounding():
    assert A.parse_value_range("2", float) == A.ValueRange(2.0, 2.0, 0.0, float)
    assert A.parse_value_range("1~0.2", float) == A.ValueRange(1.0, 1.0, 0.2, float)
    assert A.parse_value_range("50:20", float) == A.ValueRange(50.0, 20.0, 0.0, float)
    assert A.parse_value_range("50:20~10", float) == A.ValueRange(50.0, 20.0, 10.0, float)
    assert A.parse_value_range("3:10~2", int) == A.ValueRange(3, 10, 2, int)
    with pytest.raises(ValueError):
        A.parse_value_range("2.5", int)  # an int parameter takes whole numbers only, as DeepSpeech
    with pytest.raises(ValueError):
        A.parse_value_range("1:2:3", float)
    rng = np.random.default_rng(0)
    picks = {A.ValueRange(1, 4, 0, int).pick(clock, rng) for clock in np.linspace(0, 1, 50)}
    assert picks == {1, 2, 3, 4}  # an int range gives rounded values all along
    values = [A.ValueRange(1.0, 1.0, 0.2, float).pick(0.0, rng) for _ in range(400)]
    assert 0.8 <= min(values) < 0.82 and 1.18 < max(values) <= 1.2


def test_ds_example_parses_in_domain_order(noise_csv):
    specs = [spec.format(noise=noise_csv) for spec in DS_EXAMPLE]
    parsed = A.parse_augmentations(specs)
    assert len(parsed) == 12
    # sample -> signal -> spectrogram -> features, command-line order inside a domain
    assert [item.NAME for item in parsed] == ["overlay", "reverb", "resample", "codec", "volume", "time_mask", "add",
                                              "pitch", "tempo", "frequency_mask", "dropout", "multiply"]
    assert [item.domain for item in parsed] == ["sample"] * 5 + ["signal"] * 2 + ["spectrogram"] * 4 + ["features"]
    defaults = A.parse_augmentation("pitch")
    assert defaults.p == 1.0 and defaults.pitch == A.ValueRange(1.075, 1.075, 0.125, float)
    assert A.parse_augmentation("frequency_mask").size == A.ValueRange(2, 2, 0, int)
    assert A.parse_augmentation("time_mask").domain == "spectrogram"
    assert A.parse_augmentation("add").domain == "features"


@pytest.mark.parametrize("spec,expected", [
    ("pich[p=0.1]", "unknown augmentation 'pich' (did you mean pitch?)"),
    ("pitch[p=0.1,pich=1~0.2]", "unknown parameter 'pich': pitch takes p"),
    ("pitch[p=1.5]", "p=1.5: p is a probability"),
    ("pitch[p=nan]", "p=nan: p is a probability"),  # NaN compares false both ways: it must still be refused
    ("pitch[p=often]", "p=often: p is a probability"),
    ("frequency_mask[n=-1]", "n=-1: n cannot be below 0"),
    ("frequency_mask[n=3:-1]", "n=3:-1: n cannot be below 0"),  # the end of a range is checked too
    ("frequency_mask[n=1.5]", "n=1.5: '1.5' is not a whole number (or whole-number range); the forms are v, v~r"),
    ("resample[rate=0]", "rate=0: rate cannot be below 1 Hz"),
    ("tempo[max_time=long]", "max_time=long: give a plain number"),
    ("tempo[factor=1~2~3]", "more than one '~'"),
    ("overlay[snr=10]", "overlay needs source="),
    ("overlay[source=missing.sdb]", "overlay source missing.sdb does not exist"),
    ("pitch[domain=signal]", "pitch always works in the spectrogram domain"),
    ("add[domain=wave]", "domain=wave: use signal, spectrogram, features"),
    ("Volume", "wrong format"),
    ("pitch[1.1]", "'1.1' is not key=value"),
])
def test_errors_quote_the_value(spec, expected):
    with pytest.raises(UserError) as info:
        A.parse_augmentation(spec)
    assert str(info.value).startswith("--augment {}: ".format(spec))
    assert expected in str(info.value)


# ----------------------------------------------------------------------------------------------------------------
# The clock and the seed


def test_moving_range_reaches_its_end_value_in_the_last_epoch():
    epochs, count = 3, 5
    clocks = [A.training_clock(epoch, index, epochs, count) for epoch in range(epochs) for index in range(count)]
    assert clocks[0] == 0.0 and clocks[-1] == 1.0 and clocks == sorted(clocks)
    snr = A.parse_augmentation("volume[dbfs=-10:-40]").dbfs
    rng = np.random.default_rng(0)
    assert snr.pick(clocks[0], rng) == -10.0 and snr.pick(clocks[-1], rng) == -40.0
    # In the graph too: the end value at the last sample's clock, the start at the first.
    aug = A.parse_augmentation("dropout[rate=0:1]")
    ends = run_graph(lambda: [aug.rate.tf_pick(tf.constant(c, tf.float64), tf.constant([1, 2], tf.int64))
                              for c in (clocks[0], clocks[-1])])
    assert list(ends) == [0.0, 1.0]


def test_fixed_seed_repeats_and_another_differs(noise_csv):
    augs = A.parse_augmentations(["overlay[source={},snr=10~5]".format(noise_csv), "reverb[delay=20~10]",
                                  "volume[dbfs=-20~10]"])
    audio = tone(440)
    first = A.apply_sample_augmentations(audio, RATE, 0.3, 1234, augs)
    again = A.apply_sample_augmentations(audio, RATE, 0.3, 1234, augs)
    other = A.apply_sample_augmentations(audio, RATE, 0.3, 1235, augs)
    assert np.array_equal(first, again) and not np.allclose(first, other)
    assert A.sample_seed(4568, 2, 10) == A.sample_seed(4568, 2, 10) != A.sample_seed(4569, 2, 10)
    graph = A.parse_augmentations(["pitch[pitch=1~0.3]", "add[stddev=1]"])

    def features(seed):
        return run_graph(lambda: A.augmented_features(tf.constant(audio.reshape(-1, 1)), RATE,
                                                      tf.constant(0.5, tf.float64), tf.constant(seed, tf.int64),
                                                      tf.constant(1), graph, WINDOW, STEP, N_INPUT, STEP_MS)[0])
    assert np.array_equal(features(5), features(5)) and not np.allclose(features(5), features(6))


def test_p_zero_is_the_identity_and_p_one_is_not(noise_csv):
    audio = tone(440)
    for spec in DS_EXAMPLE[:5]:
        off = spec.replace("p=0.5", "p=0").replace("p=0.1", "p=0")
        on = spec.replace("p=0.5", "p=1").replace("p=0.1", "p=1")
        assert np.array_equal(sample_apply(off, audio, noise=noise_csv), audio), off
        assert not np.array_equal(sample_apply(on, audio, noise=noise_csv), audio), on
    plain = run_graph(lambda: A.augmented_features(tf.constant(audio.reshape(-1, 1)), RATE, tf.constant(0.5, tf.float64),
                                                   tf.constant(3, tf.int64), tf.constant(1), [], WINDOW, STEP,
                                                   N_INPUT, STEP_MS)[0])
    for spec in DS_EXAMPLE[5:]:
        for p, same in (("0", True), ("1", False)):
            aug = A.parse_augmentation(spec.replace("p=0.1", "p=" + p))
            out = run_graph(lambda: A.augmented_features(
                tf.constant(audio.reshape(-1, 1)), RATE, tf.constant(0.5, tf.float64), tf.constant(3, tf.int64),
                tf.constant(1), [aug], WINDOW, STEP, N_INPUT, STEP_MS)[0])
            assert (out.shape == plain.shape and np.array_equal(out, plain)) == same, (spec, p)


# ----------------------------------------------------------------------------------------------------------------
# Sample domain


def test_overlay_reaches_the_stated_peak_snr(noise_csv):
    speech = tone(440, 1.0, 0.5)
    for snr in (0.0, 10.0, 20.0):
        out = sample_apply("overlay[source={noise},snr=%s]" % snr, speech, noise=noise_csv).astype(np.float64)
        t = np.arange(len(out)) / float(RATE)
        basis = np.stack([speech, np.sin(2 * np.pi * 3000 * t), np.cos(2 * np.pi * 3000 * t)], axis=1)
        (a, b, c), *_ = np.linalg.lstsq(basis, out, rcond=None)
        speech_peak, noise_peak = abs(a) * 0.5, math.hypot(b, c)
        assert abs(20 * math.log10(speech_peak / noise_peak) - snr) < 0.2, snr
        assert abs(np.abs(out).max() - 0.5) < 1e-6  # the input's peak level is kept
    two = sample_apply("overlay[source={noise},snr=0,layers=2]", speech, noise=noise_csv)
    assert not np.allclose(two, sample_apply("overlay[source={noise},snr=20]", speech, noise=noise_csv))


def test_reverb_adds_echoes_at_the_delay():
    click = np.zeros(RATE // 4, np.float32)
    click[0] = 0.5
    out = sample_apply("reverb[delay=20,decay=6]", click)
    first_echo = int(20 * RATE / 1000)  # the shortest comb (prime 17) repeats every 20 ms = 320 samples
    # The dry click counts six times (itself plus once in each of the five combs); the sum is normalised back to
    # the click's peak, so the first echo is decay dB below one sixth of it.
    assert abs(out[first_echo] - 0.5 * 10 ** (-6 / 20.0) / 6) < 1e-4 and out[first_echo // 2] == 0.0
    assert out[2 * first_echo] < out[first_echo]  # each reflection decay dB quieter
    assert abs(np.abs(out).max() - 0.5) < 1e-6


def test_resample_removes_what_the_lower_rate_cannot_hold():
    def level(audio, freq):
        spectrum = np.abs(np.fft.rfft(audio))
        return spectrum[int(freq * len(audio) / RATE)]
    audio = tone(1000) + tone(6000)
    out = sample_apply("resample[rate=8000]", audio)
    assert len(out) == len(audio)
    assert level(out, 6000) < 0.01 * level(audio, 6000)  # above 4 kHz: gone
    assert level(out, 1000) > 0.9 * level(audio, 1000)   # below: kept
    assert level(sample_apply("resample[rate=16000]", audio), 6000) > 0.9 * level(audio, 6000)


def test_codec_degrades_more_at_a_lower_bitrate():
    audio = tone(440) + tone(2500, amplitude=0.2)

    def error(bitrate):
        out = sample_apply("codec[bitrate=%d]" % bitrate, audio)
        assert len(out) == len(audio)
        # Opus delays its output by its look-ahead (DeepSpeech keeps that delay too): compare at the best lag.
        return min(float(np.mean((out[lag:lag + 6000] - audio[:6000]) ** 2)) for lag in range(0, 480))
    assert error(6000) > 2 * error(64000) > 0


def test_volume_sets_the_peak_level():
    out = sample_apply("volume[dbfs=-20]", tone(440))
    assert abs(A.max_dbfs(out) + 20) < 1e-4
    assert abs(np.abs(sample_apply("volume", tone(440, amplitude=0.1))).max() - 1.0) < 1e-4  # default: full scale


# ----------------------------------------------------------------------------------------------------------------
# Graph domains


def peak_bin(spectrogram):
    return int(np.argmax(spectrogram[0].mean(axis=0)))


def test_pitch_moves_the_fundamental():
    source, out = graph_apply("pitch[pitch=1.5]", lambda: spectrogram_of(tone(500)), "spectrogram")
    assert out.shape == source.shape
    assert peak_bin(source) == 16 and peak_bin(out) == 24  # 500 Hz = bin 16 of 31.25 Hz; x1.5 = 750 Hz
    _, lower = graph_apply("pitch[pitch=0.5]", lambda: spectrogram_of(tone(500)), "spectrogram")
    assert peak_bin(lower) == 8 and np.all(lower[0, :, 130:] == 0)  # compressed down, the top zero-filled


def test_tempo_changes_the_duration():
    source, out = graph_apply("tempo[factor=2]", lambda: spectrogram_of(tone(500, 1.0)), "spectrogram")
    assert source.shape[1] == 49 and out.shape[1] == 24
    _, slow = graph_apply("tempo[factor=0.5]", lambda: spectrogram_of(tone(500, 1.0)), "spectrogram")
    assert slow.shape[1] == 98
    _, floor = graph_apply("tempo[factor=4]", lambda: spectrogram_of(tone(500, 1.0)), "spectrogram",
                           label_length=30)
    assert floor.shape[1] == 30  # never fewer frames than the transcript needs


def test_frequency_mask_zeroes_the_stated_bands():
    source, out = graph_apply("frequency_mask[n=1,size=5]", lambda: spectrogram_of(tone(500) + 0.01),
                              "spectrogram")
    zero_bins = np.where(np.all(out[0] == 0, axis=0))[0]
    assert len(zero_bins) == 5 and zero_bins[-1] - zero_bins[0] == 4  # one band of 5 bins, in every frame
    kept = np.setdiff1d(np.arange(257), zero_bins)
    assert np.array_equal(out[0][:, kept], source[0][:, kept])


def test_time_mask_zeroes_the_stated_stretches_in_each_domain():
    _, out = graph_apply("time_mask[n=1,size=100]", lambda: spectrogram_of(tone(500) + 0.01), "spectrogram")
    assert np.sum(np.all(out[0] == 0, axis=1)) == 5  # 100 ms = 5 frames of 20 ms
    _, wave = graph_apply("time_mask[n=2,size=50,domain=signal]", tone(500).reshape(-1, 1) + 0.1, "signal")
    assert 800 < np.sum(wave == 0) <= 1600  # two stretches of 50 ms = 800 samples (they may overlap)
    features = np.ones((40, 26), np.float32)
    _, masked = graph_apply("time_mask[n=1,size=60,domain=features]", features, "features")
    assert np.sum(np.all(masked == 0, axis=1)) == 3 and not np.any(np.all(masked == 0, axis=0))  # time steps


def test_dropout_drops_the_stated_share():
    _, out = graph_apply("dropout[rate=0.3]", np.ones((200, 26), np.float32), "spectrogram")
    assert abs(np.mean(out == 0) - 0.3) < 0.03
    _, none = graph_apply("dropout[rate=0]", np.ones((200, 26), np.float32), "spectrogram")
    assert np.all(none == 1)


def test_add_and_multiply_have_the_stated_spread():
    base = np.full((400, 26), 2.0, np.float32)
    _, added = graph_apply("add[stddev=0.5]", base, "features")
    assert abs(np.std(added - base) - 0.5) < 0.03 and abs(np.mean(added - base)) < 0.03
    _, multiplied = graph_apply("multiply[stddev=0.2]", base, "features")
    assert abs(np.std(multiplied / base) - 0.2) < 0.02 and abs(np.mean(multiplied / base) - 1) < 0.02


def test_play_writes_augmented_wavs_and_a_png(tmp_path):
    import os
    from conftest import LDC_DIR, run_module
    source = os.path.join(LDC_DIR, "LDC93S1.wav")
    out = tmp_path / "play"
    run_module("deepspeech_freeze.play", source, "--augment", "volume[dbfs=-20]", "--augment",
               "time_mask[domain=signal,n=1,size=200]", "--augment", "frequency_mask", "--number", "2",
               "--output_dir", str(out))
    assert sorted(os.listdir(str(out))) == ["000.png", "000_augmented.wav", "000_original.wav", "001.png",
                                            "001_augmented.wav", "001_original.wav"]
    original, _ = sample_db.read_wav_bytes(open(source, "rb").read(), source)
    written, _ = sample_db.read_wav_bytes((out / "000_original.wav").read_bytes(), "x")
    augmented, _ = sample_db.read_wav_bytes((out / "000_augmented.wav").read_bytes(), "x")
    assert np.array_equal(written, original)
    assert abs(A.max_dbfs(augmented) + 20) < 0.01  # the sample domain (volume) is heard
    zero_run = max(len(run) for run in "".join("0" if v == 0 else "1" for v in augmented).split("1"))
    assert zero_run >= 3200  # and the signal domain: 200 ms = 3200 samples masked
    assert (out / "000.png").read_bytes()[:4] == b"\x89PNG"
    bad = run_module("deepspeech_freeze.play", source, "--augment", "volum", "--output_dir", str(out), check=False)
    assert bad.returncode == 2 and "--augment volum: unknown augmentation 'volum' (did you mean volume?)" in bad.output
