"""Export a trained model for the stock DeepSpeech 0.7.4 clients: a frozen ``.pb`` graph or a ``.tflite`` model.

The exported graph is DeepSpeech 0.7.4's inference graph, node for node where the clients look:

==========================  =======================================  ================================================
node                        shape                                    role
==========================  =======================================  ================================================
``input_samples``           ``[window_samples]`` float32             one feature window of audio (-1..1 floats)
``mfccs``                   ``[1, 26]``                              its MFCC features (feature graph only)
``input_node``              ``[batch, n_steps, 19, 26]`` float32     pre-windowed features (no in-graph overlap)
``input_lengths``           ``[batch]`` int32                        valid steps per batch entry (not in TFLite)
``previous_state_c/_h``     ``[batch, n_hidden]`` float32            LSTM state carried between calls
``logits``                  ``[n_steps, batch, n_classes]``          softmax of the time-major output (TFLite:
                                                                     ``[n_steps, n_classes]``, batch squeezed)
``new_state_c/_h``          ``[batch, n_hidden]``                    LSTM state after the call
``metadata_*``              ``[1]`` constants                        version 6, sample rate, window length and step
                                                                     (ms), default beam width, serialised alphabet,
                                                                     language
==========================  =======================================  ================================================

``n_steps`` -1 makes the time axis dynamic. A batch size of 0 or less makes the batch axis dynamic and removes the
state inputs and outputs (and the feature graph): such a graph only maps ``input_node`` + ``input_lengths`` to
``logits``; it needs a dynamic ``n_steps`` and cannot be converted to TFLite. (DeepSpeech 0.7.4 meant the same but
its code compares ``None <= 0`` and fails on Python 3; here the intended behaviour is implemented.)

The variables come from :func:`deepspeech_freeze.checkpoints.restore_for_evaluation` (best_dev, else the latest
train checkpoint, nothing re-initialised), so a transferred model is exported with the alphabet it was trained on;
an alphabet that does not fit the checkpoint's output layer is reported before anything is written.
"""
import logging
import os
import shutil
import sys

from .tfcompat import session_config, tf

from . import alphabet_guard, audio, checkpoints, tfcompat
from .errors import UserError, run_main
from .flags import define_flags
from .model import create_model

log = logging.getLogger("deepspeech_freeze")

#: DeepSpeech 0.7.4's training/deepspeech_training/GRAPH_VERSION; the 0.7 clients refuse lower versions.
GRAPH_VERSION = 6


