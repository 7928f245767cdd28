"""Ports published on the IPv6 loopback (``-p [::1]:8080:80``, and ``-p 8080:80`` of a container
with an IPv6 address): a small forwarding process per port, ``python -m engine.network.proxy6``.

Why a process and not nftables, as for every other address: a connection to ::1 that is
DNATed to a container leaves with ::1 as its source, and however that is masqueraded, the
container's reply is turned back into one addressed to ::1 arriving on a bridge, which the
kernel drops (IPv6 has no ``route_localnet``). Docker's answer is the same (its userland proxy).
The process listens on [::1]:PORT, connects each client to the container's IPv6 address, and
exits when the container's first process does (it watches it through a pidfd) or when detach
stops it; it holds nothing berth must release.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def start_proxies(ep: dict[str, Any], pid: int) -> list[dict[str, int]]:
    """One proxy per tcp port of ``ep`` published on ::1 (or on every address); their pids
    and start times, for ``stop_proxies``. HostError when one can't listen."""
    from ..errors import HostError
    out: list[dict[str, int]] = []
    try:
        from .ports import v6_overridden
        ports = ep.get("ports") or []
        for p in ports:
            if p["proto"] == "tcp" and p["host_ip"] in ("", "::", "::1") and \
                    not v6_overridden(ports, p):
                out.append(_spawn(p["host_port"], ep["ip6"], p["container_port"], pid))
    except HostError:
        stop_proxies(out)
        raise
    return out


def _spawn(port: int, target: str, target_port: int, pid: int) -> dict[str, int]:
    import subprocess
    from ..errors import HostError
    from ..runtime.process import start_time
    from ..runtime.sealed import environment, python_command
    proc = subprocess.Popen(python_command("engine.network.proxy6", str(port), target,
                                           str(target_port), str(pid)),
                            env=environment(), cwd="/", stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, close_fds=True,
                            start_new_session=True)
    answer = proc.stdout.readline().decode(errors="replace").strip()
    proc.stdout.close()
    if answer != "ok":
        proc.wait()
        raise HostError(f"publishing port {port} on [::1]: {answer or 'the proxy failed'}")
    proc.returncode = 0   # reaped by whoever waits for its children (the monitor), not here
    return {"pid": proc.pid, "start": start_time(proc.pid)}


def stop_proxies(proxies: list[dict[str, int]]) -> None:
    """Stop the proxies ``start_proxies`` started (those still the same processes)."""
    from ..runtime.process import start_time
    for proxy in proxies:
        pid = proxy.get("pid") or 0
        if pid and start_time(pid) == proxy.get("start"):
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                pass


# --- the proxy process ------------------------------------------------------------------------

def main(argv: list[str]) -> int:
    import select
    import socket
    import threading
    port, target, target_port, pid = int(argv[0]), argv[1], int(argv[2]), int(argv[3])
    try:
        watch = os.pidfd_open(pid)
        server = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("::1", port))
        server.listen(128)
    except OSError as e:
        print(e.strerror or e, flush=True)
        return 1
    print("ok", flush=True)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    while True:
        ready, _, _ = select.select([server, watch], [], [])
        if watch in ready:
            return 0   # the container's first process is gone
        try:
            client, _ = server.accept()
        except OSError:
            continue
        threading.Thread(target=_serve, args=(client, (target, target_port)), daemon=True).start()


def _serve(client, target) -> None:
    import socket
    import threading
    try:
        upstream = socket.create_connection(target, timeout=10)
    except OSError:
        client.close()
        return
    upstream.settimeout(None)
    back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
    back.start()
    _pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


def _pump(src, dst) -> None:
    import socket
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
