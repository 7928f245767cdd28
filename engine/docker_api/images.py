"""Image endpoints: list, pull (and import) with Docker's progress stream, inspect, history, tag,
push, remove, save (get) and load, prune, search."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile

from aiohttp import web

from ..errors import AuthError, BerthError, InvalidArgument, NotFound
from . import translate
from ..shapes import IMAGE, complete
from .server import call, engine_of, request_version


def register(routes) -> None:
    add = routes.add
    add("GET", "/images/json", list_images)
    add("POST", "/images/create", create)
    add("POST", "/images/load", load)
    add("GET", "/images/get", get_many)
    add("POST", "/images/prune", prune)
    add("GET", "/images/search", search)
    add("GET", r"/images/{name:.+}/json", inspect)
    add("GET", r"/distribution/{name:.+}/json", distribution)
    add("GET", r"/images/{name:.+}/history", history)
    add("POST", r"/images/{name:.+}/tag", tag)
    add("POST", r"/images/{name:.+}/push", push)
    add("GET", r"/images/{name:.+}/get", get_one)
    add("DELETE", r"/images/{name:.+}", remove)


async def _image(engine, ref: str):
    try:
        return await call(engine.image, ref)
    except NotFound:
        raise NotFound(f"No such image: {ref}") from None


def _insecure(ref: str) -> bool:
    """Docker's default: registries on loopback are plain http (127.0.0.0/8, localhost)."""
    first = ref.split("/", 1)[0] if "/" in ref else ""
    host = first.rsplit(":", 1)[0] if first.count(":") == 1 else first
    return host == "localhost" or host.startswith("127.") or host == "[::1]"


async def list_images(request: web.Request) -> web.Response:
    engine = engine_of(request)
    filters = translate.parse_filters(request.query.get("filters"))

    def build() -> list[dict]:
        images = engine.images()
        counts: dict[str, int] = {}
        for c in engine.containers(all=True):
            counts[c.config.image_id] = counts.get(c.config.image_id, 0) + 1
        out = []
        for img in images:
            if "dangling" in filters:
                dangling = not img.repo_tags
                if dangling != translate.boolean((filters["dangling"] or ["true"])[0]):
                    continue
            if "reference" in filters:
                # as moby: only the names that match are listed, and an image none matches
                # is left out
                wanted = filters["reference"]
                img.repo_tags = [t for t in img.repo_tags if any(_ref_match(t, r) for r in wanted)]
                img.repo_digests = [d for d in img.repo_digests
                                    if any(_ref_match(d, r) for r in wanted)]
                if not img.repo_tags and not img.repo_digests:
                    continue
            if "label" in filters:
                labels = (img.config or {}).get("Labels") or {}
                if not all(_label(labels, w) for w in filters["label"]):
                    continue
            out.append(translate.image_summary(img, counts.get(img.id, 0),
                                               request_version(request)))
        return out
    return web.json_response(await call(build))


def _label(labels: dict, wanted: str) -> bool:
    key, eq, value = wanted.partition("=")
    return key in labels and (not eq or labels[key] == value)


def _ref_match(ref: str, pattern: str) -> bool:
    """moby's reference.FamiliarMatch: Go's path.Match of the pattern against the familiar
    reference, or else against its name alone (``*`` stops at a ``/``)."""
    import re
    short = translate.familiar(ref)
    name = short.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    rx = ""
    for part in re.split(r"(\*|\?|\[[^\]]*\])", pattern):
        rx += ("[^/]*" if part == "*" else "[^/]" if part == "?" else
               part.replace("[!", "[^") if part.startswith("[") else re.escape(part))
    return any(re.fullmatch(rx, s) for s in (short, name))


async def inspect(request: web.Request) -> web.Response:
    engine = engine_of(request)
    ref = request.match_info["name"]
    try:
        data = await call(engine.image_inspect, ref)
    except NotFound:
        raise NotFound(f"No such image: {ref}") from None
    data.pop("Descriptor", None)   # from API 1.46, with the containerd image store
    data.pop("History", None)      # berth's own (docker history has its endpoint)
    data = complete(data, IMAGE)
    version = request.match_info.get("version")
    if (version and tuple(int(x) for x in version.split(".")) < (1, 45)) or \
            request.headers.get("User-Agent", "").startswith("docker-compose/1."):
        # dockerd dropped these at API 1.45, and docker-compose 1.x (which speaks 1.45 to a
        # new engine) fails every recreate without ContainerConfig (KeyError), dockerd's too
        from ..images.describe import _CONFIG_DEFAULTS
        data.setdefault("Container", "")
        data.setdefault("ContainerConfig", dict(_CONFIG_DEFAULTS))
    return web.json_response(data)


async def distribution(request: web.Request) -> web.Response:
    """The registry's descriptor and platforms for an image reference, not pulling it."""
    engine = engine_of(request)
    ref = request.match_info["name"]
    from ..images.reference import parse
    parse(ref)
    return web.json_response(await engine.distribution_inspect(
        ref, tls_verify=not _insecure(ref), credentials=registry_auth(request)))


