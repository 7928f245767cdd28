"""``kubectl exec`` and ``kubectl attach`` through the kubelet API: the WebSocket upgrade
(kubectl >= 1.30; websocket.py) or the SPDY/3.1 one (older kubectls; spdy.py), then the
channels between the client and a berth exec (execstream.py, its own process) or the
container's attach socket (engine/runtime/frames), and the exit status on the error channel
as the kubelet reports it. Both upgrades give the same calls: ``channel(n, data)``,
``recv()``, ``close()``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

from ..errors import BerthError
from . import websocket as ws


def _flag(q: dict, *names: str) -> bool:
    return any((q.get(n) or [""])[-1] in ("1", "true") for n in names)


def serve(handler, verb: str, ns: str, pod: str, container: str, q: dict) -> None:
    """Answer the request on ``handler`` (a kubelet_api handler) and run the session."""
    api = handler.api
    c = api.find(ns, pod, container, False)
    if c is None or not c.running:
        return handler._send(404 if c is None else 409,
                             f'container "{container}" in pod "{pod}" is not running'.encode(),
                             "text/plain")
    tty = _flag(q, "tty")
    stdin = _flag(q, "stdin", "input")
    if handler.headers.get("Upgrade", "").lower() == "spdy/3.1":
        sock = _spdy(handler, q, tty, stdin)
    else:
        sock = _websocket(handler)
    if sock is None:
        return
    if verb == "attach":
        code = _attach(api, sock, c, stdin)
    else:
        code = _exec(api, sock, c, q.get("command") or [], tty, stdin)
    status = {"metadata": {}, "status": "Success"}
    if code:
        status = {"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
                  "message": f"command terminated with non-zero exit code: exit status {code}",
                  "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}
    try:
        sock.channel(ws.ERROR, json.dumps(status).encode())
        sock.close()
    except OSError:
        pass


def _websocket(handler) -> ws.WebSocket | None:
    """The WebSocket upgrade of kubectl >= 1.30 (v4/v5.channel.k8s.io), or None if refused."""
    proto = ws.choose_protocol(handler.headers.get("Sec-WebSocket-Protocol", ""))
    key = handler.headers.get("Sec-WebSocket-Key")
    if handler.headers.get("Upgrade", "").lower() != "websocket" or not key or not proto:
        handler._send(400, b"berth's kubelet speaks exec and attach over WebSocket "
                      b"(v4.channel.k8s.io, v5.channel.k8s.io) or SPDY/3.1 "
                      b"(v4.channel.k8s.io)", "text/plain")
        return None
    handler.send_response(101)
    handler.send_header("Upgrade", "websocket")
    handler.send_header("Connection", "Upgrade")
    handler.send_header("Sec-WebSocket-Accept", ws.accept_key(key))
    handler.send_header("Sec-WebSocket-Protocol", proto)
    handler.end_headers()
    handler.close_connection = True
    return ws.WebSocket(handler.rfile, handler.wfile)


def _spdy(handler, q: dict, tty: bool, stdin: bool):
    """The SPDY/3.1 upgrade of kubectl before 1.30, and the streams it opens after it (error,
    stdin, stdout, stderr, resize as the request asks), or None if refused."""
    from . import spdy
    session = spdy.upgrade(handler, "v4.channel.k8s.io")
    if session is None:
        return None
    wanted = {"error"} | {name for name, on in (
        ("stdin", stdin), ("stdout", _flag(q, "stdout", "output")),
        ("stderr", _flag(q, "stderr", "error") and not tty), ("resize", tty)) if on}
    session.wait_streams(wanted, 10)
    return _SpdyChannels(session)


class _SpdyChannels:
    """A SPDY session as the channels of a WebSocket (``channel``, ``recv``, ``close``): each
    stream is a channel by its ``streamtype``; the client's end of its stdin stream comes back
    as v5's close message, and of the resize stream's JSON lines the latest that came in."""

    NAMES = {"stdin": ws.STDIN, "stdout": ws.STDOUT, "stderr": ws.STDERR, "error": ws.ERROR,
             "resize": ws.RESIZE}

    def __init__(self, session):
        self.session = session
        self._resize = b""

    def channel(self, channel: int, data: bytes, fin: bool = False) -> None:
        """``data`` on the client's stream for ``channel`` (dropped if it opened none)."""
        for sid, name in list(self.session.streams.items()):
            if self.NAMES.get(name) == channel:
                self.session.send(sid, data, fin)

    def recv(self) -> bytes | None:
        while (event := self.session.recv()) is not None:
            name = self.session.streams.get(event[1])
            if name == "stdin" and event[0] in ("fin", "reset"):
                return bytes([ws.CLOSE, ws.STDIN])
            if event[0] != "data" or name not in self.NAMES:
                continue
            if name != "resize":
                return bytes([self.NAMES[name]]) + event[2]
            # JSON objects, one a line, which data frames may split or join
            *lines, self._resize = (self._resize + event[2]).split(b"\n")
            if any(line.strip() for line in lines):
                return bytes([ws.RESIZE]) + [line for line in lines if line.strip()][-1]
        return None

    def close(self) -> None:
        for channel in (ws.STDOUT, ws.STDERR, ws.ERROR):
            self.channel(channel, b"", fin=True)
        self.session.close()


