"""deepspeech-freeze: DeepSpeech 0.7 training with layer freezing for cross-lingual transfer."""

__version__ = "0.1.0"

import os as _os

# TensorFlow 1.15 prints pages of C++ and deprecation chatter; keep only errors unless the user asks for more.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
