"""LZF decompression (the codec of PCL's `DATA binary_compressed`), in pure Python.

LZF is a stream of chunks, each starting with a control byte `c`:
- c < 32: a literal run, the next c + 1 bytes are copied to the output;
- else: a back-reference of length (c >> 5) + 2 (when c >> 5 == 7, one more byte is added to the length) at
  distance ((c & 0x1f) << 8 | next byte) + 1 behind the current end of the output. The source may overlap the
  bytes being written (distance < length), which repeats the last `distance` bytes.

The output buffer is allocated once at the size the caller states (PCD's header gives it, checked against
MAX_DECODED_BYTES by the reader), and every run is checked to fit *before* it is written: a stream can never
make the decoder write or allocate past the stated size, whatever it encodes (LZF expands up to ~88 times).
"""
from __future__ import annotations


class LZFError(ValueError):
    """The input is not a valid LZF stream for the declared output size."""


def lzf_decompress(data: bytes | bytearray | memoryview, expected_size: int) -> bytearray:
    """Decompress an LZF stream that must expand to exactly `expected_size` bytes; LZFError otherwise.

    Returns a bytearray of `expected_size` bytes (no second full-size copy is made).
    """
    if isinstance(expected_size, bool) or not isinstance(expected_size, int) or expected_size < 0:
        raise ValueError(f"expected_size must be an integer >= 0, got {expected_size!r}")
    src = memoryview(data).cast("B")
    n = len(src)
    out = bytearray(expected_size)
    o = i = 0  # output and input positions
    while i < n:
        ctrl = src[i]
        i += 1
        if ctrl < 32:
            length = ctrl + 1
            if i + length > n:
                raise LZFError(f"literal run of {length} bytes at input offset {i - 1} runs past the end of the input")
            _check_room(o, length, expected_size)
            out[o : o + length] = src[i : i + length]
            i += length
        else:
            length = ctrl >> 5
            if length == 7:
                if i >= n:
                    raise LZFError("input ends inside a back-reference")
                length += src[i]
                i += 1
            if i >= n:
                raise LZFError("input ends inside a back-reference")
            distance = ((ctrl & 0x1F) << 8 | src[i]) + 1
            i += 1
            length += 2
            start = o - distance
            if start < 0:
                raise LZFError(f"back-reference {distance} bytes back at output offset {o} points before the start")
            _check_room(o, length, expected_size)
            if distance >= length:
                out[o : o + length] = out[start : start + length]
            else:
                # Overlapping copy: byte-by-byte semantics repeat the last `distance` bytes.
                pattern = bytes(out[start:o])
                out[o : o + length] = (pattern * (length // distance + 1))[:length]
        o += length
    if o != expected_size:
        raise LZFError(f"output is {o} bytes, expected {expected_size}")
    return out


def _check_room(pos: int, length: int, expected_size: int) -> None:
    if pos + length > expected_size:
        raise LZFError(f"output exceeds the declared {expected_size} bytes")
