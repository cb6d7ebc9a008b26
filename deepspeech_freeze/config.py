"""The run's settings: built once from the flags, validated, split by concern, read-only afterwards.

:func:`from_flags` is the only code that reads the DeepSpeech-compatible flags (a stand-alone tool's ``main()``
may read flags of its own). Everything after it — data, graph, loop, checkpoints, evaluation, export — receives a
:class:`Config` and nothing else, so :func:`~deepspeech_freeze.train.fit` can be called in-process with a Config
built by hand (``dataclasses.replace`` makes variants, as top-down training does for its rounds).

Every nonsense value and every contradiction between flags is found here, before any graph is built or file written,
and reported as one :class:`~deepspeech_freeze.errors.UserError` naming the flag(s) and what to do. Each section
validates itself when constructed, so a hand-built Config is checked the same way.
"""
import math
import os
from dataclasses import dataclass, field, fields
from typing import Tuple

from .alphabet import Alphabet
from .errors import UserError
from .flags import DEFAULT_DATA_HOME, FLAGS
from .geometry import N_CONTEXT, N_INPUT, RELU_CLIP
from .sample_db import parse_file_size
from .naming import DROPOUT_FLAGS, LAYERS, format_layers, parse_layer_set, top_layers


#: The environment variables that choose the training graph's LSTM forward and its BlockLSTM gradient (no flag
#: does; :mod:`~deepspeech_freeze.lstm` explains the kinds), and the kinds each accepts.
LSTM_FORWARD_ENV = "DSF_LSTM_FORWARD"
LSTM_FORWARD_KINDS = ("fused", "projected")
LSTM_GRADIENT_ENV = "DSF_LSTM_GRADIENT"
LSTM_GRADIENT_KINDS = ("fast", "stock")


# ----------------------------------------------------------------------------------------------------------------
# Checks shared by the sections


def _at_least(flag, value, low):
    if value < low:
        raise UserError("--{} {}: must be at least {}".format(flag, value, low))


def _in_range(flag, value, low, high, low_open=False, high_open=True):
    """``low <= value < high`` by default; ``low_open``/``high_open`` exclude that end. NaN always fails."""
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (above and below):
        raise UserError("--{} {}: must be in {}{}, {}{}".format(flag, value, "(" if low_open else "[", low, high,
                                                               ")" if high_open else "]"))


def _finite(flag, value):
    if not math.isfinite(value):
        raise UserError("--{} {}: must be a finite number".format(flag, value))


def _one_of(flag, value, choices):
    if value not in choices:
        raise UserError("--{} {}: use {}".format(flag, value, ", ".join(choices[:-1]) + " or " + choices[-1]))


def _absolute(path):
    """A user's path made absolute against the working directory (``''`` stays ``''``), so that nothing later
    depends on the directory a subprocess or library call happens to run in."""
    return os.path.abspath(os.path.expanduser(path)) if path else ""


def split_files(value):
    """``'a.csv,b.csv'`` -> ``('/abs/a.csv', '/abs/b.csv')`` (empty entries dropped)."""
    return tuple(_absolute(item.strip()) for item in (value or "").split(",") if item.strip())


#: How a flag's value becomes a field's value, by the ``convert`` named in the field's metadata.
_CONVERTERS = {"path": _absolute, "files": split_files, "tuple": lambda value: tuple(value or ()),
               "file_size": parse_file_size}


def _flag(default, name=None, convert=None):
    """A section field read from the flag ``name`` (default: the field's own name), its value passed through
    ``convert`` (``'path'``: made absolute; ``'files'``: a comma-separated list of absolute paths). Fields declared
    without it are derived from several flags and given to :func:`_section` by hand."""
    return field(default=default, metadata={"flag": name, "convert": convert})


def _section(cls, flags, **derived):
    """Build the section ``cls`` from the parsed ``flags`` by field name (see :func:`_flag`), plus the ``derived``
    values of the fields no single flag gives."""
    values = {}
    for item in fields(cls):
        if item.name in derived or "flag" not in item.metadata:
            continue
        value = getattr(flags, item.metadata["flag"] or item.name)
        convert = _CONVERTERS.get(item.metadata["convert"])
        values[item.name] = convert(value) if convert else value
    values.update(derived)
    return cls(**values)


