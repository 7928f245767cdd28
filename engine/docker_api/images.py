"""Image endpoints: list, pull (and import) with Docker's progress stream, inspect, history, tag,
push, remove, save (get) and load, prune, search."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile

from aiohttp import web

from ..errors import BerthError, InvalidArgument, NotFound
from . import translate
from .server import call, engine_of


def register(routes) -> None:
    add = routes.add
    add("GET", "/images/json", list_images)
    add("POST", "/images/create", create)
    add("POST", "/images/load", load)
    add("GET", "/images/get", get_many)
    add("POST", "/images/prune", prune)
    add("GET", "/images/search", search)
    add("GET", r"/images/{name:.+}/json", inspect)
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
            if "reference" in filters and not any(
                    _ref_match(t, r) for t in img.repo_tags for r in filters["reference"]):
                continue
            if "label" in filters:
                labels = (img.config or {}).get("Labels") or {}
                if not all(_label(labels, w) for w in filters["label"]):
                    continue
            out.append(translate.image_summary(img, counts.get(img.id, 0)))
        return out
    return web.json_response(await call(build))


def _label(labels: dict, wanted: str) -> bool:
    key, eq, value = wanted.partition("=")
    return key in labels and (not eq or labels[key] == value)


def _ref_match(tag: str, pattern: str) -> bool:
    import fnmatch
    short = translate.familiar(tag)
    if ":" not in pattern.rsplit("/", 1)[-1]:
        short = short.rsplit(":", 1)[0]
    return fnmatch.fnmatch(short, pattern)


async def inspect(request: web.Request) -> web.Response:
    engine = engine_of(request)
    ref = request.match_info["name"]
    try:
        data = await call(engine.image_inspect, ref)
    except NotFound:
        raise NotFound(f"No such image: {ref}") from None
    version = request.match_info.get("version")
    if (version and tuple(int(x) for x in version.split(".")) < (1, 45)) or \
            request.headers.get("User-Agent", "").startswith("docker-compose/1."):
        # dockerd dropped these at API 1.45, and docker-compose 1.x (which speaks 1.45 to a
        # new engine) fails every recreate without ContainerConfig (KeyError), dockerd's too
        from ..images.describe import _CONFIG_DEFAULTS
        data.setdefault("Container", "")
        data.setdefault("ContainerConfig", dict(_CONFIG_DEFAULTS))
    return web.json_response(data)


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
    """Docker's JSON lines on a streamed response, fed from the engine's progress callback."""

    def __init__(self, response: web.StreamResponse):
        self.response = response
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
                await self.write({"errorDetail": {"message": str(e)}, "error": str(e)})
                return None
            return result

    async def write(self, message: dict) -> None:
        await self.response.write(json.dumps(message).encode() + b"\r\n")


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
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    progress = _Progress(response)
    img = await progress.run(engine.pull(ref, platform=platform, progress=progress,
                                         tls_verify=not _insecure(ref),
                                         credentials=credentials))
    if img is not None:
        await progress.write({"status": f"Digest: {img.manifest_digest}"} if img.manifest_digest
                             else {"status": "Pulled"})
        await progress.write({"status": f"Status: Downloaded newer image for "
                                        f"{translate.familiar(ref) if ':' in ref or '@' in ref else ref}"})
    await response.write_eof()
    return response


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
    ref = f"{repo}:{q.get('tag') or 'latest'}" if repo else None
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
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    progress = _Progress(response)
    digest = await progress.run(engine.push(ref, progress=progress,
                                            tls_verify=not _insecure(ref),
                                            credentials=credentials))
    if digest:
        await progress.write({"status": f"{t or 'latest'}: digest: {digest}",
                              "aux": {"Tag": t or "latest", "Digest": digest}})
    await response.write_eof()
    return response


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
    try:
        before = {t for img in await call(engine.images) for t in img.repo_tags}
        loaded = await call(engine.load, path)
    finally:
        os.unlink(path)
    lines = []
    for img in loaded:
        # the names the archive brought (an image already stored keeps its other names)
        names = [t for t in img.repo_tags if t not in before] or img.repo_tags or [img.id]
        lines += [f"Loaded image: {translate.familiar(n)}\n" if n != img.id
                  else f"Loaded image ID: {n}\n" for n in names]
    # a stream, as Docker's: clients read it line by line only when it is chunked
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    for line in lines:
        await response.write(json.dumps({"stream": line}).encode() + b"\n")
    await response.write_eof()
    return response
