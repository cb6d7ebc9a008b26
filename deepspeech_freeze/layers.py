"""Layer numbers, their variable scopes, and the layer-set syntax used by --freeze_layers.

The six layers of DeepSpeech 0.7 are numbered everywhere in this project as:
1, 2, 3 = dense; 4 = LSTM; 5 = dense; 6 = output. A variable belongs to a layer by the first component of its name
(its top-level variable scope), never by a substring test: ``beta2_power`` belongs to no layer.
"""
from .errors import UserError

LAYERS = (1, 2, 3, 4, 5, 6)
SCOPE_OF_LAYER = {1: "layer_1", 2: "layer_2", 3: "layer_3", 4: "cudnn_lstm", 5: "layer_5", 6: "layer_6"}
LAYER_OF_SCOPE = {scope: layer for layer, scope in SCOPE_OF_LAYER.items()}
KIND_OF_LAYER = {1: "dense", 2: "dense", 3: "dense", 4: "LSTM", 5: "dense", 6: "output"}

#: Suffixes of the optimizer's slot variables (Adam's first and second moments).
ADAM_SLOT_SUFFIXES = ("/Adam", "/Adam_1")


def layer_of_variable(name):
    """Layer number of a variable (its slots included) by its top-level scope, or None (global_step, ...)."""
    name = name.split(":")[0]
    return LAYER_OF_SCOPE.get(name.split("/", 1)[0])


def is_adam_slot(name):
    """True for ``<var>/Adam`` and ``<var>/Adam_1``: an exact last path component, not a substring."""
    name = name.split(":")[0]
    return any(name.endswith(suffix) for suffix in ADAM_SLOT_SUFFIXES)


def format_layers(layers):
    """``{1, 2, 3, 5}`` -> ``'1-3,5'``: compact text for flags, file names and log lines."""
    numbers = sorted(layers)
    if not numbers:
        return "none"
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
