"""berth pull: the manifest (through an index or manifest list to the platform's), the config,
then every layer downloaded in parallel into the content store, each verified against its
digest and unpacked while it downloads (or from the stored blob when the unpacker falls
behind); the store checks the diff_ids as it adds the image."""

from __future__ import annotations

import fcntl
import json
import os
TYPE_CHECKING = False
if TYPE_CHECKING:   # typing costs every pull 3 ms of import
    from typing import Callable

from ..errors import IntegrityError, InvalidArgument, NotFound, RegistryError
from .distribution import RepoRef, at_the_edge, parse_repo_ref
from .manifests import INDEX_TYPES, Platform, check_digest, choose_manifest, parse_platform
from .registry_client import RegistryClient
from .transfer import PARALLEL_BLOBS, Progress, Reporter, run_all, short_id

# How far a download may run ahead of the layer unpacking it.
STREAM_BUFFER = int(os.environ.get("BERTH_PULL_STREAM_BUFFER", 64 << 20))


def _blob_lock(path: str) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _download(client: RegistryClient, images, repo: str, desc: dict, tmp: str,
              report: Reporter, sem, show: bool,
              tee: Callable[[bytes | None], bool] | None = None) -> None:
    """Fetch one blob into the content store, unless it is there already."""
    digest = check_digest(desc["digest"])
    size = int(desc.get("size") or 0)
    sid = short_id(digest)
    with sem:
        partial = os.path.join(tmp, f"pull-{digest.partition(':')[2]}")
        # Another berth pulling the same blob holds this lock; wait, then reuse its work.
        lock_fd = _blob_lock(partial + ".lock")
        try:
            if images.has_blob(digest):
                return
            path = client.fetch_blob(
                repo, digest, size, partial + ".partial",
                (lambda cur, tot: report.bytes("Downloading", sid, cur, tot)) if show else None,
                tee)
            if show:
                report("Verifying Checksum", sid)
            # fetch_blob hashed every byte as it wrote it and refused a mismatch: the blob
            # is not read back
            images.ingest_blob(path, digest, desc.get("mediaType"), True)
            if show:
                report("Download complete", sid)
        finally:
            os.close(lock_fd)
            try:
                os.unlink(partial + ".lock")
            except FileNotFoundError:
                pass


@at_the_edge
def pull_image(store, ref: str, platform: str | None = None,
               progress: Progress | None = None, all_tags: bool = False,
               insecure: bool = False, credentials: tuple[str, str] | None = None,
               cancel: list | None = None):
    """Pull ``ref`` into ``store`` and return the Image (for --all-tags, the one tagged
    'latest' if there is one, else the last pulled). ``credentials`` (user, password) stand
    in for the ones ``berth login`` saved for the registry. Blocking, with a thread per blob;
    ``cancel``, when given, gets the registry client's ``abort`` (which another thread calls to
    stop the pull) appended."""
    from .store import ImageStore

    r = parse_repo_ref(ref, default_tag=not all_tags)
    want = parse_platform(platform)
    images = ImageStore(store)
    report = Reporter(progress)
    with images.busy():   # its blobs and layers are orphans until the image is recorded
        return _pull(r, images, store, want, platform, report, all_tags, credentials,
                     insecure, cancel)


def _pull(r: RepoRef, images, store, want: Platform, platform: str | None,
          report: Reporter, all_tags: bool, credentials, insecure: bool, cancel):
    from .auth import get_credentials
    client = RegistryClient(r.registry, credentials or get_credentials(r.registry), insecure)
    if cancel is not None:
        cancel.append(client.abort)
    with client:
        if not all_tags:
            return _pull_one(client, images, store, r, want, bool(platform), report)
        if r.tag or r.digest:
            raise InvalidArgument("--all-tags takes a repository name without a tag or digest")
        tags = client.tags(r.repository)
        if not tags:
            raise NotFound(f"repository {r.name} has no tags")
        result = None
        for tag in tags:
            image = _pull_one(client, images, store,
                              RepoRef(r.registry, r.repository, tag), want,
                              bool(platform), report)
            if tag == "latest" or result is None or result[0] != "latest":
                result = (tag, image)
        return result[1]  # type: ignore[index]


