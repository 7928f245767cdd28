"""The node's kubelet API on its port (10250 by default, TLS): what the API server proxies
``kubectl logs`` to (``/containerLogs/NS/POD/CONTAINER`` with follow, tailLines, previous,
timestamps, sinceSeconds, limitBytes), ``kubectl exec`` and ``attach`` (``/exec/…`` and
``/attach/…`` over a WebSocket speaking v4/v5.channel.k8s.io as kubectl since 1.30 asks, or
over SPDY/3.1 (spdy.py) as older ones do; the API server passes the upgrade through;
streaming.py), ``kubectl port-forward`` (``/portForward/…``, SPDY; portforward.py),
``/stats/summary`` (summary.py), ``/healthz`` and ``/pods``. Its certificate comes from
serving_cert.py (the API server's kubelet client verifies it only when given
--kubelet-certificate-authority). It listens on the node's address only."""

from __future__ import annotations

import http.server
import json
import socketserver
import ssl
import threading
import time
import urllib.parse

from ..errors import BerthError
from .podspec import L_CONTAINER, L_NS, L_POD
from .serving_cert import self_signed, signed
from .status import attempt


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class KubeletAPI:
    """The server, in threads of its own, over the agent's engine."""

    def __init__(self, agent, address: str, port: int):
        self.agent = agent
        handler = type("Handler", (_Handler,), {"api": self})
        self.server = _Server((address, port), handler)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(*(agent.tls if agent.tls[0] else signed(agent.root)
                                   or self_signed(agent.root, agent.name, address)))
        self.server.socket = self.ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       name="kubelet-api")

    def start(self) -> None:
        self.thread.start()

    def install(self, cert: str, key: str) -> None:
        """Serve ``cert`` from the next connection on."""
        self.ctx.load_cert_chain(cert, key)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def find(self, ns: str, pod: str, container: str, previous: bool):
        """The berth container of that pod's container (its run before the last with
        ``previous``), or None."""
        runs = sorted((c for c in self.agent.engine.containers(all=True, filters={"label": [
            f"{L_NS}={ns}", f"{L_POD}={pod}", f"{L_CONTAINER}={container}"]})), key=attempt)
        if previous:
            return runs[-2] if len(runs) > 1 else None
        return runs[-1] if runs else None


class _Handler(http.server.BaseHTTPRequestHandler):
    api: KubeletAPI
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):   # noqa: A002 - the base class's name
        pass

    def do_GET(self):  # noqa: N802 - http.server's name
        url = urllib.parse.urlsplit(self.path)
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        parts = [p for p in url.path.split("/") if p]
        try:
            if parts == ["healthz"]:
                return self._send(200, b"ok", "text/plain")
            if parts == ["pods"]:
                with self.api.agent._pods_lock:
                    items = list(self.api.agent.pods.values())
                return self._send(200, json.dumps({"kind": "PodList", "apiVersion": "v1",
                                                   "items": items}).encode(), "application/json")
            if parts == ["stats", "summary"]:
                from .summary import summary
                return self._send(200, json.dumps(summary(self.api.agent)).encode(),
                                  "application/json")
            if len(parts) == 4 and parts[0] == "containerLogs":
                return self._logs(*parts[1:], q)
            if len(parts) == 4 and parts[0] in ("exec", "attach"):
                from .streaming import serve
                return serve(self, parts[0], *parts[1:],
                             urllib.parse.parse_qs(url.query))
            if len(parts) == 3 and parts[0] == "portForward":
                from .portforward import serve as forward
                return forward(self, *parts[1:])
            self._send(404, b"404 page not found", "text/plain")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass

    do_POST = do_GET   # noqa: N815 - kubectl's SPDY exec and attach are POSTs

    def _logs(self, ns: str, pod: str, container: str, q: dict) -> None:
        previous = q.get("previous") == "true"
        c = self.api.find(ns, pod, container, previous)
        if c is None:
            what = "previous terminated container" if previous else "container"
            return self._send(404, f'{what} "{container}" in pod "{pod}" not found'.encode(),
                              "text/plain")
        follow = q.get("follow") == "true" and not previous
        tail = int(q["tailLines"]) if q.get("tailLines", "").lstrip("-").isdigit() else None
        since = time.time() - int(q["sinceSeconds"]) if q.get("sinceSeconds") else None
        if q.get("sinceTime"):
            from ..runtime.filters import rfc3339_seconds
            since = rfc3339_seconds(q["sinceTime"])
        stamps = q.get("timestamps") == "true"
        limit = int(q["limitBytes"]) if q.get("limitBytes", "").isdigit() else None
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        stop = threading.Event()
        sent = 0
        try:
            for line in self.api.agent.engine.logs(c.id, follow=follow, tail=tail if tail is None
                                                   or tail >= 0 else None, since=since,
                                                   stop=stop):
                data = ((line.time + " ") if stamps else "") + line.text
                raw = data.encode()
                if limit is not None:
                    raw = raw[:max(0, limit - sent)]
                if raw:
                    self._chunk(raw)
                    sent += len(raw)
                if limit is not None and sent >= limit:
                    break
        except BerthError:
            pass
        finally:
            stop.set()
        self._chunk(b"")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _send(self, code: int, body: bytes, ctype: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
