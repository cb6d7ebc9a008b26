"""deepspeech-freeze: DeepSpeech 0.7 training with layer freezing for cross-lingual transfer."""

__version__ = "0.1.0"

import os as _os
import sys as _sys

# TensorFlow prints pages of C++ and deprecation chatter; keep it quiet unless the user asks for it with
# --log_level 0 (as DeepSpeech 0.7, read from the command line: TF reads the variable when it is first imported).
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if any(
    arg == "--log_level=0" or (arg == "--log_level" and _sys.argv[i + 1:i + 2] == ["0"])
    for i, arg in enumerate(_sys.argv)) else "3")
# TensorFlow 2 reads this when it is first imported: oneDNN's kernels are about twice as fast on AVX-512 CPUs
# (bench/compare_stacks.py). TF 1.15's stock wheel ignores it. Set it to 0 to compare.
_os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