async def history(request: web.Request) -> web.Response:
    engine = engine_of(request)
    await _image(engine, request.match_info["name"])
    rows = await call(engine.history, request.match_info["name"])
    for row in rows:
        if isinstance(row.get("Created"), str):
            row["Created"] = translate.epoch(row["Created"])
    return web.json_response(rows)


async def tag(request: web.Request) -> web.Response:
    engine = engine_of(request)
    ref = request.match_info["name"]
    await _image(engine, ref)
    repo, t = request.query.get("repo"), request.query.get("tag") or "latest"
    if not repo:
        raise InvalidArgument("repository name must have at least one component")
    await call(engine.tag, ref, f"{repo}:{t}")
    return web.Response(status=201)


async def remove(request: web.Request) -> web.Response:
    engine = engine_of(request)
    ref = request.match_info["name"]
    await _image(engine, ref)
    lines = await call(engine.remove_image, ref, translate.boolean(request.query.get("force")))
    out = []
    for line in lines:
        kind, _, rest = str(line).partition(": ")
        out.append({"Untagged" if kind.lower() == "untagged" else "Deleted": rest})
    return web.json_response(out)


async def prune(request: web.Request) -> web.Response:
    engine = engine_of(request)
    filters = translate.parse_filters(request.query.get("filters"))
    everything = "dangling" in filters and not translate.boolean(
        (filters["dangling"] or ["true"])[0])
    removed, size = await call(engine.prune_images, everything)
    out = []
    for line in removed:
        kind, sep, rest = str(line).partition(": ")
        out.append({"Untagged" if kind.lower() == "untagged" else "Deleted":
                    rest if sep else str(line)})
    return web.json_response({"ImagesDeleted": out or None, "SpaceReclaimed": size})


async def search(request: web.Request) -> web.Response:
    engine = engine_of(request)
    term = request.query.get("term") or ""
    limit = translate.query_int(request.query, "limit", 25)
    if not 1 <= limit <= 100:
        raise InvalidArgument(f"limit {limit} is outside the range of [1, 100]")
    registry = term.split("/", 1)[0] if "/" in term and ("." in term.split("/", 1)[0] or ":"
                                                          in term.split("/", 1)[0]) else None
    if registry:
        term = term.split("/", 1)[1]
    results = await engine.search(term, registry, limit,
                                  tls_verify=not _insecure(f"{registry}/x" if registry else ""))
    return web.json_response(results)


# --- streams of progress ------------------------------------------------------------------------

class _Progress:
    """Docker's JSON lines on a streamed response, fed from the engine's progress callback.
    The response's 200 goes out with the first line: a job that fails before it has anything
    to say (a manifest not found, a registry's refusal) answers with its error's status and
    message, as dockerd does."""

    def __init__(self, request: web.Request):
        self.request = request
        self.response = web.StreamResponse(headers={"Content-Type": "application/json"})
        self.queue: asyncio.Queue = asyncio.Queue()

    def __call__(self, message: dict) -> None:
        self.queue.put_nowait(message)

    async def run(self, job) -> object:
        """Run ``job`` (a coroutine) while its messages are written; errors become Docker's
        error message at the end of the stream."""
        task = asyncio.ensure_future(job)
        result = None
        while True:
            getter = asyncio.ensure_future(self.queue.get())
            done, _ = await asyncio.wait([task, getter], return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                await self.write(getter.result())
                continue
            getter.cancel()
            while not self.queue.empty():
                await self.write(self.queue.get_nowait())
            try:
                result = task.result()
            except BerthError as e:
                if not self.response.prepared:
                    raise
                await self.write({"errorDetail": {"message": str(e)}, "error": str(e)})
                return None
            return result

    async def write(self, message: dict) -> None:
        if not self.response.prepared:
            await self.response.prepare(self.request)
        await self.response.write(json.dumps(message).encode() + b"\r\n")

    async def end(self) -> web.StreamResponse:
        if not self.response.prepared:
            await self.response.prepare(self.request)
        await self.response.write_eof()
        return self.response


def registry_auth(request: web.Request) -> tuple[str, str] | None:
    """The credentials in the client's X-Registry-Auth header (base64url JSON with username
    and password, as the docker CLI and docker-py send them), or None when it carries none:
    then the ones saved by login are used."""
    import base64
    header = request.headers.get("X-Registry-Auth", "").strip()
    if not header:
        return None
    from .bodies import AUTH_CONFIG, parse
    try:
        auth = parse(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)), AUTH_CONFIG)
    except (ValueError, InvalidArgument):
        raise InvalidArgument("X-Registry-Auth is not base64url-encoded JSON of an "
                              "AuthConfig") from None
    if auth.get("identitytoken") and not auth.get("password"):
        raise InvalidArgument("identity tokens in X-Registry-Auth are not supported by berth: "
                              "send the username and password")
    if auth.get("username") and auth.get("password"):
        return str(auth["username"]), str(auth["password"])
    return None


