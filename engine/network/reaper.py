"""``python -m engine.network.reaper``: wait until the default network of $BERTH_ROOT has been
idle for $BERTH_NETWORK_LINGER seconds, then take its bridge and rules down; give up as soon as
a container joins it (see lifecycle.linger)."""

from __future__ import annotations

import sys


def main() -> int:
    from ..store import Store
    from .lifecycle import reap
    try:
        reap(Store(), wait=True)
    except Exception:  # noqa: BLE001 - nobody is listening; the next detach tries again
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
