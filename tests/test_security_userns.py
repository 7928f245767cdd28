"""--userns auto pieces on the real kernel: id ranges, and an overlay over idmapped layers that a
user namespace's root sees as its own while the host sees an unprivileged uid."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import traceback

import pytest

from engine.models import ContainerConfig
from engine.runtime import linux, security, userns


@pytest.fixture
def tmpdir_host():
    d = tempfile.mkdtemp(prefix="berth-test-userns-", dir="/var/tmp")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_ranges_are_distinct_stable_and_released(tmpdir_host):
    a = userns.allocate(tmpdir_host, "a" * 64)
    b = userns.allocate(tmpdir_host, "a" * 63 + "b")    # same hash start: the next slot
    assert a != b and a >= userns.RANGE_BASE and b >= userns.RANGE_BASE
    assert abs(a - b) >= userns.RANGE_SIZE
    assert userns.allocate(tmpdir_host, "a" * 64) == a   # stable across starts
    userns.release(tmpdir_host, "a" * 64)
    userns.release(tmpdir_host, "a" * 64)                # idempotent
    assert userns.allocate(tmpdir_host, "c" * 8 + "a" * 56) != b


def test_prepare_records_the_range(tmpdir_host):
    spec = security.prepare(ContainerConfig(image="x", userns="auto"),
                            cache_dir=os.path.join(tmpdir_host, "cache"), cid="f" * 64, root=tmpdir_host)
    u = spec["userns"]
    assert u["mode"] == "auto" and u["size"] == 65536 and u["host_uid"] >= userns.RANGE_BASE
    assert security.prepare(ContainerConfig(image="x"), cache_dir=os.path.join(tmpdir_host, "cache"),
                            cid="f" * 64, root=tmpdir_host)["userns"] == {"mode": "host"}


def test_container_root_is_unprivileged_on_the_host_and_owns_its_files(tmpdir_host):
    t = tmpdir_host
    for d in ("layer/etc", "c/upper", "c/work", "c/rootfs"):
        os.makedirs(f"{t}/{d}")
    with open(f"{t}/c/hostname", "w") as f:
        f.write("ctr\n")
    with open(f"{t}/layer/etc/rootfile", "w") as f:
        f.write("image file owned by root\n")
    with open(f"{t}/layer/etc/userfile", "w") as f:
        f.write("image file owned by 1000\n")
    os.chown(f"{t}/layer/etc/userfile", 1000, 1000)
    host_uid = 300000
    report_r, report_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            userns.enter({"rootfs": f"{t}/c/rootfs", "lower": [f"{t}/layer"], "upper": f"{t}/c/upper",
                          "work": f"{t}/c/work", "cdir": f"{t}/c",
                          "security": {"userns": {"mode": "auto", "host_uid": host_uid, "size": 65536}}})
            # namespaces made now belong to the user namespace: its root may use them
            linux.unshare(linux.CLONE_NEWUTS | linux.CLONE_NEWNS)
            linux.sethostname("inside")
            out = {"uid": os.getuid(), "etc_hostname": open("etc/hostname").read(), "root_owner": os.stat("etc/rootfile").st_uid,
                   "user_owner": os.stat("etc/userfile").st_uid}
            with open("created", "w") as f:
                f.write("new\n")
            os.unlink("etc/rootfile")             # a whiteout in the upper layer
            try:
                os.mknod("dev-null", 0o20666, os.makedev(1, 3))
                out["mknod"] = "allowed"
            except PermissionError:
                out["mknod"] = "EPERM"
            try:
                with open("/proc/sys/kernel/domainname", "w") as f:   # host-global via host /proc
                    f.write("x")
                out["host_proc_sys"] = "written"
            except OSError as e:
                out["host_proc_sys"] = e.strerror
            os.write(report_w, json.dumps(out).encode() + b"\n")
            os.read(go_r, 1)
        except BaseException:
            os.write(report_w, json.dumps({"error": traceback.format_exc()}).encode() + b"\n")
        os._exit(0)
    os.close(report_w)
    os.close(go_r)
    try:
        got = json.loads(os.read(report_r, 65536))
        assert "error" not in got, got.get("error")
        with open(f"/proc/{pid}/status") as f:
            status = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    finally:
        os.write(go_w, b"x")
        os.waitpid(pid, 0)
        os.close(report_r)
        os.close(go_w)
    # inside: root, and the image's files keep their owners
    assert got["etc_hostname"] == "ctr\n"
    assert got["uid"] == 0 and got["root_owner"] == 0 and got["user_owner"] == 1000
    assert got["mknod"] == "EPERM"
    assert got["host_proc_sys"] in ("Permission denied", "Read-only file system")
    # on the host: an unprivileged uid, as `ps` shows it
    assert status["Uid"].split() == [str(host_uid)] * 4
    # on disk: what the container's root wrote is owned by 0, as without --userns; the layer
    # is untouched and the removal is a whiteout in the upper directory
    assert os.stat(f"{t}/c/upper/created").st_uid == 0
    assert os.path.exists(f"{t}/layer/etc/rootfile")
    wh = os.stat(f"{t}/c/upper/etc/rootfile", follow_symlinks=False)
    assert os.major(wh.st_rdev) == 0 and os.minor(wh.st_rdev) == 0
    assert os.uname().nodename != "inside"
