"""Published ports without root: the host's side of ``-p``, forwarded by a process of berth's.

A container's ports are DNATed by berth's nftables rules inside the user's network namespace
(netns.py) as with root. On the host side, the caller (the monitor) binds each published
address and port itself, so a port in use is one clear error at start, and hands the listening
sockets to a forwarder (``python -m engine.rootless.portfwd``) started inside the namespace:
it accepts on the host's sockets (IPv4 or IPv6) and connects to 127.0.0.1:<host port> there,
which berth's DNAT takes on to the container, and relays UDP datagrams the same way
(rootlesskit's "builtin" port driver works so too; this needs no /dev/net/tun). The forwarder ends when the container's network is detached (its pid
is kept in the container's run directory) or when the monitor that started it dies (a pipe).
"""

from __future__ import annotations

import os

from ..errors import HostError

_lifelines: dict[str, int] = {}      # cid -> write end of the pipe the forwarder watches


def _pidfile(paths, cid: str) -> str:
    return os.path.join(paths.container_run_dir(cid), "portfwd.pid")


def listen(ports) -> list:
    """A socket bound on the host for each port (models.Port as bound): listening for TCP,
    receiving for UDP; an IPv6 address (``-p [::1]:8080:80``) gets an IPv6 socket that takes
    IPv6 only, so that [::] and 0.0.0.0 are two publications, as they are with root."""
    import socket
    socks = []
    try:
        for p in ports:
            host_ip = p.host_ip or "0.0.0.0"
            v6 = ":" in host_ip
            udp = p.proto == "udp"
            s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET,
                              socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
            socks.append(s)
            if v6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if not udp:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host_ip, p.host_port))
            except OSError as e:
                shown = f"[{host_ip}]" if v6 else host_ip
                raise HostError(f"publishing {shown}:{p.host_port}/{p.proto}: "
                                f"{e.strerror}") from None
            if not udp:
                s.listen(128)
    except BaseException:
        for s in socks:
            s.close()
        raise
    return socks


def spawn(paths, cid: str, socks: list) -> None:
    """Start the forwarder for ``socks`` (call it inside the namespace: it inherits it)."""
    import subprocess
    from ..runtime.process import start_time
    from ..runtime.sealed import environment, python_command
    life_r, life_w = os.pipe()
    fds = [s.fileno() for s in socks]
    try:
        proc = subprocess.Popen(
            python_command("engine.rootless.portfwd", str(life_r), *(str(fd) for fd in fds)),
            env=environment(), pass_fds=(life_r, *fds), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, cwd="/")
    finally:
        os.close(life_r)
        for s in socks:
            s.close()
    proc.returncode = 0    # it lives on in its own session; unforward ends it
    os.set_inheritable(life_w, False)
    _lifelines[cid] = life_w
    os.makedirs(paths.container_run_dir(cid), 0o700, exist_ok=True)
    with open(_pidfile(paths, cid), "w") as f:
        f.write(f"{proc.pid} {start_time(proc.pid)}\n")


def _gone(pid: int, start: int) -> bool:
    from ..runtime.process import start_time
    try:
        os.waitpid(pid, os.WNOHANG)     # the monitor started it: reap it
    except ChildProcessError:
        pass
    if start_time(pid) == start:
        return False
    try:
        return len(os.listdir(f"/proc/{pid}/task")) <= 1
    except OSError:
        return True


def unforward(paths, cid: str) -> None:
    """End the container's forwarder (idempotent; from any process)."""
    from ..runtime.process import start_time
    fd = _lifelines.pop(cid, -1)
    if fd >= 0:
        os.close(fd)
    try:
        with open(_pidfile(paths, cid)) as f:
            pid, start = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        return
    if pid > 0 and start_time(pid) == start:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
        # its sockets are free only once all of it is gone (a restart binds the same ports at
        # once); its first thread shows as a zombie while the others are still exiting
        import time
        deadline = time.monotonic() + 5
        while not _gone(pid, start) and time.monotonic() < deadline:
            time.sleep(0.002)
    try:
        os.unlink(_pidfile(paths, cid))
    except FileNotFoundError:
        pass
