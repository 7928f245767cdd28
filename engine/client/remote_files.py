"""The file and image-archive verbs of RemoteEngine (remote.py) over the Docker Engine API:
cp (``/containers/{id}/archive`` GET, PUT and HEAD), diff (``/changes``), export, commit,
update, build (a tar of the context up, the engine's output back), load, save and import.

Tars are made and unpacked here, on the client's side, with the same writers and Docker's cp
rules as the local engine's (engine/containerfs/); the engine only sees archives."""

from __future__ import annotations

import json
import os
import tempfile

from ..errors import BuildError, InvalidArgument, NotFound
from .http import q
from .remote_objects import _split_ref

# Docker's Kind of a /changes entry -> berth's letter
CHANGE_KINDS = {0: "C", 1: "A", 2: "D"}
# berth's Resources fields -> the update body's names
UPDATE_FIELDS = {"memory": "Memory", "memory_swap": "MemorySwap",
                 "memory_reservation": "MemoryReservation", "nano_cpus": "NanoCpus",
                 "cpu_shares": "CpuShares", "cpu_period": "CpuPeriod", "cpu_quota": "CpuQuota",
                 "cpuset_cpus": "CpusetCpus", "cpuset_mems": "CpusetMems",
                 "pids_limit": "PidsLimit", "blkio_weight": "BlkioWeight"}
GO_DIR = 1 << 31   # Go's os.ModeDir in a PathStat's mode


def _copy(src, out) -> None:
    while True:
        chunk = src.read(1 << 20)
        if not chunk:
            return
        out.write(chunk)


