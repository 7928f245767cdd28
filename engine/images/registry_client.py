"""``RegistryClient``: the distribution API's endpoints over a ``DistributionClient``
connection (distribution.py): manifests (fetched and verified against their digest, or put),
tags and the catalog with pagination, blobs downloaded with Range resumption, checked for,
mounted across repositories and uploaded monolithically or in chunks."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
from typing import Any, Callable

from ..errors import AuthError, IntegrityError, NotFound, RegistryError
from .distribution import RETRIES, RETRY_BASE, DistributionClient
from .manifests import (ACCEPT, INDEX_TYPES, MANIFEST_TYPES, OCI_INDEX, OCI_MANIFEST, SCHEMA1,
                        check_digest, sha256_digest)

CHUNK = 1 << 20
PUSH_CHUNK_SIZE = 32 << 20
# how far a blob's download may run ahead of its writes to disk
SINK_BUFFER = 16 << 20


def _with_digest(url: str, digest: str) -> str:
    """``url`` (an upload's Location) with ``digest=`` added to its query."""
    from urllib.parse import urlencode
    return url + ("&" if "?" in url else "?") + urlencode({"digest": digest})


class _BlobSink:
    """A downloading blob's file, appended to and hashed in a thread of its own: the event
    loop only hands each chunk over, so one blob's writes (which stall for tens of ms when the
    page cache is under pressure) never hold up the others' downloads. The hash sees the bytes
    in the order they are written."""

    def __init__(self, path: str, h):
        import queue
        import threading
        self.f = open(path, "ab", buffering=0)
        self.h = h
        self.q: "queue.SimpleQueue" = queue.SimpleQueue()
        self.queued = 0
        self.cond = threading.Condition()
        self.error: BaseException | None = None
        self.closed = False
        self.thread = threading.Thread(target=self._run, name="blob-sink", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while (chunk := self.q.get()) is not None:
                if self.error is None:
                    try:
                        view = memoryview(chunk)
                        while view:
                            view = view[self.f.write(view):]
                        self.h.update(chunk)
                    except BaseException as e:  # noqa: BLE001 - raised in the event loop
                        self.error = e
                with self.cond:
                    self.queued -= len(chunk)
                    self.cond.notify_all()
        finally:
            self.f.close()

    def write(self, chunk: bytes) -> None:
        if self.error is not None:
            raise self.error
        with self.cond:
            self.queued += len(chunk)
        self.q.put(chunk)

    def wait_below(self, limit: int) -> None:
        """Block until the writer has fewer than ``limit`` bytes left to write."""
        with self.cond:
            self.cond.wait_for(lambda: self.queued < limit or self.error is not None)

    def close(self) -> None:
        """Write what is queued, close the file (blocking) and raise the writer's error."""
        if not self.closed:
            self.closed = True
            self.q.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


class RegistryClient(DistributionClient):
    """One registry, one HTTP session: ping, auth, manifests, blobs, uploads.

    Use as ``async with RegistryClient(registry, ...) as c``. ``credentials`` is (user, password)
    or None for anonymous access; ``insecure`` allows plain http and skips certificate checks.
    """

    # --- manifests ------------------------------------------------------------------
    async def get_manifest(self, repo: str, reference: str,
                           expect_digest: str | None = None) -> tuple[bytes, str, str]:
        """(bytes, media type, digest) of a manifest, its bytes verified against its digest:
        the one asked for, or the one the registry names in Docker-Content-Digest."""
        what = f"{self.registry}/{repo}{'@' if reference.startswith('sha256:') else ':'}" \
               f"{reference}"
        resp = await self.request("GET", f"/v2/{repo}/manifests/{reference}",
                                  (f"repository:{repo}:pull",), headers={"Accept": ACCEPT})
        if resp.status == 404:
            resp.release()
            # Registries answer MANIFEST_UNKNOWN for a missing repository too; the tag list
            # tells the two apart.
            probe = await self.request("GET", f"/v2/{repo}/tags/list?n=1",
                                       (f"repository:{repo}:pull",))
            probe.release()
            if probe.status == 200:
                kind = "digest" if reference.startswith("sha256:") else "tag"
                raise NotFound(f"{kind} {reference} not found in {self.registry}/{repo}")
            raise NotFound(f"repository {repo} not found on {self.registry}")
        if resp.status != 200:
            await self._fail(resp, what, repo)
        try:
            body = await resp.read()
        except Exception as e:
            raise self._unreachable(e) from e
        finally:
            resp.release()
        digest = sha256_digest(body)
        expected = expect_digest or (reference if reference.startswith("sha256:") else None)
        header = resp.headers.get("Docker-Content-Digest", "")
        if expected and digest != expected:
            raise IntegrityError(f"manifest of {what} does not match its digest {expected} "
                                 f"(got {digest}): refused")
        if not expected and header.startswith("sha256:") and header != digest:
            raise IntegrityError(f"manifest of {what} does not match the digest the registry "
                                 f"gave ({header}, got {digest}): refused")
        media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        try:
            doc = json.loads(body)
        except ValueError as e:
            raise RegistryError(f"manifest of {what} is not JSON") from e
        media_type = (doc.get("mediaType") if isinstance(doc, dict) else None) or media_type
        if isinstance(doc, dict) and doc.get("schemaVersion") == 1 or media_type in SCHEMA1:
            raise RegistryError(f"{what} is a Docker schema 1 image, which berth does not "
                                "pull: push it again with a current Docker or skopeo")
        if media_type not in (*INDEX_TYPES, *MANIFEST_TYPES):
            if isinstance(doc, dict) and "manifests" in doc:
                media_type = OCI_INDEX
            elif isinstance(doc, dict) and "layers" in doc and "config" in doc:
                media_type = OCI_MANIFEST
            else:
                raise RegistryError(f"{what} has an unsupported manifest type {media_type!r}")
        return body, media_type, digest

    async def put_manifest(self, repo: str, reference: str, body: bytes,
                           media_type: str) -> str:
        what = f"manifest {self.registry}/{repo}:{reference}"
        resp = await self.request("PUT", f"/v2/{repo}/manifests/{reference}",
                                  (f"repository:{repo}:pull,push",),
                                  headers={"Content-Type": media_type}, data=body)
        if resp.status not in (200, 201, 202):
            await self._fail(resp, what, repo)
        resp.release()
        return resp.headers.get("Docker-Content-Digest") or sha256_digest(body)

    async def tags(self, repo: str) -> list[str]:
        """Every tag of ``repo``, following the registry's pagination."""
        out: list[str] = []
        url: Any = f"/v2/{repo}/tags/list?n=1000"
        while url:
            resp = await self.request("GET", url, (f"repository:{repo}:pull",))
            if resp.status != 200:
                await self._fail(resp, f"the tags of {self.registry}/{repo}", repo)
            data = json.loads(await resp.read())
            resp.release()
            out += data.get("tags") or []
            url = self._next_link(resp)
        return out

    async def catalog(self, limit: int = 1000) -> list[str]:
        out: list[str] = []
        url: Any = f"/v2/_catalog?n={min(max(limit, 1), 1000)}"
        while url:
            resp = await self.request("GET", url, ("registry:catalog:*",))
            if resp.status in (401, 403, 404, 405):
                resp.release()
                raise RegistryError(f"{self.registry} does not offer its catalog for search")
            if resp.status != 200:
                await self._fail(resp, f"the catalog of {self.registry}")
            data = json.loads(await resp.read())
            resp.release()
            out += data.get("repositories") or []
            url = self._next_link(resp)
        return out

    def _next_link(self, resp):
        link = resp.headers.get("Link", "")
        m = re.search(r"<([^>]+)>\s*;\s*rel=\"?next\"?", link)
        if not m:
            return None
        from urllib.parse import urljoin
        return urljoin(str(resp.url), m.group(1))

    # --- blobs ----------------------------------------------------------------------
    async def fetch_blob(self, repo: str, digest: str, size: int, partial: str,
                         progress: Callable[[int, int], None] | None = None,
                         tee: Callable[[bytes | None], bool] | None = None) -> str:
        """Download blob ``digest`` into the file ``partial``, resuming what an earlier,
        interrupted download left there with a Range request; returns the path once the
        bytes match the digest. A mismatch removes the file and raises IntegrityError.

        ``tee`` sees the blob's bytes in order as they arrive, from the first (so a layer can
        be unpacked while it downloads); it is told ``None`` when that order breaks (a
        download that resumes an earlier one, or a server that ignores Range), and stops
        being called when it returns False."""
        resumed = os.path.exists(partial) and os.path.getsize(partial) > 0
        if resumed and tee:
            tee(None)
            tee = None
        try:
            return await self._fetch_blob(repo, digest, size, partial, progress, tee)
        except IntegrityError:
            if not resumed:
                raise
            # What an earlier download left was not a prefix of this blob (the mismatch
            # removed it): start afresh once.
            return await self._fetch_blob(repo, digest, size, partial, progress, None)

    async def _fetch_blob(self, repo: str, digest: str, size: int, partial: str,
                          progress: Callable[[int, int], None] | None,
                          tee: Callable[[bytes | None], bool] | None = None) -> str:
        from . import httpclient as http
        hexpart = check_digest(digest).partition(":")[2]
        h = hashlib.sha256()
        offset = 0
        if os.path.exists(partial):
            with open(partial, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
                    offset += len(chunk)
            if size and offset > size:
                os.truncate(partial, 0)
                h, offset = hashlib.sha256(), 0
        failures = 0
        while not (size and offset == size):
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            resp = await self.request("GET", f"/v2/{repo}/blobs/{digest}",
                                      (f"repository:{repo}:pull",), headers=headers)
            if resp.status == 416 and offset:
                # The server has no bytes past ours: what we hold is the whole blob or junk.
                resp.release()
                break
            if resp.status not in (200, 206):
                await self._fail(resp, f"blob {digest} of {self.registry}/{repo}", repo)
            if resp.status == 206:
                start = re.match(r"bytes (\d+)-", resp.headers.get("Content-Range", ""))
                if not start or int(start.group(1)) != offset:
                    resp.release()
                    raise RegistryError(f"{self.registry} answered a resumed download of "
                                        f"{digest} with the wrong range")
            elif offset:
                # The server ignored Range: start again from the first byte.
                h, offset = hashlib.sha256(), 0
                os.truncate(partial, 0)
                if tee:
                    tee(None)
                    tee = None
            sink = _BlobSink(partial, h)
            try:
                async for chunk in resp.content.iter_chunked(CHUNK):
                    if sink.queued > SINK_BUFFER:
                        await asyncio.to_thread(sink.wait_below, SINK_BUFFER // 2)
                    sink.write(chunk)
                    offset += len(chunk)
                    if tee and not tee(chunk):
                        tee = None
                    if size and offset > size:
                        break
                    if progress:
                        progress(offset, size)
                await asyncio.to_thread(sink.close)
                if not size:
                    break
                if offset < size:
                    raise http.ClientPayloadError("the connection closed early")
            except (http.ClientPayloadError, http.ClientConnectionError,
                    asyncio.TimeoutError) as e:
                failures += 1
                if failures >= RETRIES:
                    raise RegistryError(
                        f"download of {digest[:19]} from {self.registry} broke off at "
                        f"{offset} of {size} bytes ({e or type(e).__name__}): pull again to "
                        "resume it") from e
                await asyncio.sleep(RETRY_BASE * 2 ** (failures - 1))
                continue
            finally:
                resp.release()
                # a failure's path: what is queued reaches the file before anything (a retry,
                # another berth resuming this partial) touches it again
                sink.close()
            if size and offset > size:
                break
        if h.hexdigest() != hexpart or (size and offset != size):
            try:
                os.unlink(partial)
            except FileNotFoundError:
                pass
            raise IntegrityError(f"blob {digest} from {self.registry}/{repo} does not match its "
                                 f"digest (got sha256:{h.hexdigest()}, {offset} bytes): refused")
        return partial

    async def blob_exists(self, repo: str, digest: str) -> bool:
        resp = await self.request("HEAD", f"/v2/{repo}/blobs/{digest}",
                                  (f"repository:{repo}:pull,push",))
        resp.release()
        if resp.status in (200, 307):
            return True
        if resp.status == 404:
            return False
        if resp.status in (401, 403):
            raise self._push_denied(repo)
        raise RegistryError(f"{self.registry} answered HEAD of blob {digest} with HTTP "
                            f"{resp.status}")

    def _push_denied(self, repo: str) -> AuthError:
        if self.credentials:
            return AuthError(f"{self.credentials[0]} may not push to {self.registry}/{repo}")
        return AuthError(f"pushing to {self.registry}/{repo} needs a login: run berth login "
                         f"{self.registry}")

    async def mount_blob(self, repo: str, digest: str, source_repo: str) -> bool:
        """Ask the registry to link a blob it holds for ``source_repo`` into ``repo``."""
        resp = await self.request(
            "POST", f"/v2/{repo}/blobs/uploads/",
            (f"repository:{repo}:pull,push", f"repository:{source_repo}:pull"),
            params={"mount": digest, "from": source_repo})
        resp.release()
        if resp.status == 201:
            return True
        if resp.status == 202:
            # The registry opened an upload instead; cancel it, a fresh one follows.
            loc = resp.headers.get("Location")
            if loc:
                r = await self.request("DELETE", self._join(loc),
                                       (f"repository:{repo}:pull,push",))
                r.release()
        return False

    async def upload_blob(self, repo: str, digest: str, path: str, size: int,
                          chunk_size: int = PUSH_CHUNK_SIZE,
                          progress: Callable[[int, int], None] | None = None) -> None:
        """Upload the file ``path`` as blob ``digest``: in one PUT when it fits in
        ``chunk_size``, otherwise in PATCHed chunks closed by a PUT."""
        scopes = (f"repository:{repo}:pull,push",)
        resp = await self.request("POST", f"/v2/{repo}/blobs/uploads/", scopes)
        if resp.status != 202:
            if resp.status in (401, 403):
                resp.release()
                raise self._push_denied(repo)
            await self._fail(resp, f"an upload to {self.registry}/{repo}", repo)
        resp.release()
        location = self._join(resp.headers["Location"])
        sent = 0

        def reader(start: int, length: int):
            def make():
                async def gen():
                    with open(path, "rb") as f:
                        f.seek(start)
                        left = length
                        done = start
                        while left > 0:
                            data = f.read(min(CHUNK * 8, left))
                            if not data:
                                break
                            left -= len(data)
                            done += len(data)
                            yield data
                            if progress:
                                progress(done, size)
                return gen()
            return make

        if size <= chunk_size:
            resp = await self.request(
                "PUT", _with_digest(location, digest), scopes,
                headers={"Content-Type": "application/octet-stream",
                         "Content-Length": str(size)},
                data_factory=reader(0, size))
        else:
            while sent < size:
                n = min(chunk_size, size - sent)
                resp = await self.request(
                    "PATCH", location, scopes,
                    headers={"Content-Type": "application/octet-stream",
                             "Content-Range": f"{sent}-{sent + n - 1}",
                             "Content-Length": str(n)},
                    data_factory=reader(sent, n), retry=False)
                if resp.status != 202:
                    await self._fail(resp, f"a chunk of {digest} to {self.registry}/{repo}",
                                     repo)
                resp.release()
                location = self._join(resp.headers["Location"])
                sent += n
            resp = await self.request("PUT", _with_digest(location, digest),
                                      scopes, headers={"Content-Length": "0"}, data=b"")
        if resp.status not in (201, 204):
            await self._fail(resp, f"the upload of {digest} to {self.registry}/{repo}", repo)
        resp.release()

