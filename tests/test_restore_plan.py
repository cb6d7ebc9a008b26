"""The load planner decides per variable: load, initialise (with the reason) or fail with a clear message."""
import pytest
import tensorflow as tf

from deepspeech_freeze.checkpoints import plan_restore
from deepspeech_freeze.errors import UserError


def graph_vars():
    graph = tf.Graph()
    with graph.as_default():
        names = {"layer_1/bias": [4], "layer_1/bias/Adam": [4], "layer_6/bias": [3], "layer_6/bias/Adam_1": [3],
                 "learning_rate": [], "global_step": [], "beta2_power": []}
        return [tf.compat.v1.Variable(tf.zeros(shape), name=name) for name, shape in names.items()]


def test_plan_loads_initialises_and_explains():
    variables = graph_vars()
    ckpt = {"layer_1/bias": [4], "layer_6/bias": [3], "layer_6/bias/Adam_1": [3], "global_step": [],
            "beta2_power": [], "learning_rate": []}
    load, init = plan_restore(variables, ckpt, "ckpt-1", reinit_layers={6})
    assert sorted(v.op.name for v in load) == ["beta2_power", "global_step", "layer_1/bias", "learning_rate"]
    reasons = {v.op.name: reason for v, reason in init}
    assert reasons == {"layer_1/bias/Adam": "Adam slot missing from checkpoint",
                       "layer_6/bias": "layer 6 re-initialised", "layer_6/bias/Adam_1": "layer 6 re-initialised"}


def test_learning_rate_missing_or_forced_comes_from_the_flag():
    variables = graph_vars()
    ckpt = {"layer_1/bias": [4], "layer_6/bias": [3], "global_step": [], "beta2_power": []}
    _, init = plan_restore(variables, ckpt, "release")
    assert ("learning_rate", "from --learning_rate") in [(v.op.name, r) for v, r in init]
    _, init = plan_restore(variables, dict(ckpt, learning_rate=[]), "ckpt", force_lr=True)
    assert "learning_rate" in [v.op.name for v, _ in init]


def test_any_other_missing_variable_is_an_error_listing_names():
    with pytest.raises(UserError, match=r"lacks 2 variable\(s\) the model needs: beta2_power, global_step"):
        plan_restore(graph_vars(), {"layer_1/bias": [4], "layer_6/bias": [3]}, "ckpt-9")


def test_output_shape_mismatch_names_sizes_and_the_flag():
    with pytest.raises(UserError, match=r"output layer of 5 classes \(4 labels \+ blank\).*= 3: pass "
                                        r"--drop_source_layers 1"):
        plan_restore(graph_vars(), {"layer_1/bias": [4], "layer_6/bias": [5], "global_step": [],
                                    "beta2_power": []}, "ckpt-2")