class RemoteFiles:
    """cp, diff, export, commit, update, build, load, save and import of a remote engine (a
    mixin of RemoteEngine, which gives ``session``, ``container`` and ``image``)."""

    # --- cp -----------------------------------------------------------------------------------

    def path_stat(self, ref: str, path: str) -> dict | None:
        """Docker's PathStat of ``path`` in the container (None when it does not exist)."""
        import base64
        try:
            r = self.session.open("HEAD", f"/containers/{q(ref)}/archive", {"path": path})
        except NotFound:
            self.container(ref)   # a missing container says so, a missing path is None
            return None
        r.close()
        header = r.headers.get("X-Docker-Container-Path-Stat") or ""
        return json.loads(base64.b64decode(header)) if header else {}

    def copy_from(self, ref: str, path: str, out, follow_link: bool = False) -> None:
        """``path`` in the container as a tar written to ``out`` (``cp CONTAINER:PATH -``)."""
        if follow_link:
            st = self.path_stat(ref, path) or {}
            if st.get("linkTarget"):
                path = os.path.join(os.path.dirname(path.rstrip("/")) or "/", st["linkTarget"])
        r = self.session.open("GET", f"/containers/{q(ref)}/archive", {"path": path},
                              timeout=None)
        try:
            _copy(r, out)
        finally:
            r.close()
        if hasattr(out, "flush"):
            out.flush()

    def copy_to(self, ref: str, path: str, stream) -> None:
        """A tar read from ``stream`` extracted into the container's directory ``path``."""
        self.session.call("PUT", f"/containers/{q(ref)}/archive", {"path": path}, stream,
                          timeout=None)

    def copy_out(self, ref: str, path: str, dst: str, follow_link: bool = False) -> None:
        """``cp CONTAINER:PATH HOSTPATH``, unpacked here with Docker's rules."""
        from ..containerfs.extract import copy_out_to_host
        from ..errors import HostError
        cid = self.container(ref).id
        try:
            copy_out_to_host(lambda tmp: self.copy_from(cid, path, tmp, follow_link), path, dst)
        except OSError as e:
            raise HostError(f"write {e.filename or dst}: {e.strerror or e}") from None

    def copy_in(self, ref: str, src: str, path: str, follow_link: bool = False) -> None:
        """``cp HOSTPATH CONTAINER:PATH`` with Docker's rules: into an existing directory under
        the source's name, over an existing file, or as the path's new last component."""
        import stat
        from ..containerfs.extract import archive_host_path
        if not os.path.lexists(src):
            raise NotFound(f"no such file or directory: {src}")
        src_is_dir = stat.S_ISDIR((os.stat(src) if follow_link else os.lstat(src)).st_mode)
        contents = src.rstrip("/").endswith("/.") and src_is_dir
        target = self.path_stat(ref, path)
        if target is not None and target.get("mode", 0) & GO_DIR:
            into, top = path, None
        elif target is not None and src_is_dir:
            raise InvalidArgument(f"cannot copy a directory to a file: {path} exists and is "
                                  "not a directory")
        else:
            if target is None and path.endswith("/"):
                raise NotFound(f"no such directory: {path} (in the container)")
            into, top = os.path.dirname(path.rstrip("/")) or "/", os.path.basename(path.rstrip("/"))
        with tempfile.TemporaryFile() as tmp:
            archive_host_path(src, tmp, top or ("." if contents else None), follow_link)
            tmp.seek(0)
            self.copy_to(ref, into, tmp)

    # --- what a container changed -------------------------------------------------------------

    def diff(self, ref: str) -> list[tuple[str, str]]:
        """The container's changes to its image: ("A"|"C"|"D", path), sorted by path."""
        body = self.session.call("GET", f"/containers/{q(ref)}/changes") or []
        return sorted(((CHANGE_KINDS.get(c.get("Kind"), "C"), c.get("Path") or "")
                       for c in body), key=lambda kc: kc[1])

    def export(self, ref: str, out) -> None:
        """The container's filesystem as a tar, to ``out`` (a path or a binary file)."""
        from ..containers_files import write_out
        r = self.session.open("GET", f"/containers/{q(ref)}/export", timeout=None)
        try:
            write_out(out, lambda f: _copy(r, f))
        finally:
            r.close()

    def commit(self, ref: str, repository: str | None = None, message: str = "",
               author: str = "", changes=(), pause: bool = True):
        """An image of the container (``POST /commit``); the Image."""
        repo, tag = (_split_ref(repository) if repository else (None, None))
        body = self.session.call("POST", "/commit", {
            "container": ref, "repo": repo, "tag": tag, "comment": message or None,
            "author": author or None, "pause": "1" if pause else "0",
            "changes": list(changes) or None}, {}, timeout=None)
        return self.image(body["Id"])

    def update(self, ref: str, resources=None, restart_policy=None):
        """New limits and restart policy (``POST /containers/{id}/update``); the Container."""
        if resources is not None and not isinstance(resources, dict):
            resources = {k: getattr(resources, k) for k in UPDATE_FIELDS
                         if getattr(resources, k, None)}
        body = {UPDATE_FIELDS[k]: v for k, v in (resources or {}).items() if k in UPDATE_FIELDS}
        unknown = sorted(set(resources or {}) - set(UPDATE_FIELDS))
        if unknown:
            raise InvalidArgument(f"{', '.join(unknown)}: not something update changes "
                                  f"through the connection to {self.name}")
        if restart_policy is not None:
            name, retries = ((restart_policy, 0) if isinstance(restart_policy, str)
                             else (restart_policy.name, restart_policy.max_retries))
            body["RestartPolicy"] = {"Name": name, "MaximumRetryCount": retries}
        answer = self.session.call("POST", f"/containers/{q(ref)}/update", None, body) or {}
        self._update_warnings = list(answer.get("Warnings") or [])
        self._changed(ref)
        return self.container(ref)

    def resource_warnings(self, resources) -> list[str]:
        """What the engine said of the limits of the last update (it alone knows its kernel)."""
        warnings, self._update_warnings = getattr(self, "_update_warnings", []), []
        return warnings

    # --- build --------------------------------------------------------------------------------

    def build(self, context_dir: str, options, dockerfile_text: str | None = None,
              progress=None, cancel=None):
        """``POST /build`` with the context as a tar (.dockerignore applied here, as the docker
        CLI does); the engine's output reaches ``progress`` as output events. The Image."""
        import secrets
        import tarfile
        from ..build.events import BuildEvent
        from ..build.ignore import IgnoreRules
        dockerfile = options.dockerfile or "Dockerfile"
        if dockerfile_text is not None:
            dockerfile = f".berth-dockerfile-{secrets.token_hex(6)}"
        rules = IgnoreRules.for_context(context_dir)
        keep = {dockerfile, ".dockerignore"}

        def leave_out(info):
            rel = info.name[2:] if info.name.startswith("./") else info.name
            return None if rel not in keep and rules and rules.excluded(rel) else info
        with tempfile.TemporaryFile() as ctx:
            with tarfile.open(fileobj=ctx, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                tar.add(context_dir, arcname=".", filter=leave_out)
                if dockerfile_text is not None:
                    import io
                    data = dockerfile_text.encode()
                    info = tarfile.TarInfo(dockerfile)
                    info.size, info.mode = len(data), 0o644
                    tar.addfile(info, io.BytesIO(data))
            ctx.seek(0)
            query = {"t": list(options.tags) or None, "dockerfile": dockerfile,
                     "buildargs": json.dumps(options.build_args) if options.build_args else None,
                     "target": options.target or None, "nocache": _flag(options.no_cache),
                     "pull": _flag(options.pull), "q": _flag(options.quiet),
                     "labels": json.dumps(options.labels) if options.labels else None,
                     "networkmode": None if options.network == "default" else options.network,
                     "platform": options.platform or None,
                     "cachefrom": json.dumps(options.cache_from) if options.cache_from else None,
                     "extrahosts": ",".join(options.extra_hosts) or None,
                     "rm": "1" if options.rm else "0", "forcerm": _flag(options.force_rm)}
            r = self.session.open("POST", "/build", query, ctx,
                                  {"Content-Type": "application/x-tar"}, timeout=None)
            if cancel is not None:
                import threading
                threading.Thread(target=lambda: (cancel.wait(), r.conn.close()),
                                 daemon=True).start()
            image_id = ""
            try:
                for msg in self._build_messages(r, cancel):
                    if (msg.get("aux") or {}).get("ID"):
                        image_id = msg["aux"]["ID"]
                    text = msg.get("stream") or ""
                    if text and progress is not None:
                        progress(BuildEvent("output", text))
                    if text.startswith("Successfully built "):
                        image_id = image_id or text.split()[2]
            finally:
                r.conn.close()
        if cancel is not None and cancel.is_set():
            from ..errors import Cancelled
            raise Cancelled("build cancelled")
        if not image_id:
            raise BuildError(f"the build on {self.name} ended without an image")
        return self.image(image_id)

    @staticmethod
    def _build_messages(r, cancel):
        """The build's messages; a cut made by ``cancel`` (its connection closed) ends them
        as a cancelled build rather than a lost host."""
        from ..errors import BerthError, Cancelled
        try:
            yield from r.messages(BuildError)
        except BuildError:
            raise
        except BerthError:
            if cancel is not None and cancel.is_set():
                raise Cancelled("build cancelled") from None
            raise

    # --- image archives -----------------------------------------------------------------------

    def load(self, source):
        """Load an image archive (a path, or a binary file such as stdin) into the engine; the
        Images it brought, each with ``loaded_tags``."""
        said = self._send_archive("/images/load", {"quiet": "1"}, source, "stream")
        out: dict = {}
        for line in "".join(said).splitlines():
            what, _, name = line.partition(": ")
            if what not in ("Loaded image", "Loaded image ID") or not name:
                continue
            img = self.image(name.strip())
            img = out.setdefault(img.id, img)
            if what == "Loaded image":
                img.loaded_tags = [*getattr(img, "loaded_tags", []), name.strip()]
            elif not hasattr(img, "loaded_tags"):
                img.loaded_tags = []
        return list(out.values())

    def _send_archive(self, path: str, query: dict, source, key: str) -> list[str]:
        """POST an archive (a path, a binary file, or bytes) whose answer is progress
        messages; each message's ``key``."""
        f = open(source, "rb") if isinstance(source, str) else source
        try:
            r = self.session.open("POST", path, query, f,
                                  {"Content-Type": "application/x-tar"}, timeout=None)
            try:
                return [m.get(key) or "" for m in r.messages(InvalidArgument)]
            finally:
                r.close()
        finally:
            if isinstance(source, str):
                f.close()

    def save(self, refs: list[str], path, format: str = "docker-archive") -> None:
        """The images as the engine archives them (``docker save``'s archive) to ``path`` (a
        path or a binary file)."""
        from ..containers_files import write_out
        r = self.session.open("GET", "/images/get", {"names": list(refs)}, timeout=None)
        try:
            write_out(path, lambda f: _copy(r, f))
        finally:
            r.close()

    def import_image(self, source: str, ref: str | None = None, changes=(), message: str = ""):
        """A one-layer image from a root filesystem tarball (a path, ``-`` for stdin, or a URL
        the engine fetches itself)."""
        import sys
        url = source.startswith(("http://", "https://"))
        # repo=NAME:TAG and no tag, as the docker CLI sends it (podman reads only repo)
        query = {"fromSrc": source if url else "-", "repo": ref or None,
                 "message": message or None, "changes": list(changes) or None}
        said = self._send_archive("/images/create", query, b"" if url else
                                  sys.stdin.buffer if source == "-" else source, "status")
        ident = next((s.strip() for s in reversed(said) if s.strip().startswith("sha256:")), "")
        if not ident:
            raise InvalidArgument(f"the import on {self.name} gave no image")
        return self.image(ident)


def _flag(on: bool) -> str | None:
    return "1" if on else None
