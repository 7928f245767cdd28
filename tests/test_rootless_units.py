"""The rootless parts that need no user of their own: the delegated cgroup v2 subtree against a
directory tree shaped like a v2 hierarchy (this host is v1), the limits refused without one,
the subordinate id ranges, the /proc stats, and the XDG directories of a user."""

from __future__ import annotations

import os
import subprocess

import pytest

from engine.models import Resources
from engine.rootless import cgroups as rcg
from engine.rootless import idmap

UID = 4321


def _v2_tree(tmp_path, owner: int, controllers: str = "cpuset cpu io memory pids") -> str:
    """/sys/fs/cgroup as systemd lays it out on a v2 host, with user@UID.service delegated
    (owned by ``owner``)."""
    mount = tmp_path / "cgroup2"
    service = mount / "user.slice" / f"user-{UID}.slice" / f"user@{UID}.service"
    service.mkdir(parents=True)
    for d in (mount, mount / "user.slice", service.parent, service):
        (d / "cgroup.controllers").write_text(controllers + "\n")
        (d / "cgroup.subtree_control").write_text("")
        (d / "cgroup.procs").write_text("")
    for p in (service, service / "cgroup.procs", service / "cgroup.subtree_control"):
        os.chown(p, owner, owner)
    return str(mount)


def test_delegated_subtree_gets_the_v2_backend_and_its_limits(tmp_path):
    mount = _v2_tree(tmp_path, owner=UID)
    rel = f"user.slice/user-{UID}.slice/user@{UID}.service"
    inside = f"/{rel}/app.slice/berth.scope"
    assert rcg.delegated_subtree(mount, UID, owner=UID, own_cgroup=inside) == rel
    # from a login session's scope the subtree can't be reached: no delegation for berth
    assert rcg.delegated_subtree(mount, UID, owner=UID,
                                 own_cgroup=f"/user.slice/user-{UID}.slice/session-3.scope") is None
    cg = rcg.backend("berth-1a2b", mount, UID, str(tmp_path / "root"), owner=UID,
                     own_cgroup=inside)
    assert cg.version == 2
    cg.create("c1", Resources(memory=64 << 20, nano_cpus=500_000_000, pids_limit=20))
    d = os.path.join(mount, rel, "berth-1a2b", "c1")
    assert cg.path("c1") == d
    with open(os.path.join(d, "memory.max")) as f:
        assert f.read() == str(64 << 20)
    with open(os.path.join(d, "cpu.max")) as f:
        assert f.read() == "50000 100000"
    with open(os.path.join(d, "pids.max")) as f:
        assert f.read() == "20"
    # controllers enabled down the user's own levels
    with open(os.path.join(mount, rel, "cgroup.subtree_control")) as f:
        assert "+memory" in f.read()


@pytest.mark.parametrize("owner, controllers", [(0, "cpu memory pids"), (UID, "")])
def test_no_delegation_means_no_cgroup_and_limits_refused(tmp_path, owner, controllers):
    """Not the user's (systemd didn't delegate it), or no controllers: no v2 backend."""
    mount = _v2_tree(tmp_path, owner=owner, controllers=controllers)
    inside = f"/user.slice/user-{UID}.slice/user@{UID}.service/app.slice/berth.scope"
    assert rcg.delegated_subtree(mount, UID, owner=UID, own_cgroup=inside) is None
    cg = rcg.backend("berth-1a2b", mount, UID, str(tmp_path / "root"), owner=UID,
                     own_cgroup=inside)
    assert cg.version == 0
    cg.create("c1", Resources())              # nothing to make, nothing refused
    from engine.errors import HostError
    with pytest.raises(HostError, match=r"^--memory needs cgroup delegation"):
        cg.create("c1", Resources(memory=1 << 20))
    with pytest.raises(HostError, match=r"^pause needs cgroup delegation"):
        cg.freeze("c1")
    assert rcg.limit_flags(Resources(cpuset_cpus="0", blkio_weight=300)) == \
        ["--cpuset-cpus", "--blkio-weight"]


def test_no_cgroup_finds_a_containers_processes_by_pid_namespace(tmp_path):
    """What stands for cgroup.procs: every process in pid 1's pid namespace, from /proc; and
    the stats summed over them."""
    from engine.rootless.procstats import proc_totals
    child = subprocess.Popen(["unshare", "--pid", "--fork", "--kill-child", "sh", "-c",
                              "sleep 60 & sleep 60 & wait"])
    try:
        import time
        deadline = time.monotonic() + 10
        while True:
            kids = _children(child.pid)
            pid1 = kids[0] if kids else 0
            members = rcg.pidns_members(pid1) if pid1 else []
            if len(members) == 3:
                break
            assert time.monotonic() < deadline, members
            time.sleep(0.02)
        assert members[0] == pid1 and os.getpid() not in members
        raw = proc_totals(members)
        assert raw["pids"] == 3 and raw["mem"] > 0 and raw["mem_max"] is None
    finally:
        child.kill()
        child.wait()


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def test_subordinate_ranges_by_name_or_uid(tmp_path):
    f = tmp_path / "subuid"
    f.write_text("alice:100000:65536\n# a comment\nbad line\n1001:200000:131072\nbob:0:10\n")
    assert idmap.subordinate(str(f), "alice", 1000) == (100000, 65536)
    assert idmap.subordinate(str(f), "carol", 1001) == (200000, 65536)    # capped to 65536
    assert idmap.subordinate(str(f), "bob", 1002) is None                  # a range at 0
    assert idmap.subordinate(str(tmp_path / "missing"), "alice", 1000) is None
    m = idmap.IdMaps(1000, 1000, "alice")
    m.subuid, m.subgid = (100000, 65536), (100000, 65536)
    assert m.uid_map == [(0, 1000, 1), (1, 100000, 65536)]
    m.subgid = None                        # both or neither: a single id then
    assert m.uid_map == [(0, 1000, 1)] and m.gid_map == [(0, 1000, 1)]


@pytest.mark.parametrize("env, root, run", [
    ({"XDG_DATA_HOME": "/d", "XDG_RUNTIME_DIR": "/r"}, "/d/berth", "/r/berth"),
    ({"XDG_RUNTIME_DIR": "/r"}, "/h/.local/share/berth", "/r/berth"),
    ({"XDG_RUNTIME_DIR": "/r", "BERTH_ROOT": "/x", "BERTH_RUN": "/y"}, "/x", "/y"),
    ({"XDG_RUNTIME_DIR": "/r", "BERTH_ROOT": "/x"}, "/x", "/r/berth-{suffix}"),
])
def test_a_users_directories(monkeypatch, env, root, run):
    """Without root: the XDG directories, BERTH_ROOT and BERTH_RUN still winning (a user's
    run without XDG_RUNTIME_DIR is tried by test_rootless.py, as a real user)."""
    from engine import paths
    for k in ("XDG_DATA_HOME", "XDG_RUNTIME_DIR", "BERTH_ROOT", "BERTH_RUN", "BERTH_USER_RUN"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("HOME", "/h")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(paths, "_rootless", [True])
    p = paths.Paths.from_env()
    assert (p.root, p.run, p.run_mode) == (root, run.format(suffix=p.suffix), 0o700)
    monkeypatch.setattr(paths, "_rootless", [False])
    monkeypatch.delenv("BERTH_RUN", raising=False)
    assert paths.Paths.from_env("/var/lib/berth").run == "/run/berth"
