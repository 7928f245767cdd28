"""Test support that does not trust the code under test: finding the shared images, running the
CLI as a user would, and removing everything a test root made on the host even when berth's own
cleanup is broken."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_IMAGES = REPO.parent / "shared" / "images"
BUSYBOX_MUSL = SHARED_IMAGES / "busybox-1.38.0-musl-amd64.oci.tar"
BUSYBOX_GLIBC = SHARED_IMAGES / "busybox-1.38.0-glibc-amd64.oci.tar"
ALPINE_ROOTFS = SHARED_IMAGES / "alpine-minirootfs-3.20.3-x86_64.tar.gz"
BERTH = [sys.executable, "-m", "tui.cli"]


def berth(root: str, *args: str, input: bytes | str | None = None, check: bool = True,
          timeout: float = 60, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the berth CLI against ``root`` as a user would; text output."""
    full_env = {**os.environ, "BERTH_ROOT": root, **(env or {})}
    full_env.pop("BERTH_RUN", None)
    p = subprocess.run([*BERTH, *args], input=input, capture_output=True, text=True,
                       timeout=timeout, env=full_env, cwd=REPO)
    if check and p.returncode != 0:
        raise AssertionError(f"berth {' '.join(args)} exited {p.returncode}\n"
                             f"stdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def made_since(path: str, before: set[str]) -> set[str]:
    """Names in host directory ``path`` (/etc, /tmp) that ``before`` lacked, less what other
    tests of the same run make there meanwhile: shadow-utils' lock and backup files of a
    useradd (``group.lock``, ``passwd+``), temporary files and directories (tmp*, berth-*,
    pytest's). A test that a container can't write into the host's directory asserts this is
    empty: a bare before/after comparison failed when another worker added a user."""
    def others(name: str) -> bool:
        return name.endswith((".lock", "+", "-")) or name.startswith(("tmp", "berth-", "pytest-"))
    return {n for n in set(os.listdir(path)) - before if not others(n)}


def add_static_busybox(tar, dirs: tuple[str, ...], applets: tuple[str, ...]) -> None:
    """A minimal image's root into the open tarfile ``tar``: the directories ``dirs``, the
    host's static busybox as /bin/busybox and ``applets`` as symlinks to it."""
    import tarfile
    for d in dirs:
        info = tarfile.TarInfo(d)
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
    tar.add("/bin/busybox", "bin/busybox")
    for applet in applets:
        info = tarfile.TarInfo(f"bin/{applet}")
        info.type, info.linkname = tarfile.SYMTYPE, "busybox"
        tar.addfile(info)


def _pids_in_cgroups(dirs: list[str]) -> set[int]:
    pids: set[int] = set()
    for d in dirs:
        for dirpath, _, files in os.walk(d):
            if "cgroup.procs" in files:
                try:
                    with open(os.path.join(dirpath, "cgroup.procs")) as f:
                        pids.update(int(x) for x in f.read().split())
                except OSError:
                    pass
    return pids


def _cgroup_dirs(parent: str) -> list[str]:
    base = "/sys/fs/cgroup"
    out = []
    for ctrl in os.listdir(base):
        d = os.path.join(base, ctrl, parent)
        if os.path.isdir(d):
            out.append(d)
    return out


def _monitor_pids(root: str) -> set[int]:
    """Processes started for ``root``: by their environment, or a monitor by its marks (one
    forked from the CLI keeps the CLI's environment: engine/runtime/monitor_fork.py)."""
    from engine.runtime.monitor_fork import is_monitor
    pids = set()
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        if int(p) != os.getpid() and is_monitor(int(p), root):
            pids.add(int(p))
            continue
        try:
            with open(f"/proc/{p}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if f"BERTH_ROOT={root}".encode() in env and int(p) != os.getpid():
            pids.add(int(p))
    return pids


def cleanup_root(root: str) -> list[str]:
    """Remove everything the berth root ``root`` made on the host. Returns what it had to remove
    (so a test can assert berth's own cleanup left nothing)."""
    from engine.paths import Paths
    paths = Paths.from_env(root)
    found: list[str] = []
    # 1. processes: monitors started with this root, and everything in its cgroups
    for _ in range(50):
        victims = (_monitor_pids(root) | _pids_in_cgroups(_cgroup_dirs(paths.cgroup_parent))) - {os.getpid()}
        if not victims:
            break
        for d in _cgroup_dirs(paths.cgroup_parent):
            if os.path.basename(os.path.dirname(d)) == "freezer":
                for dirpath, _, files in os.walk(d):
                    if "freezer.state" in files:
                        try:
                            with open(os.path.join(dirpath, "freezer.state"), "w") as f:
                                f.write("THAWED")
                        except OSError:
                            pass
        for pid in victims:
            found.append(f"process {pid}")
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)
    # 2. mounts under the root or its run dir, deepest first
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f]
    for m in sorted((m for m in mounts if m.startswith((paths.root + "/", paths.run + "/"))
                     or m in (paths.root, paths.run)), key=len, reverse=True):
        found.append(f"mount {m}")
        subprocess.run(["umount", "-l", m], capture_output=True)
    # 3. cgroups, deepest first
    for d in _cgroup_dirs(paths.cgroup_parent):
        for dirpath, _, _ in sorted(os.walk(d), key=lambda t: len(t[0]), reverse=True):
            found.append(f"cgroup {dirpath}")
            try:
                os.rmdir(dirpath)
            except OSError:
                pass
    # 4. links (bridges and veths named for this root) and the nftables table
    if paths.suffix:
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
        for line in links.splitlines():
            name = line.split(":")[1].strip().split("@")[0]
            if name.startswith((f"berth{paths.suffix}", f"vb{paths.suffix}")):
                found.append(f"link {name}")
                subprocess.run(["ip", "link", "del", name], capture_output=True)
        if shutil.which("nft"):
            for family, table in (("inet", paths.nft_table), ("ip", paths.nft_table),
                                  ("ip6", paths.nft_table), ("ip", paths.nft_services_table)):
                r = subprocess.run(["nft", "delete", "table", family, table],
                                   capture_output=True)
                if r.returncode == 0:
                    found.append(f"nft table {family} {table}")
    shutil.rmtree(paths.run, ignore_errors=True)
    return found