# ----------------------------------------------------------------------------------------------------------------
# Sections


@dataclass(frozen=True)
class DataConfig:
    """Sample sets, feature geometry and batching."""
    train_files: Tuple[str, ...] = _flag((), convert="files")
    dev_files: Tuple[str, ...] = _flag((), convert="files")
    test_files: Tuple[str, ...] = _flag((), convert="files")
    metrics_files: Tuple[str, ...] = _flag((), convert="files")
    sample_rate: int = _flag(16000, "audio_sample_rate")
    feature_win_len: int = _flag(32)  # ms
    feature_win_step: int = _flag(20)  # ms
    train_batch_size: int = _flag(1)
    dev_batch_size: int = _flag(1)
    test_batch_size: int = _flag(1)
    feature_cache: str = _flag("", convert="path")
    cache_for_epochs: int = _flag(0)
    reject_short_audio: bool = _flag(False)
    #: ``--augment`` values as given (command-line order); parsed by :mod:`~deepspeech_freeze.augment`.
    augment: Tuple[str, ...] = _flag((), convert="tuple")
    read_buffer: int = _flag(1 << 20, convert="file_size")  # bytes
    shuffle_batches: bool = _flag(False)
    shuffle_start: int = _flag(1)
    shuffle_buffer: int = _flag(1000)

    def __post_init__(self):
        from .augment import parse_augmentations  # pylint: disable=import-outside-toplevel
        parse_augmentations(self.augment, self.sample_rate, self.read_buffer)  # every spec problem, at start-up
        _at_least("read_buffer", self.read_buffer, 1)
        _at_least("shuffle_start", self.shuffle_start, 0)
        _at_least("shuffle_buffer", self.shuffle_buffer, 1)
        for flag, value in (("audio_sample_rate", self.sample_rate), ("feature_win_len", self.feature_win_len),
                            ("feature_win_step", self.feature_win_step), ("train_batch_size", self.train_batch_size),
                            ("dev_batch_size", self.dev_batch_size), ("test_batch_size", self.test_batch_size)):
            _at_least(flag, value, 1)
        _at_least("cache_for_epochs", self.cache_for_epochs, 0)
        if self.window_samples != self.sample_rate * self.feature_win_len / 1000.0 or \
                self.step_samples != self.sample_rate * self.feature_win_step / 1000.0:
            raise UserError("--feature_win_len {} ms and --feature_win_step {} ms must be whole numbers of samples "
                            "at --audio_sample_rate {}".format(self.feature_win_len, self.feature_win_step,
                                                               self.sample_rate))

    @property
    def window_samples(self):
        """Samples per feature window."""
        return self.sample_rate * self.feature_win_len // 1000

    @property
    def step_samples(self):
        """Samples between the starts of consecutive feature windows."""
        return self.sample_rate * self.feature_win_step // 1000


@dataclass(frozen=True)
class ModelConfig:
    """The graph's shape: alphabet (output classes), width, ReLU clip and the six dropout rates.

    ``dropout_rates`` are the values fed to ``dropout_0..5`` (see :data:`~deepspeech_freeze.naming.DROPOUT_FLAGS`
    for which layer uses which)."""
    alphabet: Alphabet
    n_hidden: int = _flag(2048)
    relu_clip: float = _flag(RELU_CLIP)
    dropout_rates: Tuple[float, ...] = (0.05, 0.05, 0.05, 0.0, 0.0, 0.05)
    n_input: int = N_INPUT
    n_context: int = N_CONTEXT

    def __post_init__(self):
        _at_least("n_hidden", self.n_hidden, 1)
        _finite("relu_clip", self.relu_clip)
        if self.relu_clip <= 0:
            raise UserError("--relu_clip {}: must be above 0 (DeepSpeech clips ReLUs at 20)".format(self.relu_clip))
        if len(self.dropout_rates) != 6:
            raise UserError("six dropout rates are needed (dropout_0..5), got {}".format(len(self.dropout_rates)))
        for flag, rate in zip(DROPOUT_FLAGS, self.dropout_rates):
            if not 0.0 <= rate < 1.0:
                raise UserError("--{} {}: a dropout rate must be in [0, 1)".format(flag, rate))

    @property
    def n_classes(self):
        """Output classes: the alphabet's labels plus CTC's blank."""
        return self.alphabet.size + 1


