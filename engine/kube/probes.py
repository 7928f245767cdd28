"""A container's startup, readiness and liveness probes (httpGet, tcpSocket, exec), each on its
own schedule in one thread per container, as the kubelet's prober workers. The agent reads the
outcome: ``started``, ``ready`` and ``live`` (False once liveness or startup failed its
threshold: the agent restarts the container). An exec liveness probe is the container's berth
healthcheck instead (podspec.py), run by its monitor."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time


class Prober:
    """The probes of one running container (``cid``) of a pod at ``pod_ip``."""

    def __init__(self, root: str, cid: str, pod_ip: str, spec: dict):
        self.root, self.cid, self.pod_ip, self.spec = root, cid, pod_ip, spec
        self.startup = spec.get("startupProbe")
        self.readiness = spec.get("readinessProbe")
        live = spec.get("livenessProbe")
        self.liveness = None if live is None or "exec" in live else live
        self.started = self.startup is None
        self.ready = self.readiness is None
        self.live = True
        self.stop = threading.Event()
        self.thread = None
        if self.startup or self.readiness or self.liveness:
            self.thread = threading.Thread(target=self._run, name=f"probe-{cid[:12]}",
                                           daemon=True)
            self.thread.start()

    def close(self) -> None:
        self.stop.set()

    def _run(self) -> None:
        t0 = time.monotonic()
        probes = [(k, p) for k, p in (("startup", self.startup), ("readiness", self.readiness),
                                      ("liveness", self.liveness)) if p]
        due = {k: t0 + p.get("initialDelaySeconds", 0) for k, p in probes}
        streak = {k: [0, 0] for k, _ in probes}   # successes, failures in a row
        while not self.stop.is_set() and self.live:
            now = time.monotonic()
            for kind, probe in probes:
                if due[kind] > now or (kind != "startup" and not self.started) \
                        or (kind == "startup" and self.started):
                    continue
                ok = self.check(probe)
                due[kind] = time.monotonic() + probe.get("periodSeconds", 10)
                s = streak[kind]
                s[0], s[1] = (s[0] + 1, 0) if ok else (0, s[1] + 1)
                self._judge(kind, probe, s)
            pending = [d for k, d in due.items() if k != "startup" or not self.started]
            self.stop.wait(max(0.05, min(pending, default=now + 1) - time.monotonic()))

    def _judge(self, kind: str, probe: dict, streak: list[int]) -> None:
        failures = probe.get("failureThreshold", 3)
        if kind == "startup":
            if streak[0] >= 1:
                self.started = True
            elif streak[1] >= failures:
                self.live = False
        elif kind == "readiness":
            if streak[0] >= probe.get("successThreshold", 1):
                self.ready = True
            elif streak[1] >= failures:
                self.ready = False
        elif streak[1] >= failures:
            self.live = False

    def check(self, probe: dict) -> bool:
        timeout = probe.get("timeoutSeconds", 1)
        try:
            if "httpGet" in probe:
                return self._http(probe["httpGet"], timeout)
            if "tcpSocket" in probe:
                host = probe["tcpSocket"].get("host") or self.pod_ip
                with socket.create_connection((host, self._port(probe["tcpSocket"]["port"])),
                                              timeout=timeout):
                    return True
            if "exec" in probe:
                p = subprocess.run([sys.executable, "-m", "engine.kube.execprobe", self.root,
                                    self.cid, *probe["exec"].get("command", [])],
                                   capture_output=True, timeout=timeout + 5,
                                   cwd=os.path.dirname(os.path.dirname(os.path.dirname(
                                       os.path.abspath(__file__)))))
                return p.returncode == 0
        except (OSError, subprocess.TimeoutExpired, http.client.HTTPException, ValueError):
            return False
        return False

    def _http(self, get: dict, timeout: float) -> bool:
        host, port = get.get("host") or self.pod_ip, self._port(get["port"])
        if get.get("scheme", "HTTP").upper() == "HTTPS":
            import ssl
            ctx = ssl._create_unverified_context()
            conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=ctx)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            headers = {h["name"]: h["value"] for h in get.get("httpHeaders") or []}
            conn.request("GET", get.get("path") or "/", headers={"User-Agent": "kube-probe/1.20",
                                                                 **headers})
            return 200 <= conn.getresponse().status < 400
        finally:
            conn.close()

    def _port(self, port) -> int:
        if isinstance(port, int) or str(port).isdigit():
            return int(port)
        for p in self.spec.get("ports") or []:
            if p.get("name") == port:
                return int(p["containerPort"])
        raise ValueError(f"no port named {port}")