def root_links(root: str) -> set[str]:
    """The host's links named for the berth root ``root`` (its bridges and veths)."""
    from engine.paths import Paths
    suffix = Paths.from_env(root).suffix
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    names = {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}
    return {n for n in names if n.startswith((f"berth{suffix}", f"vb{suffix}"))}


# --- test roots a killed run left behind -----------------------------------------------------------
# A test run that is killed (a CI timeout, a stopped session) cannot clean up: its roots keep their
# bridges, routes and nftables tables, and a later run on the same host finds its fixed subnets
# taken. Every root the fixtures make is claimed by an ``<root>.owner`` file beside it, flocked by
# the process that made it; a root whose owner file nobody holds any more was abandoned, and the
# next run removes it. Nothing without an owner file is touched.

TEST_ROOTS = "/var/tmp"
_claims: dict[str, int] = {}


def claim_root(prefix: str) -> str:
    """A new root directory under /var/tmp, claimed by this process until release_root."""
    import fcntl
    import tempfile
    d = tempfile.mkdtemp(prefix=prefix, dir=TEST_ROOTS)
    # locked before it gets the name a sweeper looks for, so no sweeper can take a live claim
    pending = f"{d}.owner.new"
    fd = os.open(pending, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, f"{os.getpid()}\n".encode())
    os.rename(pending, f"{d}.owner")
    _claims[d] = fd
    return d


def release_root(d: str) -> list[str]:
    """Remove everything root ``d`` made on the host, then the root and its claim."""
    found = remove_root(d)
    fd = _claims.pop(d, None)
    try:
        os.unlink(f"{d}.owner")
    except FileNotFoundError:
        pass
    if fd is not None:
        os.close(fd)
    return found


def remove_root(d: str) -> list[str]:
    """cleanup_root(d), then delete root ``d`` and its run directory again; returns what
    cleanup_root found. Every test, bench or tool that made a root of its own deletes it with
    this: a berth process that opened the root between cleanup_root's removal of the run
    directory and the root's (a monitor's teardown, a reaper, a dashboard's thread) made the run
    directory anew (the store makes it when a reboot emptied /run), and full suites left an
    empty ``/run/berth-XXXX/c`` behind."""
    found = cleanup_root(d)
    _forget_root(d)
    return found


def _forget_root(d: str) -> None:
    """Delete root ``d`` (cleaned up already), then its own run directory."""
    from engine.paths import DEFAULT_RUN, default_run
    shutil.rmtree(d, ignore_errors=True)
    run = default_run(os.path.abspath(d))
    if run != DEFAULT_RUN:   # only the root's own suffixed run directory, never the shared one
        shutil.rmtree(run, ignore_errors=True)
        _released_runs.add(run)


_released_runs: set[str] = set()
"""Run directories of the roots this process released, for sweep_released_runs."""


def sweep_released_runs() -> list[str]:
    """At the end of a session: the run directories of roots released earlier that something
    made again since (a thread of a test's dashboard or engine still at work when its root went),
    removed by their exact names; the ones removed."""
    again = sorted(r for r in _released_runs if os.path.isdir(r))
    for run in again:
        shutil.rmtree(run, ignore_errors=True)
    return again


def sweep_abandoned_roots() -> list[str]:
    """Remove the roots whose claiming process is gone; returns them."""
    import fcntl
    swept = []
    for name in sorted(os.listdir(TEST_ROOTS)):
        if not (name.startswith("berth-") and name.endswith(".owner")):
            continue
        owner = os.path.join(TEST_ROOTS, name)
        try:
            fd = os.open(owner, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue            # its run is alive
            d = owner[:-len(".owner")]
            if os.path.isdir(d):
                remove_root(d)
            os.unlink(owner)
            swept.append(d)
        finally:
            os.close(fd)
    return swept