@dataclass(frozen=True)
class TransferSpec:
    """What a training run takes from its source checkpoint and what it keeps fixed.

    Every checkpoint load goes through one of these (see :mod:`deepspeech_freeze.checkpoints`):
    ``source_dir`` is where a fresh run loads from, ``reinit_layers`` are initialised instead of loaded on that
    fresh start (``--drop_source_layers`` / ``--reinit_layers``), ``frozen_layers`` are created with
    ``trainable=False``. A spec checks itself: it cannot freeze or re-initialise all six layers, and a layer
    cannot be both (it would stay random).
    """
    source_dir: str = ""
    reinit_layers: frozenset = frozenset()
    frozen_layers: frozenset = frozenset()
    #: --reuse_output_rows: layer 6's rows of shared labels and the blank start from the source's
    #: (:mod:`deepspeech_freeze.output_rows`); --source_alphabet_config_path names the source's alphabet.
    reuse_output_rows: bool = False
    source_alphabet_path: str = ""

    def __post_init__(self):
        for what, layers in (("frozen", self.frozen_layers), ("re-initialised", self.reinit_layers)):
            if not set(layers) <= set(LAYERS):
                raise UserError("{} layers {}: layers are numbered 1-6".format(what, sorted(layers)))
        if len(self.frozen_layers) == len(LAYERS):
            raise UserError("--freeze_layers {}: freezes all six layers, which leaves nothing to train"
                            .format(format_layers(self.frozen_layers)))
        if len(self.reinit_layers) == len(LAYERS):
            raise UserError("--reinit_layers {}: re-initialises every layer; use --load_train init to start from "
                            "scratch".format(format_layers(self.reinit_layers)))
        if self.reuse_output_rows and LAYERS[-1] not in self.reinit_layers:
            raise UserError("--reuse_output_rows starts layer 6's rows from the source, which only applies when "
                            "layer 6 is re-initialised for a new alphabet: add --drop_source_layers 1")
        both = self.frozen_layers & self.reinit_layers
        if both:
            raise UserError("--freeze_layers {} and the re-initialised layers {} overlap on layer(s) {}: a "
                            "re-initialised layer that is frozen would stay random. Freeze fewer layers or "
                            "re-initialise fewer".format(format_layers(self.frozen_layers),
                                                         format_layers(self.reinit_layers), format_layers(both)))

    def describe(self):
        """One line for the log."""
        return "source {}, re-initialise layers {}, freeze layers {}".format(
            self.source_dir or "(none)", format_layers(self.reinit_layers), format_layers(self.frozen_layers))


