"""``--augment``: DeepSpeech 0.7.4's training-data augmentation, its syntax, parameters, defaults and domains.

A spec is ``name`` or ``name[key=value,...]``; every augmentation takes ``p`` (probability, default 1.0). A value is
``v``, ``v~r`` (uniform in [v-r, v+r]), ``start:end`` or ``start:end~r``: the centre moves from start to end over the
course of training, following the per-sample *clock* (0 at the first sample of the first epoch, 1 at the last sample
of the last epoch). Integer parameters get rounded values.

Four domains run in this order, whatever the command-line order (command-line order is kept within a domain):

1. sample (numpy, in the input pipeline's loader): overlay, reverb, resample, codec, volume;
2. signal (TF, waveform ``[N, 1]``): time_mask, dropout, add, multiply with ``domain=signal``;
3. spectrogram (TF, power spectrogram ``[1, T, 257]``): pitch, tempo, frequency_mask, and by default time_mask and
   dropout;
4. features (TF, MFCC ``[T, 26]``): by default add and multiply.

Where DeepSpeech's code contradicts its documentation this module follows the documentation (README, "Deliberate
differences"): ``dropout`` drops a value with probability ``rate``; ``time_mask`` in the features domain masks time
steps; the clock reaches 1.0 in the last epoch and follows the real epoch (resume, feature cache); and every random
draw comes from a seed made of ``--random_seed``, the epoch and the sample's position, separately per augmentation, so
a run's augmentation repeats itself exactly and the ``p`` decisions of different augmentations are independent.
"""
import math
import re

import numpy as np

from .errors import UserError

DOMAINS = ("sample", "signal", "spectrogram", "features")
_NAME = re.compile(r"^([a-z_]+)(?:\[(.*)\])?$", re.S)


# ----------------------------------------------------------------------------------------------------------------
# Value ranges


#: DeepSpeech 0.7.4's example from its doc/TRAINING.rst (section "Augmentation"), all twelve augmentations with
#: its probabilities; ``{noise}`` stands for overlay's source (a CSV or SDB of noise).
DEEPSPEECH_EXAMPLE = ["overlay[p=0.5,source={noise},layers=1,snr=50:20~10]",
                      "reverb[p=0.1,delay=50.0~30.0,decay=10.0:2.0~1.0]",
                      "resample[p=0.1,rate=12000:8000~4000]",
                      "codec[p=0.1,bitrate=48000:16000]",
                      "volume[p=0.1,dbfs=-10:-40]",
                      "pitch[p=0.1,pitch=1~0.2]",
                      "tempo[p=0.1,factor=1~0.5]",
                      "frequency_mask[p=0.1,n=1:3,size=1:5]",
                      "time_mask[p=0.1,domain=signal,n=3:10~2,size=50:100~40]",
                      "dropout[p=0.1,rate=0.05]",
                      "add[p=0.1,domain=signal,stddev=0~0.5]",
                      "multiply[p=0.1,domain=features,stddev=0~0.5]"]

class ValueRange(object):
    """``(start, end, radius)`` of one parameter, of type ``int`` or ``float``."""

    def __init__(self, start, end, radius, kind):
        self.start, self.end, self.radius, self.kind = start, end, radius, kind

    def __repr__(self):
        return "ValueRange({!r}, {!r}, {!r}, {})".format(self.start, self.end, self.radius, self.kind.__name__)

    def __eq__(self, other):
        return isinstance(other, ValueRange) and (self.start, self.end, self.radius, self.kind) == \
            (other.start, other.end, other.radius, other.kind)

    def centre(self, clock):
        """The range's centre at ``clock`` (clamped to [0, 1])."""
        clock = min(1.0, max(0.0, float(clock)))
        return self.start + clock * (self.end - self.start)

    def pick(self, clock, rng):
        """One value at ``clock`` drawn with numpy Generator ``rng`` (ints rounded half to even)."""
        centre = self.centre(clock)
        value = rng.uniform(centre - self.radius, centre + self.radius) if self.radius else centre
        return int(round(value)) if self.kind is int else float(value)

    def tf_pick(self, clock, seed):
        """The same in the graph: ``clock`` a float64 scalar tensor, ``seed`` an int64 ``[2]`` tensor."""
        from .tfcompat import tf  # pylint: disable=import-outside-toplevel
        clock = tf.clip_by_value(tf.cast(clock, tf.float64), 0.0, 1.0)
        centre = float(self.start) + clock * float(self.end - self.start)
        if self.radius:
            centre = centre + float(self.radius) * (
                2.0 * tf.random.stateless_uniform([], seed=seed, dtype=tf.float64) - 1.0)
        if self.kind is int:
            return tf.cast(tf.math.round(centre), tf.int32)
        return tf.cast(centre, tf.float32)


