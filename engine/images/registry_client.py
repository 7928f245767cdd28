"""``RegistryClient``: the distribution API's endpoints over a ``DistributionClient``
connection (distribution.py): manifests (fetched and verified against their digest, or put),
tags and the catalog with pagination, blobs downloaded with Range resumption, checked for,
mounted across repositories and uploaded monolithically or in chunks."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
TYPE_CHECKING = False
if TYPE_CHECKING:   # typing costs every pull 3 ms of import
    from typing import Any, Callable

from ..errors import AuthError, IntegrityError, NotFound, RegistryError
from .distribution import RETRIES, RETRY_BASE, DistributionClient
from .manifests import (ACCEPT, INDEX_TYPES, MANIFEST_TYPES, OCI_INDEX, OCI_MANIFEST, SCHEMA1,
                        check_digest, sha256_digest)

CHUNK = 1 << 20
PUSH_CHUNK_SIZE = 32 << 20


def _with_digest(url: str, digest: str) -> str:
    """``url`` (an upload's Location) with ``digest=`` added to its query."""
    from urllib.parse import urlencode
    return url + ("&" if "?" in url else "?") + urlencode({"digest": digest})


class RegistryClient(DistributionClient):
    """One registry, one HTTP session: ping, auth, manifests, blobs, uploads.

    Use as ``with RegistryClient(registry, ...) as c``. ``credentials`` is (user, password)
    or None for anonymous access; ``insecure`` allows plain http and skips certificate checks.
    """

    # --- manifests ------------------------------------------------------------------
    def get_manifest(self, repo: str, reference: str,
                     expect_digest: str | None = None) -> tuple[bytes, str, str]:
        """(bytes, media type, digest) of a manifest, its bytes verified against its digest:
        the one asked for, or the one the registry names in Docker-Content-Digest."""
        what = f"{self.registry}/{repo}{'@' if reference.startswith('sha256:') else ':'}" \
               f"{reference}"
        resp = self.request("GET", f"/v2/{repo}/manifests/{reference}",
                            (f"repository:{repo}:pull",), headers={"Accept": ACCEPT})
        if resp.status == 404:
            resp.release()
            # Registries answer MANIFEST_UNKNOWN for a missing repository too; the tag list
            # tells the two apart.
            probe = self.request("GET", f"/v2/{repo}/tags/list?n=1",
                                 (f"repository:{repo}:pull",))
            probe.release()
            if probe.status == 200:
                kind = "digest" if reference.startswith("sha256:") else "tag"
                raise NotFound(f"{kind} {reference} not found in {self.registry}/{repo}")
            raise NotFound(f"repository {repo} not found on {self.registry}")
        if resp.status != 200:
            self._fail(resp, what, repo)
        try:
            body = resp.read()
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

    def put_manifest(self, repo: str, reference: str, body: bytes,
                     media_type: str) -> str:
        what = f"manifest {self.registry}/{repo}:{reference}"
        resp = self.request("PUT", f"/v2/{repo}/manifests/{reference}",
                            (f"repository:{repo}:pull,push",),
                            headers={"Content-Type": media_type}, data=body)
        if resp.status not in (200, 201, 202):
            self._fail(resp, what, repo)
        resp.release()
        return resp.headers.get("Docker-Content-Digest") or sha256_digest(body)

    def tags(self, repo: str) -> list[str]:
        """Every tag of ``repo``, following the registry's pagination."""
        out: list[str] = []
        url: Any = f"/v2/{repo}/tags/list?n=1000"
        while url:
            resp = self.request("GET", url, (f"repository:{repo}:pull",))
            if resp.status != 200:
                self._fail(resp, f"the tags of {self.registry}/{repo}", repo)
            data = json.loads(resp.read())
            resp.release()
            out += data.get("tags") or []
            url = self._next_link(resp)
        return out

    def catalog(self, limit: int = 1000) -> list[str]:
        out: list[str] = []
        url: Any = f"/v2/_catalog?n={min(max(limit, 1), 1000)}"
        while url:
            resp = self.request("GET", url, ("registry:catalog:*",))
            if resp.status in (401, 403, 404, 405):
                resp.release()
                raise RegistryError(f"{self.registry} does not offer its catalog for search")
            if resp.status != 200:
                self._fail(resp, f"the catalog of {self.registry}")
            data = json.loads(resp.read())
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
    def fetch_blob(self, repo: str, digest: str, size: int, partial: str,
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
            return self._fetch_blob(repo, digest, size, partial, progress, tee)
        except IntegrityError:
            if not resumed:
                raise
            # What an earlier download left was not a prefix of this blob (the mismatch
            # removed it): start afresh once.
            return self._fetch_blob(repo, digest, size, partial, progress, None)

    def _fetch_blob(self, repo: str, digest: str, size: int, partial: str,
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
            resp = self.request("GET", f"/v2/{repo}/blobs/{digest}",
                                (f"repository:{repo}:pull",), headers=headers)
            if resp.status == 416 and offset:
                # The server has no bytes past ours: what we hold is the whole blob or junk.
                resp.release()
                break
            if resp.status not in (200, 206):
                self._fail(resp, f"blob {digest} of {self.registry}/{repo}", repo)
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
            try:
                # written and hashed in this blob's own thread, in the order of the bytes
                with open(partial, "ab", buffering=0) as f:
                    for chunk in resp.iter_chunked(CHUNK):
                        view = memoryview(chunk)
                        while view:
                            view = view[f.write(view):]
                        h.update(chunk)
                        offset += len(chunk)
                        if tee and not tee(chunk):
                            tee = None
                        if size and offset > size:
                            break
                        if progress:
                            progress(offset, size)
                if not size:
                    break
                if offset < size:
                    raise http.ClientPayloadError("the connection closed early")
            except (http.ClientPayloadError, http.ClientConnectionError, TimeoutError) as e:
                failures += 1
                if failures >= RETRIES:
                    raise RegistryError(
                        f"download of {digest[:19]} from {self.registry} broke off at "
                        f"{offset} of {size} bytes ({e or type(e).__name__}): pull again to "
                        "resume it") from e
                time.sleep(RETRY_BASE * 2 ** (failures - 1))
                continue
            finally:
                resp.release()
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

    def blob_exists(self, repo: str, digest: str) -> bool:
        resp = self.request("HEAD", f"/v2/{repo}/blobs/{digest}",
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

    def mount_blob(self, repo: str, digest: str, source_repo: str) -> bool:
        """Ask the registry to link a blob it holds for ``source_repo`` into ``repo``."""
        resp = self.request(
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
                r = self.request("DELETE", self._join(loc),
                                 (f"repository:{repo}:pull,push",))
                r.release()
        return False

    def upload_blob(self, repo: str, digest: str, path: str, size: int,
                    chunk_size: int = PUSH_CHUNK_SIZE,
                    progress: Callable[[int, int], None] | None = None) -> None:
        """Upload the file ``path`` as blob ``digest``: in one PUT when it fits in
        ``chunk_size``, otherwise in PATCHed chunks closed by a PUT."""
        scopes = (f"repository:{repo}:pull,push",)
        resp = self.request("POST", f"/v2/{repo}/blobs/uploads/", scopes)
        if resp.status != 202:
            if resp.status in (401, 403):
                resp.release()
                raise self._push_denied(repo)
            self._fail(resp, f"an upload to {self.registry}/{repo}", repo)
        resp.release()
        location = self._join(resp.headers["Location"])
        sent = 0

        def reader(start: int, length: int):
            def make():
                def gen():
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
            resp = self.request(
                "PUT", _with_digest(location, digest), scopes,
                headers={"Content-Type": "application/octet-stream",
                         "Content-Length": str(size)},
                data_factory=reader(0, size))
        else:
            while sent < size:
                n = min(chunk_size, size - sent)
                resp = self.request(
                    "PATCH", location, scopes,
                    headers={"Content-Type": "application/octet-stream",
                             "Content-Range": f"{sent}-{sent + n - 1}",
                             "Content-Length": str(n)},
                    data_factory=reader(sent, n), retry=False)
                if resp.status != 202:
                    self._fail(resp, f"a chunk of {digest} to {self.registry}/{repo}",
                               repo)
                resp.release()
                location = self._join(resp.headers["Location"])
                sent += n
            resp = self.request("PUT", _with_digest(location, digest),
                                scopes, headers={"Content-Length": "0"}, data=b"")
        if resp.status not in (201, 204):
            self._fail(resp, f"the upload of {digest} to {self.registry}/{repo}", repo)
        resp.release()

