"""Temporary files and directories that killed writers left, in every kind of directory of a
root: `system check` names each once (whichever area owns its directory), `--repair` and
`system prune` remove them, and nothing a live writer is writing, nor anything of a container's,
a layer's or a volume's own files, is touched."""

from __future__ import annotations

import os
import subprocess
import time

import pytest


@pytest.fixture
def dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def _plant(root: str, cid: str, dead: int) -> tuple[list[str], list[str]]:
    """(stray, kept): paths relative to ``root`` of what a killed writer left and of what must
    stay, made under ``root``."""
    me = os.getpid()
    layer = "layers/" + sorted(os.listdir(os.path.join(root, "layers")))[0]
    blob = "blobs/sha256/" + "ab" * 32
    stray = [f"containers/{cid}/state.json.tmp.{dead}.1", f"containers/{cid}/ctr.log.tmp.{dead}",
             f"containers/{'cd' * 32}.tmp.{dead}.2/",        # a create or rm killed half-way
             f"volumes/vol/meta.json.tmp.{dead}.3", f"volumes/gone.tmp.{dead}.4/",
             f"networks/berth.json.tmp.{dead}.5", f"cache/seccomp/{'ef' * 32}.bpf.tmp.{dead}.6",
             f"userns/id-{cid}.{dead}.tmp", f"x.json.tmp.{dead}.7",
             f"images/refs.json.tmp.{dead}.8", f"{blob}.tmp.{dead}.9",
             f"{layer}/meta.json.tmp.{dead}.10",
             # a pid that runs again, but a process that started after the file was written
             f"networks/old.json.tmp.{me}.11"]
    kept = [f"containers/{cid}/config.json.tmp.{me}.12",      # its writer is at work
            f"containers/{cid}/upper/data.tmp.{dead}.13",      # the container's own
            f"{layer}/diff/data.tmp.{dead}.14",                # the image's own
            f"volumes/vol/_data/data.tmp.{dead}.15"]           # the volume's own
    for rel in stray + kept:
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path.rstrip("/")), exist_ok=True)
        if rel.endswith("/"):
            os.makedirs(os.path.join(path, "upper", "deep"))
            path = os.path.join(path, "upper", "deep", "file")
        with open(path, "w") as f:
            f.write("{}")
    long_ago = time.time() - 10 * 365 * 86400
    os.utime(os.path.join(root, stray[-1]), (long_ago, long_ago))
    return stray, kept


def _left(root: str, paths: list[str]) -> list[str]:
    return [p for p in paths if os.path.exists(os.path.join(root, p))]


def test_each_stray_temp_is_checked_once_and_repair_and_prune_remove_them(root, cli, busybox,
                                                                          dead_pid):
    cid = cli("run", "-d", "-v", "vol:/vol", str(busybox), "sleep", "1000").stdout.strip()
    cli("run", "-d", "--userns", "auto", str(busybox), "sleep", "1000")
    stray, kept = _plant(root, cid, dead_pid)
    try:
        found = cli("system", "check", check=False)
        assert found.returncode == 1, found.stdout
        rows = found.stdout.splitlines()
        for rel in stray:
            name = rel.rstrip("/")
            if rel.startswith(("containers/cdcd", "volumes/gone")):
                name = os.path.basename(name)   # named as the container or volume it was
            assert len([r for r in rows if f" {name} " in r]) == 1, (rel, found.stdout)
        assert not [r for r in rows if any(os.path.basename(k) in r for k in kept)], found.stdout
        assert len(rows) == 1 + len(stray) + 2, found.stdout   # header, one each, hint
        assert _left(root, stray) == stray   # checking alone removes nothing

        fixed = cli("system", "check", "--repair", check=False)
        assert _left(root, stray) == [], fixed.stdout
        assert _left(root, kept) == kept
        assert cli("system", "check").stdout.endswith("no problems found\n")

        _plant(root, cid, dead_pid)
        cli("system", "prune", "-f")
        assert _left(root, stray) == []
        assert _left(root, kept) == kept
        assert cli("ps", "-q").stdout.split() and cli("images", "-q").stdout.split()
    finally:
        for rel in kept:
            if os.path.exists(os.path.join(root, rel)):
                os.unlink(os.path.join(root, rel))


def test_the_image_stores_temps_are_kept_while_a_berth_adds_images(root, cli, busybox,
                                                                  dead_pid):
    """The image store's temporaries are judged under its locks: while a berth adds images
    (holds the busy lock) none is removed, whatever pid its name carries."""
    from engine.paths import Paths
    from engine.store import Store
    from engine.images.store import ImageStore
    blob = os.path.join(root, "blobs", "sha256", "ab" * 32 + f".tmp.{dead_pid}.1")
    with open(blob, "w") as f:
        f.write("x")
    with ImageStore(Store(Paths.from_env(root))).busy():
        cli("system", "prune", "-a", "-f")
        found = cli("system", "check", check=False)
        assert found.returncode == 0 and found.stdout.endswith("no problems found\n"), found
        assert os.path.exists(blob)
    found = cli("system", "check", check=False).stdout
    assert os.path.relpath(blob, root) in found
    cli("system", "prune", "-f")
    assert not os.path.exists(blob)


def test_a_temp_renamed_into_place_before_its_writer_exited_is_not_stray(tmp_path, dead_pid):
    """A check that listed a temporary file, then found its writer gone, may have listed it
    just before the writer renamed it into place and exited: what is no longer there was not
    left by a kill (system check once reported such a bridge.json.tmp under load)."""
    from engine import temps
    from engine.paths import Paths
    from engine.store import Store
    store = Store(Paths.from_env(str(tmp_path / "root"), str(tmp_path / "run")))
    networks = store.path("networks")
    os.makedirs(networks, exist_ok=True)
    left = os.path.join(networks, f"left.json.tmp.{dead_pid}.1")
    renamed = os.path.join(networks, f"bridge.json.tmp.{dead_pid}.2")
    for path in (left, renamed):
        with open(path, "w") as f:
            f.write("{}")
    listed = list(os.scandir(networks))
    os.rename(renamed, os.path.join(networks, "bridge.json"))   # then the writer exits
    boot = temps._boot_time()
    gone = [e.name for e in listed if temps._writer_pid(e.name) and temps._gone(
        temps._writer_pid(e.name), e, boot)]
    assert gone == [os.path.basename(left)]
