"""Container filesystem verbs: top, cp, diff, export, commit (engine/containerfs/ does the work
inside the container's mounts)."""

from __future__ import annotations

import os

from .errors import Conflict, HostError, NotFound


class ContainerFilesAPI:
    """What is in a container: its processes (top), files (cp, diff, export) and commit."""

    def top(self, ref: str, ps_args=()) -> tuple[list[str], list[list[str]]]:
        """(headers, rows) of the processes in the running container's cgroup: host and
        container pids, user, CPU, memory, command; with ``ps_args``, the columns the host's
        ``ps`` gives for them, as dockerd answers ``docker top C ARGS``."""
        from .runtime import top
        c = self.container(ref)
        if not c.running:
            raise Conflict(f"Container {c.id} is not running")
        if ps_args:
            return top.ps(self._cgroups().pids(c.id), list(ps_args))
        return top.processes(self._cgroups().pids(c.id), c.state.pid)

    def copy_from(self, ref: str, path: str, out, follow_link: bool = False) -> None:
        """``path`` in the container as a tar written to ``out`` (``cp CONTAINER:PATH -``)."""
        from .containerfs.inroot import run_in_root
        from .containerfs.tarwrite import archive_path
        c = self.container(ref)
        run_in_root(self.store, c, lambda root, f: archive_path(root, path, f, follow_link),
                    out=out)

    def copy_to(self, ref: str, path: str, stream) -> None:
        """A tar read from ``stream`` extracted into the container's directory ``path``."""
        from .containerfs.extract import extract_to
        from .containerfs.inroot import run_in_root
        c = self.container(ref)
        run_in_root(self.store, c, lambda root, f: extract_to(root, path, f), inp=stream)

    def copy_in(self, ref: str, src: str, path: str, follow_link: bool = False) -> None:
        """``cp HOSTPATH CONTAINER:PATH``, bytes, mode, owner and times kept."""
        from .containerfs.extract import copy_file_into
        from .containerfs.inroot import run_in_root
        if not os.path.lexists(src):
            raise NotFound(f"no such file or directory: {src}")
        c = self.container(ref)
        run_in_root(self.store, c, lambda root, _: copy_file_into(root, src, path, follow_link))

    def copy_out(self, ref: str, path: str, dst: str, follow_link: bool = False) -> None:
        """``cp CONTAINER:PATH HOSTPATH``."""
        from .containerfs.extract import copy_out_to_host
        c = self.container(ref)
        try:
            copy_out_to_host(lambda tmp: self.copy_from(c.id, path, tmp, follow_link), path, dst)
        except OSError as e:
            raise HostError(f"write {e.filename or dst}: {e.strerror or e}") from None

    def container_size(self, ref: str) -> tuple[int, int]:
        """(SizeRw, SizeRootFs) as dockerd reports them: the bytes the container wrote (its
        upper dir), and those plus its image's."""
        from .fswalk import tree_size
        c = self.container(ref)
        rw = tree_size(os.path.join(self.paths.container_dir(c.id), "upper"))
        try:
            image = self.image(c.config.image_id).size
        except NotFound:
            image = 0
        return rw, rw + image

    def diff(self, ref: str) -> list[tuple[str, str]]:
        """The container's changes to its image: ("A"|"C"|"D", path), sorted by path."""
        from .containerfs.changes import diff as upper_diff
        c = self.container(ref)
        raw = records_raw(self.store, c.id)
        return upper_diff(os.path.join(self.paths.container_dir(c.id), "upper"),
                          list(reversed(raw.get("layer_dirs") or [])))

    def export(self, ref: str, out) -> None:
        """The container's filesystem as a tar, to ``out`` (a path or a binary file)."""
        from .containerfs.inroot import run_in_root
        from .containerfs.tarwrite import TreeWriter
        c = self.container(ref)

        def write(root, f):
            w = TreeWriter(f, one_fs=True)
            try:
                w.add(root, ".", ".", "/")
            finally:
                w.close()
        write_out(out, lambda f: run_in_root(self.store, c, write, out=f))
        self.emit("container", "export", c.id, name=c.name, image=c.config.image)

    def commit(self, ref: str, repository: str | None = None, message: str = "",
               author: str = "", changes=(), pause: bool = True):
        """An image of the container: its image's layers plus its changes as a new layer, with
        its config and ``changes`` (Dockerfile instructions) applied; the Image."""
        from .containerfs.commit import commit as commit_container
        c = self.container(ref)
        img = commit_container(self, c, repository, message, author, changes, pause)
        # dockerd's image store records what a commit was made from, and when it was named
        from .clock import now_rfc3339
        img.parent = c.config.image_id
        img.last_tag_time = now_rfc3339() if repository else img.last_tag_time
        self.image_store.annotate(img.id, parent=img.parent, last_tag_time=img.last_tag_time)
        self.emit("container", "commit", c.id, name=c.name, image=c.config.image)
        return img


def write_out(out, write) -> None:
    """``write(f)`` into the binary file ``out``, or into the path ``out`` whole or not at all
    (a temporary name beside it, renamed once written)."""
    if not isinstance(out, str):
        write(out)
        return
    tmp = f"{out}.berth-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            write(f)
        os.rename(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def records_raw(store, cid: str) -> dict:
    from .runtime import records
    return records.read_raw(store, cid) or {}