def create_inference_graph(config, batch_size=1, n_steps=16, tflite=False):
    """Build the export graph in the default graph; returns ``(inputs, outputs, layers)`` dicts of tensors.

    Args:
      config: a :class:`~deepspeech_freeze.config.Config` (alphabet, n_hidden, sample rate, window geometry).
      batch_size: static batch size; 0 or less: dynamic batch without state inputs/outputs.
      n_steps: static number of time steps per call; -1 (or 0): dynamic.
      tflite: unrolled LSTM (static ``n_steps`` needed), no ``input_lengths``, batch axis squeezed from ``logits``.
    Raises:
      UserError: a combination DeepSpeech does not support (dynamic batch with TFLite or with a fixed n_steps,
        TFLite with dynamic n_steps or a batch other than 1).
    """
    dynamic_batch = batch_size <= 0
    if dynamic_batch and tflite:
        raise UserError("--export_batch_size {} (dynamic batch, no LSTM state) cannot be exported to TFLite: use "
                        "--export_batch_size 1".format(batch_size))
    if dynamic_batch and n_steps > 0:
        raise UserError("--export_batch_size {} (dynamic batch) needs a dynamic time axis too: add --n_steps -1"
                        .format(batch_size))
    if tflite and n_steps <= 0:
        raise UserError("--n_steps {}: a TFLite model unrolls the LSTM over a fixed number of steps; use e.g. "
                        "--n_steps 16".format(n_steps))
    if tflite and batch_size != 1:
        raise UserError("--export_batch_size {}: a TFLite model has batch size 1 (its logits drop the batch axis)"
                        .format(batch_size))
    batch = None if dynamic_batch else batch_size
    steps = n_steps if n_steps > 0 else None
    width = 2 * config.model.n_context + 1

    # Feature graph: one window of samples -> one MFCC frame (the clients compute features window by window).
    input_samples = tf.compat.v1.placeholder(tf.float32, [config.data.window_samples], name="input_samples")
    mfccs, _ = audio.samples_to_mfccs(tf.expand_dims(input_samples, -1), config.data.sample_rate,
                                      config.data.window_samples, config.data.step_samples, config.model.n_input,
                                      config.data.sample_rate / 2)
    mfccs = tf.identity(mfccs, name="mfccs")

    # The native client reads n_steps, the window width and n_input from this placeholder's shape.
    input_node = tf.compat.v1.placeholder(tf.float32, [batch, steps, width, config.model.n_input], name="input_node")
    input_lengths = tf.compat.v1.placeholder(tf.int32, [batch], name="input_lengths")
    previous_state = None
    if not dynamic_batch:
        previous_state_c = tf.compat.v1.placeholder(tf.float32, [batch, config.model.n_hidden], name="previous_state_c")
        previous_state_h = tf.compat.v1.placeholder(tf.float32, [batch, config.model.n_hidden], name="previous_state_h")
        previous_state = (previous_state_c, previous_state_h)

    output = create_model(input_node, input_lengths, config.model, dropout=None, overlap=False,
                          previous_state=previous_state, lstm_impl="static" if tflite else "fused")
    logits = output.logits
    if tflite:
        # The TFLite runtime accepts tensors of rank 1, 2 or 4: drop the batch axis (always 1 here).
        logits = tf.squeeze(logits, [1])
    probs = tf.nn.softmax(logits, name="logits")  # the clients' CTC decoder takes probabilities

    if dynamic_batch:
        return {"input": input_node, "input_lengths": input_lengths}, {"outputs": probs}, output.layers

    new_state_c = tf.identity(output.state[0], name="new_state_c")
    new_state_h = tf.identity(output.state[1], name="new_state_h")
    inputs = {"input": input_node, "previous_state_c": previous_state_c, "previous_state_h": previous_state_h,
              "input_samples": input_samples}
    if not tflite:
        inputs["input_lengths"] = input_lengths
    outputs = {"outputs": probs, "new_state_c": new_state_c, "new_state_h": new_state_h, "mfccs": mfccs}
    return inputs, outputs, output.layers


def add_metadata(config, outputs):
    """The constant ``metadata_*`` nodes the clients read at load time (each a ``[1]`` tensor)."""
    outputs["metadata_version"] = tf.constant([GRAPH_VERSION], name="metadata_version")
    outputs["metadata_sample_rate"] = tf.constant([config.data.sample_rate], name="metadata_sample_rate")
    outputs["metadata_feature_win_len"] = tf.constant([config.data.feature_win_len], name="metadata_feature_win_len")
    outputs["metadata_feature_win_step"] = tf.constant([config.data.feature_win_step],
                                                       name="metadata_feature_win_step")
    outputs["metadata_beam_width"] = tf.constant([config.export.beam_width], name="metadata_beam_width")
    outputs["metadata_alphabet"] = tf.constant([config.model.alphabet.serialize()], name="metadata_alphabet")
    if config.export.language:
        outputs["metadata_language"] = tf.constant([config.export.language.encode("utf-8")],
                                                   name="metadata_language")
    return outputs


def _check_export_dir(export_dir, zip_it, scorer_path):
    """Refuse unusable export directories before any work (a file in the way, a non-empty dir for --export_zip)."""
    if os.path.exists(export_dir) and not os.path.isdir(export_dir):
        raise UserError("--export_dir {} is a file, not a directory: choose another path".format(export_dir))
    if zip_it and os.path.isdir(export_dir) and os.listdir(export_dir):
        raise UserError("--export_zip needs an empty --export_dir, but {} holds {}: empty it, add "
                        "--remove_export, or choose another directory".format(
                            export_dir, ", ".join(sorted(os.listdir(export_dir))[:5])))
    if zip_it and scorer_path and not os.path.isfile(scorer_path):
        raise UserError("--scorer_path {} does not exist; --export_zip packs it with the model".format(
            scorer_path))


