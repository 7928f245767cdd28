"""Where berth keeps things, and the names it gives what it creates on the host.

Everything berth makes outside its root (bridges, veth names, the nftables table, the cgroup
parent, run-state directories) carries a name derived from the root, so two roots never collide
and a root's cleanup removes exactly what it made. The default root gets the plain names
(``berth0``, table ``berth``, cgroup ``berth``); any other root gets a short stable suffix.
"""

from __future__ import annotations

import os
import zlib

DEFAULT_ROOT = "/var/lib/berth"
DEFAULT_RUN = "/run/berth"


def _suffix(root: str) -> str:
    if root == DEFAULT_ROOT:
        return ""
    # crc32 rather than a cryptographic hash: it only has to tell roots apart, and hashlib
    # costs every berth command 2 ms to import.
    return f"{zlib.crc32(root.encode()) & 0xFFFF:04x}"


class Paths:
    """The directories of one berth root and the host-side names derived from it."""

    __slots__ = ("root", "run", "suffix")

    def __init__(self, root: str, run: str):
        self.root = root
        self.run = run
        self.suffix = _suffix(root)
        """'' for the default root, otherwise 4 hex digits that identify this root."""

    def __repr__(self) -> str:
        return f"Paths(root={self.root!r}, run={self.run!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Paths) and (self.root, self.run) == (other.root, other.run)

    def __hash__(self) -> int:
        return hash((self.root, self.run))

    @classmethod
    def from_env(cls, root: str | None = None, run: str | None = None) -> "Paths":
        root = os.path.abspath(root or os.environ.get("BERTH_ROOT") or DEFAULT_ROOT)
        if run is None:
            run = os.environ.get("BERTH_RUN")
            if not run:
                # Another root gets its own run directory, named like everything else it makes
                # on the host; kept short because unix socket paths live under it.
                run = DEFAULT_RUN if root == DEFAULT_ROOT else f"{DEFAULT_RUN}-{_suffix(root)}"
        return cls(root, os.path.abspath(run))

    # --- on-disk layout ---------------------------------------------------------------
    def blob(self, digest: str) -> str:
        algo, _, hexpart = digest.partition(":")
        return os.path.join(self.root, "blobs", algo, hexpart)

    def layer_dir(self, chain_id: str) -> str:
        return os.path.join(self.root, "layers", chain_id.partition(":")[2] or chain_id)

    def container_dir(self, cid: str) -> str:
        return os.path.join(self.root, "containers", cid)

    def container_run_dir(self, cid: str) -> str:
        return os.path.join(self.run, "c", cid)

    def volume_dir(self, name: str) -> str:
        return os.path.join(self.root, "volumes", name)

    @property
    def events_file(self) -> str:
        return os.path.join(self.root, "events.jsonl")

    # --- host-side names ------------------------------------------------------------
    @property
    def cgroup_parent(self) -> str:
        return "berth" + (f"-{self.suffix}" if self.suffix else "")

    @property
    def nft_table(self) -> str:
        return "berth" + (f"_{self.suffix}" if self.suffix else "")

    @property
    def default_bridge(self) -> str:
        return f"berth{self.suffix}0" if self.suffix else "berth0"

    def bridge_name(self, index: int) -> str:
        """Bridge for the index-th network of this root (0 = the default network). <= 15 chars."""
        return f"berth{self.suffix}{index}" if self.suffix else f"berth{index}"

    def veth_name(self, cid: str, n: int = 0) -> str:
        """Host end of a container's n-th veth: 'vb' + suffix + id prefix, at most 15 chars."""
        return f"vb{self.suffix}{cid[:9 - len(self.suffix) if self.suffix else 11]}{n}"[:15]
