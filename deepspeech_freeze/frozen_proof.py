"""The frozen-weights proof: fingerprints of the frozen layers' variables as they were loaded, and the check at the
end of a run that every one of them is bit-identical in the run's checkpoints and in the source.

The fingerprints (:mod:`~deepspeech_freeze.fingerprints`, taken as the source is loaded) live in the run record
(:class:`~deepspeech_freeze.run_record.RunRecord`); this module compares them, and reads checkpoints only through
:mod:`~deepspeech_freeze.checkpoints`.
"""
import os

from .tfcompat import tf

from .checkpoints import CheckpointView, find_checkpoint
from .fingerprints import fingerprint
from .naming import KIND_OF_LAYER, layer_of_variable


class FrozenLayersChanged(Exception):
    """A frozen variable differs from its source: the run's central promise was broken. Never silenced."""


def verify_frozen(record, save_dir):
    """Prove that every frozen variable in this run's newest checkpoints is bit-identical to the source.

    Compares the fingerprints recorded when the source was loaded with the variables stored in the newest
    ``train-`` and ``best_dev-`` checkpoints, and with the source checkpoint itself when it still exists.
    Returns the log line; raises :class:`FrozenLayersChanged` on any difference.
    """
    fingerprints = record.frozen_fingerprints
    if not fingerprints:
        return None
    checked = [p for p in (find_checkpoint(save_dir, "last"), find_checkpoint(save_dir, "best")) if p]
    source = record.source_checkpoint
    if source and os.path.isfile(source + ".index"):
        source_view = CheckpointView(source)
        changed = [_describe_variable(name) for name, digest in sorted(fingerprints.items())
                   if fingerprint(source_view.get_tensor(name)) != digest]
        if changed:
            raise FrozenLayersChanged("source checkpoint {} changed on disk since the run started: {}".format(
                source, ", ".join(changed)))
    changed = []
    for path in checked:
        reader = tf.compat.v1.train.NewCheckpointReader(path)
        changed += ["{} in {}".format(_describe_variable(name), os.path.basename(path))
                    for name, digest in sorted(fingerprints.items()) if fingerprint(reader.get_tensor(name)) != digest]
    if changed:
        raise FrozenLayersChanged("frozen layers {} CHANGED during training: {}".format(
            record.frozen_layers, ", ".join(changed)))
    return "frozen layers {} unchanged (bit-identical): {} variables in {} match {}".format(
        record.frozen_layers, len(fingerprints), ", ".join(os.path.basename(p) for p in checked),
        source or "the loaded values")


def _describe_variable(name):
    layer = layer_of_variable(name)
    return "{} (layer {}, {})".format(name, layer, KIND_OF_LAYER[layer]) if layer else name
