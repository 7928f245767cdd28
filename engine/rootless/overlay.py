"""overlayfs inside the user's namespace: the same layers, its attributes in another namespace.

An unprivileged overlay (Linux 5.11+) can't use ``trusted.overlay.*`` attributes, which only
host root may set; with the ``userxattr`` mount option it reads and writes ``user.overlay.*``
instead. So without root, layers mark their opaque directories ``user.overlay.opaque=y`` and
every overlay berth mounts gets ``userxattr``; with root nothing changes. Whiteouts stay 0/0
character devices, which the kernel lets a user namespace make. A kernel older than 5.11
doesn't mount overlay in a user namespace at all: the start says so (fuse-overlayfs, which
rootless podman falls back to there, is not used by berth).
"""

from __future__ import annotations


from ..paths import rootless


def xattr_prefix() -> str:
    """The attribute namespace of overlay's own attributes, as berth mounts overlays here."""
    return "user.overlay." if rootless() else "trusted.overlay."


def opaque_xattr() -> str:
    return xattr_prefix() + "opaque"


def options(opts: str) -> str:
    """``opts`` of an overlay mount, with ``userxattr`` added without root."""
    return f"{opts},userxattr" if rootless() else opts
