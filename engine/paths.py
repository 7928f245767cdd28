"""Where berth keeps things, and the names it gives what it creates on the host.

Everything berth makes outside its root (bridges, veth names, the nftables table, the cgroup
parent, run-state directories) carries a name derived from the root, so two roots never collide
and a root's cleanup removes exactly what it made. The default root gets the plain names
(``berth0``, table ``berth``, cgroup ``berth``); any other root gets a short stable suffix.
"""

from __future__ import annotations

import os

DEFAULT_ROOT = "/var/lib/berth"
DEFAULT_RUN = "/run/berth"

# Modes of what berth keeps on the host, as Docker's. The root is the gate: 0710 root:root lets
# no other user reach anything below it (a setuid file a container's root made in its upper
# dir, a layer or a volume; the -e secrets in config.json); the modes below it are defence in
# depth, for whoever loosens the root.
ROOT_MODE = 0o710
DIR_MODE = 0o700       # blobs, layers, images, containers, networks, tmp; each container, layer
RECORD_MODE = 0o600    # records: config.json and spec.json hold -e secrets; logs, events, networks
BLOB_MODE = 0o400      # content-addressed: never rewritten, never anyone else's to read
VOLUMES_MODE = 0o701   # volumes/ and each volume's directory, as Docker's local driver makes them
RUN_MODE = 0o711       # the run directory: passable (to the API socket, whose own 0660 root:berth
                       # decides who connects) but not listable; its c/ with the attach sockets 0700


_suffixes: dict[str, str] = {DEFAULT_ROOT: ""}


def _suffix(root: str) -> str:
    suffix = _suffixes.get(root)
    if suffix is None:
        # crc32 rather than a cryptographic hash: it only has to tell roots apart, and hashlib
        # costs every berth command 2 ms to import (zlib's, for this one call, 0.5 ms)
        suffix = _suffixes[root] = f"{crc32(root.encode()) & 0xFFFF:04x}"
    return suffix


def crc32(data: bytes) -> int:
    """zlib.crc32 of ``data`` (the same polynomial and result), bit by bit."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def default_run(root: str) -> str:
    """The run directory of ``root`` when BERTH_RUN does not say: another root gets its own,
    named like everything else it makes on the host; kept short because unix socket paths live
    under it. Without root, the user's run directory (``user_run``) and, for another root than
    the user's own, a suffixed one beside it."""
    if rootless():
        base = user_run()
        return base if root == user_root() else f"{base}-{_suffix(root)}"
    return DEFAULT_RUN if root == DEFAULT_ROOT else f"{DEFAULT_RUN}-{_suffix(root)}"


_rootless: list[bool] = []


def rootless() -> bool:
    """Whether berth runs without root: as an ordinary user, or inside the user namespace that
    berth made for one (where it is uid 0 but owns nothing of the host). Read once per
    process from /proc/self/uid_map: only the initial namespace maps all 2^32 ids."""
    if not _rootless:
        if os.geteuid() != 0:
            _rootless.append(True)
        else:
            try:
                with open("/proc/self/uid_map", "rb") as f:
                    _rootless.append(f.read().split() != [b"0", b"0", b"4294967295"])
            except OSError:
                _rootless.append(False)
    return _rootless[0]


def _home() -> str:
    return os.environ.get("HOME") or os.path.expanduser("~")


def config_dir() -> str:
    """berth's own user configuration: $XDG_CONFIG_HOME/berth, else ~/.config/berth."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "berth")


def connections_file() -> str:
    """Where `berth connection` keeps the connections (engine/client/connections.py); whether
    it exists decides, on every command's path, if the engine may be a remote one."""
    return os.path.join(config_dir(), "connections.json")


def user_root() -> str:
    """The state directory of a user without root: $XDG_DATA_HOME/berth, else
    ~/.local/share/berth."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(_home(), ".local", "share")
    return os.path.join(os.path.abspath(base), "berth")


def user_run() -> str:
    """The run-time directory of a user without root: $XDG_RUNTIME_DIR/berth, else a private
    directory under /tmp named for the user's uid (said once on stderr: it does not go away at
    logout, and /tmp may be cleaned under it). BERTH_USER_RUN carries it to the processes berth
    starts, whose environment is built from nothing but BERTH_* settings (sealed.environment)."""
    own = os.environ.get("BERTH_USER_RUN")
    if own:
        return own
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return os.path.join(os.path.abspath(xdg), "berth")
    path = f"/tmp/berth-run-{_host_uid()}"
    if path not in _told:
        _told.append(path)
        _private_dir(path)
        import sys
        print(f"berth: XDG_RUNTIME_DIR is not set; run-time files go to {path} (mode 0700)",
              file=sys.stderr)
    return path


def _private_dir(path: str) -> None:
    """Make ``path`` 0700, or make sure the one there is the user's own directory (anyone may
    create a name in /tmp first, or leave a symlink there)."""
    import stat
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        from .errors import HostError
        raise HostError(f"{path} is not a directory of your own; set XDG_RUNTIME_DIR to one "
                        "(mode 0700) or remove it")
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)


_told: list[str] = []


def _host_uid() -> int:
    """The user's uid as the host knows it, also from inside berth's user namespace (where
    the user is uid 0): the host id that uid 0 maps to."""
    uid = os.geteuid()
    if uid != 0:
        return uid
    try:
        with open("/proc/self/uid_map", "rb") as f:
            for line in f:
                inside, outside, _count = line.split()
                if inside == b"0":
                    return int(outside)
    except (OSError, ValueError):
        pass
    return uid


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
        root = root or os.environ.get("BERTH_ROOT")
        if not root:
            root = user_root() if rootless() else DEFAULT_ROOT
        root = os.path.abspath(root)
        if run is None:
            run = os.environ.get("BERTH_RUN")
            if not run:
                run = default_run(root)
        return cls(root, os.path.abspath(run))

    @property
    def own_run(self) -> bool:
        """Whether the run directory is berth's own name for this root (not one that BERTH_RUN
        named, which may be shared): only then does berth set its mode when it did not make it."""
        return self.run == default_run(self.root)

    @property
    def run_mode(self) -> int:
        """The run directory's mode: RUN_MODE with root (passable, for the API socket's group);
        0700 without, where nobody else has any business in it."""
        return 0o700 if rootless() else RUN_MODE

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
    def nft_services_table(self) -> str:
        """The Kubernetes Services a node agent of this root programs (engine/kube/services.py)."""
        return f"{self.nft_table}_svc"

    @property
    def default_bridge(self) -> str:
        return f"berth{self.suffix}0" if self.suffix else "berth0"

    def bridge_name(self, index: int) -> str:
        """Bridge for the index-th network of this root (0 = the default network). <= 15 chars."""
        return f"berth{self.suffix}{index}" if self.suffix else f"berth{index}"

    def veth_name(self, cid: str, n: int = 0) -> str:
        """Host end of a container's n-th veth: 'vb' + suffix + id prefix, at most 15 chars."""
        return f"vb{self.suffix}{cid[:9 - len(self.suffix) if self.suffix else 11]}{n}"[:15]
