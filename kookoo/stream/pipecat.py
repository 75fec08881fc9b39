"""A pipecat ``FrameSerializer`` for KooKoo streams (``pip install 'kookoo[pipecat]'``).

Maps KooKoo messages (through :mod:`kookoo.stream.codec`) to pipecat frames and back:

- caller audio -> ``InputAudioRawFrame`` (resampled from 8 kHz to the pipeline's input rate);
  the 16 kHz probe packet is dropped; DTMF -> ``InputDTMFFrame``; ``start``, ``mark``, ``stop``
  and unknown messages produce no frame (``start`` is kept in :attr:`KooKooFrameSerializer.start`);
- ``OutputAudioRawFrame`` -> media packets at 8 kHz with unique ``seqid`` values;
  ``InterruptionFrame`` -> ``clearBuffer``; ``EndFrame``/``CancelFrame`` -> ``callDisconnect``
  (once; the call then goes on with KooKoo's ``event=Stream`` request).

**Set ``audio_out_10ms_chunks=1`` on the transport** (pipecat's default is 4, i.e. 40 ms):
pipecat asks the serializer for exactly one message per output chunk, and KooKoo expects
80-sample (10 ms) packets [L/E]. With 10 ms chunks at ``audio_out_sample_rate=8000`` every chunk
is one packet. Other chunk sizes still work: whole multiples of 80 samples go out as one larger
packet ([E] 400-sample packets were reported to work; unconfirmed) and the rest is carried to the
next chunk, never padded.

Also set ``audio_out_end_silence_secs=0``: pipecat's default sends 2 s of silence after an
``EndFrame``, which delays the ``callDisconnect`` (and the caller's next IVR step) by 2 s.

Tested with pipecat-ai 1.14.0 (the version the extra pins).

Example::

    serializer = KooKooFrameSerializer()
    transport = SingleClientWebsocketServerTransport(
        params=SingleClientWebsocketServerParams(
            serializer=serializer,
            audio_in_enabled=True, audio_out_enabled=True,
            audio_in_sample_rate=8000, audio_out_sample_rate=8000,
            audio_out_10ms_chunks=1, audio_out_end_silence_secs=0,
        ),
        host="0.0.0.0", port=8765,
    )
"""

from __future__ import annotations

from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.audio.utils import create_stream_resampler
from pipecat.frames.frames import (
    AudioRawFrame,
    CancelFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InputDTMFFrame,
    InterruptionFrame,
)
from pipecat.processors.frame_processor import FrameProcessorSetup
from pipecat.serializers.base_serializer import FrameSerializer

from kookoo.stream.codec import (
    SAMPLE_RATE,
    Audio,
    AudioEncoder,
    Decoder,
    Dtmf,
    Start,
    StreamProtocolError,
    call_disconnect,
    clear_buffer,
)

__all__ = ["PIPECAT_VERSION", "KooKooFrameSerializer"]

PIPECAT_VERSION = "1.14.0"
"""The pipecat-ai version this serializer was tested with."""


class KooKooFrameSerializer(FrameSerializer):
    """Serialize pipecat frames to KooKoo's ``<stream>`` WebSocket messages and back.

    Args:
        sid: the call's ``ucid`` for outbound packets; taken from ``start`` when omitted.
        params: :class:`KooKooFrameSerializer.InputParams`.

    Attributes:
        start: the ``start`` message once received (sid, caller, DID, ``x-uui`` data).
        bad_frames: frames that could not be read (skipped).
    """

    class InputParams(FrameSerializer.InputParams):  # type: ignore[misc,unused-ignore]
        """Settings.

        Parameters:
            sample_rate: the pipeline's input rate; default: the pipeline's
                ``audio_in_sample_rate``.
            hang_up_on_end: send ``callDisconnect`` on ``EndFrame``/``CancelFrame``.
            seqid_prefix: prefix of outbound ``seqid`` values (random if ``None``).
        """

        sample_rate: int | None = None
        hang_up_on_end: bool = True
        seqid_prefix: str | None = None

    def __init__(self, sid: str | None = None, params: InputParams | None = None) -> None:
        params = params or KooKooFrameSerializer.InputParams()
        super().__init__(params)
        self._kookoo = params
        self._decoder = Decoder()
        self._encoder = AudioEncoder(sid, seqid_prefix=params.seqid_prefix)
        self._sample_rate = params.sample_rate or SAMPLE_RATE
        self._in = create_stream_resampler(clear_after_secs=params.resampler_clear_after_secs)
        self._out = create_stream_resampler(clear_after_secs=params.resampler_clear_after_secs)
        self._hung_up = False
        self.start: Start | None = None
        self.bad_frames = 0

    async def setup(self, setup: FrameProcessorSetup) -> None:  # type: ignore[override,unused-ignore]
        """Take the pipeline's input sample rate."""
        self._sample_rate = self._kookoo.sample_rate or setup.audio_in_sample_rate

    async def serialize(self, frame: Frame) -> str | bytes | None:
        """One KooKoo message for ``frame``, or ``None`` for frames KooKoo has no use for."""
        if isinstance(frame, InterruptionFrame):
            self._encoder.clear()
            return clear_buffer()
        if isinstance(frame, EndFrame | CancelFrame):
            if not self._kookoo.hang_up_on_end or self._hung_up:
                return None
            self._hung_up = True
            return call_disconnect()
        if isinstance(frame, AudioRawFrame):
            pcm = frame.audio
            if frame.sample_rate != SAMPLE_RATE:
                pcm = await self._out.resample(pcm, frame.sample_rate, SAMPLE_RATE)
            return self._encoder.encode_one(pcm) if pcm else None
        return None

    async def deserialize(self, data: str | bytes) -> Frame | None:
        """The pipecat frame for one KooKoo message, or ``None``."""
        try:
            messages = self._decoder.feed(data)
        except StreamProtocolError:
            self.bad_frames += 1
            return None
        for message in messages:
            if isinstance(message, Start):
                self.start = message
                if self._encoder.sid is None:
                    self._encoder.sid = message.sid
            elif isinstance(message, Audio):
                pcm = message.pcm
                if message.sample_rate != self._sample_rate:
                    pcm = await self._in.resample(pcm, message.sample_rate, self._sample_rate)
                if pcm:
                    return InputAudioRawFrame(
                        audio=pcm, sample_rate=self._sample_rate, num_channels=1
                    )
            elif isinstance(message, Dtmf):
                try:
                    return InputDTMFFrame(KeypadEntry(message.digit))
                except ValueError:
                    return None
        return None
