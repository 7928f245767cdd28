"""berth search: a registry's /v2/_catalog filtered by the term, or Docker Hub's v1 search."""

from __future__ import annotations

from ..errors import InvalidArgument, RegistryError
from .distribution import DOCKER_HUB, at_the_edge
from .registry_client import RegistryClient

@at_the_edge
def search(term: str, registry: str | None = None, limit: int = 25,
           insecure: bool = False) -> list[dict]:
    """Repositories of ``registry`` whose name contains ``term``, from its /v2/_catalog;
    the registry may also be given as a prefix of the term (``127.0.0.1:5000/busy``, or
    ``127.0.0.1:5000/`` for all it has)."""
    from .auth import get_credentials
    first, slash, rest = term.partition("/")
    # "127.0.0.1:5000/" names the registry and nothing to match: its whole catalog
    if registry is None and slash and ("." in first or ":" in first or first == "localhost"):
        registry, term = first, rest
    if registry is None:
        registry = DOCKER_HUB
    if limit < 1:
        raise InvalidArgument("--limit must be at least 1")
    if registry == DOCKER_HUB:
        return _hub_search(term, limit)
    with RegistryClient(registry, get_credentials(registry), insecure) as client:
        names = client.catalog()
    hits = [n for n in names if term.lower() in n.lower()]
    return [{"name": f"{registry}/{n}", "description": "", "star_count": 0,
             "is_official": False, "is_automated": False} for n in hits[:limit]]


def _hub_search(term: str, limit: int) -> list[dict]:
    """Docker Hub has no catalog; it has the v1 search endpoint that ``docker search`` uses."""
    import json

    from . import httpclient as http
    try:
        with http.Session(connect_timeout=30, read_timeout=30) as s:
            with s.request("GET", "https://index.docker.io/v1/search",
                           params={"q": term, "n": str(limit)}) as resp:
                if resp.status != 200:
                    raise RegistryError(f"Docker Hub search answered HTTP {resp.status}")
                data = json.loads(resp.read())
    except (http.ClientError, TimeoutError, OSError, ValueError) as e:
        raise RegistryError(f"cannot reach Docker Hub's search: {e}") from e
    return [{"name": x.get("name", ""), "description": x.get("description", ""),
             "star_count": x.get("star_count", 0), "is_official": x.get("is_official", False),
             "is_automated": x.get("is_automated", False)}
            for x in (data.get("results") or [])[:limit]]

