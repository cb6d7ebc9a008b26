"""Names: layer numbers, their variable scopes and variable names, dropout rates per layer, layer-set syntax.

The one home of every name a checkpoint, a flag or a log line uses for a part of the model. The six layers of
DeepSpeech 0.7 are numbered everywhere in this project as: 1, 2, 3 = dense; 4 = LSTM; 5 = dense; 6 = output. A
variable belongs to a layer by the first component of its name (its top-level variable scope), never by a
substring test: ``beta2_power`` belongs to no layer.
"""
from .errors import UserError

LAYERS = (1, 2, 3, 4, 5, 6)
SCOPE_OF_LAYER = {1: "layer_1", 2: "layer_2", 3: "layer_3", 4: "cudnn_lstm", 5: "layer_5", 6: "layer_6"}
LAYER_OF_SCOPE = {scope: layer for layer, scope in SCOPE_OF_LAYER.items()}
KIND_OF_LAYER = {1: "dense", 2: "dense", 3: "dense", 4: "LSTM", 5: "dense", 6: "output"}

#: Suffixes of the optimizer's slot variables (Adam's first and second moments).
ADAM_SLOT_SUFFIXES = ("/Adam", "/Adam_1")

#: The LSTM's weights under the canonical names of TF's cuDNN-compatible cell (what DeepSpeech 0.7's CPU graph and
#: the canonical copies in cuDNN checkpoints use): ``LSTM_CANONICAL + "kernel"`` and ``+ "bias"``.
LSTM_CANONICAL_SCOPE = "cudnn_lstm/rnn/multi_rnn_cell/cell_0/cudnn_compatible_lstm_cell"
LSTM_CANONICAL = LSTM_CANONICAL_SCOPE + "/"
#: cuDNN's single opaque parameter buffer of the LSTM (``--train_cudnn`` graphs and release checkpoints).
LSTM_OPAQUE = "cudnn_lstm/opaque_kernel"

#: The flags of the six rates fed to the placeholders ``dropout_0..5``, in that order.
DROPOUT_FLAGS = ("dropout_rate", "dropout_rate2", "dropout_rate3", "dropout_rate4", "dropout_rate5",
                 "dropout_rate6")
#: Which rate each layer applies, as in DeepSpeech 0.7: layers 1-3 use rates 0-2, layer 5 uses rate 5 (the flag
#: ``--dropout_rate6``). The LSTM and the output layer have no dropout, so rates 3 and 4 are fed but never used.
DROPOUT_INDEX_OF_LAYER = {1: 0, 2: 1, 3: 2, 5: 5}


def dropout_of_layer(layer, rates):
    """The dropout rate layer ``layer`` applies given the six fed ``rates`` (None: the layer has no dropout)."""
    index = DROPOUT_INDEX_OF_LAYER.get(layer)
    return None if index is None else rates[index]


def layer_of_variable(name):
    """Layer number of a variable (its slots included) by its top-level scope, or None (global_step, ...)."""
    name = name.split(":")[0]
    return LAYER_OF_SCOPE.get(name.split("/", 1)[0])


def is_adam_slot(name):
    """True for ``<var>/Adam`` and ``<var>/Adam_1``: an exact last path component, not a substring."""
    name = name.split(":")[0]
    return any(name.endswith(suffix) for suffix in ADAM_SLOT_SUFFIXES)


def format_layers(layers):
    """``{1, 2, 3, 5}`` -> ``'1-3,5'``: compact text for flags, file names and log lines, which reads back as the
    same set through :func:`parse_layer_set` (so a lone layer 2-5 is ``'2-2'``: a bare ``2`` means layers 1-2)."""
    numbers = sorted(layers)
    if not numbers:
        return "none"
    if len(numbers) == 1 and 2 <= numbers[0] <= 5:
        return "{0}-{0}".format(numbers[0])
    parts, start, prev = [], numbers[0], numbers[0]
    for number in numbers[1:] + [None]:
        if number is not None and number == prev + 1:
            prev = number
            continue
        parts.append(str(start) if start == prev else "{}-{}".format(start, prev))
        if number is not None:
            start = prev = number
    return ",".join(parts)


def parse_layer_set(spec, flag="--freeze_layers"):
    """Parse a layer-set spec into a frozenset of layer numbers.

    * ``''`` or ``'0'``: no layers.
    * a bare ``N`` from 1 to 5: layers 1..N (the paper's "N layers frozen"). A bare ``6`` means layer 6 alone,
      since 1..6 would leave nothing to train.
    * a list of numbers and ranges, e.g. ``'1-3,5'``, ``'4-6'``, ``'2-2'``: exactly those layers.
    """
    text = (spec or "").replace(" ", "")
    if text in ("", "0"):
        return frozenset()
    if text.isdigit():
        number = int(text)
        if not 1 <= number <= 6:
            raise UserError("{} {}: layers are numbered 1-6 (1,2,3 dense; 4 LSTM; 5 dense; 6 output)"
                            .format(flag, spec))
        return frozenset([6]) if number == 6 else frozenset(range(1, number + 1))
    layers = set()
    for token in text.split(","):
        bounds = token.split("-")
        if len(bounds) not in (1, 2) or not all(b.isdigit() for b in bounds):
            raise UserError("{} {}: cannot read {!r}; use a number N (layers 1..N) or a list of layers and ranges "
                            "such as 1-3,5".format(flag, spec, token))
        low, high = int(bounds[0]), int(bounds[-1])
        if low > high or low < 1 or high > 6:
            raise UserError("{} {}: {!r} is not a range within 1-6 (1,2,3 dense; 4 LSTM; 5 dense; 6 output)"
                            .format(flag, spec, token))
        layers.update(range(low, high + 1))
    return frozenset(layers)


def top_layers(count):
    """The top ``count`` layers, as ``--drop_source_layers`` counts them: 1 -> {6}, 2 -> {5, 6}, ... 5 -> {2..6}."""
    return frozenset(LAYERS[len(LAYERS) - count:]) if count > 0 else frozenset()
