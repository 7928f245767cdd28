"""The words a dashboard's header uses for the engine it draws: this machine's root for the
local berth; the connection's name (or address), the engine and its version otherwise
("web · Docker 26"), and a host that dropped. Built from what the engine
already knows: the header is drawn on the event loop, where a remote call could freeze it."""

from __future__ import annotations


def where(engine) -> str:
    """"web · Docker 26" (the address when there is no name; this machine's root for the local
    berth), and "DISCONNECTED" while a host is away (its reason is in ``engine.connection_error``)."""
    info = engine.engine_info()   # a remote engine was asked once, in a worker or at start
    if not getattr(engine, "remote", False):
        return info.address
    text = f"{info.host} · {info.label()}"
    if not engine.connected:
        text += " · DISCONNECTED, trying again"
    return text
