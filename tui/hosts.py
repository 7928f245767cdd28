"""Which engine a dashboard draws, in the words its header uses: this machine's root for the
local berth; the connection's name, the engine and its version, and the address otherwise
("web · Docker 26 · ssh://root@web1"). Read from what the engine already knows: the header is
drawn on the event loop, where a remote call could freeze the screen."""

from __future__ import annotations


def where(engine) -> str:
    info = engine.engine_info()   # a remote engine asked once, before the dashboard opened
    if not getattr(engine, "remote", False):
        return info.address
    return f"{info.host} · {info.label()} · {info.address}" if info.host != info.address \
        else f"{info.label()} · {info.address}"
