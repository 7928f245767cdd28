"""The server side of a WebSocket (RFC 6455) over an accepted HTTP/1.1 connection, and the
channel framing of Kubernetes' streaming protocols (``v4.channel.k8s.io``, ``v5.…``): each binary
message's first byte names its stream (0 stdin, 1 stdout, 2 stderr, 3 the exit status, 4 a
terminal resize; v5's 255 closes a stream)."""

from __future__ import annotations

import base64
import hashlib
import os
import struct
import threading

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
TEXT, BINARY, CLOSING, PING, PONG = 1, 2, 8, 9, 10


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def _mask(data: bytes, key: bytes) -> bytes:
    """``data`` XORed with the 4-byte ``key`` repeated (one big-integer XOR, not a byte loop)."""
    n = len(data)
    if not n:
        return data
    pad = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(pad, "big")).to_bytes(n, "big")


def choose_protocol(offered: str) -> str | None:
    """The channel protocol to speak among the client's offers, or None."""
    names = [p.strip() for p in offered.split(",")]
    return next((p for p in PROTOCOLS if p in names), None)


class WebSocket:
    """Frames over a connection's buffered reader and writer; sends may come from any thread.
    A ``client``'s frames are masked, as RFC 6455 asks of the side that opened the socket."""

    def __init__(self, rfile, wfile, client: bool = False):
        self.rfile, self.wfile = rfile, wfile
        self.client = client
        self._lock = threading.Lock()
        self.closed = False

    def send(self, payload: bytes, opcode: int = BINARY) -> None:
        n = len(payload)
        masked = 0x80 if self.client else 0
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, masked | n)
        elif n < 1 << 16:
            head = struct.pack("!BBH", 0x80 | opcode, masked | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, masked | 127, n)
        if masked:
            key = os.urandom(4)
            head += key
            payload = _mask(payload, key)
        with self._lock:
            if self.closed:
                return
            self.wfile.write(head + payload)
            self.wfile.flush()

    def channel(self, channel: int, data: bytes) -> None:
        self.send(bytes([channel]) + data)

    def recv(self) -> bytes | None:
        """The next data message (pings answered on the way), or None once the peer closed."""
        message = b""
        while True:
            head = self.rfile.read(2)
            if len(head) < 2:
                return None
            fin, opcode = head[0] & 0x80, head[0] & 0x0F
            masked, n = head[1] & 0x80, head[1] & 0x7F
            if n == 126:
                n = struct.unpack("!H", self.rfile.read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self.rfile.read(8))[0]
            mask = self.rfile.read(4) if masked else b""
            data = self.rfile.read(n)
            if len(data) < n:
                return None
            if mask:
                data = _mask(data, mask)
            if opcode == CLOSING:
                self.close()
                return None
            if opcode == PING:
                self.send(data, PONG)
                continue
            if opcode == PONG:
                continue
            message += data
            if fin:
                return message

    def close(self, code: int = 1000) -> None:
        try:
            self.send(struct.pack("!H", code), CLOSING)
        except OSError:
            pass
        self.closed = True
