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


def dial_early(host: str = "", connection: str = "") -> None:
    """Start the ssh process of the engine that ``connections.resolve(host, connection)``
    gives, when it is reached over ssh, before the caller loads the rest of itself (its
    handshake runs meanwhile; transport.dial_early). Anything wrong is left for resolve to
    say."""
    from ..errors import BerthError
    try:
        if host:
            url, identity = host, ""
        else:
            from .connections import default_name, find
            found = find(connection or default_name())
            url, identity = found.url, found.identity
        if url.startswith("ssh://"):
            from .transport import dial_early as start, parse_address
            start(parse_address(url, identity))
    except BerthError:
        pass