def freeze(session, outputs):
    """The default graph with its variables replaced by their current values, cut down to ``outputs``, with
    shape arithmetic on static shapes folded into constants (see :func:`fold_constant_nodes`)."""
    names = [tensor.op.name for tensor in outputs.values()]
    frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
        sess=session, input_graph_def=tf.compat.v1.get_default_graph().as_graph_def(), output_node_names=names)
    frozen = tf.compat.v1.graph_util.extract_sub_graph(graph_def=frozen, dest_nodes=names)
    frozen = fold_constant_nodes(frozen)
    return tf.compat.v1.graph_util.extract_sub_graph(graph_def=frozen, dest_nodes=names)


def fold_constant_nodes(graph_def):
    """Replace every node computed from constants only (``Identity`` reads of weights excepted) by a ``Const``
    node of the same name holding its value.

    The stock 0.7.4 client's libdeepspeech.so carries kernels only for the ops DeepSpeech's own graph needs; there,
    static shapes make batch and time sizes Python numbers. This model reads them with ``tf.shape(...)[i]``, which
    TF turns into ``StridedSlice``/``Range``/``Pack`` over constant shapes — ops the client has no kernel for
    (StridedSlice) or should not need. Evaluating them once here leaves only the ops DeepSpeech's graph has.
    """
    nodes = {node.name: node for node in graph_def.node}
    while True:
        foldable = []
        for node in graph_def.node:
            if node.op in ("Const", "Identity", "Placeholder") or not node.input:
                continue
            if any(name.startswith("^") for name in node.input):
                continue
            sources = [nodes.get(name.split(":")[0]) for name in node.input]
            if all(source is not None and source.op == "Const" for source in sources):
                foldable.append(node.name)
        if not foldable:
            return graph_def
        graph = tf.Graph()
        with graph.as_default():
            tf.compat.v1.import_graph_def(graph_def, name="")
        foldable = [name for name in foldable if len(graph.get_operation_by_name(name).outputs) == 1
                    and not graph.get_operation_by_name(name).op_def.is_stateful]
        if not foldable:
            return graph_def
        with tf.compat.v1.Session(graph=graph) as session:
            values = session.run([name + ":0" for name in foldable])
        for name, value in zip(foldable, values):
            constant = tf.compat.v1.NodeDef()
            constant.name = name
            constant.op = "Const"
            if nodes[name].device:
                constant.device = nodes[name].device
            tensor = tf.compat.v1.make_tensor_proto(value)
            constant.attr["dtype"].type = tensor.dtype
            constant.attr["value"].tensor.CopyFrom(tensor)
            nodes[name].CopyFrom(constant)


def to_tflite(graph_def, inputs, outputs, quantize=True):
    """Convert a frozen graph to a TFLite flatbuffer (custom audio ops). ``quantize``: post-training dynamic-range
    quantisation (8-bit weights, float activations), as DeepSpeech 0.7.4 always does; False keeps float weights."""
    converter = tf.compat.v1.lite.TFLiteConverter(graph_def, input_tensors=list(inputs.values()),
                                                  output_tensors=list(outputs.values()))
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    # AudioSpectrogram and Mfcc are not TFLite builtins, but the DeepSpeech TFLite runtime ships kernels for them.
    converter.allow_custom_ops = True
    # TF 1.15's converter runs the ``toco_from_protos`` script of this Python's environment through the shell; make
    # it findable when the environment is used without being activated (``.venv/bin/python -m ...``).
    scripts = os.path.dirname(os.path.abspath(sys.executable))
    path = os.environ.get("PATH")
    if not shutil.which("toco_from_protos") and os.path.isfile(os.path.join(scripts, "toco_from_protos")):
        os.environ["PATH"] = scripts + os.pathsep + path if path else scripts
    try:
        return converter.convert()
    finally:
        if path is None:
            os.environ.pop("PATH", None)
        else:
            os.environ["PATH"] = path


