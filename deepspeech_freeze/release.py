"""DeepSpeech's 0.7.4 English release checkpoint: what it must contain, checked after download.

``python -m deepspeech_freeze.release --checkpoint_dir DIR`` verifies an unpacked ``deepspeech-0.7.4-checkpoint``:
a ``best_dev_checkpoint`` state file pointing at ``best_dev-732522``, holding exactly the variables, with exactly
the shapes, listed in ``release_0.7.4_variables.txt`` (layers 1, 2, 3, 5, 6 with Adam slots, the cuDNN opaque LSTM
kernel with its slots, the canonical LSTM kernel and bias, ``global_step``, ``beta1_power``, ``beta2_power``, no
``learning_rate``). That list is data taken from the DeepSpeech facts, not derived by code here, so the verifier
and its tests cannot share a mistake. ``bin/download-release-checkpoint.sh`` runs it after unpacking.
"""
import io
import os

from absl import flags

from .checkpoints import CheckpointView, find_checkpoint
from .errors import UserError, run_main

#: The release's variable list (names and shapes), kept in the package as data.
VARIABLES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "release_0.7.4_variables.txt")


def read_release_variables(path=VARIABLES_FILE):
    """``(checkpoint_name, {name: shape})`` from a variables file: ``checkpoint NAME`` once, then ``NAME SHAPE``
    lines (SHAPE is comma-separated dimensions or ``scalar``); ``#`` starts a comment."""
    checkpoint, shapes = None, {}
    with io.open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            if len(fields) != 2:
                raise ValueError("{} line {}: expected NAME SHAPE, got {!r}".format(path, number, line.strip()))
            name, shape = fields
            if name == "checkpoint":
                checkpoint = shape
            elif name in shapes:
                raise ValueError("{} line {}: {} is listed twice".format(path, number, name))
            else:
                shapes[name] = [] if shape == "scalar" else [int(dim) for dim in shape.split(",")]
    if checkpoint is None or not shapes:
        raise ValueError("{} names no checkpoint or no variables".format(path))
    return checkpoint, shapes


def verify_release(directory, variables_file=VARIABLES_FILE):
    """Raise :class:`UserError` unless ``directory`` holds the release checkpoint; return its path."""
    checkpoint, expected = read_release_variables(variables_file)
    path = find_checkpoint(directory, "best")
    if path is None:
        raise UserError("{} has no best_dev_checkpoint state file pointing at existing files: point "
                        "--checkpoint_dir at the unpacked deepspeech-0.7.4-checkpoint folder".format(directory))
    if os.path.basename(path) != checkpoint:
        raise UserError("{} is not {}, the release's checkpoint: download the archive again".format(path, checkpoint))
    found = {name: list(shape) for name, shape in CheckpointView(path).reader.get_variable_to_shape_map().items()}
    problems = []
    missing = sorted(set(expected) - set(found))
    if missing:
        problems.append("missing {}".format(", ".join(missing)))
    extra = sorted(set(found) - set(expected))
    if extra:
        problems.append("not in the release {}".format(", ".join(extra)))
    wrong = sorted(name for name in set(expected) & set(found) if expected[name] != found[name])
    if wrong:
        problems.append("wrong shape {}".format(", ".join("{} {} (release: {})".format(
            name, found[name], expected[name]) for name in wrong)))
    if problems:
        raise UserError("{} is not DeepSpeech's 0.7.4 release checkpoint ({} variables listed in {}): {}; "
                        "download the archive again".format(path, len(expected), os.path.basename(variables_file),
                                                            "; ".join(problems)))
    return path


def main(_argv):
    """``python -m deepspeech_freeze.release --checkpoint_dir DIR``: one OK line, or one ERROR line and exit 2."""
    print("OK: {} is DeepSpeech's 0.7.4 release checkpoint ({} variables)".format(
        verify_release(flags.FLAGS.checkpoint_dir), len(read_release_variables()[1])))


if __name__ == "__main__":
    flags.DEFINE_string("checkpoint_dir", "", "the unpacked deepspeech-0.7.4-checkpoint directory")
    run_main(main)