def parse_value_range(text, kind):
    """``'v'``, ``'v~r'``, ``'s:e'``, ``'s:e~r'`` -> :class:`ValueRange` of ``kind``; ValueError says what is wrong."""
    pieces = text.split("~")
    if len(pieces) > 2:
        raise ValueError("more than one '~'")
    ends = pieces[0].split(":")
    if len(ends) > 2:
        raise ValueError("more than one ':'")
    try:
        numbers = [kind(item.strip()) for item in ends + pieces[1:]]
    except ValueError:
        raise ValueError("{!r} is not {}".format(text, "a whole number (or whole-number range)" if kind is int
                                                  else "a number (or number range)"))
    if not all(math.isfinite(number) for number in numbers):
        raise ValueError("{!r} is not a finite number".format(text))
    start = numbers[0]
    end = numbers[1] if len(ends) == 2 else start
    radius = numbers[-1] if len(pieces) == 2 else kind(0)
    if radius < 0:
        raise ValueError("the radius after '~' cannot be negative")
    return ValueRange(start, end, radius, kind)


def _as_range(value, kind):
    if isinstance(value, ValueRange):
        return value
    if isinstance(value, tuple):
        start, end = value[0], value[1]
        radius = value[2] if len(value) > 2 else 0
        return ValueRange(kind(start), kind(end), kind(radius), kind)
    return ValueRange(kind(value), kind(value), kind(0), kind)


# ----------------------------------------------------------------------------------------------------------------
# The augmentations: parameters, defaults, limits


class Augmentation(object):
    """Base of all twelve. ``PARAMS`` maps a parameter to ``(type, default, lowest allowed value or None, unit)``;
    ``range``-typed parameters take the value forms above, ``str`` ones a plain string."""
    NAME = ""
    PARAMS = {}
    DOMAIN_CHOICES = ()  # domains a user may pick with domain=...; empty: fixed
    DEFAULT_DOMAIN = ""

    def __init__(self, spec, p=1.0, domain=None, **params):
        self.spec = spec
        self.p = p
        self.domain = domain or self.DEFAULT_DOMAIN
        self.params = params

    def __getattr__(self, name):
        params = self.__dict__.get("params", {})
        if name in params:
            return params[name]
        raise AttributeError(name)

    def __repr__(self):
        return "<{} {}>".format(self.NAME, self.spec)


class SampleAugmentation(Augmentation):
    """Runs in numpy on float32 audio ``[n]`` before any graph op."""
    DEFAULT_DOMAIN = "sample"

    def apply(self, audio, sample_rate, clock, rng):
        """The augmented audio."""
        raise NotImplementedError


class GraphAugmentation(Augmentation):
    """Runs as TF ops in the input pipeline, on the tensor of its domain."""

    def apply(self, tensor, clock, seed, context):
        """The augmented tensor; ``seed`` is an int64 ``[2]`` tensor unique to this sample and augmentation."""
        raise NotImplementedError


def _seed(seed, salt):
    """A derived int64 ``[2]`` stateless seed."""
    from .tfcompat import tf  # pylint: disable=import-outside-toplevel
    return tf.stack([seed[0], seed[1] * 1009 + salt])


