"""``exec`` in a pod through the API server, as kubectl ≥ 1.30 does it: a WebSocket upgrade of
``pods/exec`` speaking the ``v5.channel.k8s.io`` channel protocol, or ``v4`` where the kubelet
knows no other (the 1.20 API server passes the upgrade through to the pod's kubelet, berth's own
one included; only v5 can tell the command its input ended). No SPDY: kubectl before 1.30 spoke
that, and Python has no client for it."""

from __future__ import annotations

import base64
import json
import os
import socket
import urllib.parse

from . import websocket as ws


class ExecSession:
    """One exec: ``send`` stdin, ``resize`` the terminal, ``recv`` (channel, data) until the
    command ends; ``exit_code`` is known once the error channel has spoken."""

    def __init__(self, sock, sock_file, protocol: str):
        self.sock = sock
        self.protocol = protocol
        self.socket = ws.WebSocket(sock_file, sock_file, client=True)
        self.exit_code: int | None = None

    def send(self, data: bytes) -> None:
        self.socket.channel(ws.STDIN, data)

    def close_stdin(self) -> None:
        if self.protocol.startswith("v5"):
            self.socket.send(bytes([ws.CLOSE, ws.STDIN]))

    def resize(self, rows: int, cols: int) -> None:
        self.socket.channel(ws.RESIZE, json.dumps({"Width": cols, "Height": rows}).encode())

    def recv(self):
        """(channel, data) of stdout and stderr, in order; None once the exec ended."""
        while True:
            try:
                message = self.socket.recv()
            except (OSError, ValueError):
                message = None
            if message is None:
                if self.exit_code is None:   # closed without a status: the exec broke off
                    self.exit_code = 1
                return None
            if not message:
                continue
            channel, data = message[0], message[1:]
            if channel == ws.ERROR:
                self.exit_code = exit_status(data)
                continue
            if channel in (ws.STDOUT, ws.STDERR) and data:
                return channel, data

    def close(self) -> None:
        try:
            self.socket.close()
        except (OSError, ValueError):
            pass
        try:
            self.sock.close()
        except OSError:
            pass


def exit_status(data: bytes) -> int:
    """The exit code a v4 error-channel Status says (0 for Success; 126 when it says nothing
    of one, as when the command can't be run)."""
    try:
        status = json.loads(data or b"{}")
    except ValueError:
        return 126
    if status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message", ""))
            except ValueError:
                break
    return 126


def open_exec(cluster, namespace: str, pod: str, command: list[str], container: str = "",
              stdin: bool = True, tty: bool = True) -> ExecSession:
    """Start ``command`` in the pod; the session to relay it. Refusals are berth's errors."""
    from .client import KubeError, _error
    api = cluster.api
    query = [("command", c) for c in command] + [
        ("stdin", "true" if stdin else "false"), ("stdout", "true"),
        ("stderr", "false" if tty else "true"), ("tty", "true" if tty else "false")]
    if container:
        query.append(("container", container))
    target = (f"{api.prefix}/api/v1/namespaces/{namespace}/pods/{pod}/exec?"
              + urllib.parse.urlencode(query))
    key = base64.b64encode(os.urandom(16)).decode()
    headers = {"Host": f"{api.host}:{api.port}", "Connection": "Upgrade", "Upgrade": "websocket",
               "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": key,
               "Sec-WebSocket-Protocol": ", ".join(ws.PROTOCOLS), "User-Agent": api.user_agent}
    if api.config.token:
        headers["Authorization"] = f"Bearer {api.config.token}"
    try:
        sock = socket.create_connection((api.host, api.port), timeout=api.timeout)
        if api.https:
            sock = api._ssl.wrap_socket(sock, server_hostname=api.host)
        sock.sendall((f"GET {target} HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode())
        f = sock.makefile("rwb")
        status_line = f.readline().decode("latin-1")
        answer = {}
        while True:
            line = f.readline().decode("latin-1")
            if line in ("\r\n", "\n", ""):
                break
            name, _, value = line.partition(":")
            answer[name.strip().lower()] = value.strip()
    except OSError as e:
        raise cluster.refusal(KubeError(0, "Unreachable", f"{api.config.server}: {e}")) from None
    parts = status_line.split(" ", 2)
    code = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    if code != 101:
        n = int(answer.get("content-length") or 0)
        body = f.read(n) if n else b""
        sock.close()
        raise cluster.refusal(_error(code, parts[2].strip() if len(parts) > 2 else "", body),
                              f"pod {namespace}/{pod}")
    if answer.get("sec-websocket-accept") != ws.accept_key(key):
        sock.close()
        raise cluster.refusal(KubeError(502, "Bad Gateway", "the WebSocket upgrade was not "
                                        "answered as RFC 6455 asks"))
    sock.settimeout(None)
    return ExecSession(sock, f, answer.get("sec-websocket-protocol", "v4.channel.k8s.io"))
