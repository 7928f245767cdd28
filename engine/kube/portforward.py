"""``kubectl port-forward`` through the kubelet API (``/portForward/NS/POD``) over SPDY/3.1
(``portforward.k8s.io``; spdy.py): each connection the client forwards is a pair of streams it
opens with the same ``requestID`` and the pod's ``port``, "error" then "data". The data stream
is relayed to a TCP connection to the pod's IP on that port (a berth pod's address on the node's
bridge, reachable from the node); what goes wrong is written on the error stream, as the kubelet
does.

Each connection has its own writer thread and backlog, so a pod that stops reading holds up its
own connection and no other: the session's reader only ever queues. A client that does flow
control is held back by the stream's window, given back as bytes reach the pod
(spdy.Session acks_on_delivery); kubectl's spdystream does none, so a connection whose pod
left BACKLOG bytes unread is closed, with the reason on its error stream."""

from __future__ import annotations

import collections
import socket
import threading

from . import spdy
from .podspec import INFRA

PROTOCOL = "portforward.k8s.io"
BACKLOG = 4 << 20   # bytes a connection may hold for a pod that is not reading them


def serve(handler, ns: str, pod: str) -> None:
    """Answer the request on ``handler`` (a kubelet_api handler) and relay until the client
    goes."""
    infra = handler.api.find(ns, pod, INFRA, False)
    ip = infra is not None and infra.running and \
        (infra.state.networks.get(handler.api.agent.network) or {}).get("IPAddress")
    if not ip:
        return handler._send(404, f'pod "{pod}" is not running here'.encode(), "text/plain")
    if handler.headers.get("Upgrade", "").lower() != "spdy/3.1":
        return handler._send(400, b"berth's kubelet forwards ports over SPDY/3.1 "
                             b"(portforward.k8s.io)", "text/plain")
    session = spdy.upgrade(handler, PROTOCOL, acks_on_delivery=True)
    if session is not None:
        relay(session, ip, pod)


def relay(session: spdy.Session, ip: str, pod: str) -> None:
    """Forward the session's connections to ``ip`` (the pod's address) until the client goes."""
    errors: dict[str, int] = {}        # requestID -> its error stream
    conns: dict[int, _Conn] = {}       # data stream -> the pod's end
    try:
        while (event := session.recv()) is not None:
            kind, sid = event[0], event[1]
            if kind == "open":
                _open(session, sid, ip, pod, errors, conns)
            elif sid in conns:
                _to_pod(session, conns, sid, kind, event[2] if kind == "data" else b"", pod)
    finally:
        for conn in conns.values():
            conn.shut()
        session.close()


class _Conn:
    """A forwarded connection to the pod: what the client sent waits in ``backlog`` for the
    writer thread. Closed once both sides have ended (kubectl 1.20 doesn't reset the streams of
    a connection it is done with)."""

    def __init__(self, session: spdy.Session, sid: int, sock: socket.socket, port: str,
                 error: int | None):
        self.session, self.sid, self.sock, self.port, self.error = \
            session, sid, sock, port, error
        self.backlog: collections.deque[bytes | None] = collections.deque()   # None: the FIN
        self.queued = 0
        self.closed = False
        self._ended = 0
        self._lock = threading.Condition()
        threading.Thread(target=self._write, daemon=True).start()

    def put(self, data: bytes | None) -> bool:
        """Queue bytes for the pod (None: the client's half-close, after them); False when the
        pod has left BACKLOG bytes unread."""
        with self._lock:
            if data and self.queued + len(data) > BACKLOG:
                return False
            self.backlog.append(data)
            self.queued += len(data or b"")
            self._lock.notify()
        return True

    def _write(self) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self.backlog or self.closed)
                if self.closed:
                    return
                data = self.backlog.popleft()
            if data is None:
                try:
                    self.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return self.end()
            try:
                self.sock.sendall(data)
            except OSError:
                return
            with self._lock:
                self.queued -= len(data)
            self.session.delivered(self.sid, len(data))

    def end(self) -> None:
        with self._lock:
            self._ended += 1
            if self._ended == 2:
                self.sock.close()

    def shut(self) -> None:
        """Close it now, waking its reader in _from_pod (a bare close() doesn't) and its
        writer."""
        with self._lock:
            self.closed = True
            self._lock.notify()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def _header(session: spdy.Session, sid: int, name: str) -> str:
    return (session.headers[sid].get(name) or [""])[0]


def _open(session, sid: int, ip: str, pod: str, errors: dict, conns: dict) -> None:
    """A stream the client opened: an error stream is kept for its data stream, which is
    connected to the pod at once (so that none of its data comes before the connection)."""
    request, port = _header(session, sid, "requestid"), _header(session, sid, "port")
    if session.streams[sid] == "error":
        errors[request] = sid
        return
    if session.streams[sid] != "data":
        return session.reset(sid)
    error = errors.pop(request, None)
    try:
        conn = socket.create_connection((ip, int(port)), timeout=5)
        conn.settimeout(None)
    except (OSError, ValueError) as e:
        if error is not None:
            session.send(error, f"error forwarding port {port} to pod {pod}: {e}".encode(),
                         fin=True)
        session.send(sid, b"", fin=True)
        return
    conns[sid] = _Conn(session, sid, conn, port, error)
    threading.Thread(target=_from_pod, args=(conns[sid],), daemon=True).start()


def _to_pod(session, conns: dict, sid: int, kind: str, payload: bytes, pod: str) -> None:
    """What the client sent on a data stream: bytes for the pod, its half-close, its reset."""
    conn = conns[sid]
    if kind == "reset":
        conns.pop(sid).shut()
    elif not conn.put(payload if kind == "data" else None):
        try:   # told before the shut below wakes _from_pod, which ends the error stream
            if conn.error is not None:
                session.send(conn.error, f"error forwarding port {conn.port} to pod {pod}: the "
                             f"pod left {BACKLOG >> 20} MiB sent to it unread; connection "
                             "closed".encode(), fin=True)
            session.reset(sid)
        except OSError:
            pass
        conns.pop(sid).shut()


def _from_pod(conn: _Conn) -> None:
    """The pod's bytes to the client, then the half-close of both streams of the pair."""
    session = conn.session
    try:
        while data := conn.sock.recv(65536):
            session.send(conn.sid, data)
    except OSError:
        pass
    conn.end()
    try:
        session.send(conn.sid, b"", fin=True)
        if conn.error is not None:
            session.send(conn.error, b"", fin=True)
    except OSError:
        pass
