"""Registry verbs: pull, push, login, logout, search (engine/images/pull.py, push.py, search.py,
distribution.py)."""

from __future__ import annotations


TYPE_CHECKING = False
if TYPE_CHECKING:   # typing costs every `berth run` (which loads the Engine facade) 3 ms
    from typing import Any, Callable


class RegistryAPI:
    """Registry verbs: pull, push, login, logout, search (engine/images/pull.py, push.py,
    search.py, distribution.py).

    ``tls_verify=False`` is ``--tls-verify=false``: the registry may be plain http and its
    certificate is not checked. Credentials come from the file ``berth login`` writes
    (engine/images/auth.py) unless ``credentials`` (user, password) are given for the call,
    as the Docker API's X-Registry-Auth gives them.
    """

    async def pull(self, ref: str, platform: str | None = None,
                   progress: Callable[[dict], Any] | None = None, all_tags: bool = False,
                   tls_verify: bool = True, credentials: tuple[str, str] | None = None):
        """Pull ``ref`` (tag or digest) for ``platform`` (default the host's); returns the Image.
        ``progress`` gets Docker's JSON progress messages."""
        from .images.pull import pull_image
        image = await pull_image(self.store, ref, platform=platform, progress=progress,
                                 all_tags=all_tags, insecure=not tls_verify,
                                 credentials=credentials)
        self.emit("image", "pull", image.id, name=ref)
        return image

    async def push(self, ref: str, progress: Callable[[dict], Any] | None = None,
                   tls_verify: bool = True, chunk_size: int | None = None,
                   credentials: tuple[str, str] | None = None,
                   destination: str | None = None) -> str:
        """Push the local image ``ref`` to its registry (or to ``destination``); returns the
        manifest digest."""
        from .images.push import push_image
        digest = await push_image(self.store, ref, progress=progress, insecure=not tls_verify,
                                  chunk_size=chunk_size, credentials=credentials,
                                  destination=destination)
        self.emit("image", "push", digest, name=destination or ref)
        return digest

    async def distribution_inspect(self, ref: str, tls_verify: bool = True,
                                   credentials: tuple[str, str] | None = None) -> dict:
        """The registry's manifest descriptor and platforms for ``ref``, without pulling it
        (Docker's ``GET /distribution/{name}/json``)."""
        from .images.remote import distribution_inspect
        return await distribution_inspect(ref, insecure=not tls_verify,
                                          credentials=credentials)

    def login(self, registry: str, username: str, password: str,
              tls_verify: bool = True) -> None:
        """Check the credentials against ``registry`` and save them (AuthError when wrong).
        Synchronous: it runs its own event loop, so call it from a worker thread in an
        asyncio program."""
        import asyncio

        from .errors import InvalidArgument
        from .images.auth import registry_key, save_credentials
        from .images.distribution import check_login
        if not username or not password:
            raise InvalidArgument("login needs a username and a password")
        key = registry_key(registry)
        asyncio.run(check_login(key, username, password, insecure=not tls_verify))
        save_credentials(key, username, password)

    def logout(self, registry: str) -> None:
        """Forget the saved credentials of ``registry`` (NotFound when there were none)."""
        from .errors import NotFound
        from .images.auth import registry_key, remove_credentials
        if not remove_credentials(registry):
            raise NotFound(f"not logged in to {registry_key(registry)}")

    async def search(self, term: str, registry: str | None = None, limit: int = 25,
                     tls_verify: bool = True) -> list[dict]:
        """Repositories matching ``term`` from a registry's catalog (Docker Hub's search for
        docker.io), as dicts with name, description, star_count, is_official, is_automated."""
        from .images.search import search
        return await search(term, registry, limit, insecure=not tls_verify)
