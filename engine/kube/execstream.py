"""``kubectl exec`` in a process of its own (``python -m engine.kube.execstream ROOT ID
RESIZE_FD CMD…``; exec forks, which the kubelet API's threads must not): without a terminal
(RESIZE_FD "-") the command gets this process's stdin, stdout and stderr; with one this process
relays between its stdio and the terminal's master, and RESIZE_FD carries "ROWS COLS" lines to
resize it. Exits with the command's status."""

from __future__ import annotations

import os
import select
import sys


def main(argv: list[str]) -> int:
    from engine import Engine
    root, cid, resize, cmd = argv[0], argv[1], argv[2], argv[3:]
    engine = Engine(root)
    try:
        if resize == "-":
            return engine.exec(cid, cmd, stdio=(0, 1, 2)).wait()
        proc = engine.exec(cid, cmd, tty=True, console_size=(24, 80))
    except Exception as e:   # noqa: BLE001 - said on stderr, as exec's exit 126 would
        print(f"berth: {e}", file=sys.stderr)
        return 126
    relay(proc.master, int(resize))
    return proc.wait()


def relay(master: int, resize: int) -> None:
    """stdin to the terminal, the terminal to stdout, resizes from ``resize``, until it
    closes."""
    import fcntl
    import struct
    import termios
    fds = [0, master, resize]
    while True:
        ready, _, _ = select.select(fds, [], [])
        if master in ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            os.write(1, data)
        if 0 in ready:
            data = os.read(0, 65536)
            if data:
                os.write(master, data)
            else:
                fds.remove(0)
        if resize in ready:
            line = os.read(resize, 256)
            if not line:
                fds.remove(resize)
                continue
            for rows, cols in (x.split() for x in line.decode().splitlines() if x.strip()):
                size = struct.pack("HHHH", int(rows), int(cols), 0, 0)
                fcntl.ioctl(master, termios.TIOCSWINSZ, size)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
