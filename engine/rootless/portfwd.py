"""The forwarder of a rootless container's published ports (see forward.py).

``python -m engine.rootless.portfwd LIFELINE FD…``: each FD is a socket bound on the host
(IPv4 or IPv6). A listening TCP socket: every connection accepted on it is joined to
127.0.0.1:<its port> in the namespace this process runs in (berth's DNAT takes it to the
container). A UDP socket: each client (address and port) gets a socket of its own connected to
127.0.0.1:<its port> inside, its datagrams go through that one and the replies back to it from
the host's socket, until it has been quiet for UDP_IDLE seconds (as docker-proxy does). Exits
when LIFELINE (a pipe's read end) reaches EOF: its monitor is gone.
"""

from __future__ import annotations

import os
import socket
import sys
import threading

from ..network.proxy6 import _serve   # the same joining of two connections, for IPv6's [::1]

UDP_IDLE = 90.0
DATAGRAM = 65535


def _accept(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=_serve, args=(conn, ("127.0.0.1", port)), daemon=True).start()


def _replies(host: socket.socket, inside: socket.socket, client, sessions: dict,
             lock: threading.Lock) -> None:
    """Carry the container's datagrams back to ``client`` until the session goes quiet."""
    inside.settimeout(UDP_IDLE)
    try:
        while True:
            try:
                data = inside.recv(DATAGRAM)
            except ConnectionRefusedError:   # nothing listens in the container (yet): go on
                continue
            except OSError:                  # timed out, or closed
                return
            try:
                host.sendto(data, client)
            except OSError:
                return
    finally:
        with lock:
            if sessions.get(client) is inside:
                del sessions[client]
        inside.close()


def _relay(host: socket.socket) -> None:
    port = host.getsockname()[1]
    sessions: dict = {}
    lock = threading.Lock()
    while True:
        try:
            data, client = host.recvfrom(DATAGRAM)
        except OSError:
            return
        with lock:
            inside = sessions.get(client)
            if inside is None:
                inside = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                inside.connect(("127.0.0.1", port))
                sessions[client] = inside
                threading.Thread(target=_replies, args=(host, inside, client, sessions, lock),
                                 daemon=True).start()
        try:
            inside.send(data)
        except OSError:   # refused by an earlier datagram's ICMP, or closed by the idle end
            pass


def main(argv: list[str]) -> int:
    import signal
    signal.signal(signal.SIGTERM, signal.SIG_DFL)   # its monitor ignores it; a kill must end us
    lifeline = int(argv[0])
    for fd in argv[1:]:
        sock = socket.socket(fileno=int(fd))
        serve = _relay if sock.type == socket.SOCK_DGRAM else _accept
        threading.Thread(target=serve, args=(sock,), daemon=True).start()
    while os.read(lifeline, 1):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
