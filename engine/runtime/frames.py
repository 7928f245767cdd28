"""The stream between a container's monitor and whoever is attached to it.

Docker's multiplexed stream, extended with control frames: each frame is an 8-byte header
(type, three zero bytes, big-endian payload length) and the payload. The same framing runs over
the socketpair a foreground ``run`` hands the monitor at spawn and over the unix socket in the
container's run directory that ``attach`` connects to; both directions use it.

monitor -> client: STDOUT, STDERR (output), EXIT (decimal exit code; the last frame).
client -> monitor: STDIN (input), STDIN_EOF, SIGNAL (decimal signal number, sig-proxy),
RESIZE ("rows cols"), DETACH.
"""

from __future__ import annotations

import os
import struct

STDIN, STDOUT, STDERR, EXIT, SIGNAL, RESIZE, STDIN_EOF, DETACH = range(8)
HEADER = struct.Struct(">BxxxI")
MAX_PAYLOAD = 1 << 20


def encode(kind: int, payload: bytes = b"") -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


class Decoder:
    """Turns bytes as they arrive into (type, payload) frames."""

    def __init__(self):
        self.buf = b""

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self.buf += data
        out = []
        while len(self.buf) >= HEADER.size:
            kind, size = HEADER.unpack_from(self.buf)
            if size > MAX_PAYLOAD:
                raise ValueError(f"frame of {size} bytes is larger than {MAX_PAYLOAD}")
            end = HEADER.size + size
            if len(self.buf) < end:
                break
            out.append((kind, self.buf[HEADER.size:end]))
            self.buf = self.buf[end:]
        return out


def read_frames(fd: int):
    """Blocking reader: yield frames from ``fd`` until the other side closes it."""
    dec = Decoder()
    while True:
        try:
            data = os.read(fd, 65536)
        except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for clarity
            continue
        if not data:
            return
        yield from dec.feed(data)
