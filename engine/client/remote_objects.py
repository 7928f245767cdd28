"""The image, network, volume, stats and event verbs of RemoteEngine (remote.py): the Docker
Engine API's answers as berth's models."""

from __future__ import annotations

import json
import threading

from ..errors import BerthError, NotFound, RegistryError, Unreachable
from ..models import Image
from . import convert
from .http import q


class RemoteObjects:
    """Images, networks, volumes, stats and events of a remote engine (a mixin of
    RemoteEngine, which gives ``session``, ``addr``, ``containers`` and ``container``)."""

    # --- images -------------------------------------------------------------------------------

    def images(self, all: bool = False) -> list[Image]:
        listed = self.session.call("GET", "/images/json", {"all": "1" if all else None}) or []
        return [convert.image(i) for i in listed]

    def image(self, ref: str) -> Image:
        return convert.image(self.image_inspect(ref))

    def image_inspect(self, ref: str) -> dict:
        return self.session.call("GET", f"/images/{q(ref)}/json")

    def history(self, ref: str) -> list[dict]:
        # the local engine's shape: Created as RFC 3339, as the image config has it
        return [{**h, "Created": convert._time(h.get("Created")) if h.get("Created") else ""}
                for h in self.session.call("GET", f"/images/{q(ref)}/history") or []]

    def tag(self, source: str, target: str) -> None:
        repo, tag = _split_ref(target)
        self.session.call("POST", f"/images/{q(source)}/tag", {"repo": repo, "tag": tag})

    def remove_image(self, ref: str, force: bool = False) -> list[str]:
        body = self.session.call("DELETE", f"/images/{q(ref)}",
                                 {"force": "1" if force else None}) or []
        return [f"Untagged: {e['Untagged']}" if "Untagged" in e else f"Deleted: {e['Deleted']}"
                for e in body if "Untagged" in e or "Deleted" in e]

    def prune_images(self, all: bool = False) -> tuple[list[str], int]:
        body = self.session.call("POST", "/images/prune",
                                 {"filters": json.dumps({"dangling": ["false"]}) if all else None}) or {}
        return ([e.get("Deleted") or e.get("Untagged") for e in body.get("ImagesDeleted") or []],
                body.get("SpaceReclaimed") or 0)

    async def pull(self, ref: str, platform: str | None = None, progress=None,
                   all_tags: bool = False, tls_verify: bool = True, credentials=None) -> Image:
        """The engine pulls ``ref`` from its registry; its progress messages reach ``progress``
        as they come (Docker's JSON messages, as the local pull's)."""
        import asyncio
        return await asyncio.to_thread(self.pull_sync, ref, platform, progress, all_tags,
                                       credentials)

    def pull_sync(self, ref: str, platform=None, progress=None, all_tags=False,
                  credentials=None, tls_verify: bool = True) -> Image:
        from .remote_admin import _saved_credentials, registry_auth
        name, tag = _split_ref(ref)
        credentials = credentials or _saved_credentials(ref)
        headers = registry_auth(credentials, ref) if credentials else {}
        r = self.session.open("POST", "/images/create",
                              {"fromImage": name, "tag": None if all_tags else tag,
                               "platform": platform}, b"", headers, timeout=None)
        try:
            for msg in r.messages(RegistryError):
                if progress is not None:
                    progress(msg)
        finally:
            r.close()
        return self.image(ref if all_tags or "@" in ref else f"{name}:{tag}")

    # --- networks and volumes -------------------------------------------------------------------

    def networks(self):
        return [convert.network(n) for n in self.session.call("GET", "/networks") or []]

    def network(self, ref: str):
        return convert.network(self.network_inspect(ref))

    def network_inspect(self, ref: str) -> dict:
        return self.session.call("GET", f"/networks/{q(ref)}")

    def volumes(self, filters=None):
        body = self.session.call("GET", "/volumes",
                                 {"filters": json.dumps(filters) if filters else None}) or {}
        return [convert.volume(v) for v in body.get("Volumes") or []]

    def volume(self, name: str):
        return convert.volume(self.volume_inspect(name))

    def volume_inspect(self, name: str) -> dict:
        return self.session.call("GET", f"/volumes/{q(name)}")

    # --- stats --------------------------------------------------------------------------------

    def stats_once(self, ids: list[str] | None = None, all: bool = False) -> list:
        """One reading of each (running, or all with ``all``) container, from the engine's
        stats with its own previous reading (docker's CPU % needs two)."""
        from concurrent.futures import ThreadPoolExecutor
        targets = ids or [c.id for c in self.containers(all=all) if c.running or all]

        def one(ref):
            try:
                data = self.session.call("GET", f"/containers/{q(ref)}/stats",
                                         {"stream": "0"}, timeout=30.0)
            except NotFound:
                return None
            return convert.stats_sample(data.get("id") or ref, data.get("name") or ref, data)

        with ThreadPoolExecutor(max_workers=min(8, max(1, len(targets)))) as pool:
            return [s for s in pool.map(one, targets) if s is not None]

    def iter_stats(self, ids: list[str] | None = None, interval: float = 1.0, all: bool = False,
                   stop=None):
        """Readings every ``interval`` seconds from each container's stats stream."""
        from .streams import StatsFollower
        follower = StatsFollower(self, ids, all)
        if stop is not None:
            threading.Thread(target=lambda: (stop.wait(), follower.close()), daemon=True).start()
        try:
            yield from follower.ticks(interval)
        finally:
            follower.close()

    async def stats(self, ids: list[str] | None = None, interval: float = 1.0, all: bool = False):
        """``iter_stats`` for the dashboard's event loop (the streams are read in threads)."""
        from .events import in_thread
        async for samples in in_thread(self.iter_stats, ids, interval, all):
            yield samples

    # --- events -------------------------------------------------------------------------------

    def events(self, since=None, until=None, filters=None) -> list:
        from . import events
        return events.events(self, since, until, filters)

    def iter_events(self, since=None, filters=None, until=None, stop=None):
        from . import events
        return events.iter_events(self, since, filters, until, stop)

    async def follow_events(self, since=None, filters=None, until=None):
        """The engine's events as they happen, for the dashboard's event loop. A host that
        drops is tried again, every 0.5 s doubling to 30 s; once back, a "reconnect" event
        (type container, no id) tells the caller to read its lists again."""
        import asyncio
        import time
        from ..models import Event
        from . import events
        delay = 0.5
        while True:
            opened = []
            try:
                async for ev in events.in_thread(events.iter_events, self, since, filters, until,
                                                 opened=lambda: (opened.append(1),
                                                                 self._following(1))):
                    delay = 0.5
                    if ev.type == "container" and ev.id:
                        self._changed(ev.id)
                    yield ev
                if until is not None:
                    return
                # without an end asked for, a stream that ends is an engine that went away
                self.session.down(Unreachable(f"{self.addr.display} closed its event stream"))
            except Unreachable:
                pass
            finally:
                if opened:
                    self._following(-1)
            since = None
            while True:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                try:
                    await asyncio.to_thread(self.ping)
                    break
                except BerthError:
                    continue
            yield Event(time.time(), "container", "reconnect", "")

def _split_ref(ref: str) -> tuple[str, str]:
    """(name, tag) as /images/create wants them; a digest stays in the name."""
    if "@" in ref:
        return ref, ""
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1:]
    return ref, "latest"
