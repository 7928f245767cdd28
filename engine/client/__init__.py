"""Engines elsewhere: the Engine facade over the Docker Engine API of dockerd, podman or a
remote berth (``berth system dial-stdio`` over ssh), and the connections that name them.

``connect(url)`` gives a RemoteEngine for an address; connections.py resolves names, docker's
contexts, DOCKER_HOST and CONTAINER_HOST to addresses.
"""

from __future__ import annotations


def connect(url: str, identity: str = "", name: str = "", tls=None, connection: str = ""):
    """A RemoteEngine for ``url`` (unix://, tcp://, ssh://); nothing is dialled until its first
    call. ``connection``: the saved connection it is made from (its consoles use it too)."""
    from .remote import RemoteEngine
    from .transport import parse_address
    return RemoteEngine(parse_address(url, identity, tls), name, connection)
