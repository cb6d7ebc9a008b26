"""Fingerprints of model weights: a digest per variable that is equal exactly when the values are bit-identical.

Two promises rest on them: the frozen-weights proof (the run record keeps them as the source is loaded,
:mod:`~deepspeech_freeze.frozen_proof` compares them at the end) and the frozen-prefix cache's key
(:mod:`~deepspeech_freeze.prefix_cache`: a cache is stale once the prefix weights change). Both sit above this
module; it knows only arrays, the graph's variables and the layer names.
"""
import hashlib

import numpy as np
from .tfcompat import tf

from .naming import is_adam_slot, layer_of_variable


def fingerprint(value):
    """sha256 of an array's dtype, shape and bytes: equal fingerprints mean bit-identical values."""
    value = np.ascontiguousarray(value)
    digest = hashlib.sha256()
    digest.update("{}{}".format(value.dtype.str, value.shape).encode())
    digest.update(value.tobytes())
    return digest.hexdigest()


def layer_variables(layers, graph_vars=None):
    """The graph variables (weights and biases, no Adam slots) of the layers numbered in ``layers``."""
    graph_vars = tf.compat.v1.global_variables() if graph_vars is None else graph_vars
    return [v for v in graph_vars if layer_of_variable(v.op.name) in layers and not is_adam_slot(v.op.name)]


def of_layers(session, layers):
    """``{variable name: fingerprint}`` of the variables of ``layers`` as ``session`` holds them now."""
    return {v.op.name: fingerprint(session.run(v)) for v in layer_variables(layers)}