def _pull_one(client: RegistryClient, images, store, r: RepoRef, want: Platform,
              explicit_platform: bool, report: Reporter):
    body, media_type, top_digest = client.get_manifest(r.repository, r.reference)
    # After the manifest, as Docker does: a name that does not resolve prints only the error.
    report(f"Pulling from {r.repository}", r.tag or r.digest)
    digest = top_digest
    from_index = media_type in INDEX_TYPES
    if from_index:
        desc = choose_manifest(json.loads(body), want)
        body, media_type, digest = client.get_manifest(
            r.repository, check_digest(desc["digest"]), expect_digest=desc["digest"])
        if media_type in INDEX_TYPES:
            raise RegistryError(f"{r} is an index of indexes, which berth does not pull")
    manifest = json.loads(body)
    try:
        config = manifest["config"]
        layers = list(manifest.get("layers") or [])
        check_digest(config["digest"])
        for layer in layers:
            check_digest(layer["digest"])
    except (KeyError, TypeError) as e:
        raise RegistryError(f"manifest of {r} is malformed: {e}") from e

    for layer in layers:
        sid = short_id(layer["digest"])
        report("Already exists" if images.has_blob(layer["digest"]) else "Pulling fs layer", sid)

    tmp = store.path("tmp")
    import threading
    sem = threading.BoundedSemaphore(PARALLEL_BLOBS)
    # The config first (it is small): its diff_ids let each layer be unpacked the moment its
    # blob is verified, while the others still download.
    _download(client, images, r.repository, config, tmp, report, sem, False)
    with open(images.blob_path(config["digest"]), "rb") as f:
        config_bytes = f.read()
    try:
        section = json.loads(config_bytes).get("config")
    except (ValueError, AttributeError):
        pass   # not a config at all: add_image refuses it with the reason
    else:   # a config that can't be used is refused before its layers are fetched
        images.check_config(section, f"{r.name}@{r.digest}" if r.digest else f"{r.name}:{r.tag}")
    if explicit_platform and not from_index:
        # A single-platform image must be what --platform asked for; an index entry is taken
        # at its word, as Docker does.
        cfg = json.loads(config_bytes)
        got = Platform(cfg.get("os", ""), cfg.get("architecture", ""), cfg.get("variant", ""))
        if (got.os, got.architecture) != (want.os, want.architecture):
            raise NotFound(f"{r} is for {got}, not the platform {want} asked for")
    plan = _unpack_plan(images, config_bytes, layers)
    made: list[str] = []
    fetched = {layer["digest"] for layer in layers if not images.has_blob(layer["digest"])}
    completed: set[str] = set()

    def layer_task(i: int, layer: dict) -> None:
        digest = layer["digest"]
        streamed = False
        if not images.has_blob(digest):
            feed = unpacking = None
            if plan and STREAM_BUFFER and not images.has_layer(plan[i][0]):
                feed = _Feed(int(layer.get("size") or 0))
                # A thread of its own: it unpacks while this one downloads
                unpacking = _Thread(_unpack_layer, images, *plan[i], digest, made, feed)
            try:
                _download(client, images, r.repository, layer, tmp, report, sem, True,
                          feed.push if feed else None)
            except BaseException:
                if feed:
                    feed.abort()
                    unpacking.wait(quiet=True)
                raise
            if feed:
                feed.finish()
                streamed = unpacking.wait()
        if plan and not streamed:
            chain, diff_id, parent = plan[i]
            if not images.has_layer(chain):
                report("Extracting", short_id(digest))
                _unpack_layer(images, chain, diff_id, parent, digest, made)
            if layer["digest"] in fetched:
                completed.add(layer["digest"])
                report("Pull complete", short_id(layer["digest"]))

    name = r.name
    tags = [f"{name}:{r.tag}"] if r.tag and not r.digest else []
    try:
        run_all([lambda i=i, layer=layer: layer_task(i, layer)
                 for i, layer in enumerate(layers)], client.abort)
        existing = _existing_image(images, config["digest"])
        image = images.add_image(body, config_bytes, tags, f"{name}@{top_digest}")
    except BaseException:
        # Verified blobs stay for the next pull; layers unpacked for no image go.
        if made:
            images.discard_unused([], made)
        raise
    for layer in layers:
        if layer["digest"] in fetched and layer["digest"] not in completed:
            completed.add(layer["digest"])
            report("Pull complete", short_id(layer["digest"]))
    report(f"Digest: {top_digest}")
    shown = f"{name}:{r.tag}" if r.tag and not r.digest else f"{name}@{r.digest}"
    if existing and (not tags or tags[0] in existing.repo_tags):
        report(f"Status: Image is up to date for {shown}")
    else:
        report(f"Status: Downloaded newer image for {shown}")
    return image


