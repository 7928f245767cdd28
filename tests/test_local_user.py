"""A local user against berth's files (issue 17, "a local user becomes root"): a real unprivileged
user, made for the test, tries to run the setuid-root files a container's root made (in its
upper dir, in a layer, in a volume), to read the records holding -e secrets, the log, blobs,
events and network records, to list the root, and to connect to the attach and API sockets.
Nothing may work. A root an older berth made (0755 directories, 0644 records) is tightened by
the next command, and --user and --userns auto containers still use binds and volumes."""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time

import pytest

from helpers import REPO, remove_root

from engine.paths import Paths

USER_PREFIX = "berthlu"     # every user this test makes is named so, and removed by it
SUID = "busybox-suid"       # busybox runs the applet its first argument names under this name
MAKE_SUID = "cp /bin/busybox {d}/{n} && chmod 4755 {d}/{n}"
CONNECT = "import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])"


@pytest.fixture(scope="module")
def user():
    """A fresh unprivileged user with a home; removed with its home afterwards."""
    for _ in range(10):
        name = USER_PREFIX + secrets.token_hex(4)
        try:
            pwd.getpwnam(name)
        except KeyError:
            break
    else:  # pragma: no cover
        pytest.fail("no free user name")
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", name], check=True,
                   capture_output=True)
    try:
        yield name
    finally:
        subprocess.run(["userdel", "--remove", name], capture_output=True)


@pytest.fixture
def root():
    """A root berth makes itself, as it makes /var/lib/berth: a path that does not exist yet,
    in a directory every user may pass (as /var/lib)."""
    parent = tempfile.mkdtemp(prefix="berth-test-lu-", dir="/var/tmp")
    os.chmod(parent, 0o755)
    d = os.path.join(parent, "root")
    try:
        yield d
    finally:
        remove_root(d)
        shutil.rmtree(parent, ignore_errors=True)


def as_user(user: str, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", user, "--", *argv], capture_output=True, text=True,
                          cwd="/", timeout=30)


def refused(user: str, *argv: str) -> bool:
    """Whether ``argv``, run as ``user``, fails for lack of permission."""
    p = as_user(user, *argv)
    return p.returncode != 0 and "Permission denied" in p.stderr


def setuid_root(path: str) -> bool:
    st = os.stat(path)
    return bool(st.st_mode & stat.S_ISUID) and st.st_uid == 0 and st.st_mode & 0o001


def content(path: str) -> str:
    with open(path, errors="replace") as f:
        return f.read()


def running(run, *args: str) -> str:
    """The id of a detached busybox container (``args``: more flags of run) that sleeps."""
    return run("run", "-d", *args, "busybox", "sleep", "1000").stdout.strip()


def test_setuid_files_made_in_a_container_are_out_of_every_users_reach(user, run, root):
    cid = running(run, "-v", "vol:/vol")
    run("exec", cid, "sh", "-c", MAKE_SUID.format(d="", n=SUID) + " && "
        + MAKE_SUID.format(d="/vol", n=SUID))
    run("commit", cid, "suid:1")
    upper = os.path.join(root, "containers", cid, "upper", SUID)
    layers = glob.glob(os.path.join(root, "layers", "*", "diff", SUID))
    volume = os.path.join(root, "volumes", "vol", "_data", SUID)
    assert len(layers) == 1
    targets = [upper, layers[0], volume]
    for path in targets:
        assert setuid_root(path), path          # the file is there, setuid root, runnable by all
    assert [p for p in targets if not refused(user, p, "whoami")] == []
    run("rm", "-f", cid)


def test_records_logs_blobs_and_events_are_root_only(user, run, root):
    secret = "s3cret-" + secrets.token_hex(8)
    cid = run("run", "-d", "-e", f"SECRET={secret}", "busybox", "sh", "-c",
              "echo $SECRET; sleep 1000").stdout.strip()
    cdir = os.path.join(root, "containers", cid)
    log = os.path.join(cdir, "ctr.log")
    deadline = time.monotonic() + 10
    while secret not in (content(log) if os.path.exists(log) else ""):
        assert time.monotonic() < deadline, "the container's log never had its line"
        time.sleep(0.05)
    blobs = glob.glob(os.path.join(root, "blobs", "sha256", "*"))
    with_secret = [os.path.join(cdir, "config.json"), os.path.join(cdir, "spec.json"), log]
    others = [os.path.join(root, "events.jsonl"), os.path.join(root, "networks", "bridge.json"),
              os.path.join(root, "images", "refs.json"), os.path.join(cdir, "state.json"),
              blobs[0]]
    for path in with_secret:
        assert secret in content(path), path
    for path in with_secret + others:
        assert os.path.getsize(path) > 0, path
    assert [p for p in with_secret + others if not refused(user, "cat", p)] == []
    dirs = [root, os.path.join(root, "containers"), cdir]
    assert [d for d in dirs if not refused(user, "ls", d)] == []
    run("rm", "-f", cid)