# --- level helpers (DeepSpeech's peak-based dBFS) ---------------------------------------------------------------


def max_dbfs(audio):
    """DeepSpeech's peak level: 20 log10(max |x|) + 3.0103 (a full-scale peak reads 3.0103)."""
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    return 20.0 * math.log10(max(peak, 1e-16)) + 3.0103


def gain_db_to_ratio(gain_db):
    """dB -> amplitude ratio."""
    return 10.0 ** (gain_db / 20.0)


def normalize_audio(audio, dbfs):
    """Scale until the peak level is ``dbfs``, then clip to [-1, 1]."""
    return np.clip(audio * gain_db_to_ratio(dbfs - max_dbfs(audio)), -1.0, 1.0)


# --- sample domain ------------------------------------------------------------------------------------------------


class Overlay(SampleAugmentation):
    """Mix in audio from ``source`` (CSV or SDB) so that its peak sits ``snr`` dB below the sample's peak;
    ``layers`` clips are summed first."""
    NAME = "overlay"
    PARAMS = {"source": (str, None, None, ""), "snr": (float, 3.0, None, "dB"), "layers": (int, 1, 1, "")}

    def __init__(self, spec, **kwargs):
        super(Overlay, self).__init__(spec, **kwargs)
        self._stream = None

    def stream(self):
        """The source's audio concatenated, loaded once per process."""
        if self._stream is None:
            from . import sample_db  # pylint: disable=import-outside-toplevel
            clips = [audio for _, audio, _ in sample_db.read_source(self.source, self.params.get("buffering",
                                                                                                    1 << 20))]
            clips = [clip for clip in clips if len(clip)]
            if not clips:
                raise UserError("--augment {}: the overlay source {} holds no audio".format(self.spec, self.source))
            self._stream = np.concatenate(clips).astype(np.float32)
        return self._stream

    def apply(self, audio, sample_rate, clock, rng):
        stream = self.stream()
        n = len(audio)
        if n == 0:
            return audio
        mix = np.zeros(n, dtype=np.float64)
        for _ in range(max(1, self.layers.pick(clock, rng))):
            # A random place in the source stream (DeepSpeech reads it on sequentially, see the module docstring).
            start = int(rng.integers(0, len(stream)))
            positions = (start + np.arange(n)) % len(stream)
            mix += stream[positions]
        snr = self.snr.pick(clock, rng)
        level = max_dbfs(audio)
        gain = gain_db_to_ratio(level - max_dbfs(mix) - snr)
        return normalize_audio(audio + gain * mix, level).astype(np.float32)