def _unpack_plan(images, config_bytes: bytes, layers: list[dict]):
    """(chain id, diff_id, parent chain id) per layer, or None when the config's diff_ids do
    not fit the manifest (add_image then refuses the image with the reason)."""
    from .blobs import chain_ids
    try:
        diff_ids = list(json.loads(config_bytes)["rootfs"]["diff_ids"])
    except (ValueError, KeyError, TypeError):
        return None
    if len(diff_ids) != len(layers) or not hasattr(images, "_unpack_into_place"):
        return None
    chains = chain_ids(diff_ids)
    return [(c, d, chains[i - 1] if i else "") for i, (c, d) in enumerate(zip(chains, diff_ids))]


def _unpack_layer(images, chain: str, diff_id: str, parent: str, digest: str,
                  made: list[str], feed: "_Feed | None" = None) -> bool:
    """Unpack one layer into place, checked against its diff_id, ahead of add_image (which
    then finds it there): from the verified blob, or from ``feed`` while it downloads.
    False when the feed gave up (the blob is then unpacked once it is in the store)."""
    try:
        _, new = images._unpack_into_place(chain, diff_id, parent,
                                           feed if feed is not None else digest)
    except _FeedAborted:
        return False
    except IntegrityError as e:
        raise IntegrityError(f"layer {digest[7:19]}: {e}") from None
    finally:
        if feed is not None:
            feed.close()
    if new:
        made.append(chain)
    return True


class _Thread:
    """``fn(*args)`` in a thread of its own; ``wait()`` returns its result or raises its
    error (the pool of concurrent.futures costs every pull 8 ms of import)."""

    def __init__(self, fn, *args):
        import threading
        self.result = self.error = None
        self.thread = threading.Thread(target=self._run, args=(fn, args), daemon=True)
        self.thread.start()

    def _run(self, fn, args) -> None:
        try:
            self.result = fn(*args)
        except BaseException as e:  # noqa: BLE001 - raised by wait()
            self.error = e

    def wait(self, quiet: bool = False):
        self.thread.join()
        if self.error is not None and not quiet:
            raise self.error
        return self.result


class _FeedAborted(BaseException):
    """Raised in the unpacking thread when the download stops feeding it. A BaseException so
    the unpacker's own error handling (which maps Exceptions to IntegrityError) lets it
    through, while its cleanup still runs."""


class _Feed:
    """The bytes of a downloading layer, handed from its download to an unpacking thread.
    The download never waits for the unpacker: when the unpacker falls more than
    STREAM_BUFFER bytes behind, the feed gives up and the layer is unpacked from the stored
    blob instead, so memory stays bounded."""

    def __init__(self, size: int):
        import queue
        import threading
        self.q: "queue.SimpleQueue" = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.size, self.fed, self.queued = size, 0, 0
        self.dead = False
        self.eof = False
        self.buf = b""

    # the download's side
    def push(self, chunk: bytes | None) -> bool:
        if self.dead:
            return False
        if chunk is None:
            self.abort()
            return False
        with self.lock:
            if self.queued + len(chunk) > STREAM_BUFFER:
                self.dead = True
        if self.dead:
            self.q.put(_FeedAborted)
            return False
        with self.lock:
            self.queued += len(chunk)
        self.fed += len(chunk)
        self.q.put(chunk)
        return True

    def finish(self) -> None:
        """The download is verified and complete: end the stream, or abort it if the feed
        did not see every byte from the first."""
        if not self.dead and self.size and self.fed == self.size:
            self.q.put(b"")
        else:
            self.abort()

    def abort(self) -> None:
        self.dead = True
        self.q.put(_FeedAborted)

    # the unpacking thread's side
    def close(self) -> None:
        """The unpacker is done with the feed (it may not have read it at all)."""
        self.dead = True

    def _fill(self) -> None:
        if self.buf or self.eof:
            return
        item = self.q.get()
        if item is _FeedAborted:
            self.q.put(_FeedAborted)   # every later read fails the same way
            raise _FeedAborted()
        with self.lock:
            self.queued -= len(item)
        self.buf = item
        self.eof = not item

    def peek(self, n: int = 0) -> bytes:
        self._fill()
        return self.buf

    def read(self, n: int = -1) -> bytes:
        self._fill()
        if n < 0 or n >= len(self.buf):
            out, self.buf = self.buf, b""
        else:
            out, self.buf = self.buf[:n], self.buf[n:]
        return out


def _existing_image(images, image_id: str):
    try:
        return images.resolve(image_id)
    except Exception:  # not there (NotFound), or a store that cannot say: treat as new
        return None
