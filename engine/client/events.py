"""A remote engine's event stream (``GET /events``) as berth's Event models, for the CLI
(``iter_events``) and, through a thread, for the dashboard (``follow_events``, async); and the
bridge that runs any such blocking stream for an asyncio caller."""

from __future__ import annotations

import json
import threading
import time

from ..models import Event


def event(data: dict) -> Event:
    actor = data.get("Actor") or {}
    when = data.get("timeNano")
    return Event(when / 1e9 if when else float(data.get("time") or 0),
                 data.get("Type") or data.get("type") or "",
                 (data.get("Action") or data.get("status") or "").split(":")[0],
                 actor.get("ID") or data.get("id") or "",
                 {k: str(v) for k, v in (actor.get("Attributes") or {}).items()})


def _query(since, until, filters) -> dict:
    def stamp(v):
        if v is None or v == "":
            return None
        return f"{v:.9f}" if isinstance(v, (int, float)) else str(v)
    return {"since": stamp(since), "until": stamp(until),
            "filters": json.dumps(filters) if filters else None}


def events(engine, since=None, until=None, filters=None) -> list[Event]:
    """The events between ``since`` and ``until`` (now when not given)."""
    until = until if until is not None else time.time()
    r = engine.session.open("GET", "/events", _query(since, until, filters), timeout=60.0)
    try:
        return [event(json.loads(line)) for line in r.lines()]
    finally:
        r.close()


def iter_events(engine, since=None, filters=None, until=None, stop: threading.Event | None = None,
                opened=None):
    """Events as the engine reports them, until ``until`` or ``stop``; ``opened`` is called
    once the engine has answered (every event from then on will come)."""
    r = engine.session.open("GET", "/events", _query(since, until, filters), timeout=None)
    if opened is not None:
        opened()
    if stop is not None:
        threading.Thread(target=lambda: (stop.wait(), r.conn.close()), daemon=True).start()
    try:
        for line in r.lines():
            yield event(json.loads(line))
    except Exception:
        if stop is None or not stop.is_set():
            raise
    finally:
        r.conn.close()


async def in_thread(make, *args, **kwargs):
    """Run the blocking generator ``make(*args, stop=…, **kwargs)`` in a thread and yield what
    it yields; leaving the loop (a cancelled worker) sets its ``stop``."""
    import asyncio
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    stop = threading.Event()
    done = object()

    def run() -> None:
        try:
            for item in make(*args, stop=stop, **kwargs):
                if stop.is_set():
                    break
                loop.call_soon_threadsafe(queue.put_nowait, item)
        except BaseException as e:   # noqa: BLE001  (given to the caller as it is)
            loop.call_soon_threadsafe(queue.put_nowait, e)
        finally:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, done)
            except RuntimeError:
                pass   # the loop is gone

    threading.Thread(target=run, daemon=True, name="remote-stream").start()
    try:
        while True:
            item = await queue.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