class Reverb(SampleAugmentation):
    """A simplified Schroeder reverb: five recursive comb filters at prime-ratio delays of ``delay`` ms, each echo
    ``decay`` dB quieter; the result keeps the input's peak level."""
    NAME = "reverb"
    PARAMS = {"delay": (float, 20.0, 0.0, "ms"), "decay": (float, 10.0, 0.0, "dB")}

    def apply(self, audio, sample_rate, clock, rng):
        delay = self.delay.pick(clock, rng)
        decay = gain_db_to_ratio(-self.decay.pick(clock, rng))
        dry = audio.astype(np.float64)
        result = dry.copy()
        length = len(dry)
        for prime in (17, 19, 23, 29, 31):
            layer = dry.copy()
            step = max(16, int(delay * (prime / 17.0) * sample_rate / 1000.0))
            for window in range(length // step):
                begin = (window + 1) * step
                width = min(step, length - begin)
                if width <= 0:
                    break
                layer[begin:begin + width] += decay * layer[window * step:window * step + width]
            result += layer
        return normalize_audio(result, max_dbfs(audio)).astype(np.float32)


class Resample(SampleAugmentation):
    """Down- (or up-) sample to ``rate`` Hz and back, losing what that rate cannot hold (e.g. 8 kHz telephone)."""
    NAME = "resample"
    PARAMS = {"rate": (int, 8000, 1, "Hz")}

    def apply(self, audio, sample_rate, clock, rng):
        # Band-limited (FFT) resampling: its cost does not depend on the ratio of the rates, unlike a polyphase
        # filter, whose length grows with rate / gcd(rate, sample rate) (a picked rate of 11873 Hz would be slow).
        from scipy.signal import resample  # pylint: disable=import-outside-toplevel
        rate = max(1, self.rate.pick(clock, rng))
        if rate == sample_rate or len(audio) < 2:
            return audio
        there = resample(audio.astype(np.float64), max(1, int(round(len(audio) * rate / float(sample_rate)))))
        back = resample(there, len(audio))
        return back.astype(np.float32)


class Codec(SampleAugmentation):
    """Encode to Opus at ``bitrate`` bps in DeepSpeech's container and decode again (codec artefacts)."""
    NAME = "codec"
    PARAMS = {"bitrate": (int, 3200, 1, "bps")}

    def apply(self, audio, sample_rate, clock, rng):
        from . import sample_db  # pylint: disable=import-outside-toplevel
        bitrate = max(500, self.bitrate.pick(clock, rng))  # libopus rejects less than 500 bps
        decoded, _ = sample_db.decode_opus(sample_db.encode_opus(audio, sample_rate, bitrate))
        return decoded[:len(audio)]


class Volume(SampleAugmentation):
    """Set the peak level to ``dbfs`` (DeepSpeech's peak dBFS: 3.0103 is a full-scale peak), clipping above it."""
    NAME = "volume"
    PARAMS = {"dbfs": (float, 3.0103, None, "dBFS")}

    def apply(self, audio, sample_rate, clock, rng):
        return normalize_audio(audio.astype(np.float64), self.dbfs.pick(clock, rng)).astype(np.float32)


# --- graph domains ------------------------------------------------------------------------------------------------


def _resize(tensor4, height, width):
    from .tfcompat import tf  # pylint: disable=import-outside-toplevel
    return tf.compat.v1.image.resize_bilinear(tensor4, tf.stack([height, width]))


class Pitch(GraphAugmentation):
    """Scale the spectrogram's frequency axis by ``pitch`` (> 1 up, < 1 down, the top zero-filled)."""
    NAME = "pitch"
    PARAMS = {"pitch": (float, (1.075, 1.075, 0.125), 0.0, "")}
    DEFAULT_DOMAIN = "spectrogram"

    def apply(self, tensor, clock, seed, context):
        from .tfcompat import tf  # pylint: disable=import-outside-toplevel
        shape = tf.shape(tensor)
        frames, bins = shape[1], shape[2]
        factor = tf.maximum(self.pitch.tf_pick(clock, _seed(seed, 1)), 1e-3)
        new_bins = tf.maximum(1, tf.cast(tf.cast(bins, tf.float32) * factor, tf.int32))
        resized = _resize(tf.expand_dims(tensor, -1), frames, new_bins)[:, :, :, 0]
        kept = resized[:, :, :tf.minimum(bins, new_bins)]
        return tf.pad(kept, [[0, 0], [0, 0], [0, tf.maximum(0, bins - new_bins)]])


class Tempo(GraphAugmentation):
    """Stretch the time axis: ``factor`` > 1 is faster (fewer frames), never below the transcript's length;
    ``max_time`` (ms, > 0) caps the result."""
    NAME = "tempo"
    PARAMS = {"factor": (float, 1.1, 0.0, ""), "max_time": ("plain", -1.0, None, "ms")}
    DEFAULT_DOMAIN = "spectrogram"

    def apply(self, tensor, clock, seed, context):
        from .tfcompat import tf  # pylint: disable=import-outside-toplevel
        shape = tf.shape(tensor)
        frames, bins = shape[1], shape[2]
        factor = tf.maximum(self.factor.tf_pick(clock, _seed(seed, 1)), 1e-3)
        new_frames = tf.cast(tf.cast(frames, tf.float32) / factor, tf.int32)
        new_frames = tf.maximum(new_frames, tf.cast(context["label_length"], tf.int32))
        if self.max_time > 0:
            new_frames = tf.minimum(new_frames, int(self.max_time / context["win_step_ms"]))
        new_frames = tf.maximum(new_frames, 1)
        return _resize(tf.expand_dims(tensor, -1), new_frames, bins)[:, :, :, 0]


def _masks(length, n, size_range, units, clock, seed):
    """A ``[length]`` float32 vector of ones with ``n`` zeroed stretches of ``size`` units each."""
    from .tfcompat import tf  # pylint: disable=import-outside-toplevel
    count = n.tf_pick(clock, _seed(seed, 2))
    positions = tf.range(length)

    def body(index, mask):
        salt = tf.cast(index, tf.int64) * 2 + 10
        picked = size_range.tf_pick(clock, _seed(seed, salt))
        size = tf.cast(tf.cast(picked, tf.float32) * units, tf.int32) if units != 1 else tf.cast(picked, tf.int32)
        size = tf.clip_by_value(size, 1, tf.maximum(1, length - 1))
        start = tf.random.stateless_uniform([], seed=_seed(seed, salt + 1), minval=0,
                                            maxval=tf.maximum(1, length - size), dtype=tf.int32)
        hit = tf.logical_and(positions >= start, positions < start + size)
        return index + 1, mask * (1.0 - tf.cast(hit, tf.float32))

    _, mask = tf.compat.v1.while_loop(lambda index, _: index < count, body,
                                      [tf.constant(0), tf.ones([length], tf.float32)])
    return mask


class FrequencyMask(GraphAugmentation):
    """Zero ``n`` bands of ``size`` frequency bins in every frame of the spectrogram."""
    NAME = "frequency_mask"
    PARAMS = {"n": (int, 3, 0, ""), "size": (int, 2, 0, "bins")}
    DEFAULT_DOMAIN = "spectrogram"

    def apply(self, tensor, clock, seed, context):
        from .tfcompat import tf  # pylint: disable=import-outside-toplevel
        mask = _masks(tf.shape(tensor)[2], self.n, self.size, 1, clock, seed)
        return tensor * mask[tf.newaxis, tf.newaxis, :]


class TimeMask(GraphAugmentation):
    """Zero ``n`` stretches of ``size`` ms of time (samples, or frames)."""
    NAME = "time_mask"
    PARAMS = {"n": (int, 3, 0, ""), "size": (float, 10.0, 0.0, "ms")}
    DOMAIN_CHOICES = ("signal", "spectrogram", "features")
    DEFAULT_DOMAIN = "spectrogram"

    def apply(self, tensor, clock, seed, context):
        from .tfcompat import tf  # pylint: disable=import-outside-toplevel
        if self.domain == "signal":
            units = context["sample_rate"] / 1000.0
            mask = _masks(tf.shape(tensor)[0], self.n, self.size, units, clock, seed)
            return tensor * mask[:, tf.newaxis]
        units = 1.0 / context["win_step_ms"]
        if self.domain == "spectrogram":
            mask = _masks(tf.shape(tensor)[1], self.n, self.size, units, clock, seed)
            return tensor * mask[tf.newaxis, :, tf.newaxis]
        mask = _masks(tf.shape(tensor)[0], self.n, self.size, units, clock, seed)
        return tensor * mask[:, tf.newaxis]


class Dropout(GraphAugmentation):
    """Zero each value with probability ``rate`` (no rescaling)."""
    NAME = "dropout"
    PARAMS = {"rate": (float, 0.05, 0.0, "")}
    DOMAIN_CHOICES = ("signal", "spectrogram", "features")
    DEFAULT_DOMAIN = "spectrogram"

    def apply(self, tensor, clock, seed, context):
        from .tfcompat import tf  # pylint: disable=import-outside-toplevel
        rate = tf.maximum(0.0, self.rate.tf_pick(clock, _seed(seed, 1)))
        draw = tf.random.stateless_uniform(tf.shape(tensor), seed=_seed(seed, 3), dtype=tf.float32)
        return tensor * tf.cast(draw >= rate, tensor.dtype)


class _GaussianNoise(GraphAugmentation):
    """Gaussian noise of standard deviation ``stddev`` on every value (the base of add and multiply)."""
    PARAMS = {"stddev": (float, 5.0, 0.0, "")}
    DOMAIN_CHOICES = ("signal", "spectrogram", "features")
    DEFAULT_DOMAIN = "features"

    def noise(self, tensor, clock, seed):
        """N(0, stddev) noise of ``tensor``'s shape, stddev drawn at ``clock``."""
        from .tfcompat import tf  # pylint: disable=import-outside-toplevel
        stddev = self.stddev.tf_pick(clock, _seed(seed, 1))
        return stddev * tf.random.stateless_normal(tf.shape(tensor), seed=_seed(seed, 3))


class Add(_GaussianNoise):
    """Add Gaussian noise N(0, ``stddev``) to every value."""
    NAME = "add"

    def apply(self, tensor, clock, seed, context):
        return tensor + self.noise(tensor, clock, seed)


class Multiply(_GaussianNoise):
    """Multiply every value by Gaussian noise N(1, ``stddev``)."""
    NAME = "multiply"

    def apply(self, tensor, clock, seed, context):
        return tensor * (1.0 + self.noise(tensor, clock, seed))


AUGMENTATIONS = {cls.NAME: cls for cls in (Overlay, Reverb, Resample, Codec, Volume, Pitch, Tempo, FrequencyMask,
                                           TimeMask, Dropout, Add, Multiply)}


# ----------------------------------------------------------------------------------------------------------------
# Parsing


def _usage(cls):
    params = ["p (probability, default 1.0)"]
    for key, (kind, default, _, unit) in cls.PARAMS.items():
        if key == "max_time":
            continue
        shown = "required" if default is None else "default {}".format(
            "{}~{}".format(default[0], default[2]) if isinstance(default, tuple) else default)
        params.append("{} ({}{})".format(key, shown, ", " + unit if unit else ""))
    if cls.DOMAIN_CHOICES:
        params.append("domain ({}; default {})".format("/".join(cls.DOMAIN_CHOICES), cls.DEFAULT_DOMAIN))
    return "{} takes {}".format(cls.NAME, ", ".join(params))


def _checked_value(fail, key, text, parse, problem, low=None, high=None, out_of_range=None):
    """``parse(text)`` (a number or a :class:`ValueRange`) of parameter ``key``, or ``fail('key=text: ...')``:
    ``problem`` when it cannot be parsed (``{error}`` in it is replaced by the parser's reason), ``out_of_range``
    (default ``problem``) when any value it can reach lies outside ``[low, high]`` (NaN is outside)."""
    try:
        value = parse(text)
    except ValueError as err:
        fail("{}={}: {}".format(key, text, problem.format(error=err)))
    ends = (value.start, value.end) if isinstance(value, ValueRange) else (value,)
    # "not >=": a NaN fails both comparisons, so it counts as out of range.
    if (low is not None and not min(ends) >= low) or (high is not None and not max(ends) <= high):
        fail("{}={}: {}".format(key, text, out_of_range or problem))
    return value


def parse_augmentation(spec, sample_rate=16000, read_buffer=1 << 20):
    """One ``--augment`` value -> an :class:`Augmentation`; every problem is one UserError quoting the value."""
    def fail(what):
        raise UserError("--augment {}: {}".format(spec, what))

    match = _NAME.match(spec.strip())
    if not match:
        fail("wrong format: use name or name[key=value,...] with a lowercase name, e.g. "
             "frequency_mask[p=0.8,n=2:4,size=2:4]")
    name, body = match.group(1), match.group(2)
    cls = AUGMENTATIONS.get(name)
    if cls is None:
        import difflib  # pylint: disable=import-outside-toplevel
        close = difflib.get_close_matches(name, list(AUGMENTATIONS), n=1)
        fail("unknown augmentation {!r}{}; the augmentations are {}".format(
            name, " (did you mean {}?)".format(close[0]) if close else "", ", ".join(AUGMENTATIONS)))
    given = {}
    if body is not None:
        for piece in body.split(","):
            if not piece.strip():
                fail("empty parameter: write {}[key=value,...] ({})".format(name, _usage(cls)))
            parts = piece.split("=")
            if len(parts) != 2:
                fail("{!r} is not key=value ({})".format(piece.strip(), _usage(cls)))
            key, value = parts[0].strip(), parts[1].strip()
            if key in given:
                fail("parameter {} given twice".format(key))
            given[key] = value
    kwargs = {}
    for key, value in given.items():
        if key == "p":
            kwargs["p"] = _checked_value(fail, key, value, float, "p is a probability, a plain number in [0, 1]",
                                         low=0.0, high=1.0)
        elif key == "domain":
            if not cls.DOMAIN_CHOICES:
                fail("{} always works in the {} domain; remove domain=".format(name, cls.DEFAULT_DOMAIN))
            if value not in cls.DOMAIN_CHOICES:
                fail("domain={}: use {}".format(value, ", ".join(cls.DOMAIN_CHOICES)))
            kwargs["domain"] = value
        elif key not in cls.PARAMS:
            fail("unknown parameter {!r}: {}".format(key, _usage(cls)))
        else:
            kind, _, low, unit = cls.PARAMS[key]
            if kind is str:
                kwargs[key] = value
                continue
            if kind == "plain":
                kwargs[key] = _checked_value(fail, key, value, float, "give a plain number")
                continue
            kwargs[key] = _checked_value(
                fail, key, value, lambda text, kind=kind: parse_value_range(text, kind),
                "{error}; the forms are v, v~r, start:end and start:end~r", low=low,
                out_of_range="{} cannot be below {}{}".format(key, low, " " + unit if unit else ""))
    for key, (kind, default, _, _) in cls.PARAMS.items():
        if key in kwargs:
            continue
        if default is None:
            fail("{} needs {}=<path of a CSV or SDB file> ({})".format(name, key, _usage(cls)))
        kwargs[key] = default if kind in (str, "plain") else _as_range(default, kind)
    augmentation = cls(spec, **kwargs)
    if isinstance(augmentation, Overlay):
        import os  # pylint: disable=import-outside-toplevel
        path = os.path.abspath(os.path.expanduser(augmentation.source))
        if not os.path.isfile(path):
            fail("overlay source {} does not exist".format(augmentation.source))
        if not path.lower().endswith((".csv", ".sdb")):
            fail("overlay source {} is neither a .csv nor a .sdb file".format(augmentation.source))
        augmentation.params["source"] = path
        augmentation.params["buffering"] = read_buffer
    if isinstance(augmentation, Codec):
        from .sample_db import OPUS_RATES  # pylint: disable=import-outside-toplevel
        if sample_rate not in OPUS_RATES:
            fail("Opus cannot code {} Hz audio (--audio_sample_rate); it supports {} Hz".format(
                sample_rate, ", ".join(str(rate) for rate in OPUS_RATES)))
    return augmentation


def parse_augmentations(specs, sample_rate=16000, read_buffer=1 << 20):
    """All ``--augment`` values -> augmentations sorted by domain (sample, signal, spectrogram, features), keeping
    command-line order within each domain."""
    parsed = [parse_augmentation(spec, sample_rate, read_buffer) for spec in (specs or ())]
    return sorted(parsed, key=lambda item: DOMAINS.index(item.domain))  # sorted() is stable


# ----------------------------------------------------------------------------------------------------------------
# Applying


def training_clock(epoch, index, epochs, count):
    """The clock of sample ``index`` (of ``count``) in ``epoch`` (of ``epochs``): 0.0 at the first sample of the
    first epoch, 1.0 at the last sample of the last epoch."""
    total = max(1, epochs * count - 1)
    return min(1.0, (epoch * count + index) / float(total))


def sample_seed(random_seed, epoch, index):
    """The int64 seed of one sample's augmentation in one epoch (non-negative, < 2**62)."""
    mixed = np.random.SeedSequence([int(random_seed) & 0xFFFFFFFF, int(epoch), int(index)]).generate_state(2)
    return int((int(mixed[0]) << 30) ^ int(mixed[1])) & ((1 << 62) - 1)


def apply_sample_augmentations(audio, sample_rate, clock, seed, augmentations):
    """The sample domain on float32 audio ``[n]``: each augmentation in order, each with its own probability draw
    and its own random stream derived from ``seed``."""
    for position, augmentation in enumerate(augmentations):
        if not isinstance(augmentation, SampleAugmentation):
            continue
        rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, int(seed) >> 32, position])
        if rng.random() < augmentation.p:
            audio = augmentation.apply(np.asarray(audio, dtype=np.float32), sample_rate, clock, rng)
    return np.asarray(audio, dtype=np.float32)


