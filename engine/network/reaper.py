"""``python -m engine.network.reaper``: wait until the default network of $BERTH_ROOT has been
idle for $BERTH_NETWORK_LINGER seconds, then take its bridge and rules down; give up as soon as
a container joins it (see lifecycle.linger).

It never makes anything of the root (``Store(create=False)``): when the root was deleted while
it waited (``rm -rf``, ``berth system reset``), it finds no lock file and exits."""

from __future__ import annotations

import sys


def main() -> int:
    import os
    os.chdir("/")   # nothing of where berth was run from stays busy (lifecycle.linger)
    from ..store import Store
    from .lifecycle import reap
    try:
        reap(Store(create=False), wait=True)
    except Exception:  # noqa: BLE001 - nobody is listening; the next detach tries again
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
