"""A worker of :mod:`deepspeech_freeze.evaluate_export`, run as a script (not imported): the stock ``deepspeech``
0.7.4 package transcribes WAV files with an exported model.

It imports nothing from this package and no TensorFlow: libdeepspeech.so carries its own TensorFlow (or TFLite),
which must not meet another one in the same process, and it may run under another interpreter (the TF 1.15 stack's,
whose Python the client's wheels are built for). Reads ``{"model", "scorer", "wavs"}`` as JSON on stdin, writes one
JSON line ``{"wav", "prediction"}`` per file (or ``{"wav", "error"}``) on stdout, and a first line describing the
client.
"""
import json
import sys
import wave


def main():
    request = json.loads(sys.stdin.read())
    import numpy as np
    import deepspeech
    model = deepspeech.Model(request["model"])
    if request.get("scorer"):
        model.enableExternalScorer(request["scorer"])
    print(json.dumps({"client": deepspeech.__file__, "version": getattr(deepspeech, "version", lambda: "")(),
                      "beam_width": model.beamWidth(), "sample_rate": model.sampleRate()}), flush=True)
    for path in request["wavs"]:
        try:
            with wave.open(path) as handle:
                audio = np.frombuffer(handle.readframes(handle.getnframes()), np.int16)
            print(json.dumps({"wav": path, "prediction": model.stt(audio)}), flush=True)
        except Exception as err:  # pylint: disable=broad-except  (reported per file by the parent)
            print(json.dumps({"wav": path, "error": "{}: {}".format(type(err).__name__, err)}), flush=True)


if __name__ == "__main__":
    main()
