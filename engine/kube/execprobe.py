"""An exec probe in a process of its own (``python -m engine.kube.execprobe ROOT ID CMD…``):
``exec`` forks, which the agent's threads must not do. Exits with the command's status."""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    from engine import Engine
    root, cid, cmd = argv[0], argv[1], argv[2:]
    null = os.open(os.devnull, os.O_RDWR)
    try:
        return Engine(root).exec(cid, cmd, stdio=(null, null, null)).wait()
    except Exception as e:   # noqa: BLE001 - a probe that can't run fails, with the reason
        print(f"berth: {e}", file=sys.stderr)
        return 126


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