def _exec(api, sock: ws.WebSocket, c, cmd: list[str], tty: bool, stdin: bool) -> int:
    resize_r, resize_w = os.pipe() if tty else (None, None)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.kube.execstream", api.agent.root, c.id,
         str(resize_r) if tty else "-", *cmd], cwd=repo,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if tty else subprocess.PIPE,
        pass_fds=(resize_r,) if tty else ())
    if resize_r is not None:
        os.close(resize_r)
    if not stdin:
        proc.stdin.close()
    pumps = [threading.Thread(target=_pump, args=(proc.stdout, sock, ws.STDOUT), daemon=True)]
    if not tty:
        pumps.append(threading.Thread(target=_pump, args=(proc.stderr, sock, ws.STDERR),
                                      daemon=True))
    for t in pumps:
        t.start()
    reader = threading.Thread(target=_read_client, args=(sock, proc, resize_w, stdin),
                              daemon=True)
    reader.start()
    code = proc.wait()
    for t in pumps:
        t.join(5)
    if resize_w is not None:
        _close(resize_w)
    return code


def _pump(pipe, sock: ws.WebSocket, channel: int) -> None:
    try:
        while True:
            data = pipe.read1(65536)
            if not data:
                return
            sock.channel(channel, data)
    except (OSError, ValueError):
        return


def _read_client(sock: ws.WebSocket, proc, resize_w: int | None, stdin: bool) -> None:
    """What the client sends: stdin, its end (v5's close of channel 0), terminal resizes."""
    try:
        while True:
            msg = sock.recv()
            if msg is None:
                break
            channel, data = msg[0], msg[1:]
            if channel == ws.STDIN and stdin and data:
                proc.stdin.write(data)
                proc.stdin.flush()
            elif channel == ws.RESIZE and resize_w is not None:
                size = json.loads(data)
                os.write(resize_w, f"{size.get('Height', 24)} {size.get('Width', 80)}\n".encode())
            elif channel == ws.CLOSE and data[:1] == bytes([ws.STDIN]) and stdin:
                proc.stdin.close()
    except (OSError, ValueError):
        pass
    if stdin:   # the client went away: so does the command's input
        try:
            proc.stdin.close()
        except (OSError, ValueError):
            pass


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _attach(api, sock: ws.WebSocket, c, stdin: bool) -> int:
    """The container's own stdio through its monitor's attach socket (frames)."""
    from ..runtime import frames
    engine = api.agent.engine
    try:
        fd = engine.attach(c.id)
    except BerthError as e:
        sock.channel(ws.STDERR, f"{e}\n".encode())
        return 1
    lock = threading.Lock()

    def send(kind: int, payload: bytes) -> None:
        with lock:
            os.write(fd, frames.encode(kind, payload))

    def client():
        try:
            while True:
                msg = sock.recv()
                if msg is None:
                    break
                if msg[0] == ws.STDIN and stdin:
                    send(frames.STDIN, msg[1:])
                elif msg[0] == ws.RESIZE:
                    size = json.loads(msg[1:])
                    send(frames.RESIZE, f"{size.get('Height')} {size.get('Width')}".encode())
            send(frames.DETACH, b"")
        except (OSError, ValueError):
            pass
    threading.Thread(target=client, daemon=True).start()
    code = 0
    try:
        for kind, data in frames.read_frames(fd):
            if kind == frames.STDOUT:
                sock.channel(ws.STDOUT, data)
            elif kind == frames.STDERR:
                sock.channel(ws.STDERR, data)
            elif kind == frames.EXIT:
                code = int(data or b"0")
                break
    except OSError:
        pass
    _close(fd)
    return code
