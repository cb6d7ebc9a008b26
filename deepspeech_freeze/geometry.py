"""The acoustic model's fixed geometry (DeepSpeech 0.7's), as plain numbers: no TensorFlow here, so the settings
(:mod:`~deepspeech_freeze.config`) can name them without building anything."""

#: MFCC coefficients per feature frame.
N_INPUT = 26
#: Frames of context either side of each frame (the input window is ``2 * N_CONTEXT + 1`` frames).
N_CONTEXT = 9
#: DeepSpeech 0.7's default ReLU clip (``--relu_clip``).
RELU_CLIP = 20.0
