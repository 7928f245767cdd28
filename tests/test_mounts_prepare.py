"""prepare_mounts and release: what a container's mounts resolve to, and what goes with it."""

from __future__ import annotations

import json
import os
import shutil
import tempfile

import pytest

from engine.errors import InvalidArgument, NotFound
from engine.volumes import parse_mount, parse_tmpfs, parse_volume, prepare_mounts, release
from engine.volumes.mounts import MS_BIND, MS_RDONLY, MS_REC
from engine.volumes.store import mounts_under
from test_mounts_kernel import make_container

A, B, C = "a" * 64, "b" * 64, "d" * 64


def events(engine, action):
    try:
        with open(engine.paths.events_file) as f:
            lines = [json.loads(x) for x in f]
    except FileNotFoundError:
        return []
    return [e for e in lines if e["type"] == "volume" and e["action"] == action]


def test_anonymous_volumes_are_named_once_and_kept_across_starts(engine):
    c = make_container(engine, [parse_volume("/data")], image_volumes=["/var/db", "/data"])
    first = prepare_mounts(engine.store, c, [])
    names = sorted(p["name"] for p in first)
    assert len(names) == 2 and all(len(n) == 64 for n in names)
    assert {p["target"] for p in first} == {"/data", "/var/db"}
    assert sorted(v.name for v in engine.volumes()) == names
    assert all(v.anonymous and "com.docker.volume.anonymous" in v.labels for v in engine.volumes())
    again = prepare_mounts(engine.store, c, [])
    assert sorted(p["name"] for p in again) == names
    assert len(events(engine, "create")) == 2 and len(events(engine, "mount")) == 4


def test_prepared_dicts_for_each_kind(engine):
    src = tempfile.mkdtemp(prefix="berth-bind-", dir="/var/tmp")
    try:
        f = os.path.join(src, "file")
        open(f, "w").close()
        c = make_container(engine, [parse_volume("named:/n:ro"), parse_volume(f"{src}:/b"),
                                    parse_mount(f"type=bind,src={f},dst=/etc/f"),
                                    parse_tmpfs("/t:ro,size=1m")])
        p = {x["target"]: x for x in prepare_mounts(engine.store, c, [])}
        assert p["/n"]["type"] == "volume" and p["/n"]["read_only"]
        assert p["/n"]["source"] == os.path.join(engine.paths.root, "volumes/named/_data")
        assert p["/b"]["flags"] == MS_BIND | MS_REC and not p["/b"]["file"]
        assert p["/etc/f"]["file"] and p["/etc/f"]["source"] == f
        assert p["/t"]["source"] == "tmpfs" and p["/t"]["flags"] & MS_RDONLY
        assert p["/t"]["data"] == "size=1m"
        json.dumps(list(p.values()))  # plain data, to cross the fork or a pipe
    finally:
        shutil.rmtree(src)




def test_missing_bind_source(engine):
    parent = tempfile.mkdtemp(prefix="berth-bind-", dir="/var/tmp")
    try:
        made = os.path.join(parent, "made", "here")
        c = make_container(engine, [parse_volume(f"{made}:/x")])
        prepare_mounts(engine.store, c, [])
        assert os.path.isdir(made)
        gone = os.path.join(parent, "gone")
        os.mkdir(gone)
        c2 = make_container(engine, [parse_mount(f"type=bind,src={gone},dst=/x")], cid=B, name="b")
        os.rmdir(gone)
        with pytest.raises(InvalidArgument, match="bind source path does not exist"):
            prepare_mounts(engine.store, c2, [])
        assert not os.path.exists(gone)
    finally:
        shutil.rmtree(parent)


def test_duplicate_mount_point_is_refused(engine):
    c = make_container(engine, [parse_volume("one:/x"), parse_tmpfs("/x/")])
    with pytest.raises(InvalidArgument, match="Duplicate mount point: /x"):
        prepare_mounts(engine.store, c, [])