@dataclass(frozen=True)
class TrainingConfig:
    """The optimiser, the epoch loop's decisions, checkpointing, and the training-speed options."""
    epochs: int = _flag(75)
    learning_rate: float = _flag(0.001)
    beta1: float = _flag(0.9)
    beta2: float = _flag(0.999)
    epsilon: float = _flag(1e-8)
    random_seed: int = _flag(4568)
    early_stop: bool = _flag(False)
    es_epochs: int = _flag(25)
    es_min_delta: float = _flag(0.05)
    reduce_lr_on_plateau: bool = _flag(False)
    plateau_epochs: int = _flag(10)
    plateau_reduction: float = _flag(0.1)
    checkpoint_secs: int = _flag(600)
    max_to_keep: int = _flag(5)
    load_train: str = _flag("auto")
    force_initialize_learning_rate: bool = _flag(False)
    stop_on_nonfinite_loss: bool = _flag(False)
    automatic_mixed_precision: bool = _flag(False)
    train_cudnn: bool = _flag(False)
    frozen_prefix_cache: str = _flag("", convert="path")
    frozen_prefix_cache_fp16: bool = _flag(False)
    show_progressbar: bool = _flag(True)
    #: The training graph's LSTM forward, ``'fused'`` (BlockLSTM) or ``'projected'``, and its BlockLSTM gradient,
    #: ``'fast'`` or ``'stock'`` (see :mod:`~deepspeech_freeze.lstm`). No flag sets them: ``from_flags`` takes
    #: ``$DSF_LSTM_FORWARD`` / ``$DSF_LSTM_GRADIENT``; empty means this stack's default, which ``fit`` resolves
    #: (and so records in ``run.json``).
    lstm_forward: str = ""
    lstm_gradient: str = ""

    def __post_init__(self):
        _at_least("epochs", self.epochs, 0)
        for name in ("learning_rate", "epsilon"):
            _finite(name, getattr(self, name))
            if getattr(self, name) <= 0:
                raise UserError("--{} {}: must be above 0".format(name, getattr(self, name)))
        _in_range("beta1", self.beta1, 0.0, 1.0)
        _in_range("beta2", self.beta2, 0.0, 1.0)
        _at_least("es_epochs", self.es_epochs, 1)
        _finite("es_min_delta", self.es_min_delta)
        _at_least("es_min_delta", self.es_min_delta, 0)
        _at_least("plateau_epochs", self.plateau_epochs, 1)
        _in_range("plateau_reduction", self.plateau_reduction, 0.0, 1.0, low_open=True, high_open=False)
        _at_least("checkpoint_secs", self.checkpoint_secs, 0)
        _at_least("max_to_keep", self.max_to_keep, 1)
        _one_of("load_train", self.load_train, ("auto", "best", "last", "init"))
        for variable, value, kinds in ((LSTM_FORWARD_ENV, self.lstm_forward, LSTM_FORWARD_KINDS),
                                       (LSTM_GRADIENT_ENV, self.lstm_gradient, LSTM_GRADIENT_KINDS)):
            if value and value not in kinds:
                raise UserError("{}={!r}: use one of {}".format(variable, value, ", ".join(kinds)))


@dataclass(frozen=True)
class RuntimeConfig:
    """Where and how TF runs: threads, devices, Horovod, logging."""
    inter_op_threads: int = _flag(0, "inter_op_parallelism_threads")
    intra_op_threads: int = _flag(0, "intra_op_parallelism_threads")
    cpu_towers: int = _flag(0)
    horovod: bool = _flag(False)
    allow_growth: bool = _flag(False, "use_allow_growth")
    log_placement: bool = _flag(False)
    log_level: int = _flag(1)

    def __post_init__(self):
        _at_least("inter_op_parallelism_threads", self.inter_op_threads, 0)
        _at_least("intra_op_parallelism_threads", self.intra_op_threads, 0)
        _at_least("cpu_towers", self.cpu_towers, 0)
        _in_range("log_level", self.log_level, 0, 3, high_open=False)


@dataclass(frozen=True)
class DecodingConfig:
    """Beam search, language model and the test report."""
    scorer_path: str = _flag("", convert="path")
    beam_width: int = _flag(1024)
    lm_alpha: float = _flag(0.931289039105002)
    lm_beta: float = _flag(1.1834137581510284)
    cutoff_prob: float = _flag(1.0)
    cutoff_top_n: int = _flag(300)
    report_count: int = _flag(5)
    test_output_file: str = _flag("", convert="path")

    def __post_init__(self):
        _at_least("beam_width", self.beam_width, 1)
        _finite("lm_alpha", self.lm_alpha)
        _finite("lm_beta", self.lm_beta)
        _in_range("cutoff_prob", self.cutoff_prob, 0.0, 1.0, low_open=True, high_open=False)
        _at_least("cutoff_top_n", self.cutoff_top_n, 1)
        _at_least("report_count", self.report_count, 0)


