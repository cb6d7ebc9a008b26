"""Alphabet safety: a model is only ever used with the alphabet it was trained with.

The output layer's class ``i`` means label ``i`` of the training alphabet. An alphabet file with the same number of
labels in another order fits every shape and decodes to garbage without a word, so shapes are not enough: every
run records its alphabet's labels in ``run.json`` (:class:`~deepspeech_freeze.run_record.RunRecord`), and the tools
that use a trained model (evaluate, transcribe, export, lm_optimizer, evaluate_export, a continued run, a transfer
that keeps the output layer) compare ``--alphabet_config_path`` with it here:

* given and different (labels or their order): one error naming both and the first difference;
* not given (left at its default): the recorded alphabet is used, with a log line saying so;
* no record (a DeepSpeech checkpoint, e.g. the 0.7.4 release): the given alphabet, checked by shape as before.
"""
import dataclasses
import logging

from . import advice
from .alphabet import Alphabet
from .config import from_flags
from .errors import UserError
from .logs import setup_logging
from .naming import LAYERS
from .run_record import RunRecord

log = logging.getLogger("deepspeech_freeze")


def _describe(labels):
    return "{} labels + blank = {} classes".format(len(labels), len(labels) + 1)


def _first_difference(given, recorded):
    for index, (mine, theirs) in enumerate(zip(given, recorded)):
        if mine != theirs:
            return "label {} is {!r} there but {!r} here".format(index, theirs, mine)
    shorter, longer = (given, recorded) if len(given) < len(recorded) else (recorded, given)
    return "label {} ({!r}) exists in one only".format(len(shorter), longer[len(shorter)])


def recorded_alphabet(directory):
    """The labels recorded for the model in checkpoint ``directory``, or None when it has no run record."""
    record = RunRecord.load(directory) if directory else None
    if record is None or not record.alphabet:
        return None
    return list(record.alphabet)


def resolve(config, directory, fix=None):
    """``config`` with the alphabet of the model in ``directory``: the given one when it matches the recorded
    labels, the recorded one when ``--alphabet_config_path`` was not given; a :class:`UserError` when a given
    alphabet differs. ``fix``: what the user should do instead (default: use the model's alphabet)."""
    recorded = recorded_alphabet(directory)
    if recorded is None:
        return config
    given = config.model.alphabet
    if list(given.labels) == recorded:
        return config
    where = RunRecord.path(directory)
    if config.alphabet_given:
        raise UserError(
            "alphabet mismatch: --alphabet_config_path {} ({}) is not the alphabet the model in {} was trained with "
            "({}, recorded in {}); {}: the output classes would mean other characters. {}".format(
                given.path, _describe(given.labels), directory, _describe(recorded), where,
                _first_difference(given.labels, recorded),
                fix or "Pass the alphabet file the model was trained with, or leave --alphabet_config_path out to use "
                       "the recorded one"))
    log.info("Using the alphabet recorded in %s (%d labels); --alphabet_config_path was not given", where,
             len(recorded))
    model = dataclasses.replace(config.model, alphabet=Alphabet.from_labels(recorded, where))
    return dataclasses.replace(config, model=model)


def trained_model_config():
    """The start-up of a tool that uses a trained model (evaluate, transcribe, export, lm_optimizer,
    evaluate_export): the Config from the flags, logging at ``--log_level``, then the alphabet of the model in
    ``--checkpoint_dir`` (:func:`resolve`), so that nothing loads a scorer or builds a graph with another one."""
    config = from_flags()
    setup_logging(config.runtime.log_level)
    return resolve(config, config.load_dir)


def resolve_for_training(config):
    """The alphabet check of a training command: a continued run (the save directory holds a run record) must keep
    its alphabet; a transfer that keeps the output layer must use the source's (when the source has a record)."""
    own = recorded_alphabet(config.save_dir)
    if own is not None and config.training.load_train != "init":
        # Layers to re-initialise or another source asked into a folder that holds a run: that is a transfer, so
        # say so first (the way out is another save directory); the alphabet differing is then only a symptom.
        # An alphabet alone is this check's own case (a continued run keeps its alphabet).
        spec, record = config.transfer, RunRecord.load(config.save_dir)
        if advice.resume_conflict(config.save_dir, record, spec.source_dir, spec.reinit_layers, own):
            raise UserError(advice.resume_conflict(config.save_dir, record, spec.source_dir, spec.reinit_layers,
                                                   config.model.alphabet.labels))
        return resolve(config, config.save_dir,
                       fix="A continued run keeps its alphabet: pass the alphabet it was trained with (or leave "
                           "--alphabet_config_path out), or train into a new --save_checkpoint_dir")
    if LAYERS[-1] not in config.transfer.reinit_layers:
        return resolve(config, config.transfer.source_dir,
                       fix="To train for a new alphabet, re-initialise the output layer (--drop_source_layers 1); "
                           "to keep the output layer, pass the source's alphabet")
    return config
