"""DeepSpeech's 0.7.4 English release checkpoint: what it must contain, checked after download.

``python -m deepspeech_freeze.release --checkpoint_dir DIR`` verifies an unpacked ``deepspeech-0.7.4-checkpoint``:
state file ``best_dev_checkpoint`` pointing at ``best_dev-732522``, and exactly the variables the release holds
(facts section 1): layers 1, 2, 3, 5, 6 with Adam slots, the cuDNN opaque LSTM kernel with its slots, the canonical
LSTM kernel and bias, ``global_step``, ``beta1_power``, ``beta2_power`` and no ``learning_rate``, at n_hidden 2048
with 29 outputs. ``bin/download-release-checkpoint.sh`` runs it after unpacking.
"""
from absl import flags

from . import cudnn_format
from .checkpoints import CheckpointView, find_checkpoint, global_step_of
from .errors import UserError, run_main

RELEASE_STEP = 732522


def expected_release_variables(n_hidden=2048, n_classes=29):
    """``{name: shape}`` of the release checkpoint (the opaque kernel's size is cuDNN's, without padding)."""
    shapes = {}
    for layer, (rows, cols) in {"layer_1": (494, n_hidden), "layer_2": (n_hidden, n_hidden),
                                "layer_3": (n_hidden, n_hidden), "layer_5": (n_hidden, n_hidden),
                                "layer_6": (n_hidden, n_classes)}.items():
        for suffix in ("", "/Adam", "/Adam_1"):
            shapes["{}/weights{}".format(layer, suffix)] = [rows, cols]
            shapes["{}/bias{}".format(layer, suffix)] = [cols]
    for suffix in ("", "/Adam", "/Adam_1"):
        shapes[cudnn_format.OPAQUE + suffix] = [cudnn_format.opaque_size(n_hidden, n_hidden)]
    shapes[cudnn_format.CANONICAL + "kernel"] = [2 * n_hidden, 4 * n_hidden]
    shapes[cudnn_format.CANONICAL + "bias"] = [4 * n_hidden]
    shapes.update({"global_step": [], "beta1_power": [], "beta2_power": []})
    return shapes


def verify_release(directory, n_hidden=2048, n_classes=29, step=RELEASE_STEP):
    """Raise :class:`UserError` unless ``directory`` holds the release checkpoint; return its path."""
    path = find_checkpoint(directory, "best")
    if path is None:
        raise UserError("{} has no best_dev_checkpoint state file pointing at existing files".format(directory))
    if global_step_of(path) != step:
        raise UserError("{} is not best_dev-{}".format(path, step))
    found = {name: list(shape) for name, shape in CheckpointView(path).reader.get_variable_to_shape_map().items()}
    expected = expected_release_variables(n_hidden, n_classes)
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    wrong = sorted(name for name in set(expected) & set(found) if expected[name] != found[name])
    if missing or extra or wrong:
        raise UserError("{} does not look like the 0.7.4 release: missing {}, unexpected {}, other shapes {}".format(
            path, missing or "none", extra or "none", wrong or "none"))
    return path


def main(_argv):
    print("OK: {} is DeepSpeech's 0.7.4 release checkpoint ({} variables)".format(
        verify_release(flags.FLAGS.checkpoint_dir), len(expected_release_variables())))


if __name__ == "__main__":
    flags.DEFINE_string("checkpoint_dir", "", "the unpacked deepspeech-0.7.4-checkpoint directory")
    run_main(main)
