"""The container networks: IPAM, bridges and veths, NAT and published ports, hosts files.

What the runtime calls (everything heavy is imported inside the functions, so importing this
package costs nothing):

- ``attach(store, container, pid)`` in the monitor, once the container's first process has its
  own net namespace and before it execs: brings up ``lo``, gives it one veth per network (``eth0``,
  ``eth1``…), publishes its ports, rewrites the hosts files of every container that shares a
  network with it. Returns the endpoints for ``ContainerState.networks`` (name -> Docker-shaped
  endpoint) and sets ``container.state.ports`` to the ports as bound.
- ``detach(store, container)`` at exit and at ``rm``: releases addresses, veths and rules.
  Idempotent, and needs nothing from the monitor (works after it was SIGKILLed).
- ``validate(store, config)`` at create: Docker's refusals for network flags.
- ``netns_pid(store, ref)`` for ``--network container:NAME``: the host pid whose
  ``/proc/<pid>/ns/net`` the new container joins with setns instead of unsharing.
- ``network_settings(container)`` for inspect: Docker's NetworkSettings.

Decisions, each explained where it is implemented: names resolve through hosts files rewritten
in place, not an embedded DNS server (endpoints.py); links are made with a few raw rtnetlink
messages instead of pyroute2, whose import alone costs 100-160 ms (netlink.py); NAT lives in
one nftables table per root (nat.py); ``net.ipv4.ip_forward`` is turned on when a network with
a way out comes up and never turned off (bridge.py); the default network's bridge goes a moment
after its last container (lifecycle.py).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: the monitor imports this package
    from typing import Any


def attach(store, container, pid: int) -> dict[str, dict[str, Any]]:
    """Connect the container whose first process is ``pid`` to its networks; see the module doc."""
    from ..paths import rootless
    if rootless():   # in the user's network namespace (engine/rootless/netns.py)
        from ..rootless.netns import attach as _attach
    else:
        from .endpoints import attach as _attach
    return _attach(store, container, pid)


def detach(store, container, later: list | None = None) -> None:
    """Release everything ``attach`` gave ``container``; safe to call any number of times.
    ``later``: what can wait is appended to it, for the caller to run (endpoints.detach).
    Without root all of it is done now: it must run inside the user's network namespace."""
    from ..paths import rootless
    if rootless():
        from ..rootless.netns import detach as _detach
        _detach(store, container)
        return
    from .endpoints import detach as _detach
    _detach(store, container, later)


def validate(store, config) -> None:
    """At create: refuse network flags that can't work (unknown network, --ip on the default
    network, -p with container:NAME …) with Docker's messages."""
    from .endpoints import validate as _validate
    _validate(store, config)


def netns_pid(store, ref: str) -> int:
    """Host pid of the running container ``ref`` whose network namespace another joins."""
    from .endpoints import netns_pid as _netns_pid
    return _netns_pid(store, ref)


def network_settings(container) -> dict[str, Any]:
    """Docker's ``NetworkSettings`` for a container inspect."""
    from .inspect import network_settings as _ns
    return _ns(container)


__all__ = ["attach", "detach", "netns_pid",
           "network_settings", "validate"]
