"""The forwarder of a rootless container's published ports (see forward.py).

``python -m engine.rootless.portfwd LIFELINE FD…``: each FD is a listening TCP socket on the
host; every connection accepted on one is joined to 127.0.0.1:<its port> in the namespace this
process runs in (berth's DNAT takes it to the container). Exits when LIFELINE (a pipe's read
end) reaches EOF: its monitor is gone.
"""

from __future__ import annotations

import os
import socket
import sys
import threading

from ..network.proxy6 import _serve   # the same joining of two connections, for IPv6's [::1]


def _accept(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=_serve, args=(conn, ("127.0.0.1", port)), daemon=True).start()


def main(argv: list[str]) -> int:
    import signal
    signal.signal(signal.SIGTERM, signal.SIG_DFL)   # its monitor ignores it; a kill must end us
    lifeline = int(argv[0])
    for fd in argv[1:]:
        listener = socket.socket(fileno=int(fd))
        threading.Thread(target=_accept, args=(listener,), daemon=True).start()
    while os.read(lifeline, 1):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
