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

STDIN, STDOUT, STDERR, EXIT, SIGNAL, RESIZE, STDIN_EOF, DETACH = range(8)
HEADER_SIZE = 8   # with int.to_bytes rather than struct, whose import costs `berth run` 0.6 ms
MAX_PAYLOAD = 1 << 20


def encode(kind: int, payload: bytes = b"") -> bytes:
    return bytes((kind, 0, 0, 0)) + len(payload).to_bytes(4, "big") + payload


class Decoder:
    """Turns bytes as they arrive into (type, payload) frames."""

    def __init__(self):
        self.buf = b""

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self.buf += data
        out = []
        while len(self.buf) >= HEADER_SIZE:
            kind, size = self.buf[0], int.from_bytes(self.buf[4:8], "big")
            if size > MAX_PAYLOAD:
                raise ValueError(f"frame of {size} bytes is larger than {MAX_PAYLOAD}")
            end = HEADER_SIZE + size
            if len(self.buf) < end:
                break
            out.append((kind, self.buf[HEADER_SIZE:end]))
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
