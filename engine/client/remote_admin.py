"""The registry, network, volume and housekeeping verbs of RemoteEngine (remote.py) over the
Docker Engine API: push (with X-Registry-Auth), login (``/auth``; the credentials are kept on
this side, as the docker CLI keeps them), search, network and volume create and remove, the
prunes and ``system df``."""

from __future__ import annotations

import json

from ..errors import BerthError, NotFound, NotSupported, RegistryError
from .http import q


def registry_auth(credentials, ref: str = "") -> dict:
    """The X-Registry-Auth header for (user, password) at the registry of ``ref`` (podman
    files them under serveraddress); an empty one without (dockerd wants the header on a
    push even when the registry takes anyone)."""
    import base64
    auth = ({"username": credentials[0], "password": credentials[1],
             "serveraddress": _registry_of(ref)} if credentials else {})
    return {"X-Registry-Auth": base64.urlsafe_b64encode(json.dumps(auth).encode()).decode()}


def _registry_of(ref: str) -> str:
    first = ref.split("/", 1)[0] if "/" in ref else ""
    return first if ("." in first or ":" in first or first == "localhost") else "docker.io"


def _saved_credentials(ref: str):
    """The credentials ``berth login`` saved on this side for the registry of ``ref``."""
    from ..images.auth import get_credentials
    return get_credentials(_registry_of(ref))


def _tls_query(ref: str, tls_verify: bool) -> dict:
    """podman's tlsVerify (dockerd ignores it): off when asked, and for a registry on
    loopback, which Docker's engines reach over plain http by default."""
    from ..images.distribution import is_loopback
    plain = not tls_verify or is_loopback(_registry_of(ref))
    return {"tlsVerify": "false" if plain else None}


