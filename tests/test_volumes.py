"""Volume verbs through the Engine and the CLI: create, ls, inspect, rm, prune; system df/prune."""

from __future__ import annotations

import json
import os

import pytest

from engine.errors import Conflict, InvalidArgument, NotFound
from engine.volumes import parse_volume, prepare_mounts
from test_mounts_kernel import make_container

A, B = "a" * 64, "b" * 64


def test_create_inspect_and_idempotent_create(engine):
    v = engine.create_volume("data1", labels={"team": "x"})
    assert os.path.isdir(v.mountpoint) and v.mountpoint.endswith("/volumes/data1/_data")
    again = engine.create_volume("data1", labels={"other": "y"})
    assert again.labels == {"team": "x"} and again.created == v.created
    info = engine.volume_inspect("data1")
    assert info["Name"] == "data1" and info["Driver"] == "local" and info["Scope"] == "local"
    assert info["Labels"] == {"team": "x"} and info["Mountpoint"] == v.mountpoint
    anon = engine.create_volume()
    assert len(anon.name) == 64 and anon.anonymous
    with pytest.raises(InvalidArgument, match="invalid characters"):
        engine.create_volume("../x")
    with pytest.raises(InvalidArgument, match='invalid option key: "size"'):
        engine.create_volume("opts", options={"size": "1g"})
    with pytest.raises(NotFound, match="No such volume: nope"):
        engine.volume("nope")


def test_ls_filters(engine):
    engine.create_volume("used-vol", labels={"app": "web"})
    engine.create_volume("free-vol", labels={"app": "db", "tier": "1"})
    make_container(engine, [parse_volume("used-vol:/d")])
    names = lambda f: sorted(v.name for v in engine.volumes(f))  # noqa: E731
    assert names(None) == ["free-vol", "used-vol"]
    assert names({"dangling": ["true"]}) == ["free-vol"]
    assert names({"dangling": ["false"]}) == ["used-vol"]
    assert names({"name": ["free"]}) == ["free-vol"]
    assert names({"label": ["app"]}) == ["free-vol", "used-vol"]
    assert names({"label": ["app=db", "tier"]}) == ["free-vol"]
    with pytest.raises(InvalidArgument, match="invalid filter 'colour'"):
        engine.volumes({"colour": ["red"]})


def test_remove_in_use_needs_force_and_never_while_running(engine):
    engine.create_volume("busy")
    make_container(engine, [parse_volume("busy:/d")], cid=A, status="exited")
    with pytest.raises(Conflict, match=r"remove busy: volume is in use - \[a{64}\]"):
        engine.remove_volume("busy")
    make_container(engine, [parse_volume("busy:/d")], cid=B, name="b", status="running")
    with pytest.raises(Conflict, match="running container bbbbbbbbbbbb"):
        engine.remove_volume("busy", force=True)
    assert engine.volume("busy")
    engine.store.write({"status": "exited"}, "containers", B, "state.json")
    engine.remove_volume("busy", force=True)
    assert not os.path.exists(os.path.join(engine.paths.root, "volumes", "busy"))
    with pytest.raises(NotFound):
        engine.remove_volume("busy")
    engine.remove_volume("busy", force=True)


def test_prune_removes_only_unused_volumes(engine):
    engine.create_volume("named-free")
    engine.create_volume("named-used")
    make_container(engine, [parse_volume("named-used:/a"), parse_volume("/anon-used")])
    prepare_mounts(engine.store, "c" * 64, [])
    free_anon = engine.create_volume().name
    with open(os.path.join(engine.volume(free_anon).mountpoint, "f"), "w") as f:
        f.write("12345")
    before = {v.name for v in engine.volumes()}
    removed, size = engine.prune_volumes()
    assert removed == [free_anon] and size == 5
    removed, size = engine.prune_volumes(all=True)
    assert removed == ["named-free"]
    assert {v.name for v in engine.volumes()} == before - {free_anon, "named-free"}


def test_system_df_counts_volumes_and_containers(engine):
    engine.create_volume("big")
    with open(os.path.join(engine.volume("big").mountpoint, "blob"), "wb") as f:
        f.write(b"x" * 3000)
    engine.create_volume("idle")
    make_container(engine, [parse_volume("big:/b")], status="running")
    df = engine.system_df()
    vols = {v["Name"]: v["UsageData"] for v in df["Volumes"]}
    assert vols == {"big": {"Size": 3000, "RefCount": 1}, "idle": {"Size": 0, "RefCount": 0}}
    assert [c["Id"] for c in df["Containers"]] == ["c" * 64]
    assert df["BuildCache"] == []


def test_cli_volume_commands(cli, root):
    assert cli("volume", "create", "--label", "k=v", "clivol").stdout == "clivol\n"
    anon = cli("volume", "create").stdout.strip()
    out = cli("volume", "ls").stdout.splitlines()
    assert out[0].split() == ["DRIVER", "VOLUME", "NAME"]
    assert sorted(line.split()[1] for line in out[1:]) == sorted([anon, "clivol"])
    assert cli("volume", "ls", "-q", "--filter", "label=k=v").stdout == "clivol\n"
    info = json.loads(cli("volume", "inspect", "clivol").stdout)
    assert info[0]["Labels"] == {"k": "v"}
    assert cli("volume", "inspect", "-f", "{{.Name}} {{.Driver}}", "clivol").stdout == \
        "clivol local\n"
    p = cli("volume", "inspect", "nosuch", check=False)
    assert p.returncode == 1 and "No such volume: nosuch" in p.stderr
    p = cli("volume", "prune", input="n\n")
    assert "WARNING! This will remove anonymous local volumes" in p.stdout
    assert "Deleted" not in p.stdout and anon in cli("volume", "ls", "-q").stdout
    p = cli("volume", "prune", "-f")
    assert p.stdout == f"Deleted Volumes:\n{anon}\n\nTotal reclaimed space: 0B\n"
    assert cli("volume", "rm", "clivol").stdout == "clivol\n"
    p = cli("volume", "rm", "clivol", check=False)
    assert p.returncode == 1 and "No such volume: clivol" in p.stderr
    p = cli("volume", "create", "x", check=False)
    assert p.returncode == 125 and "too short" in p.stderr


def test_cli_system_df_and_prune(cli, root):
    from engine import Engine
    engine = Engine(root)
    engine.create_volume("dfvol")
    with open(os.path.join(engine.volume("dfvol").mountpoint, "f"), "wb") as f:
        f.write(b"y" * 1500)
    lines = cli("system", "df").stdout.splitlines()
    assert lines[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    vol_row = next(line for line in lines if line.startswith("Local Volumes"))
    assert vol_row.split()[2:] == ["1", "0", "1.5kB", "1.5kB", "(100%)"]
    verbose = cli("system", "df", "-v").stdout
    assert "Local Volumes space usage:" in verbose
    assert any(line.split() == ["dfvol", "0", "1.5kB"] for line in verbose.splitlines())
    anon = engine.create_volume().name
    p = cli("system", "prune", "-f", "--volumes")
    assert f"Deleted Volumes:\n{anon}\n" in p.stdout
    assert p.stdout.rstrip().endswith("Total reclaimed space: 0B")
    assert [v.name for v in engine.volumes()] == ["dfvol"]
