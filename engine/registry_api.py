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

    def pull_sync(self, ref: str, platform: str | None = None,
                  progress: Callable[[dict], Any] | None = None, all_tags: bool = False,
                  tls_verify: bool = True, credentials: tuple[str, str] | None = None,
                  cancel: list | None = None):
        """``pull`` for synchronous callers (the CLI), without loading asyncio: blocking,
        ``progress`` called from the blobs' threads one message at a time. ``cancel`` gets
        the callables that stop it from another thread (images/pull.py)."""
        from .images.pull import pull_image
        image = pull_image(self.store, ref, platform=platform, progress=progress,
                           all_tags=all_tags, insecure=not tls_verify, credentials=credentials,
                           cancel=cancel)
        self.emit("image", "pull", image.id, name=ref)
        return image

    async def pull(self, ref: str, platform: str | None = None,
                   progress: Callable[[dict], Any] | None = None, all_tags: bool = False,
                   tls_verify: bool = True, credentials: tuple[str, str] | None = None):
        """Pull ``ref`` (tag or digest) for ``platform`` (default the host's); returns the Image.
        ``progress`` gets Docker's JSON progress messages, on the caller's event loop."""
        return await _off_loop(self.pull_sync, ref, platform=platform, progress=progress,
                               all_tags=all_tags, tls_verify=tls_verify,
                               credentials=credentials, cancel=[])

    def push_sync(self, ref: str, progress: Callable[[dict], Any] | None = None,
                  tls_verify: bool = True, chunk_size: int | None = None,
                  credentials: tuple[str, str] | None = None,
                  destination: str | None = None, cancel: list | None = None) -> str:
        """``push`` for synchronous callers, as ``pull_sync``."""
        from .images.push import push_image
        digest = push_image(self.store, ref, progress=progress, insecure=not tls_verify,
                            chunk_size=chunk_size, credentials=credentials,
                            destination=destination, cancel=cancel)
        self.emit("image", "push", digest, name=destination or ref)
        return digest

    async def push(self, ref: str, progress: Callable[[dict], Any] | None = None,
                   tls_verify: bool = True, chunk_size: int | None = None,
                   credentials: tuple[str, str] | None = None,
                   destination: str | None = None) -> str:
        """Push the local image ``ref`` to its registry (or to ``destination``); returns the
        manifest digest."""
        return await _off_loop(self.push_sync, ref, progress=progress, tls_verify=tls_verify,
                               chunk_size=chunk_size, credentials=credentials,
                               destination=destination, cancel=[])

    async def distribution_inspect(self, ref: str, tls_verify: bool = True,
                                   credentials: tuple[str, str] | None = None) -> dict:
        """The registry's manifest descriptor and platforms for ``ref``, without pulling it
        (Docker's ``GET /distribution/{name}/json``)."""
        from .images.remote import distribution_inspect
        return await _off_loop(distribution_inspect, ref, insecure=not tls_verify,
                               credentials=credentials)

    def login(self, registry: str, username: str, password: str,
              tls_verify: bool = True) -> None:
        """Check the credentials against ``registry`` and save them (AuthError when wrong).
        Blocking: call it from a worker thread in an asyncio program."""
        from .errors import InvalidArgument
        from .images.auth import registry_key, save_credentials
        from .images.distribution import check_login
        if not username or not password:
            raise InvalidArgument("login needs a username and a password")
        key = registry_key(registry)
        check_login(key, username, password, insecure=not tls_verify)
        save_credentials(key, username, password)

    def logout(self, registry: str) -> None:
        """Forget the saved credentials of ``registry`` (NotFound when there were none)."""
        from .errors import NotFound
        from .images.auth import registry_key, remove_credentials
        if not remove_credentials(registry):
            raise NotFound(f"not logged in to {registry_key(registry)}")

    def search_sync(self, term: str, registry: str | None = None, limit: int = 25,
                    tls_verify: bool = True) -> list[dict]:
        """``search`` for synchronous callers (the CLI)."""
        from .images.search import search
        return search(term, registry, limit, insecure=not tls_verify)

    async def search(self, term: str, registry: str | None = None, limit: int = 25,
                     tls_verify: bool = True) -> list[dict]:
        """Repositories matching ``term`` from a registry's catalog (Docker Hub's search for
        docker.io), as dicts with name, description, star_count, is_official, is_automated."""
        return await _off_loop(self.search_sync, term, registry, limit, tls_verify)


async def _off_loop(fn, *args, progress=None, **kw):
    """``fn(*args, **kw)``, a blocking registry verb, in a worker thread: its ``progress``
    messages are called back on this event loop, in order and before the result; cancelling
    the caller stops the transfer (the aborts ``fn`` put in the list given as ``cancel``) and
    waits for it a moment."""
    import asyncio
    loop = asyncio.get_running_loop()
    cancel = kw.get("cancel", [])
    if progress is not None:
        kw["progress"] = lambda message: loop.call_soon_threadsafe(progress, message)
    job = loop.run_in_executor(None, lambda: fn(*args, **kw))
    try:
        return await asyncio.shield(job)
    except asyncio.CancelledError:
        for abort in cancel:
            abort()
        # what abort reaches ends at once; a connect still under way, or a lock another berth
        # holds, ends on its own (within the connect timeout) and fails then
        await asyncio.wait([job], timeout=5)
        job.add_done_callback(lambda f: f.cancelled() or f.exception())   # retrieved: not logged
        raise
