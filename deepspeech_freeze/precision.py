"""``--automatic_mixed_precision``: what it does on this device and stack, and the CPU's bfloat16 support.

DeepSpeech 0.7.4's flag wraps the optimizer in TF's float16 graph rewrite with dynamic loss scaling, a GPU feature.
Here the flag means, per device and stack (:func:`mode`):

* a GPU (either stack): DeepSpeech's float16 rewrite with loss scaling (``"float16"``);
* a CPU on the TF 2 stack: oneDNN's bfloat16 graph rewrite, switched on in the training session's grappler options
  (``"bfloat16"``). Matrix products (and the element-wise ops between them) run in bfloat16, which has float32's
  exponent range, so no loss scaling is needed and the optimizer is not wrapped: variables, Adam slots and
  checkpoints stay float32 with DeepSpeech's names, the graph built is the float32 one, and only the session
  rewrites it when it runs. The CTC loss has no bfloat16 kernel and stays float32 (so does its softmax);
* a CPU on the TF 1.15 stack: TF 1.15 has no bfloat16 rewrite and skips the float16 one without a GPU, so only the
  loss-scaling wrapper applies (``"loss_scaling_only"``, DeepSpeech 0.7.4's behaviour on a CPU): the maths stays
  float32 and nothing gets faster.

Only training sessions are rewritten; evaluation, export and transcription always run float32.

bfloat16 pays only on CPUs that compute it natively: Intel AMX (``amx_bf16``, Sapphire Rapids and later) or
AVX512-BF16 (``avx512_bf16``: Cooper Lake, AMD Zen 4 and later). Elsewhere oneDNN converts to float32 and back
around every product, so the flag makes training slower; :func:`cpu_report` says which applies at start-up.
"""
import logging

from . import lstm, tfcompat
from .tfcompat import tf

log = logging.getLogger("deepspeech_freeze")

#: Where :func:`cpu_flags` reads the CPU's feature flags (tests point it at a file of their own).
CPUINFO = "/proc/cpuinfo"
#: /proc/cpuinfo flags of native bfloat16 arithmetic.
NATIVE_BFLOAT16_FLAGS = ("amx_bf16", "avx512_bf16")
#: The grappler option of oneDNN's bfloat16 rewrite: TF 2.9+ name, then the older one (same field number).
BFLOAT16_REWRITE_FIELDS = ("auto_mixed_precision_onednn_bfloat16", "auto_mixed_precision_mkl")

MODES = ("float32", "float16", "bfloat16", "loss_scaling_only")


def cpu_flags(path=None):
    """The feature flags of the first CPU in ``path`` (default :data:`CPUINFO`) as a set; empty when the file
    cannot be read or has no ``flags`` line (not Linux, or an unusual kernel)."""
    try:
        with open(path or CPUINFO) as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() == "flags":
                    return set(value.split())
    except (OSError, UnicodeDecodeError):
        pass
    return set()


def native_bfloat16(flags):
    """The :data:`NATIVE_BFLOAT16_FLAGS` among ``flags``, in that order (empty: no native bfloat16)."""
    return [flag for flag in NATIVE_BFLOAT16_FLAGS if flag in flags]


def mode(enabled, devices, gpu_graph=False, is_tf2=tfcompat.IS_TF2):
    """How the graph on ``devices`` (``towers.available_devices``) computes: one of :data:`MODES`. ``gpu_graph``:
    the graph runs on a GPU only (``--train_cudnn``), whatever device it is built on."""
    if not enabled:
        return "float32"
    if gpu_graph or any("gpu" in device.lower() for device in devices):
        return "float16"
    return "bfloat16" if is_tf2 else "loss_scaling_only"


def of_training(training, devices):
    """:func:`mode` of a :class:`~deepspeech_freeze.config.TrainingConfig` on ``devices``."""
    return mode(training.automatic_mixed_precision, devices, training.train_cudnn)


def wrap_optimizer(optimizer, precision):
    """The optimizer for ``precision``: TF's float16 rewrite and loss scaling where DeepSpeech has them (a GPU;
    on a TF 1.15 CPU only the loss scaling takes effect), else ``optimizer`` itself."""
    if precision in ("float16", "loss_scaling_only"):
        return tfcompat.mixed_precision_rewrite(optimizer)
    return optimizer


