"""Volume verbs: volume create, ls, inspect, rm, prune; system df and prune (engine/volumes)."""

from __future__ import annotations


TYPE_CHECKING = False
if TYPE_CHECKING:   # typing costs every `berth run` (which loads the Engine facade) 3 ms
    from typing import Any

from .errors import InvalidArgument
from .models import Volume

VOLUME_FILTERS = ("dangling", "name", "label", "driver")


def _label_match(labels: dict[str, str], wanted: str) -> bool:
    key, eq, value = wanted.partition("=")
    return key in labels and (not eq or labels[key] == value)


def _name_match(name: str, pattern: str) -> bool:
    # Docker matches name filters as regular expressions (so a plain word is a substring)
    import re
    try:
        return re.search(pattern, name) is not None
    except re.error:
        return pattern in name


class VolumesAPI:
    """Volume verbs: volume create, ls, inspect, rm, prune; system df and system prune."""

    # --- volumes ------------------------------------------------------------------------
    def volumes(self, filters: dict[str, list[str]] | None = None) -> list[Volume]:
        """Volumes, filtered as ``docker volume ls --filter``: ``dangling=true|false``,
        ``name=`` (regular expression), ``label=KEY[=VALUE]``, ``driver=local``."""
        from .volumes import store as vstore
        filters = {k: list(v) for k, v in (filters or {}).items() if v}
        for key in filters:
            if key not in VOLUME_FILTERS:
                raise InvalidArgument(f"invalid filter '{key}' (volume filters: "
                                      f"{', '.join(VOLUME_FILTERS)})")
        vols = vstore.list_volumes(self.store)
        if "dangling" in filters:
            wanted = set()
            for v in filters["dangling"]:
                if v.lower() in ("true", "1"):
                    wanted.add(True)
                elif v.lower() in ("false", "0"):
                    wanted.add(False)
                else:
                    raise InvalidArgument(f"invalid filter 'dangling={v}' (use true or false)")
            used = vstore.volume_users(self.store)
            vols = [v for v in vols if (v.name not in used) in wanted]
        if "name" in filters:
            vols = [v for v in vols if any(_name_match(v.name, p) for p in filters["name"])]
        if "label" in filters:
            vols = [v for v in vols if all(_label_match(v.labels, w) for w in filters["label"])]
        if "driver" in filters:
            vols = [v for v in vols if v.driver in filters["driver"]]
        return vols

    def volume(self, name: str) -> Volume:
        from .volumes import store as vstore
        return vstore.get_volume(self.store, name)

    def volume_inspect(self, name: str) -> dict[str, Any]:
        """Docker's ``volume inspect`` object for one volume."""
        vol = self.volume(name)
        return {
            "CreatedAt": vol.created.split(".")[0] + "Z" if vol.created else "",
            "Driver": vol.driver,
            "Labels": dict(vol.labels),
            "Mountpoint": vol.mountpoint,
            "Name": vol.name,
            "Options": dict(vol.options),
            "Scope": "local",
        }

    def create_volume(self, name: str | None = None, labels: dict[str, str] | None = None,
                      options: dict[str, str] | None = None) -> Volume:
        """A new volume (an anonymous one without ``name``); an existing name is returned as
        it is. ``options`` are the local driver's: ``type``, ``device``, ``o``."""
        from .options import validate_labels
        from .volumes import store as vstore
        validate_labels(labels or {})
        validate_labels(options or {}, "driver option")
        return vstore.create_volume(self.store, name or None, labels, options)[0]

    def remove_volume(self, name: str, force: bool = False) -> None:
        """Remove a volume and its data. One used by a container needs ``force``; one used by
        a running container can't be removed."""
        from .volumes import store as vstore
        vstore.remove_volume(self.store, name, force=force)

    def prune_volumes(self, all: bool = False,
                      filters: dict[str, list[str]] | None = None) -> tuple[list[str], int]:
        """Remove volumes no container uses: anonymous ones, or every one with ``all`` (as
        Docker 23+). ``filters``: ``label=KEY[=VALUE]``, ``label!=KEY[=VALUE]``. Returns the
        names removed and the bytes reclaimed."""
        from .errors import Conflict
        from .volumes import store as vstore
        filters = {k: list(v) for k, v in (filters or {}).items() if v}
        for key in filters:
            if key not in ("label", "label!", "all"):
                raise InvalidArgument(f"invalid filter '{key}' (prune filters: label, label!)")
        everything = all or any(v.lower() in ("true", "1") for v in filters.get("all", []))
        labels, not_labels = filters.get("label", []), filters.get("label!", [])
        removed, reclaimed = [], 0
        with self.store.lock():
            used = vstore.volume_users(self.store)
            for vol in vstore.list_volumes(self.store):
                if vol.name in used or not (everything or vol.anonymous):
                    continue
                if [w for w in labels if not _label_match(vol.labels, w)]:
                    continue
                if [w for w in not_labels if _label_match(vol.labels, w)]:
                    continue
                try:
                    reclaimed += vstore.remove_volume(self.store, vol.name)
                except Conflict:
                    continue
                removed.append(vol.name)
        self.emit("volume", "prune", "", reclaimed=str(reclaimed))
        return removed, reclaimed

    # --- system -------------------------------------------------------------------------
    def system_df(self) -> dict[str, Any]:
        """Disk use as Docker's ``/system/df``: ``LayersSize``, ``Images``, ``Containers``,
        ``Volumes`` (with ``UsageData``), ``BuildCache`` (engine/build/cache.py)."""
        from .volumes import df
        return df.system_df(self)

    def system_prune(self, all: bool = False, volumes: bool = False) -> dict[str, Any]:
        """Remove stopped containers, unused networks, dangling images (every unused image with
        ``all``) and, with ``volumes``, unused anonymous volumes. Docker's prune report:
        ``ContainersDeleted``, ``NetworksDeleted``, ``VolumesDeleted``, ``ImagesDeleted``
        (``{"Untagged": …}`` / ``{"Deleted": …}``), ``SpaceReclaimed``."""
        report: dict[str, Any] = {"ContainersDeleted": [], "NetworksDeleted": [],
                                  "VolumesDeleted": [], "ImagesDeleted": [], "SpaceReclaimed": 0}

        def call(name: str, *args):
            fn = getattr(self, name, None)
            if fn is None:
                return None  # that area is not built into this engine
            return fn(*args)

        got = call("prune_containers")
        if got:
            report["ContainersDeleted"], size = list(got[0]), got[1]
            report["SpaceReclaimed"] += size or 0
        got = call("prune_networks")
        if got:
            report["NetworksDeleted"] = list(got)
        if volumes:
            names, size = self.prune_volumes()
            report["VolumesDeleted"] = names
            report["SpaceReclaimed"] += size
        got = call("prune_images", all)
        if got:
            for line in got[0]:
                kind, sep, rest = str(line).partition(": ")
                key = "Untagged" if kind.lower() == "untagged" else "Deleted"
                report["ImagesDeleted"].append({key: rest if sep else str(line)})
            report["SpaceReclaimed"] += got[1] or 0
        got = call("prune_build_cache", all)
        if got:
            report["CachesDeleted"] = list(got[0])
            report["SpaceReclaimed"] += got[1] or 0
        from .temps import sweep_temp_files   # what killed writers left behind
        sweep_temp_files(self.store)
        return report
