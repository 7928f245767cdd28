"""The attack suite's host side: build the static attack program, build images that carry it
(one from the host's static busybox, one from Alpine's minirootfs), run it in containers by
default and with --privileged, and print a table of attempt and outcome.

    python tests/attacks/runner.py            # its own temporary berth root, cleaned up after

Tests use the same functions (tests/test_security_attacks.py) through the ``cli`` fixture.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "attack.c"
HOST_BUSYBOX = "/bin/busybox"
IMAGE_NAMES = {"busybox": "berth-attacks/busybox:latest", "alpine": "berth-attacks/alpine:latest"}

# Attempts that must open up under --privileged (each passes a capability or a filter check that
# the default refuses); the rest stay closed even then, because they are not about permissions
# but about what the container can see at all.
OPENS_WITH_PRIVILEGED = {
    "reboot", "mount tmpfs", "umount (unmask /proc/timer_list)", "swapon", "write /proc/sys",
    "write /sys", "read /proc/timer_list", "read /proc/interrupts", "list /sys/firmware",
    "mknod + read host disk", "sethostname", "unshare user namespace",
    "unshare mount+cgroup namespaces", "setns (own namespaces)", "keyctl",
    "keyctl via i386 int 0x80", "keyctl via x32 ABI", "bpf",
    "AF_VSOCK socket", "raw socket (NET_RAW dropped)",
}
# (--init's pid 1 and exec's joiner are berth-init, static and run from a sealed copy: even a
# privileged container, which may open any process's exe and map_files, finds no host file.)
STAYS_CLOSED = {"ptrace host process", "setns into host mount ns", "chroot breakout",
                "write host binary via /proc/*/exe", "host fd or cwd leak",
                "workdir /proc/self/fd/N (CVE-2024-21626)", "hostname of the host",
                "host interpreter via /proc/1/exe (--init)",
                "host binary during berth exec (CVE-2019-5736)"}


def build_helper(outdir: str) -> str:
    """Compile attack.c statically on the host (the images have no compiler)."""
    out = os.path.join(outdir, "attack")
    subprocess.run(["gcc", "-static", "-O2", "-Wall", "-Wno-format-truncation", "-o", out,
                    str(SOURCE)], check=True, capture_output=True)
    return out


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str, mode: int = 0o755) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, mode
    tar.addfile(info)


def build_busybox_tar(helper: str, out: str) -> str:
    """A root filesystem from the host's static busybox, its applet links and the attack program."""
    applets = subprocess.run([HOST_BUSYBOX, "--list-full"], capture_output=True, text=True,
                             check=True).stdout.split()
    with tarfile.open(out, "w") as tar:
        for d in ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "mnt",
                  "root", "var", "usr/local", "usr/local/bin"):
            _add_dir(tar, d)
        _add_dir(tar, "tmp", 0o1777)
        tar.add(HOST_BUSYBOX, "bin/busybox")
        for a in applets:
            if a == "bin/busybox":
                continue
            info = tarfile.TarInfo(a)
            info.type, info.linkname = tarfile.SYMTYPE, "/bin/busybox"
            tar.addfile(info)
        _add_bytes(tar, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
        _add_bytes(tar, "etc/group", b"root:x:0:\naudio:x:29:\nnogroup:x:65534:\n")
        tar.add(helper, "usr/local/bin/attack")
    return out


def build_alpine_tar(helper: str, alpine_rootfs: str, out: str) -> str:
    """Alpine's minirootfs with the attack program added."""
    with tarfile.open(alpine_rootfs, "r:gz") as src, tarfile.open(out, "w") as tar:
        for member in src:
            tar.addfile(member, src.extractfile(member) if member.isfile() else None)
        tar.add(helper, "usr/local/bin/attack")
    return out


def _host_disk() -> str:
    """major:minor of a block device the host itself can open: the root filesystem's disk, or
    (on hosts that forbid even root to open that, as this sandbox does) another disk such as a
    loop device. Only then does a refusal inside the container mean the container was refused."""
    import stat
    root_dev = os.stat("/").st_dev
    nodes = []
    for name in sorted(os.listdir("/dev")):
        try:
            st = os.stat(f"/dev/{name}")
        except OSError:
            continue
        if stat.S_ISBLK(st.st_mode):
            nodes.append((st.st_rdev != root_dev, f"/dev/{name}", st.st_rdev))
    for _, path, rdev in sorted(nodes):
        try:
            os.close(os.open(path, os.O_RDONLY))
        except OSError:
            continue
        return f"{os.major(rdev)}:{os.minor(rdev)}"
    return f"{os.major(root_dev)}:{os.minor(root_dev)}"


def import_image(berth, tar: str, ref: str, workdir: str, root: str | None = None):
    """``berth import`` the tarball and return ``berth``. While the CLI has no ``import`` yet,
    the engine's ``import_image`` on ``root`` does it; before the image store existed, the
    runtime's temporary BERTH_DEV_IMAGES stand-in (tests/devimages) served it as a directory,
    and the returned runner passes the environment that enables that."""
    p = berth("import", tar, ref, check=False)
    if p.returncode == 0:
        return berth
    if "invalid choice" not in p.stderr:
        raise AssertionError(f"berth import failed: {p.stderr}")
    if root is not None:
        from engine import Engine
        engine = Engine(root)
        if hasattr(engine, "import_image"):
            engine.import_image(tar, ref)
            return berth
    repo = HERE.parents[1]
    name = ref.rsplit("/", 1)[-1].partition(":")[0]
    dev = os.path.join(workdir, "dev-images")
    if not os.path.isdir(os.path.join(dev, name)):
        os.makedirs(os.path.join(dev, name))
        with tarfile.open(tar) as t:
            t.extractall(os.path.join(dev, name))
    env = {"BERTH_DEV_IMAGES": dev, "PYTHONPATH": str(repo / "tests" / "devimages")}

    def run(*args, **kw):
        return berth(*args, env={**env, **kw.pop("env", {})}, **kw)
    return run


@dataclass
class HostContext:
    """What the containers must not reach: a host process, a host-only file, the host's disk,
    and the host's namespaces (the attack program refuses to run in any of them)."""

    tmpdir: str
    sleeper: subprocess.Popen | None = None
    env: dict[str, str] = field(default_factory=dict)
    hostname: str = ""

    @classmethod
    def start(cls) -> "HostContext":
        tmpdir = tempfile.mkdtemp(prefix="berth-attack-host-", dir="/var/tmp")
        ctx = cls(tmpdir)
        marker = os.path.join(tmpdir, "host-only-marker")
        Path(marker).write_text("host\n")
        ctx.sleeper = subprocess.Popen(["sleep", "3600"])
        disk = _host_disk()
        ns = ",".join(f"{k}:{os.stat(f'/proc/self/ns/{k}').st_ino}" for k in ("pid", "uts", "mnt", "ipc"))
        ctx.env = {"ATTACK_HOST_PID": str(ctx.sleeper.pid), "ATTACK_MARKER": marker,
                   "ATTACK_DISK": disk, "ATTACK_HOST_NS": ns}
        ctx.hostname = os.uname().nodename
        return ctx

    def env_flags(self) -> list[str]:
        return [x for k, v in self.env.items() for x in ("-e", f"{k}={v}")]

    def close(self) -> None:
        if self.sleeper:
            self.sleeper.kill()
            self.sleeper.wait()
        shutil.rmtree(self.tmpdir, ignore_errors=True)


def parse_rows(stdout: str) -> dict[str, tuple[str, str]]:
    rows = {}
    for line in stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == 3:
            rows[parts[0]] = (parts[1], parts[2])
    return rows


def run_attacks(berth, image: str, ctx: HostContext, privileged: bool,
                extra: tuple[str, ...] = ()) -> dict[str, tuple[str, str]]:
    """Run every attempt in one container (and the NET_RAW one in a second), plus the host-side
    checks; ``berth(*args, check=False)`` runs the CLI and returns a CompletedProcess. ``extra``
    flags go to every ``run`` (e.g. --userns auto)."""
    base = ["run", "--rm", "--network", "none", *ctx.env_flags(), *extra]
    if privileged:
        base.append("--privileged")
    p = berth(*base, image, "/usr/local/bin/attack", check=False)
    rows = parse_rows(p.stdout)
    if not rows:
        raise AssertionError(f"the attack program printed nothing (exit {p.returncode}):\n"
                             f"{p.stdout}\n{p.stderr}")
    p = berth(*base, "--cap-drop", "NET_RAW", image, "/usr/local/bin/attack",
              "raw_socket_no_net_raw", check=False)
    rows.update(parse_rows(p.stdout))
    # --init makes pid 1 berth's reaper: no host binary may be reachable through it, as runc's
    # own binary must not be (CVE-2019-5736)
    p = berth(*base, "--init", image, "/usr/local/bin/attack", "exe_write", check=False)
    got = parse_rows(p.stdout).get("write host binary via /proc/*/exe")
    rows["host interpreter via /proc/1/exe (--init)"] = got or ("blocked", f"no output: {p.stderr.strip()}")
    # CVE-2024-21626: a working directory naming a descriptor the runtime held open
    outcomes = []
    for n in (3, 4, 5, 6, 7, 8):
        p = berth(*base, "-w", f"/proc/self/fd/{n}", image, "/usr/local/bin/attack", "fd_leak",
                  check=False)
        got = parse_rows(p.stdout).get("host fd or cwd leak")
        if got and got[0] == "ESCAPE":
            outcomes.append(("ESCAPE", f"-w /proc/self/fd/{n}: {got[1]}"))
    rows["workdir /proc/self/fd/N (CVE-2024-21626)"] = outcomes[0] if outcomes else (
        "blocked", "fd 3..8: start refused or cwd inside the container")
    race = exec_race(berth, image, ctx, extra=(*extra, "--privileged") if privileged else tuple(extra))
    if race is not None:
        rows["host binary during berth exec (CVE-2019-5736)"] = race
    now = os.uname().nodename
    rows["hostname of the host"] = ("ESCAPE", f"host renamed to {now}") if now != ctx.hostname else (
        "blocked", f"still {now}")
    return rows


def exec_race(berth, image: str, ctx: HostContext, execs: int = 20,
              extra: tuple[str, ...] = ()) -> tuple[str, str] | None:
    """CVE-2019-5736 through ``berth exec``: a watcher in the container looks at every process
    that appears while the host runs ``execs`` execs into it."""
    p = berth("run", "-d", "--network", "none", *ctx.env_flags(), *extra, image,
              "/usr/local/bin/attack", "exec_watch", check=False)
    if p.returncode != 0:
        raise AssertionError(f"the watcher did not start: {p.stderr}")
    cid = p.stdout.strip()
    try:
        for _ in range(execs):
            berth("exec", cid, "true", check=False)
        berth("exec", cid, "touch", "/tmp/watch-stop", check=False)
        berth("wait", cid, check=False)
        return parse_rows(berth("logs", cid, check=False).stdout).get("host binary during berth exec")
    finally:
        berth("rm", "-f", cid, check=False)


def format_table(title: str, default: dict, privileged: dict, **more: dict) -> str:
    """attempt | outcome per mode | details. ``more`` adds columns (e.g. userns_auto=rows)."""
    cols = {"default": default, "--privileged": privileged,
            **{k.replace("_", " "): v for k, v in more.items()}}
    names = list(default) + [n for rows in cols.values() for n in rows if n not in default]
    names = list(dict.fromkeys(names))
    w = max(len(n) for n in names)
    head = "  ".join(f"{c:<12}" for c in cols)
    lines = [title, f"{'attempt':<{w}}  {head}  detail ({' | '.join(cols)})"]
    for n in names:
        got = [rows.get(n, ("-", "")) for rows in cols.values()]
        lines.append(f"{n:<{w}}  " + "  ".join(f"{g[0]:<12}" for g in got)
                     + "  " + " | ".join(g[1] for g in got))
    return "\n".join(lines)


def main() -> int:
    sys.path.insert(0, str(HERE.parent))
    from helpers import ALPINE_ROOTFS, berth, cleanup_root

    root = tempfile.mkdtemp(prefix="berth-attacks-", dir="/var/tmp")
    work = tempfile.mkdtemp(prefix="berth-attacks-build-", dir="/var/tmp")
    ctx = HostContext.start()
    try:
        helper = build_helper(work)
        tars = {"busybox": build_busybox_tar(helper, os.path.join(work, "busybox.tar")),
                "alpine": build_alpine_tar(helper, str(ALPINE_ROOTFS), os.path.join(work, "alpine.tar"))}
        for kind, tar in tars.items():
            run = import_image(lambda *a, **kw: berth(root, *a, **kw), tar, IMAGE_NAMES[kind], work, root)
            default = run_attacks(run, IMAGE_NAMES[kind], ctx, False)
            privileged = run_attacks(run, IMAGE_NAMES[kind], ctx, True)
            remapped = run_attacks(run, IMAGE_NAMES[kind], ctx, False, ("--userns", "auto"))
            print(format_table(f"== {kind}", default, privileged, userns_auto=remapped))
            print()
    finally:
        ctx.close()
        cleanup_root(root)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
