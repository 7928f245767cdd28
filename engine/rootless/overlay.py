"""overlayfs inside the user's namespace: the same layers, its attributes in another namespace.

An unprivileged overlay (Linux 5.11+) can't use ``trusted.overlay.*`` attributes, which only
host root may set; with the ``userxattr`` mount option it reads and writes ``user.overlay.*``
instead. So without root, layers mark their opaque directories ``user.overlay.opaque=y`` and
every overlay berth mounts gets ``userxattr``; with root nothing changes. Whiteouts stay 0/0
character devices, which the kernel lets a user namespace make. ``native`` probes once
whether the kernel mounts overlay in a user namespace at all (fuse-overlayfs would be needed
where it doesn't; berth says so instead).
"""

from __future__ import annotations

import os

from ..paths import rootless


def xattr_prefix() -> str:
    """The attribute namespace of overlay's own attributes, as berth mounts overlays here."""
    return "user.overlay." if rootless() else "trusted.overlay."


def opaque_xattr() -> str:
    return xattr_prefix() + "opaque"


def options(opts: str) -> str:
    """``opts`` of an overlay mount, with ``userxattr`` added without root."""
    return f"{opts},userxattr" if rootless() else opts


def own_id(n: int) -> int:
    """An owner from a layer as this namespace can store it: itself when mapped, else 0 (the
    user: with a single-id map, files of other owners become the user's)."""
    return n if n == 0 or _mapped(n) else 0


_ranges: list[tuple[int, int]] = []


def _mapped(n: int) -> bool:
    if not rootless():
        return True
    if not _ranges:
        with open("/proc/self/uid_map") as f:
            for line in f:
                inside, _outside, count = (int(x) for x in line.split())
                _ranges.append((inside, inside + count))
    return any(lo <= n < hi for lo, hi in _ranges)


def native(scratch: str) -> bool:
    """Whether the kernel mounts overlay in this user namespace (probed once per ``scratch``
    directory, whose result file remembers it)."""
    mark = os.path.join(scratch, "overlay-native")
    try:
        with open(mark) as f:
            return f.read().strip() == "1"
    except FileNotFoundError:
        pass
    ok = _probe(scratch)
    tmp = f"{mark}.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write("1" if ok else "0")
    os.rename(tmp, mark)
    return ok


def _probe(scratch: str) -> bool:
    import tempfile
    from ..runtime import linux
    d = tempfile.mkdtemp(prefix="overlay-probe.", dir=scratch)
    try:
        for sub in ("l", "u", "w", "m"):
            os.mkdir(os.path.join(d, sub))
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the probe child
            code = 1
            try:
                linux.unshare(linux.CLONE_NEWNS)
                linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
                linux.mount("overlay", f"{d}/m", "overlay", 0,
                            options(f"lowerdir={d}/l,upperdir={d}/u,workdir={d}/w"))
                code = 0
            finally:
                os._exit(code)
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    finally:
        from ..fswalk import remove_tree
        remove_tree(d)
