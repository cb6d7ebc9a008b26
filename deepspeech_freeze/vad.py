"""Split long recordings at pauses with WebRTC's voice activity detector, as DeepSpeech 0.7.4's ``vad_split`` does.

30 ms frames (a trailing partial frame is dropped) go through ``webrtcvad`` at ``--vad_aggressiveness`` (0-3). A
ring buffer of the last 10 frames opens a segment when more than 5 of them are voiced (the buffered frames become
its head) and closes it when more than 5 of the last 10 are unvoiced; a segment open at the end is kept. There is
no minimum or maximum segment length.

Timestamps are those of the segment's first and last frame: ``start = 30 ms x first frame``, ``end = 30 ms x (last
frame + 1)``. DeepSpeech 0.7.4 computes both one frame (30 ms) early; that is a bug, not followed here (README,
deliberate differences).
"""
import collections

from .errors import UserError

FRAME_MS = 30
RING_FRAMES = 10
THRESHOLD = 0.5
VAD_RATES = (8000, 16000, 32000, 48000)

Segment = collections.namedtuple("Segment", "start_ms end_ms pcm")


def vad_split(pcm, sample_rate, aggressiveness=3, frame_ms=FRAME_MS):
    """Yield :data:`Segment` s (start and end in ms, the segment's 16-bit mono PCM bytes) of ``pcm``."""
    import webrtcvad  # pylint: disable=import-outside-toplevel
    if sample_rate not in VAD_RATES:
        raise UserError("WebRTC VAD needs audio at {} Hz, not {} Hz".format(
            ", ".join(str(rate) for rate in VAD_RATES), sample_rate))
    if aggressiveness not in (0, 1, 2, 3):
        raise UserError("--vad_aggressiveness {}: use 0 (least) to 3 (most aggressive)".format(aggressiveness))
    vad = webrtcvad.Vad(int(aggressiveness))
    frame_bytes = 2 * sample_rate * frame_ms // 1000
    n_frames = len(pcm) // frame_bytes
    ring = collections.deque(maxlen=RING_FRAMES)
    triggered, first, voiced = False, 0, []
    for index in range(n_frames):
        frame = pcm[index * frame_bytes:(index + 1) * frame_bytes]
        speech = vad.is_speech(frame, sample_rate)
        ring.append((index, frame, speech))
        if not triggered:
            if sum(1 for _, _, s in ring if s) > THRESHOLD * RING_FRAMES:
                triggered = True
                first = ring[0][0]
                voiced = [f for _, f, _ in ring]
                ring.clear()
        else:
            voiced.append(frame)
            if sum(1 for _, _, s in ring if not s) > THRESHOLD * RING_FRAMES:
                yield Segment(frame_ms * first, frame_ms * (index + 1), b"".join(voiced))
                triggered, voiced = False, []
                ring.clear()
    if voiced:
        yield Segment(frame_ms * first, frame_ms * n_frames, b"".join(voiced))