def apply_graph_augmentations(tensor, domain, augmentations, clock, seed, context):
    """The augmentations of ``domain`` applied to ``tensor`` in order, each with probability ``p`` (an independent
    stateless draw per augmentation)."""
    from .tfcompat import tf  # pylint: disable=import-outside-toplevel
    seed = tf.cast(seed, tf.int64)
    for position, augmentation in enumerate(augmentations):
        if augmentation.domain != domain or not isinstance(augmentation, GraphAugmentation):
            continue
        own = tf.stack([seed, tf.constant(1000 + position, tf.int64)])
        if augmentation.p >= 1.0:
            tensor = augmentation.apply(tensor, clock, own, context)
        elif augmentation.p > 0.0:
            draw = tf.random.stateless_uniform([], seed=_seed(own, 0), dtype=tf.float32)
            tensor = tf.cond(draw < augmentation.p,
                             lambda a=augmentation, t=tensor, s=own: a.apply(t, clock, s, context),
                             lambda t=tensor: tf.identity(t))
    return tensor


def has_domain(augmentations, *domains):
    """Whether any augmentation runs in one of ``domains``."""
    return any(item.domain in domains for item in augmentations)


def augmented_features(samples, sample_rate, clock, seed, label_length, augmentations, window_samples,
                       step_samples, n_input, win_step_ms):
    """In-graph: float samples ``[N, 1]`` -> signal augmentations -> power spectrogram -> spectrogram augmentations
    -> MFCC -> feature augmentations; returns ``(features [T, n_input], T)`` as ``audio.samples_to_mfccs`` does."""
    from .tfcompat import tf  # pylint: disable=import-outside-toplevel
    from tensorflow.python.ops import gen_audio_ops  # pylint: disable=import-outside-toplevel
    context = {"sample_rate": sample_rate, "win_step_ms": float(win_step_ms), "label_length": label_length}
    samples = apply_graph_augmentations(samples, "signal", augmentations, clock, seed, context)
    spectrogram = gen_audio_ops.audio_spectrogram(samples, window_size=window_samples, stride=step_samples,
                                                  magnitude_squared=True)
    spectrogram = apply_graph_augmentations(spectrogram, "spectrogram", augmentations, clock, seed, context)
    mfccs = gen_audio_ops.mfcc(spectrogram=spectrogram, sample_rate=sample_rate, dct_coefficient_count=n_input,
                               upper_frequency_limit=sample_rate / 2)
    mfccs = tf.reshape(mfccs, [-1, n_input])
    mfccs = apply_graph_augmentations(mfccs, "features", augmentations, clock, seed, context)
    return mfccs, tf.shape(input=mfccs)[0]
