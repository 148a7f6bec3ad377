"""LZF decompression (the codec of PCL's `DATA binary_compressed`), in pure Python.

LZF is a stream of chunks, each starting with a control byte `c`:
- c < 32: a literal run, the next c + 1 bytes are copied to the output;
- else: a back-reference of length (c >> 5) + 2 (when c >> 5 == 7, one more byte is added to the length) at
  distance ((c & 0x1f) << 8 | next byte) + 1 behind the current end of the output. The source may overlap the
  bytes being written (distance < length), which repeats the last `distance` bytes.
"""
from __future__ import annotations


class LZFError(ValueError):
    """The input is not a valid LZF stream for the declared output size."""


def lzf_decompress(data: bytes | bytearray | memoryview, expected_size: int) -> bytes:
    """Decompress an LZF stream that must expand to exactly `expected_size` bytes; LZFError otherwise."""
    src = bytes(data)
    n = len(src)
    out = bytearray()
    i = 0
    while i < n:
        ctrl = src[i]
        i += 1
        if ctrl < 32:
            length = ctrl + 1
            if i + length > n:
                raise LZFError(f"literal run of {length} bytes at input offset {i - 1} runs past the end of the input")
            out += src[i : i + length]
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
            start = len(out) - distance
            if start < 0:
                raise LZFError(
                    f"back-reference {distance} bytes back at output offset {len(out)} points before the start"
                )
            if distance >= length:
                out += out[start : start + length]
            else:
                # Overlapping copy: byte-by-byte semantics repeat the last `distance` bytes.
                pattern = bytes(out[start:])
                out += (pattern * (length // distance + 1))[:length]
        if len(out) > expected_size:
            raise LZFError(f"output exceeds the declared {expected_size} bytes")
    if len(out) != expected_size:
        raise LZFError(f"output is {len(out)} bytes, expected {expected_size}")
    return bytes(out)