def write_model_card(export_dir, tflite, card):
    """``<author>_<name>_<version>.md``: the model-zoo metadata file DeepSpeech 0.7.4 writes next to the model
    (``card``: the :class:`~deepspeech_freeze.config.ExportConfig`)."""
    path = os.path.join(export_dir, "{}_{}_{}.md".format(card.author_id, card.model_name, card.model_version))
    fields = [("author", card.author_id), ("model_name", card.model_name), ("model_version", card.model_version),
              ("contact_info", card.contact_info), ("license", card.license), ("language", card.language),
              ("runtime", "tflite" if tflite else "tensorflow"),
              ("min_ds_version", card.min_ds_version), ("max_ds_version", card.max_ds_version),
              ("acoustic_model_url", "<replace this with a publicly available URL of the acoustic model>"),
              ("scorer_url", "<replace this with a publicly available URL of the scorer, if present>")]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("---\n")
        for key, value in fields:
            handle.write("{}: {}\n".format(key, value))
        handle.write("---\n{}\n".format(card.description))
    log.info("Model metadata file saved to %s. Before publishing the model, check that every field is correct "
             "and fill in the URL fields.", path)
    return path


def package_zip(export_dir, scorer_path):
    """``--export_zip``: copy the scorer into the export and zip it as ``<export_dir>.zip``; returns the archive."""
    export_dir = os.path.abspath(export_dir)
    if scorer_path:
        shutil.copy(scorer_path, export_dir)
    else:
        log.warning("No --scorer_path given: the zip holds the acoustic model without a scorer")
    archive = shutil.make_archive(export_dir.rstrip(os.sep), "zip", export_dir)
    log.info("Exported packaged model %s", archive)
    return archive


def export(config, checkpoint_dir):
    """Export the model in ``checkpoint_dir`` to ``--export_dir`` (see the module docstring); returns the path of
    the written model file (the ``.zip`` with ``--export_zip``)."""
    settings, scorer_path = config.export, config.decoding.scorer_path
    export_dir = settings.export_dir
    if not export_dir:
        raise UserError("--export_dir is empty: give the directory to export the model to")
    if tfcompat.export_unsupported_reason():
        raise UserError(tfcompat.export_unsupported_reason())
    zip_it = settings.zip
    tflite = settings.tflite or zip_it
    if not settings.remove_export:
        _check_export_dir(export_dir, zip_it, scorer_path)
    log.info("Exporting the model...")

    tf.compat.v1.reset_default_graph()
    inputs, outputs, _ = create_inference_graph(config, batch_size=settings.batch_size, n_steps=settings.n_steps,
                                                tflite=tflite)
    add_metadata(config, outputs)
    tf.compat.v1.get_default_graph().finalize()

    with tf.compat.v1.Session(config=session_config(config.runtime)) as session:
        # Restore first: a missing or unfitting checkpoint must not cost the user an existing export.
        checkpoints.restore_for_evaluation(session, checkpoint_dir, config.load_evaluate)
        frozen = freeze(session, outputs)

    if settings.remove_export and os.path.isdir(export_dir):
        log.info("Removing old export %s", export_dir)
        shutil.rmtree(export_dir)
    _check_export_dir(export_dir, zip_it, scorer_path)
    os.makedirs(export_dir, exist_ok=True)

    if tflite:
        try:
            model = to_tflite(frozen, inputs, outputs, quantize=settings.quantize)
        except Exception as err:  # pylint: disable=broad-except  (the converter raises ConverterError & co.)
            raise UserError("TFLite conversion failed: {}".format(str(err).strip().split("\n")[0]))
        path = os.path.join(export_dir, settings.file_name + ".tflite")
        with open(path, "wb") as handle:
            handle.write(model)
    else:
        path = os.path.join(export_dir, settings.file_name + ".pb")
        with open(path, "wb") as handle:
            handle.write(frozen.SerializeToString())
    log.info("Models exported at %s", export_dir)
    write_model_card(export_dir, tflite, settings)
    if zip_it:
        return package_zip(export_dir, scorer_path)
    return path


def main(_argv):
    """``python -m deepspeech_freeze.export --checkpoint_dir DIR --export_dir OUT [--export_tflite]``."""
    config = alphabet_guard.trained_model_config()
    print(export(config, config.load_dir))


if __name__ == "__main__":
    define_flags()
    run_main(main)
