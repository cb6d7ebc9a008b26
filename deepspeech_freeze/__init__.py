"""deepspeech-freeze: DeepSpeech 0.7 training with layer freezing for cross-lingual transfer."""

__version__ = "0.1.0"

import os as _os

# TensorFlow 1.15 prints pages of C++ and deprecation chatter; keep only errors unless the user asks for more.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# TensorFlow 2 reads this when it is first imported: oneDNN's kernels are about twice as fast on AVX-512 CPUs
# (bench/compare_stacks.py). TF 1.15's stock wheel ignores it. Set it to 0 to compare.
_os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