def mark_graph(precision):
    """Mark the default graph as one that runs under the bfloat16 rewrite (for ``"bfloat16"``), so that the graph
    builders pick the forms oneDNN runs fast in bfloat16 (:func:`~deepspeech_freeze.lstm.column_sums`)."""
    if precision == "bfloat16":
        tf.compat.v1.add_to_collection(lstm.BFLOAT16_COLLECTION, True)


def rewrite_field():
    """The name of the bfloat16 rewrite's field in this TF's ``RewriterConfig``; None when it has none."""
    from tensorflow.core.protobuf import rewriter_config_pb2  # pylint: disable=import-outside-toplevel
    fields = rewriter_config_pb2.RewriterConfig.DESCRIPTOR.fields_by_name
    return next((name for name in BFLOAT16_REWRITE_FIELDS if name in fields), None)


def configure_session(options, precision):
    """Switch on oneDNN's bfloat16 rewrite in session ``options`` (a ConfigProto) for ``"bfloat16"``; returns
    ``options``. A TF without the rewrite raises (``mode`` never asks for it there)."""
    if precision != "bfloat16":
        return options
    field = rewrite_field()
    if field is None:
        raise RuntimeError("TensorFlow {} has no bfloat16 rewrite".format(tf.__version__))
    from tensorflow.core.protobuf import rewriter_config_pb2  # pylint: disable=import-outside-toplevel
    setattr(options.graph_options.rewrite_options, field, rewriter_config_pb2.RewriterConfig.ON)
    return options


def cpu_report(precision, flags, lstm_forward="projected"):
    """``[(logging level, line)]`` saying what the flag does here and, for bfloat16, whether this CPU has it
    natively (``flags``: :func:`cpu_flags`) and whether the LSTM forward (``lstm_forward``,
    :func:`~deepspeech_freeze.lstm.forward_kind`) is converted."""
    if precision == "float32":
        return []
    if precision == "float16":
        return [(logging.INFO, "--automatic_mixed_precision: TF's float16 graph rewrite with dynamic loss scaling "
                               "on the GPU, as DeepSpeech")]
    if precision == "loss_scaling_only":
        return [(logging.WARNING, "--automatic_mixed_precision on TF 1.15 without a GPU: TF 1.15 has no bfloat16 "
                                  "rewrite and skips its float16 one on a CPU, so only the dynamic loss scaling "
                                  "applies (DeepSpeech 0.7.4 does the same): the maths stays float32 and training "
                                  "is no faster. Drop the flag here, or use the TF 2 stack, where it trains in "
                                  "bfloat16 on a CPU")]
    native = native_bfloat16(flags)
    lines = [(logging.INFO, "--automatic_mixed_precision on a CPU: oneDNN's bfloat16 rewrite of the training "
                            "graph (matrix products in bfloat16; variables, Adam, checkpoints and the CTC loss "
                            "stay float32; evaluation runs float32)")]
    if native:
        lines.append((logging.INFO, "This CPU computes bfloat16 natively ({}): the flag should speed training "
                                    "up".format(", ".join(native))))
    elif not flags:
        lines.append((logging.WARNING, "Could not read this CPU's feature flags ({}): whether it computes "
                                       "bfloat16 natively is unknown; without AMX or AVX512-BF16 the flag makes "
                                       "training slower".format(CPUINFO)))
    else:
        lines.append((logging.WARNING, "This CPU has no native bfloat16 (neither AMX nor AVX512-BF16 among its "
                                       "flags): oneDNN emulates bfloat16 by converting to float32 and back "
                                       "around every product, so the flag will make training slower. Drop "
                                       "--automatic_mixed_precision on this machine"))
    if lstm_forward == "fused":
        lines.append((logging.WARNING, "The LSTM forward is TF's BlockLSTM op ({}=fused), which has no bfloat16 "
                                       "form: it stays float32 (its gradient is converted). The default "
                                       "'projected' forward computes the same in bfloat16".format(lstm.FORWARD_ENV)))
    return lines


def announce(precision, flags=None):
    """Log :func:`cpu_report` for ``precision`` (``flags`` default: this CPU's) and this run's LSTM forward."""
    if precision == "bfloat16" and flags is None:
        flags = cpu_flags()
    for level, line in cpu_report(precision, flags or set(), lstm.forward_kind()):
        log.log(level, "%s", line)
