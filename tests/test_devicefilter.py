"""cgroup v2 device rules as an eBPF program, on this host's real cgroup2 mount: the mount has
no controllers (they are bound to v1), but a CGROUP_DEVICE program attaches to any cgroup2
directory and judges every open and mknod of the processes in it, so the rules are tried on the
real kernel. The v1 devices cgroup of the test process allows everything, so every refusal
seen here is the program's."""

from __future__ import annotations

import os
import shutil
import uuid

import pytest

from engine.runtime import cgroups, devicefilter

UNIFIED = "/sys/fs/cgroup/unified"


@pytest.fixture
def v2():
    if not devicefilter.is_cgroup2(UNIFIED):
        pytest.skip("no cgroup2 mount at /sys/fs/cgroup/unified")
    parent = f"berth-test-dev-{uuid.uuid4().hex[:8]}"
    backend = cgroups.V2(parent, UNIFIED)
    try:
        yield backend
    finally:
        base = os.path.join(UNIFIED, parent)
        if os.path.isdir(base):
            for name in os.listdir(base):
                if os.path.isdir(os.path.join(base, name)):
                    os.rmdir(os.path.join(base, name))
            os.rmdir(base)


def _try_in(cgroup_dir: str, tmp_path) -> dict[str, str]:
    """Open some devices (and mknod+open a block device) from a child in ``cgroup_dir``;
    returns what each attempt gave: "ok" or the errno's name."""
    import errno
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(r)
        out = []
        try:
            with open(os.path.join(cgroup_dir, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))

            def attempt(name, fn):
                try:
                    fn()
                    out.append(f"{name}=ok")
                except OSError as e:
                    out.append(f"{name}={errno.errorcode.get(e.errno, e.errno)}")
            for dev in ("/dev/null", "/dev/zero", "/dev/ptmx", "/dev/loop-control"):
                attempt(dev, lambda dev=dev: os.close(os.open(dev, os.O_RDWR)))
            node = str(tmp_path / "loop7")
            attempt("mknod b 7:7", lambda: os.mknod(node, 0o600 | 0o060000, os.makedev(7, 7)))
            attempt("open b 7:7", lambda: os.close(os.open(node, os.O_RDONLY)))
        finally:
            os.write(w, "\n".join(out).encode())
            os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 4096):
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return dict(line.split("=", 1) for line in data.decode().splitlines())


def test_default_rules_allow_the_standard_devices_and_nothing_else(v2, tmp_path):
    v2.create("c1")
    got = _try_in(v2.path("c1"), tmp_path)
    assert got == {"/dev/null": "ok", "/dev/zero": "ok", "/dev/ptmx": "ok",
                   "/dev/loop-control": "EPERM", "mknod b 7:7": "ok", "open b 7:7": "EPERM"}


def test_a_device_rule_opens_that_device_only(v2, tmp_path):
    rules = [*cgroups.DEFAULT_DEVICE_RULES, "c 10:237 rw", "b 7:7 r"]
    v2.create("c2", device_rules=rules)
    got = _try_in(v2.path("c2"), tmp_path)
    assert got["/dev/loop-control"] == "ok" and got["open b 7:7"] == "ok"


def test_privileged_rules_allow_everything(v2, tmp_path):
    v2.create("c3", device_rules=["a *:* rwm"])
    assert set(_try_in(v2.path("c3"), tmp_path).values()) == {"ok"}


def test_the_program_is_checked_by_the_rules_it_is_built_from():
    with pytest.raises(ValueError, match="'TYPE MAJOR:MINOR ACCESS'"):
        devicefilter.compile_rules(["c 1"])
    with pytest.raises(ValueError, match="access 'x'"):
        devicefilter.compile_rules(["c 1:3 rx"])
    # 6 loads, then per rule: type, the access check (3), major, minor, return (2); then deny
    assert len(devicefilter.compile_rules(["c 1:3 rw"])) == 8 * (6 + 8 + 2)


def test_a_directory_shaped_like_a_cgroup_gets_no_program(tmp_path):
    assert not devicefilter.is_cgroup2(str(tmp_path))
    assert devicefilter.is_cgroup2(UNIFIED) or not os.path.isdir(UNIFIED)
    shutil.rmtree(tmp_path, ignore_errors=True)