@dataclass(frozen=True)
class ExportConfig:
    """The exported graph (for the deepspeech 0.7.4 client) and its model card."""
    export_dir: str = _flag("", convert="path")
    remove_export: bool = _flag(False)
    tflite: bool = _flag(False, "export_tflite")
    #: TFLite only: post-training dynamic-range (8-bit weight) quantisation, DeepSpeech 0.7.4's only kind.
    quantize: bool = _flag(True, "export_quantize")
    zip: bool = _flag(False, "export_zip")
    batch_size: int = _flag(1, "export_batch_size")
    n_steps: int = _flag(16)
    file_name: str = _flag("output_graph", "export_file_name")
    beam_width: int = _flag(500, "export_beam_width")
    author_id: str = _flag("author", "export_author_id")
    model_name: str = _flag("model", "export_model_name")
    model_version: str = _flag("0.0.1", "export_model_version")
    contact_info: str = _flag("", "export_contact_info")
    license: str = _flag("", "export_license")
    language: str = _flag("", "export_language")
    min_ds_version: str = _flag("", "export_min_ds_version")
    max_ds_version: str = _flag("", "export_max_ds_version")
    description: str = _flag("", "export_description")

    def __post_init__(self):
        _at_least("export_beam_width", self.beam_width, 1)
        if self.n_steps < -1:
            raise UserError("--n_steps {}: use a number of time steps (at least 1), or -1 for dynamic"
                            .format(self.n_steps))
        if not self.file_name or os.sep in self.file_name:
            raise UserError("--export_file_name {!r}: give a plain file name (no directory)".format(self.file_name))


