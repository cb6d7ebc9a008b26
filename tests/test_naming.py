"""Layer numbering, the --freeze_layers syntax and scope-based variable matching."""
import pytest

from deepspeech_freeze.errors import UserError
from deepspeech_freeze.naming import format_layers, is_adam_slot, layer_of_variable, parse_layer_set, top_layers


@pytest.mark.parametrize("spec, expected", [
    ("", set()), ("0", set()), ("1", {1}), ("3", {1, 2, 3}), ("5", {1, 2, 3, 4, 5}), ("6", {6}),
    ("1-3,5", {1, 2, 3, 5}), ("4-6", {4, 5, 6}), ("2-2", {2}), ("1,3", {1, 3}), (" 1 - 2 , 6 ", {1, 2, 6}),
])
def test_parse_layer_set(spec, expected):
    assert parse_layer_set(spec) == frozenset(expected)


@pytest.mark.parametrize("spec", ["7", "0-2", "1-7", "a", "1-3,x", "3-1", "1--2", "-1", "1-2-3", ","])
def test_parse_layer_set_rejects(spec):
    with pytest.raises(UserError) as err:
        parse_layer_set(spec)
    assert "--freeze_layers" in str(err.value)


@pytest.mark.parametrize("spec, text", [
    ("1-3,5", "1-3,5"), ("4-6", "4-6"), ("1,3", "1,3"), ("6", "6"), ("1-5", "1-5"), ("5", "1-5"), ("3", "1-3"),
    ("1,2,3", "1-3"), ("3,1,2,6", "1-3,6"), ("1,3-4,6", "1,3-4,6"), ("2-2", "2-2"), ("4-4", "4-4"), ("1-1", "1"),
])
def test_format_layers_round_trips(spec, text):
    # Each spec is compared with its own expected text (a conditional expression after ``==`` once made this
    # assert true for "1-5" whatever format_layers returned), and the text reads back as the same set.
    assert format_layers(parse_layer_set(spec)) == text
    assert parse_layer_set(text) == parse_layer_set(spec)


def test_format_layers_of_nothing():
    assert format_layers(set()) == "none"


def test_top_layers_matches_drop_source_layers():
    assert top_layers(1) == {6}
    assert top_layers(2) == {5, 6}
    assert top_layers(3) == {4, 5, 6}
    assert top_layers(5) == {2, 3, 4, 5, 6}
    assert top_layers(0) == set()


def test_variables_match_by_scope_not_substring():
    assert layer_of_variable("layer_2/weights") == 2
    assert layer_of_variable("layer_2/weights/Adam_1:0") == 2
    assert layer_of_variable("cudnn_lstm/rnn/multi_rnn_cell/cell_0/cudnn_compatible_lstm_cell/kernel") == 4
    assert layer_of_variable("cudnn_lstm/opaque_kernel/Adam") == 4
    # DeepSpeech's substring test put beta2_power into "layer 2"; scopes do not.
    for name in ("beta2_power", "beta1_power", "global_step", "learning_rate", "layer_22/x", "tower_0/layer_1/y"):
        assert layer_of_variable(name) is None
    assert is_adam_slot("layer_1/bias/Adam") and is_adam_slot("layer_1/bias/Adam_1")
    assert not is_adam_slot("Adam_layer/bias") and not is_adam_slot("layer_1/Adamant")