def test_volumes_from_takes_volumes_and_binds_not_tmpfs_with_mode(engine):
    src = tempfile.mkdtemp(prefix="berth-bind-", dir="/var/tmp")
    try:
        make_container(engine, [parse_volume("shared:/shared"), parse_volume("/anon"),
                                parse_volume(f"{src}:/bind"), parse_tmpfs("/tmp")],
                       cid=A, name="data")
        c2 = make_container(engine, [parse_volume("own:/shared")], cid=B, name="app",
                            volumes_from=["data:ro"])
        p = {x["target"]: x for x in prepare_mounts(engine.store, c2, [])}
        assert set(p) == {"/shared", "/anon", "/bind"}
        assert p["/shared"]["name"] == "own"           # its own mount wins the target
        assert p["/anon"]["read_only"] and p["/bind"]["read_only"]
        assert p["/bind"]["source"] == src
        # the same anonymous volume the data container has
        data_anon = [m for m in engine.store.read("containers", A, "mounts.json")["mounts"]
                     if m["target"] == "/anon"][0]["source"]
        assert p["/anon"]["name"] == data_anon and not p["/anon"]["copy_up"]
        c3 = make_container(engine, cid=C, name="c3", volumes_from=[A[:10]])
        p3 = {x["target"]: x for x in prepare_mounts(engine.store, c3, [])}
        assert not p3["/shared"]["read_only"] and p3["/shared"]["name"] == "shared"
    finally:
        shutil.rmtree(src)


def test_volumes_from_unknown_container(engine):
    c = make_container(engine, volumes_from=["nosuch"])
    with pytest.raises(NotFound, match="No such container: nosuch"):
        prepare_mounts(engine.store, c, [])


def test_release_removes_only_anonymous_volumes_nobody_else_uses(engine):
    make_container(engine, [parse_volume("named:/n"), parse_volume("/anon1"),
                            parse_volume("/anon2")], cid=A, name="one")
    prepare_mounts(engine.store, A, [])
    anon = {m["target"]: m["source"]
            for m in engine.store.read("containers", A, "mounts.json")["mounts"]}
    # a second container shares /anon2 through --volumes-from
    make_container(engine, cid=B, name="two", volumes_from=["one"])
    prepare_mounts(engine.store, B, [])
    release(engine.store, A)                      # the container stopped
    assert len(events(engine, "unmount")) == 3
    release(engine.store, A)                      # idempotent
    assert len(events(engine, "unmount")) == 3
    shutil.rmtree(engine.paths.container_dir(B))   # "two" removed without -v
    removed = release(engine.store, A, remove_anonymous=True)
    assert sorted(removed) == sorted([anon["/anon1"], anon["/anon2"]])
    assert [v.name for v in engine.volumes()] == ["named"]
    assert len(events(engine, "destroy")) == 2


def test_release_keeps_an_anonymous_volume_another_container_uses(engine):
    make_container(engine, [parse_volume("/anon")], cid=A, name="one")
    prepare_mounts(engine.store, A, [])
    make_container(engine, cid=B, name="two", volumes_from=["one"])
    prepare_mounts(engine.store, B, [])
    assert release(engine.store, A, remove_anonymous=True) == []
    assert len(engine.volumes()) == 1


def test_device_volume_is_mounted_on_its_data_dir_and_released(engine):
    engine.create_volume("ramvol", options={"type": "tmpfs", "device": "tmpfs", "o": "size=1m"})
    c = make_container(engine, [parse_volume("ramvol:/r")], status="running")
    data = engine.volume("ramvol").mountpoint
    try:
        prepare_mounts(engine.store, c, [])
        assert mounts_under(data)
        release(engine.store, c)
        assert not mounts_under(data)
    finally:
        from engine.volumes.store import unmount_all
        unmount_all(data)


def test_inspect_mounts_are_docker_shaped_and_resolved(engine):
    from engine.volumes import inspect_mounts
    c = make_container(engine, [parse_volume("iv:/data:ro"), parse_volume("/anon"),
                                parse_tmpfs("/t")])
    before = inspect_mounts(engine.store, c)
    assert [m["Name"] for m in before if m["Type"] == "volume"] == ["iv", ""]
    prepare_mounts(engine.store, c, [])
    after = {m["Destination"]: m for m in inspect_mounts(engine.store, c)}
    assert after["/data"] == {"Type": "volume", "Name": "iv", "Driver": "local", "Mode": "ro",
                              "Source": engine.volume("iv").mountpoint, "Destination": "/data",
                              "RW": False, "Propagation": ""}
    assert len(after["/anon"]["Name"]) == 64 and after["/anon"]["RW"]
    assert after["/t"]["Type"] == "tmpfs"


def test_volumes_from_cycle_is_an_error_not_a_recursion(engine):
    make_container(engine, [parse_volume("/x")], cid=A, name="one", volumes_from=["two"])
    make_container(engine, [parse_volume("/y")], cid=B, name="two", volumes_from=["one"])
    with pytest.raises(InvalidArgument, match="leads back to this container"):
        prepare_mounts(engine.store, A, [])
    with pytest.raises(InvalidArgument, match="leads back"):
        prepare_mounts(engine.store, make_container(engine, cid=C, name="self",
                                                    volumes_from=["self"]), [])