@dataclass(frozen=True)
class Config:
    """Everything a command needs, derived from the flags and checked for consistency. Built by hand, only the
    model is required (``Config(ModelConfig(Alphabet(path)))``): every other section has DeepSpeech's defaults."""
    model: ModelConfig
    data: DataConfig = field(default_factory=DataConfig)
    transfer: TransferSpec = field(default_factory=TransferSpec)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    decoding: DecodingConfig = field(default_factory=DecodingConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    load_dir: str = ""
    save_dir: str = ""
    summary_dir: str = ""
    load_evaluate: str = _flag("auto")
    load_cudnn: bool = _flag(False)
    one_shot_infer: str = _flag("", convert="path")
    #: The flags as given (written to ``flags.txt`` in the save directory); empty for a hand-built Config.
    flags_text: str = ""
    #: False when --alphabet_config_path was left at its default: a model's recorded alphabet may then replace it
    #: (:mod:`deepspeech_freeze.alphabet_guard`).
    alphabet_given: bool = True

    def __post_init__(self):
        _one_of("load_evaluate", self.load_evaluate, ("auto", "best", "last"))
        if self.data.augment and self.training.frozen_prefix_cache:
            raise UserError("--augment and --frozen_prefix_cache cannot be combined: the frozen-prefix cache stores "
                            "the frozen layers' outputs of the unchanged audio once, while augmentation changes the "
                            "audio in every epoch. Drop --frozen_prefix_cache to train with augmentation")
        if self.load_cudnn and self.training.train_cudnn:
            raise UserError("--load_cudnn and --train_cudnn contradict each other: --load_cudnn is for loading a "
                            "cuDNN checkpoint without cuDNN; with --train_cudnn the cuDNN weights load directly. "
                            "Drop one")

    @property
    def is_training(self):
        """True when the command trains (``--train_files`` given)."""
        return bool(self.data.train_files)

    @property
    def trained_dir(self):
        """The checkpoint directory a test, export or inference after this command uses: the model this run
        produced (its save directory) when it trains, never the transfer source; otherwise the load directory."""
        return self.save_dir if self.is_training else self.load_dir

    def as_record(self):
        """The settings as JSON data for the run record: each section a dict, layer sets sorted lists, the alphabet
        its file's absolute path (the flags' text is in ``flags.txt`` and left out)."""
        return _plain(self)


def _plain(value):
    if isinstance(value, Alphabet):
        return os.path.abspath(value.path)
    if hasattr(value, "__dataclass_fields__"):
        return {item.name: _plain(getattr(value, item.name)) for item in fields(value) if item.name != "flags_text"}
    if isinstance(value, (frozenset, set)):
        return sorted(value)
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    return value


# ----------------------------------------------------------------------------------------------------------------
# From the flags


def _dropout_rates(flags):
    """The six rates fed to ``dropout_0..5``; -1 for rates 2, 3 and 6 copies ``--dropout_rate``."""
    base = flags.dropout_rate
    values = [getattr(flags, name) for name in DROPOUT_FLAGS]
    return tuple(base if value < 0 and name in ("dropout_rate2", "dropout_rate3", "dropout_rate6") else value
                 for name, value in zip(DROPOUT_FLAGS, values))


def _reject_unsupported(flags):
    """DeepSpeech flags this project does not implement: an error instead of silently ignoring them."""
    if flags.utf8:
        raise UserError("--utf8 is not supported by deepspeech-freeze; use an alphabet file")


def _transfer_layers(flags):
    """(re-initialised, frozen) layer sets from --drop_source_layers / --reinit_layers / --freeze_layers."""
    if not 0 <= flags.drop_source_layers <= 5:
        raise UserError("--drop_source_layers {}: use 1 (layer 6) to 5 (layers 2-6); layer 1 is always loaded "
                        "when a source is given".format(flags.drop_source_layers))
    frozen = parse_layer_set(flags.freeze_layers)
    reinit = top_layers(flags.drop_source_layers)
    if flags.reinit_layers:
        if flags.drop_source_layers:
            raise UserError("--reinit_layers and --drop_source_layers both choose the layers to re-initialise: "
                            "give only one")
        reinit = parse_layer_set(flags.reinit_layers, "--reinit_layers")
        if len(reinit) == len(LAYERS) and flags.load_train == "init":  # the spec's advice would be this very flag
            raise UserError("--reinit_layers {} with --load_train init: --load_train init already initialises "
                            "every layer; drop --reinit_layers".format(format_layers(reinit)))
    return reinit, frozen


#: Where the repository's alphabet files are, for the default ``--alphabet_config_path`` run from elsewhere.
_REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _alphabet_path(path, default):
    """``--alphabet_config_path`` as given; its default (``data/alphabets/english.txt``, relative like DeepSpeech's)
    falls back to the repository's copy when the working directory has none."""
    if path == default and not os.path.exists(path):
        bundled = os.path.join(_REPOSITORY, default)
        if os.path.exists(bundled):
            return bundled
    return path


def from_flags(flags=FLAGS):
    """Validate the parsed flags and build the :class:`Config` (the only reader of the shared flags).

    Paths are made absolute against the working directory here, so every path flag may be given relative.
    """
    _reject_unsupported(flags)
    alphabet = Alphabet(_alphabet_path(flags.alphabet_config_path, flags["alphabet_config_path"].default))
    checkpoint_dir = _absolute(flags.checkpoint_dir) or os.path.join(DEFAULT_DATA_HOME, "checkpoints")
    load_dir = _absolute(flags.load_checkpoint_dir) or checkpoint_dir
    reinit, frozen = _transfer_layers(flags)
    data = _section(DataConfig, flags)
    # Only training re-initialises layers; a test, export or inference loads the model as it is.
    transfer = TransferSpec(source_dir=load_dir, reinit_layers=reinit if data.train_files else frozenset(),
                            frozen_layers=frozen,
                            reuse_output_rows=flags.reuse_output_rows and bool(data.train_files),
                            source_alphabet_path=_absolute(flags.source_alphabet_config_path))
    lstm_kinds = {name: os.environ.get(variable, "").strip().lower()
                  for name, variable in (("lstm_forward", LSTM_FORWARD_ENV), ("lstm_gradient", LSTM_GRADIENT_ENV))}
    return _section(
        Config, flags, data=data,
        model=_section(ModelConfig, flags, alphabet=alphabet, dropout_rates=_dropout_rates(flags)),
        transfer=transfer, training=_section(TrainingConfig, flags, **lstm_kinds),
        runtime=_section(RuntimeConfig, flags), decoding=_section(DecodingConfig, flags),
        export=_section(ExportConfig, flags), load_dir=load_dir,
        save_dir=_absolute(flags.save_checkpoint_dir) or checkpoint_dir,
        summary_dir=_absolute(flags.summary_dir) or os.path.join(DEFAULT_DATA_HOME, "summaries"),
        flags_text=flags.flags_into_string(),
        alphabet_given=not flags["alphabet_config_path"].using_default_value)


def missing_flags(*names, flags=FLAGS):
    """The shared flags among ``names`` left empty (for a tool that needs them given, not defaulted)."""
    return [name for name in names if not getattr(flags, name)]
