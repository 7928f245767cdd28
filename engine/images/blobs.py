"""The content-addressed blob store: ``blobs/sha256/<hex>``, every blob verified on the way in."""

from __future__ import annotations

import _thread
import os

from ..errors import IntegrityError, InvalidArgument
from ..paths import BLOB_MODE

def check_digest(digest: str) -> str:
    """``digest`` if it is sha256:<64 lowercase hex>, else InvalidArgument (no re: every
    `berth run` checks its image's layers)."""
    from .reference import _hex64
    if not isinstance(digest, str) or not digest.startswith("sha256:") or not _hex64(digest[7:]):
        raise InvalidArgument(f"invalid digest '{digest}': expected sha256:<64 hex digits>")
    return digest


def sha256_bytes(data: bytes) -> str:
    import hashlib  # 2 ms: only where something is hashed
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sha256_file(path: str) -> str:
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def chain_ids(diff_ids: list[str]) -> list[str]:
    """The OCI chain ids of a layer stack: ChainID(n) = sha256(ChainID(n-1) + " " + DiffID(n))."""
    out: list[str] = []
    for d in diff_ids:
        out.append(d if not out else sha256_bytes(f"{out[-1]} {d}".encode()))
    return out


class Blobs:
    """Blobs under one root."""

    def __init__(self, paths):
        self.paths = paths

    def path(self, digest: str) -> str:
        return self.paths.blob(check_digest(digest))

    def has(self, digest: str) -> bool:
        try:
            return os.path.isfile(self.path(digest))
        except InvalidArgument:
            return False

    def ingest(self, src: str, expected: str | None = None,
               verified: bool = False) -> tuple[str, bool]:
        """Move the file ``src`` into the store after checking its digest; (digest, was new).
        ``verified`` says the caller hashed every byte of ``src`` as it wrote them and they
        match ``expected`` (a download checks its stream), so the file is not read back.
        ``src`` is consumed either way."""
        try:
            digest = check_digest(expected) if verified and expected else sha256_file(src)
            if expected is not None and digest != check_digest(expected):
                raise IntegrityError(f"blob {expected} does not match its digest: the content "
                                     f"hashes to {digest}")
            dest = self.path(digest)
            if os.path.exists(dest):
                return digest, False
            os.chmod(src, BLOB_MODE)
            try:
                os.rename(src, dest)
            except OSError:  # another filesystem: copy, then rename
                tmp = f"{dest}.tmp.{os.getpid()}.{_thread.get_ident()}"
                import shutil
                shutil.copyfile(src, tmp)
                os.chmod(tmp, BLOB_MODE)
                os.rename(tmp, dest)
            return digest, True
        finally:
            try:
                os.unlink(src)
            except FileNotFoundError:
                pass

    def put(self, data: bytes, expected: str | None = None) -> tuple[str, bool]:
        """Store ``data``; (digest, was new)."""
        digest = sha256_bytes(data)
        if expected is not None and digest != check_digest(expected):
            raise IntegrityError(f"blob {expected} does not match its digest: the content "
                                 f"hashes to {digest}")
        dest = self.path(digest)
        if os.path.exists(dest):
            return digest, False
        # unique per thread too: two threads of one process may store the same blob at once
        tmp = f"{dest}.tmp.{os.getpid()}.{_thread.get_ident()}"
        try:
            with open(tmp, "wb") as f:
                f.write(data)
            os.chmod(tmp, BLOB_MODE)
            os.rename(tmp, dest)
        except BaseException:
            try:
                os.unlink(tmp)   # a full disk: no temporary file outlives the command
            except OSError:
                pass
            raise
        return digest, True

    def read(self, digest: str) -> bytes:
        with open(self.path(digest), "rb") as f:
            return f.read()

    def remove(self, digest: str) -> None:
        try:
            os.unlink(self.path(digest))
        except FileNotFoundError:
            pass

    def all(self) -> list[str]:
        try:
            return ["sha256:" + n for n in os.listdir(os.path.join(self.paths.root, "blobs",
                                                                   "sha256"))
                    if ".tmp." not in n]
        except FileNotFoundError:
            return []
