"""``--reuse_output_rows``: start the re-initialised output layer's rows of characters that the source and target
alphabets share, and the CTC blank, from the source checkpoint's rows (beyond DeepSpeech and Coqui; reported to help
English -> German in mozilla/DeepSpeech#3247).

Layer 6 maps layer 5's ``n_hidden`` outputs to one logit per class: column ``j`` of ``layer_6/weights`` and entry
``j`` of ``layer_6/bias`` belong to label ``j`` (the blank is the last class). When the alphabet changes, layer 6 is
re-initialised (``--drop_source_layers 1``); with this option, after that initialisation, every target label that
the source alphabet also has gets the source's column and bias entry bit for bit, and so does the blank. The other
columns keep DeepSpeech's initialisation (Glorot uniform weights, zero bias). Adam's slots start at zero as for any
re-initialised layer. The source alphabet is the one recorded in the source's ``run.json``, else
``--source_alphabet_config_path`` (a DeepSpeech checkpoint such as the 0.7.4 release has no record: pass
``data/alphabets/english.txt``).
"""
import logging

import numpy as np

from .tfcompat import tf

from .alphabet import Alphabet
from .errors import UserError
from .run_record import RunRecord

log = logging.getLogger("deepspeech_freeze")

WEIGHTS, BIAS = "layer_6/weights", "layer_6/bias"


def source_labels(source_dir, source_alphabet_path=""):
    """The source model's labels: ``--source_alphabet_config_path`` when given, else its run record's."""
    if source_alphabet_path:
        return Alphabet(source_alphabet_path).labels
    record = RunRecord.load(source_dir)
    if record is None or not record.alphabet:
        raise UserError("--reuse_output_rows needs the source model's alphabet, and {} has no run record (a "
                        "DeepSpeech checkpoint): pass --source_alphabet_config_path (the 0.7.4 release uses "
                        "data/alphabets/english.txt)".format(source_dir))
    return list(record.alphabet)


def row_map(source, target):
    """``[(target class, source class)]`` for shared labels and the blank (last class of each)."""
    index = {label: i for i, label in enumerate(source)}
    pairs = [(j, index[label]) for j, label in enumerate(target) if label in index]
    return pairs + [(len(target), len(source))]


def reuse(session, checkpoint_path, source, target):
    """Overwrite the graph's layer 6 columns of shared labels and the blank with the checkpoint's; returns the
    shared labels. ``source``/``target``: the two alphabets' label lists."""
    reader = tf.compat.v1.train.NewCheckpointReader(checkpoint_path)
    weights_src, bias_src = reader.get_tensor(WEIGHTS), reader.get_tensor(BIAS)
    if weights_src.shape[1] != len(source) + 1:
        raise UserError("--reuse_output_rows: the source alphabet has {} labels (+ blank = {}) but layer 6 of {} has "
                        "{} classes: pass the source's alphabet with --source_alphabet_config_path".format(
                            len(source), len(source) + 1, checkpoint_path, weights_src.shape[1]))
    variables = {v.op.name: v for v in tf.compat.v1.global_variables() if v.op.name in (WEIGHTS, BIAS)}
    weights, bias = session.run([variables[WEIGHTS], variables[BIAS]])
    if weights.shape[0] != weights_src.shape[0]:
        raise UserError("--reuse_output_rows: layer 6 of {} has {} inputs but the model's n_hidden is {}".format(
            checkpoint_path, weights_src.shape[0], weights.shape[0]))
    pairs = row_map(source, target)
    for mine, theirs in pairs:
        weights[:, mine] = weights_src[:, theirs]
        bias[mine] = bias_src[theirs]
    variables[WEIGHTS].load(np.ascontiguousarray(weights), session)
    variables[BIAS].load(bias, session)
    shared = [target[j] for j, _ in pairs[:-1]]
    new = [label for label in target if label not in set(shared)]
    log.info("Reused output rows: %d of %d labels shared with the source alphabet, and the blank, start from the "
             "source's rows; new labels %s are initialised", len(shared), len(target), new or "(none)")
    return shared