class RemoteAdmin:
    """Registries, networks, volumes and prunes of a remote engine (a mixin of RemoteEngine,
    which gives ``session``, ``image``, ``network`` and ``volume``)."""

    # --- registries ---------------------------------------------------------------------------

    async def push(self, ref: str, progress=None, tls_verify: bool = True, chunk_size=None,
                   credentials=None, destination: str | None = None) -> str:
        """The engine pushes ``ref`` to its registry; its progress messages reach
        ``progress``. The manifest digest."""
        import asyncio
        return await asyncio.to_thread(self.push_sync, ref, progress, tls_verify, credentials,
                                       destination)

    def push_sync(self, ref: str, progress=None, tls_verify: bool = True, credentials=None,
                  destination: str | None = None) -> str:
        from .remote_objects import _split_ref
        if destination:
            raise NotSupported(f"--destination is not available through the connection to "
                               f"{self.name}: tag the image with that name and push it")
        name, tag = _split_ref(ref)
        headers = registry_auth(credentials or _saved_credentials(ref), ref)
        query = {"tag": tag or None, **_tls_query(ref, tls_verify)}
        r = self.session.open("POST", f"/images/{q(name)}/push", query, b"", headers,
                              timeout=None)
        digest = ""
        try:
            for msg in r.messages(RegistryError):
                digest = (msg.get("aux") or {}).get("Digest") or digest
                if not digest and "digest: sha256:" in (msg.get("status") or ""):
                    digest = msg["status"].split("digest: ", 1)[1].split()[0]
                if progress is not None:
                    progress(msg)
        finally:
            r.close()
        return digest

    def login(self, registry: str, username: str, password: str,
              tls_verify: bool = True) -> None:
        """The engine checks the credentials against ``registry`` (``POST /auth``); they are
        then saved on this side, for the pushes and pulls sent through any engine."""
        from ..errors import InvalidArgument
        from ..images.auth import registry_key, save_credentials
        if not username or not password:
            raise InvalidArgument("login needs a username and a password")
        key = registry_key(registry)
        self.session.call("POST", "/auth", None, {"username": username, "password": password,
                                                  "serveraddress": key}, timeout=60.0)
        save_credentials(key, username, password)

    def logout(self, registry: str) -> None:
        """Forget the credentials saved on this side for ``registry`` (as the local one)."""
        from ..registry_api import RegistryAPI
        RegistryAPI.logout(self, registry)

    async def search(self, term: str, registry: str | None = None, limit: int = 25,
                     tls_verify: bool = True) -> list[dict]:
        """The engine's search of a registry (``GET /images/search``)."""
        import asyncio
        return await asyncio.to_thread(self.search_sync, term, registry, limit, tls_verify)

    def search_sync(self, term: str, registry: str | None = None, limit: int = 25,
                    tls_verify: bool = True) -> list[dict]:
        full = f"{registry}/{term}" if registry else term
        if registry is None and "/" in term and any(c in term.split("/", 1)[0] for c in ".:"):
            registry = term.split("/", 1)[0]
        try:
            where = f"{registry}/x" if registry else ""
            credentials = _saved_credentials(where)
            body = self.session.call(
                "GET", "/images/search",
                {"term": full, "limit": str(limit), **_tls_query(full, tls_verify)}, None, 60.0,
                registry_auth(credentials, where) if credentials else None)
        except BerthError as e:
            if registry and "404" in str(e) and self.engine_info().kind != "berth":
                # dockerd asks a registry for Docker Hub's v1 search, which registries lack
                raise NotSupported(f"{self.name} ({self.engine_info().label()}) searches only "
                                   f"registries with Docker Hub's search API, which {registry} "
                                   f"lacks ({e})") from None
            raise
        return list(body or [])

    # --- networks and volumes -----------------------------------------------------------------

    def create_network(self, name: str, subnet=None, gateway=None, ip_range=None,
                       internal: bool = False, labels=None, options=None, ipv6: bool = False,
                       subnet6=None, gateway6=None):
        """A bridge network on the engine (``POST /networks/create``)."""
        config = []
        if subnet or gateway or ip_range:
            config.append({k: v for k, v in (("Subnet", subnet), ("Gateway", gateway),
                                             ("IPRange", ip_range)) if v})
        if subnet6 or gateway6:
            config.append({k: v for k, v in (("Subnet", subnet6), ("Gateway", gateway6)) if v})
        made = self.session.call("POST", "/networks/create", None, {
            "Name": name, "Driver": "bridge", "CheckDuplicate": True, "Internal": internal,
            "EnableIPv6": ipv6, "Labels": labels or {}, "Options": options or {},
            "IPAM": {"Driver": "default", "Config": config}})
        return self.network(made.get("Id") or name)

    def remove_network(self, ref: str) -> None:
        self.session.call("DELETE", f"/networks/{q(ref)}")

    def prune_networks(self) -> list[str]:
        body = self.session.call("POST", "/networks/prune") or {}
        return list(body.get("NetworksDeleted") or [])

    def create_volume(self, name: str | None = None, labels=None, options=None):
        """A volume on the engine (``POST /volumes/create``; the local driver's options)."""
        body = self.session.call("POST", "/volumes/create", None, {
            "Name": name or "", "Driver": "local", "DriverOpts": options or {},
            "Labels": labels or {}})
        return self.volume(body.get("Name") or name)

    def remove_volume(self, name: str, force: bool = False) -> None:
        self.session.call("DELETE", f"/volumes/{q(name)}", {"force": "1" if force else None})

    def prune_volumes(self, all: bool = False, filters=None) -> tuple[list[str], int]:
        wanted = {**(filters or {}), **({"all": ["true"]} if all else {})}
        try:
            body = self.session.call("POST", "/volumes/prune",
                                     {"filters": json.dumps(wanted) if wanted else None}) or {}
        except BerthError as e:   # dockerd's 400, podman's 500
            if not all or "all" not in str(e) or "filter" not in str(e).lower():
                raise
            # engines before Docker 23 have no "all": they prune named volumes as well
            wanted.pop("all")
            body = self.session.call("POST", "/volumes/prune",
                                     {"filters": json.dumps(wanted) if wanted else None}) or {}
        return list(body.get("VolumesDeleted") or []), body.get("SpaceReclaimed") or 0

    # --- disk use and prunes ------------------------------------------------------------------

    def system_df(self) -> dict:
        """The engine's disk use, as ``GET /system/df`` gives it."""
        data = self.session.call("GET", "/system/df", timeout=None) or {}
        for key in ("Images", "Containers", "Volumes", "BuildCache"):
            data[key] = data.get(key) or []
        return data

    def prune_build_cache(self, all: bool = False, filters=None) -> tuple[list[str], int]:
        body = self.session.call("POST", "/build/prune", {"all": "1" if all else None},
                                 timeout=None) or {}
        return list(body.get("CachesDeleted") or []), body.get("SpaceReclaimed") or 0

    def system_prune(self, all: bool = False, volumes: bool = False) -> dict:
        """Each prune of the engine in turn, reported as the local engine's system_prune. An
        engine without a build cache to prune (podman's API) is passed over."""
        report: dict = {"ContainersDeleted": [], "NetworksDeleted": [], "VolumesDeleted": [],
                        "ImagesDeleted": [], "SpaceReclaimed": 0}
        ids, size = self.prune_containers()
        report["ContainersDeleted"], report["SpaceReclaimed"] = ids, size
        report["NetworksDeleted"] = self.prune_networks()
        if volumes:
            names, size = self.prune_volumes()
            report["VolumesDeleted"] = names
            report["SpaceReclaimed"] += size
        body = self.session.call("POST", "/images/prune", {"filters": json.dumps(
            {"dangling": ["false"]}) if all else None}, timeout=None) or {}
        report["ImagesDeleted"] = list(body.get("ImagesDeleted") or [])
        report["SpaceReclaimed"] += body.get("SpaceReclaimed") or 0
        try:
            caches, size = self.prune_build_cache(all)
        except (NotFound, NotSupported):
            caches, size = [], 0
        except BerthError as e:   # dockerd without a builder answers 500 with its words
            if "builder" not in str(e).lower():
                raise
            caches, size = [], 0
        if caches:
            report["CachesDeleted"] = caches
        report["SpaceReclaimed"] += size
        return report