def test_attach_and_api_sockets_refuse_the_user(user, run, root):
    paths = Paths.from_env(root)
    api = os.path.join(paths.run, "docker.sock")
    env = {**os.environ, "BERTH_ROOT": root}
    env.pop("BERTH_RUN", None)
    service = subprocess.Popen([sys.executable, "-m", "tui.cli", "system", "service",
                                "--socket", api], cwd=REPO, env=env, start_new_session=True,
                               stderr=subprocess.DEVNULL)
    try:
        cid = running(run)
        attach = os.path.join(paths.run, "c", cid, "attach.sock")
        for path in (api, attach):
            deadline = time.monotonic() + 30
            while True:   # root can connect: the sockets are there and served
                try:
                    with socket.socket(socket.AF_UNIX) as s:
                        s.connect(path)
                    break
                except OSError:
                    assert time.monotonic() < deadline, f"nothing listens on {path}"
                    time.sleep(0.05)
            assert refused(user, "/usr/bin/python3", "-I", "-c", CONNECT, path), path
        run("rm", "-f", cid)
    finally:
        os.killpg(service.pid, 15)
        service.wait(10)


def _loosen(root: str, run_dir: str) -> None:
    """Give ``root`` the modes main's berth made: directories 0755, records 0644, blobs 0444,
    the run directory and its c/ 0755. Filesystems of containers, layers and volumes keep
    theirs (they were never berth's to set)."""
    for d, dirs, files in os.walk(root):
        os.chmod(d, 0o755)
        if os.path.basename(os.path.dirname(d)) in ("containers", "layers", "volumes"):
            dirs[:] = [s for s in dirs if s not in ("upper", "work", "rootfs", "diff", "_data")]
        for f in files:
            p = os.path.join(d, f)
            if not os.path.islink(p):
                os.chmod(p, 0o444 if os.path.basename(d) == "sha256" else 0o644)
    for d in (run_dir, os.path.join(run_dir, "c")):
        os.chmod(d, 0o755)


def test_a_root_an_older_berth_made_is_tightened_by_the_next_command(user, run, root):
    paths = Paths.from_env(root)
    cid = running(run, "-e", "SECRET=x", "-v", "vol:/vol")
    run("exec", cid, "sh", "-c", MAKE_SUID.format(d="", n=SUID))
    _loosen(root, paths.run)
    cdir = os.path.join(root, "containers", cid)
    suid = os.path.join(cdir, "upper", SUID)
    blob = glob.glob(os.path.join(root, "blobs", "sha256", "*"))[0]
    # as an older berth left it, the user reads the secrets and runs the setuid file
    assert as_user(user, "cat", os.path.join(cdir, "config.json")).returncode == 0
    assert as_user(user, suid, "true").returncode == 0

    run("ps")

    def mode(*parts: str) -> int:
        return stat.S_IMODE(os.stat(os.path.join(*parts)).st_mode)
    assert mode(root) == 0o710
    for sub in ("containers", "layers", "images", "networks", "blobs", "tmp"):
        assert mode(root, sub) == 0o700, sub
    assert mode(cdir) == 0o700
    for name in ("config.json", "spec.json", "state.json", "ctr.log"):
        assert mode(cdir, name) == 0o600, name
    for name in ("hosts", "resolv.conf", "hostname"):   # bound into the container, read there
        assert mode(cdir, name) == 0o644, name
    layers = glob.glob(os.path.join(root, "layers", "*"))
    assert layers and {mode(d) for d in layers} == {0o700}
    assert mode(blob) == 0o400
    assert mode(root, "events.jsonl") == mode(root, "networks", "bridge.json") == 0o600
    assert mode(root, "volumes") == mode(root, "volumes", "vol") == 0o701
    assert mode(root, "volumes", "vol", "meta.json") == 0o600
    assert mode(root, "volumes", "vol", "_data") == 0o755      # the volume's own: as it was
    assert mode(cdir, "upper") == 0o755                        # the container's / : as it was
    assert mode(paths.run) == 0o711 and mode(paths.run, "c") == 0o700
    assert refused(user, "cat", os.path.join(cdir, "config.json"))
    assert refused(user, suid, "true")
    # and everything still works, the running container and a new one
    assert run("exec", cid, "cat", "/etc/hostname").stdout.strip() == cid[:12]
    run("rm", "-f", cid)
    assert run("run", "--rm", "-v", "vol:/vol", "busybox", "ls", "/vol").returncode == 0


