"""Audio helpers for voice bots: PCM16 <-> G.711 μ-law and sample-rate conversion, stdlib only.

KooKoo's stream carries signed 16-bit linear PCM at 8 kHz (see :mod:`kookoo.stream.codec`);
speech engines often want 16 kHz PCM or μ-law. Python's ``audioop`` module would do this, but it
is deprecated since 3.11 (importing it warns) and removed in 3.13, so these helpers are written
with :mod:`array` and a 256-entry μ-law table instead: no extra dependency, the same results as
``audioop.ulaw2lin``/``lin2ulaw`` (checked in the tests where ``audioop`` still exists).

PCM16 here always means little-endian signed 16-bit samples in :class:`bytes`, the layout of WAV
files and of most speech APIs, whatever the machine's byte order.

>>> pcm16_to_ulaw(b"\\x00\\x00\\xff\\x7f")   # silence, loudest positive
b'\\xff\\x80'
>>> len(resample(b"\\x00\\x00" * 160, 16000, 8000))
160
"""

from __future__ import annotations

import sys
from array import array

__all__ = [
    "pcm16_from_samples",
    "pcm16_samples",
    "pcm16_to_ulaw",
    "resample",
    "ulaw_to_pcm16",
]

_BIG_ENDIAN = sys.byteorder == "big"
_BIAS = 0x84
_CLIP14 = 8159
_SEGMENT_ENDS = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)


def pcm16_samples(pcm: bytes) -> array[int]:
    """The samples of little-endian PCM16 ``pcm`` as an ``array('h')``.

    Raises:
        ValueError: ``pcm`` has an odd number of bytes (not whole 16-bit samples).
    """
    if len(pcm) % 2:
        raise ValueError(f"PCM16 audio must have an even number of bytes, got {len(pcm)}")
    samples = array("h", pcm)
    if _BIG_ENDIAN:  # pragma: no cover - little-endian CI
        samples.byteswap()
    return samples


def pcm16_from_samples(samples: array[int] | list[int]) -> bytes:
    """Little-endian PCM16 bytes from signed 16-bit integer samples.

    Raises:
        OverflowError: a sample is outside -32768..32767.
    """
    out = samples if isinstance(samples, array) else array("h", samples)
    if _BIG_ENDIAN:  # pragma: no cover - little-endian CI
        out = array("h", out)
        out.byteswap()
    return out.tobytes()


def _ulaw_decode(code: int) -> int:
    code = ~code & 0xFF
    sign = code & 0x80
    exponent = (code >> 4) & 0x07
    mantissa = code & 0x0F
    magnitude = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return -magnitude if sign else magnitude


def _ulaw_encode(sample: int) -> int:
    # G.711 on the 14 most significant bits, the variant audioop used, so results match it.
    value = sample >> 2
    mask = 0xFF
    if value < 0:
        value = -value
        mask = 0x7F
    value = min(value, _CLIP14) + (_BIAS >> 2)
    segment = 0
    while segment < 8 and value > _SEGMENT_ENDS[segment]:
        segment += 1
    if segment >= 8:  # pragma: no cover - unreachable after clipping
        return 0x7F ^ mask
    return ((segment << 4) | ((value >> (segment + 1)) & 0x0F)) ^ mask


_DECODE = array("h", [_ulaw_decode(code) for code in range(256)])
_ENCODE: bytes | None = None  # 64 KiB, indexed by the unsigned 16-bit sample; built on first use


def _encode_table() -> bytes:
    global _ENCODE
    if _ENCODE is None:
        _ENCODE = bytes(_ulaw_encode(n - 65536 if n >= 32768 else n) for n in range(65536))
    return _ENCODE


def ulaw_to_pcm16(ulaw: bytes) -> bytes:
    """Decode G.711 μ-law bytes (one per sample) to little-endian PCM16."""
    table = _DECODE
    return pcm16_from_samples(array("h", [table[code] for code in ulaw]))


def pcm16_to_ulaw(pcm: bytes) -> bytes:
    """Encode little-endian PCM16 to G.711 μ-law (one byte per sample).

    Raises:
        ValueError: ``pcm`` has an odd number of bytes.
    """
    table = _encode_table()
    return bytes([table[s & 0xFFFF] for s in pcm16_samples(pcm)])


def resample(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    """Convert little-endian PCM16 ``pcm`` from ``from_rate`` to ``to_rate`` Hz.

    Downsampling by a whole factor (16000 -> 8000) averages each group of samples (a crude
    low-pass that keeps telephone speech intelligible); any other ratio interpolates linearly.
    Each call is independent, so convert whole utterances rather than 10 ms packets when the
    ratio is not a whole factor. For music-grade quality use a real resampler (e.g. soxr).

    Raises:
        ValueError: a rate is not positive, or ``pcm`` has an odd number of bytes.
    """
    if from_rate <= 0 or to_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {from_rate} and {to_rate}")
    samples = pcm16_samples(pcm)
    if from_rate == to_rate or not samples:
        return bytes(pcm)
    if from_rate % to_rate == 0:
        factor = from_rate // to_rate
        count = len(samples) // factor
        out = array(
            "h",
            [sum(samples[i * factor : (i + 1) * factor]) // factor for i in range(count)],
        )
        return pcm16_from_samples(out)
    count = len(samples) * to_rate // from_rate
    last = len(samples) - 1
    result = array("h", bytes(2 * count))
    for i in range(count):
        position = i * from_rate / to_rate
        left = int(position)
        right = min(left + 1, last)
        fraction = position - left
        result[i] = round(samples[left] + (samples[right] - samples[left]) * fraction)
    return pcm16_from_samples(result)
