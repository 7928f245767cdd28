"""A pod's logs through the API server (``pods/log``, which asks the pod's kubelet), as berth's
LogLines: followed for as long as the caller wants, ended at once when its ``stop`` is set."""

from __future__ import annotations

import http.client
import threading

from ..models import LogLine


def follow_log(cluster, namespace: str, pod: str, container: str = "", follow: bool = False,
               tail: int | None = None, since: float | None = None,
               stop: threading.Event | None = None):
    """LogLine(time, "stdout", text) for each line (the API server does not tell the streams
    apart); a refusal (no such pod, a container still starting) is raised as berth's error."""
    import time
    from .client import _error
    api = cluster.api
    query = {"timestamps": "true", "follow": "true" if follow else None,
             "container": container or None,
             "tailLines": str(tail) if tail is not None else None,
             "sinceSeconds": str(max(1, int(time.time() - since))) if since else None}
    conn = api._connect(None if follow else api.timeout)
    done = threading.Event()
    if stop is not None:
        # a followed log blocks in a read until the pod writes: closing its socket ends it
        def closer():
            while not done.wait(0.5):
                if stop.is_set():
                    _shut(conn)
                    return
        threading.Thread(target=closer, daemon=True, name="berth-kube-log-stop").start()
    try:
        target = api.url(f"/api/v1/namespaces/{namespace}/pods/{pod}/log", query)
        try:
            conn.request("GET", target, headers=api._headers(None, ""))
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as e:
            from ..errors import Unreachable
            raise Unreachable(f"the cluster can't be reached: {e}") from None
        if resp.status >= 400:
            raise cluster.refusal(_error(resp.status, resp.reason, resp.read()),
                                  f"pod {namespace}/{pod}")
        while stop is None or not stop.is_set():
            try:
                raw = resp.readline()
            except (OSError, http.client.HTTPException, ValueError):
                return   # closed by the stop, or the server went away
            if not raw:
                return
            line = raw.decode(errors="replace")
            when, _, text = line.partition(" ")
            if not text and not when.endswith("Z"):
                when, text = "", line
            yield LogLine(time=when, stream="stdout",
                          text=text if text.endswith("\n") else text + "\n")
    finally:
        done.set()
        conn.close()


def _shut(conn) -> None:
    import socket
    sock = getattr(conn, "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
