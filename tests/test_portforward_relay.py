"""The port-forward relay of berth's kubelet (engine/kube/portforward.py) against a SPDY client
written here and real TCP servers on 127.0.0.1 standing in for pods: one connection whose pod
stops reading holds up that connection alone. (kubectl itself forwards through it in
tests/test_kube_spdy.py.)"""

from __future__ import annotations

import socket
import struct
import threading
import time
import zlib

from engine.kube import portforward, spdy


class Client:
    """The client's end of one SPDY session: streams opened with port-forward's headers, and a
    reader that sorts what comes back by stream."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.deflate = zlib.compressobj(zdict=spdy.DICTIONARY)
        self.inflate = zlib.decompressobj(zdict=spdy.DICTIONARY)
        self.data: dict[int, bytearray] = {}
        self.resets: set[int] = set()
        self.windows: dict[int, int] = {}       # WINDOW_UPDATE deltas given back, per stream
        self.lock = threading.Lock()
        self.send_lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def send(self, frame: bytes) -> None:
        with self.send_lock:
            self.sock.sendall(frame)

    def open(self, sid: int, kind: str, port: int, request: int) -> None:
        headers = {"streamtype": [kind], "port": [str(port)], "requestid": [str(request)]}
        with self.send_lock:
            block = self.deflate.compress(spdy.pack_headers(headers))
            block += self.deflate.flush(zlib.Z_SYNC_FLUSH)
            self.sock.sendall(spdy.control(spdy.SYN_STREAM, 0,
                                           struct.pack("!IIBB", sid, 0, 0, 0) + block))

    def _read(self) -> None:
        f = self.sock.makefile("rb")
        while (frame := spdy.read_frame(f)) is not None:
            is_control, kind, _, payload = frame
            with self.lock:
                if not is_control:
                    self.data.setdefault(kind, bytearray()).extend(payload)
                elif kind == spdy.SYN_REPLY:
                    self.inflate.decompress(payload[4:])
                elif kind == spdy.RST_STREAM:
                    self.resets.add(struct.unpack_from("!I", payload)[0])
                elif kind == spdy.WINDOW_UPDATE:
                    sid, delta = struct.unpack_from("!II", payload)
                    self.windows[sid] = self.windows.get(sid, 0) + delta

    def got(self, sid: int) -> bytes:
        with self.lock:
            return bytes(self.data.get(sid, b""))


def _server(handle) -> tuple[socket.socket, int]:
    srv = socket.create_server(("127.0.0.1", 0))
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)   # a small buffer fills soon

    def accept():
        try:
            conn, _ = srv.accept()
        except OSError:
            return
        handle(conn)
    threading.Thread(target=accept, daemon=True).start()
    return srv, srv.getsockname()[1]


def _until(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_a_pod_that_stops_reading_holds_up_its_own_connection_alone():
    held: list[socket.socket] = []
    stuck, stuck_port = _server(held.append)          # accepts, never reads

    def echo(conn):
        while data := conn.recv(65536):
            conn.sendall(data)
        conn.close()
    answering, echo_port = _server(echo)
    a, b = socket.socketpair()
    session = spdy.Session(a.makefile("rb"), a.makefile("wb"), acks_on_delivery=True)
    relay = threading.Thread(target=portforward.relay, args=(session, "127.0.0.1", "web-1"),
                             daemon=True)
    relay.start()
    client = Client(b)
    try:
        client.open(1, "error", stuck_port, 0)
        client.open(3, "data", stuck_port, 0)
        sent = 0

        def flood():   # more than BACKLOG and every socket buffer between us and that pod
            nonlocal sent
            chunk = b"x" * 65536
            try:
                while sent < 4 * portforward.BACKLOG:
                    client.send(spdy.data(3, 0, chunk))
                    sent += len(chunk)
            except OSError:
                pass
        flooder = threading.Thread(target=flood, daemon=True)
        flooder.start()
        flooder.join(30)
        assert not flooder.is_alive(), f"the session stopped reading after {sent} bytes"
        client.open(5, "error", echo_port, 1)
        client.open(7, "data", echo_port, 1)
        client.send(spdy.data(7, 0, b"ping"))
        _until(lambda: client.got(7) == b"ping", 10, "the other connection's answer")
        # the stuck one was closed, and kubectl is told why on its error stream
        _until(lambda: 3 in client.resets, 10, "the stuck connection's reset")
        assert b"web-1: the pod left 4 MiB sent to it unread" in client.got(1)
        # the connection's window came back as bytes were read, the stuck stream's only for
        # what reached its pod
        with client.lock:
            assert client.windows.get(0, 0) >= sent - 65536
            assert client.windows.get(3, 0) <= portforward.BACKLOG
    finally:
        b.shutdown(socket.SHUT_RDWR)   # the client goes (its reader's file holds the socket)
        b.close()
        relay.join(10)
        a.close()
        for s in (stuck, answering, *held):
            s.close()
    assert not relay.is_alive()