@pytest.mark.parametrize("flags", [("--user", "1000"), ("--userns", "auto"),
                                   ("--userns", "auto", "--user", "1000")],
                         ids=["user", "userns", "userns-user"])
def test_user_and_userns_containers_read_and_write_binds_and_volumes(run, root, flags):
    hostdir = tempfile.mkdtemp(prefix="berth-test-lu-bind-", dir="/var/tmp")
    try:
        with open(os.path.join(hostdir, "in"), "w") as f:
            f.write("from the host\n")
        os.chown(hostdir, 1000, 1000)
        os.chmod(hostdir, 0o755)
        run("run", "--rm", "--network", "none", "-v", "vol:/v", "busybox", "sh", "-c",
            "echo from a container > /v/in && chown 1000:1000 /v")
        out = run("run", "--rm", "--network", "none", *flags, "-v", f"{hostdir}:/b",
                  "-v", "vol:/v", "busybox", "sh", "-c",
                  "cat /b/in /v/in && echo b > /b/out && echo v > /v/out && id -u").stdout
        user_id = "1000" if "--user" in flags else "0"
        assert out == f"from the host\nfrom a container\n{user_id}\n"
        data = os.path.join(root, "volumes", "vol", "_data")
        # on disk the ids the container saw, with --userns auto too (idmapped mounts)
        for path, text in ((os.path.join(hostdir, "out"), "b\n"),
                           (os.path.join(data, "out"), "v\n")):
            assert content(path) == text
            assert os.stat(path).st_uid == int(user_id)
    finally:
        shutil.rmtree(hostdir, ignore_errors=True)


def test_only_a_root_not_at_its_mode_is_walked_and_the_umask_changes_nothing(root, tmp_path):
    from engine.store import Store
    old = os.umask(0o077)
    try:
        Store(Paths.from_env(root))
    finally:
        os.umask(old)
    paths = Paths.from_env(root)
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o710
    assert stat.S_IMODE(os.stat(os.path.join(root, "volumes")).st_mode) == 0o701
    assert stat.S_IMODE(os.stat(paths.run).st_mode) == 0o711
    record = os.path.join(root, "networks", "x.json")
    with open(record, "w") as f:
        f.write("{}")
    os.chmod(record, 0o644)
    Store(paths)     # the hot path: the root is at 0710, so nothing below it is looked at
    assert stat.S_IMODE(os.stat(record).st_mode) == 0o644
    os.chmod(root, 0o755)
    Store(paths)     # a root not at its mode is walked once, and set to it last
    assert stat.S_IMODE(os.stat(record).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o710
    # a run directory BERTH_RUN names may be shared: berth only sets the mode of one it made
    shared = tmp_path / "run"
    shared.mkdir(mode=0o755)
    os.chmod(root, 0o755)
    Store(Paths.from_env(root, str(shared)))
    assert stat.S_IMODE(os.stat(shared).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(shared / "c").st_mode) == 0o700


def test_layer_records_have_the_record_mode_whatever_the_umask(root):
    """Every way a layer is made (load, import, commit) writes its meta.json 0600, as every
    other record, under the usual umask."""
    from helpers import ALPINE_ROOTFS, BUSYBOX_MUSL, berth
    old = os.umask(0o022)
    try:
        berth(root, "load", "-i", str(BUSYBOX_MUSL))
        berth(root, "import", str(ALPINE_ROOTFS), "alpine:3.20")
        cid = berth(root, "run", "-d", "busybox:1.38.0-musl", "sh", "-c",
                    "echo x > /new; sleep 1000").stdout.strip()
        berth(root, "commit", cid, "mine:1")
        berth(root, "rm", "-f", cid)
    finally:
        os.umask(old)
    metas = glob.glob(os.path.join(root, "layers", "*", "meta.json"))
    assert len(metas) == 3   # busybox's layer, alpine's, the committed one
    assert {p: oct(stat.S_IMODE(os.stat(p).st_mode)) for p in metas} == \
        {p: oct(0o600) for p in metas}
