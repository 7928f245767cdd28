"""``kubectl port-forward`` through the kubelet API (``/portForward/NS/POD``) over SPDY/3.1
(``portforward.k8s.io``; spdy.py): each connection the client forwards is a pair of streams it
opens with the same ``requestID`` and the pod's ``port``, "error" then "data". The data stream
is relayed to a TCP connection to the pod's IP on that port (a berth pod's address on the node's
bridge, reachable from the node); what goes wrong is written on the error stream, as the kubelet
does."""

from __future__ import annotations

import socket
import threading

from . import spdy
from .podspec import INFRA

PROTOCOL = "portforward.k8s.io"


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
    session = spdy.upgrade(handler, PROTOCOL)
    if session is None:
        return
    errors: dict[str, int] = {}        # requestID -> its error stream
    conns: dict[int, _Conn] = {}       # data stream -> the pod's end
    try:
        while (event := session.recv()) is not None:
            kind, sid = event[0], event[1]
            if kind == "open":
                _open(session, sid, ip, pod, errors, conns)
            elif sid in conns:
                _to_pod(conns, sid, kind, event[2] if kind == "data" else b"")
    finally:
        for conn in conns.values():
            conn.shut()
        session.close()


class _Conn:
    """A forwarded connection to the pod, closed once both sides have ended (kubectl 1.20
    doesn't reset the streams of a connection it is done with)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self._ended = 0
        self._lock = threading.Lock()

    def end(self) -> None:
        with self._lock:
            self._ended += 1
            if self._ended == 2:
                self.sock.close()

    def shut(self) -> None:
        """Close it now, waking its reader in _from_pod (a bare close() doesn't)."""
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
    conns[sid] = _Conn(conn)
    threading.Thread(target=_from_pod, args=(session, conns[sid], sid, error),
                     daemon=True).start()


def _to_pod(conns: dict, sid: int, kind: str, payload: bytes) -> None:
    """What the client sent on a data stream: bytes for the pod, its half-close, its reset."""
    conn = conns[sid]
    try:
        if kind == "data":
            conn.sock.sendall(payload)
        elif kind == "fin":
            try:
                conn.sock.shutdown(socket.SHUT_WR)
            finally:
                conn.end()
        else:
            conns.pop(sid).shut()
    except OSError:
        pass


def _from_pod(session, conn: _Conn, sid: int, error: int | None) -> None:
    """The pod's bytes to the client, then the half-close of both streams of the pair."""
    try:
        while data := conn.sock.recv(65536):
            session.send(sid, data)
    except OSError:
        pass
    conn.end()
    try:
        session.send(sid, b"", fin=True)
        if error is not None:
            session.send(error, b"", fin=True)
    except OSError:
        pass