async def create(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    q = request.query
    image, src = q.get("fromImage"), q.get("fromSrc")
    if not image and not src:
        raise InvalidArgument("fromImage or fromSrc is required")
    if src:
        return await _import(request, engine, src)
    t = q.get("tag") or ""
    if t.startswith("sha256:"):
        ref = f"{image}@{t}"
    elif t and ":" not in image.rsplit("/", 1)[-1] and "@" not in image:
        ref = f"{image}:{t}"
    else:
        ref = image
    platform = q.get("platform") or None
    from ..images.reference import parse
    parse(ref)   # a bad reference or X-Registry-Auth is a 400, before the stream's 200
    credentials = registry_auth(request)
    progress = _Progress(request)
    try:
        img = await progress.run(engine.pull(ref, platform=platform, progress=progress,
                                             tls_verify=not _insecure(ref),
                                             credentials=credentials))
    except AuthError as e:
        # moby: a registry's "denied" reads as not found (404), other refusals as 500
        raise (NotFound if "denied" in str(e) else BerthError)(str(e)) from None
    if img is not None:
        await progress.write({"status": f"Digest: {img.manifest_digest}"} if img.manifest_digest
                             else {"status": "Pulled"})
        await progress.write({"status": f"Status: Downloaded newer image for "
                                        f"{translate.familiar(ref) if ':' in ref or '@' in ref else ref}"})
    return await progress.end()


async def _save_body(request: web.Request) -> str:
    """The request body in a temporary file (an image archive, a root filesystem)."""
    fd, path = tempfile.mkstemp(prefix="berth-api-", suffix=".tar", dir=_tmp_dir(request))
    with os.fdopen(fd, "wb") as f:
        async for chunk in request.content.iter_chunked(1 << 20):
            await call(f.write, chunk)
    return path


def _tmp_dir(request: web.Request) -> str:
    d = os.path.join(engine_of(request).paths.root, "tmp")
    os.makedirs(d, exist_ok=True)
    return d


async def _import(request: web.Request, engine, src: str) -> web.StreamResponse:
    if src != "-":
        raise InvalidArgument("import from a URL is not supported by berth: send the tarball")
    path = await _save_body(request)
    q = request.query
    repo = q.get("repo") or None
    # the docker CLI sends repo=NAME:TAG and no tag; a name without one gets latest later
    ref = f"{repo}:{q['tag']}" if repo and q.get("tag") else repo
    try:
        img = await call(engine.import_image, path, ref, q.getall("changes", []),
                         q.get("message") or "")
    finally:
        os.unlink(path)
    return web.json_response({"status": img.id})


async def push(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    name = request.match_info["name"]
    t = request.query.get("tag")
    ref = f"{name}:{t}" if t else name
    await _image(engine, ref)
    credentials = registry_auth(request)
    progress = _Progress(request)
    digest = await progress.run(engine.push(ref, progress=progress,
                                            tls_verify=not _insecure(ref),
                                            credentials=credentials))
    if digest:
        await progress.write({"status": f"{t or 'latest'}: digest: {digest}",
                              "aux": {"Tag": t or "latest", "Digest": digest}})
    return await progress.end()


# --- save and load ------------------------------------------------------------------------------

async def _send_archive(request: web.Request, refs: list[str]) -> web.StreamResponse:
    engine = engine_of(request)
    for ref in refs:
        await _image(engine, ref)
    d = tempfile.mkdtemp(prefix="berth-api-save-", dir=_tmp_dir(request))
    try:
        path = os.path.join(d, "images.tar")
        await call(engine.save, refs, path, "docker-archive")
        response = web.StreamResponse(headers={"Content-Type": "application/x-tar"})
        await response.prepare(request)
        with open(path, "rb") as f:
            while True:
                chunk = await call(f.read, 1 << 20)
                if not chunk:
                    break
                await response.write(chunk)
        await response.write_eof()
        return response
    finally:
        shutil.rmtree(d, ignore_errors=True)


async def get_one(request: web.Request) -> web.StreamResponse:
    return await _send_archive(request, [request.match_info["name"]])


async def get_many(request: web.Request) -> web.StreamResponse:
    names = request.query.getall("names", [])
    if not names:
        raise InvalidArgument("no image names given")
    return await _send_archive(request, names)


async def load(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    path = await _save_body(request)
    # a stream, as Docker's: clients read it line by line only when it is chunked; what the
    # archive holds is only known as it is read, so a bad one is an error in the stream
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    try:
        loaded = await call(engine.load, path)
    except BerthError as e:
        await response.write(json.dumps({"errorDetail": {"message": str(e)},
                                         "error": str(e)}).encode() + b"\n")
        loaded = []
    finally:
        os.unlink(path)
    for img in loaded:
        # the names the archive brought (an image already stored keeps its other names)
        lines = [f"Loaded image: {translate.familiar(n)}\n" for n in img.loaded_tags] or \
            [f"Loaded image ID: {img.id}\n"]
        for line in lines:
            await response.write(json.dumps({"stream": line}).encode() + b"\n")
    await response.write_eof()
    return response
