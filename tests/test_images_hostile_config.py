"""Hostile image configs (issue 17, bounds): an image is built here, as an OCI archive around
busybox's real layer, with values in its config that no container can use. Through load,
through a pull from a real registry, and at create for an image an older berth let in: what
can be left out is left out with a WARNING naming it, and the rest of the image runs; what
can't (a config of the wrong JSON types, a NUL in a command or user) is refused in one line
with nothing stored. The Docker API lists a container of such an image."""

from __future__ import annotations

import json
import os

import pytest

from helpers import berth
from hostile_image import busybox_with
from registry_server import registry

# values that are left out, each with the words its warning says
LEFT_OUT = {"ExposedPorts": ({"web/tcp": {}, "70000/udp": {}, "80": {}, "81/tcp": {}},
                             ['invalid exposed port "web/tcp"', 'port "70000/udp"']),
            "Env": (["PATH=/bin", "NOEQUALS", "A=b\u0000c", "=x", "KEEP=1"],
                    ["NOEQUALS: it is not KEY=VALUE", "A=b\\x00c", "variable: =x"]),
            "Volumes": ({"rel/dir": {}, "/": {}, "/data": {}, "/a\u0000b": {}},
                        ["'rel/dir' mount path must be absolute", "destination can't be '/'",
                         "/a\\x00b"]),
            "Labels": ({"ok": "1", "a b": "x", "nul": "v\u0000"},
                       ["label 'a b' contains whitespaces", "label 'nul'"]),
            "StopSignal": ("SIGNOPE", ["invalid signal: SIGNOPE"]),
            "Healthcheck": ({"Test": "curl", "Interval": -1}, ["invalid healthcheck"])}
# configs that can't be used at all, and what the refusal says
REFUSED = [({"Env": "A=1"}, "Env is a string, not a list"),
           ({"ExposedPorts": ["80/tcp"]}, "ExposedPorts is a list, not an object"),
           ({"Cmd": ["sh", "-c", "true\u0000"]}, "Cmd holds a NUL byte"),
           ({"User": "root\u0000x"}, "User root\\x00x holds a NUL byte"),
           ({"User": "nobody\nroot"}, "User nobody\\nroot is no user name"),
           ({"WorkingDir": 7}, "WorkingDir is a number, not a string"),
           ({"Labels": {"n": 5}}, "Labels has a value that is not a string")]


def _hostile(tmp_path, tag: str = "evil:1") -> tuple[str, str]:
    data, iid = busybox_with(tag=tag, **{k: v for k, (v, _) in LEFT_OUT.items()})
    path = str(tmp_path / "evil.tar")
    with open(path, "wb") as f:
        f.write(data)
    return path, iid


def _warned(p, name: str) -> None:
    warnings = [line for line in p.stderr.splitlines() if line.startswith("WARNING: ")]
    for _, words in LEFT_OUT.values():
        for w in words:
            assert [line for line in warnings if w in line and f"image {name}:" in line], \
                (w, p.stderr)
    assert "Traceback" not in p.stderr


def _store(root: str) -> tuple:
    return tuple(sorted(os.listdir(os.path.join(root, d))) for d in ("images", "layers"))


def _runs_without_what_was_left_out(root: str, ref: str) -> str:
    cid = berth(root, "run", "-d", ref, "sleep", "1000").stdout.strip()
    config = json.loads(berth(root, "inspect", cid).stdout)[0]["Config"]
    assert sorted(config["ExposedPorts"]) == ["80/tcp", "81/tcp"]
    assert config["Env"] == ["PATH=/bin", "KEEP=1"]
    assert sorted(config["Volumes"]) == ["/data"]
    assert config["Labels"] == {"ok": "1"}
    assert "StopSignal" not in config   # the bad one left out; dockerd omits an unset signal
    env = berth(root, "exec", cid, "env").stdout.split()
    assert "KEEP=1" in env and "NOEQUALS" not in env
    return cid


def test_load_leaves_out_what_cant_be_used_and_the_api_lists_its_container(root, tmp_path):
    from test_api_bounds import request
    from test_api_support import start_service, stop_service
    path, iid = _hostile(tmp_path)
    loaded = berth(root, "load", "-i", path)
    assert loaded.stdout.strip() == "Loaded image: evil:1"
    _warned(loaded, "evil:1")
    run = berth(root, "create", "evil:1")
    _warned(run, "evil:1")   # told again where create merges the config
    cid = _runs_without_what_was_left_out(root, "evil:1")
    proc, sock = start_service(root, "--timeout", "0")
    try:
        status, listed = request(sock, "GET", "/containers/json")
        assert status == 200, listed
        (mine,) = [c for c in listed if c["Id"] == cid]
        assert sorted((p["PrivatePort"], p["Type"]) for p in mine["Ports"]) == \
            [(80, "tcp"), (81, "tcp")]
        status, made = request(sock, "POST", "/containers/create",
                               {"Image": "evil:1", "Cmd": ["sleep", "1000"]})
        assert status == 201, made
        status, _ = request(sock, "POST", f"/containers/{made['Id']}/start")
        assert status == 204
        status, listed = request(sock, "GET", "/containers/json")
        assert status == 200 and len(listed) == 2, listed
        # a container recorded before create checked its image's ports
        config = os.path.join(root, "containers", cid, "config.json")
        with open(config) as f:
            doc = json.load(f)
        doc["exposed_ports"].append("web/tcp")
        with open(config + ".new", "w") as f:
            json.dump(doc, f)
        os.rename(config + ".new", config)
        status, listed = request(sock, "GET", "/containers/json")
        assert status == 200 and len(listed) == 2, listed
    finally:
        stop_service(proc)
    berth(root, "rm", "-f", cid, made["Id"])


@pytest.mark.parametrize("section,words", REFUSED)
def test_load_refuses_a_config_that_cant_be_used_at_all(root, tmp_path, section, words):
    data, _ = busybox_with(**section)
    path = str(tmp_path / "bad.tar")
    with open(path, "wb") as f:
        f.write(data)
    before = _store(root) if os.path.isdir(os.path.join(root, "images")) else None
    p = berth(root, "load", "-i", path, check=False)
    assert p.returncode == 125 and p.stderr.count("\n") == 1, p
    assert p.stderr.startswith("berth: image evil:1 has an invalid config: ") and words in \
        p.stderr, p.stderr
    assert _store(root) == (before or ([], [])), "nothing is stored"
    assert [n for n in os.listdir(os.path.join(root, "blobs", "sha256"))] == []


def test_pull_leaves_out_what_cant_be_used_and_refuses_what_cant_be_run(root, tmp_path):
    path, _ = _hostile(tmp_path)
    bad, _ = busybox_with(User="x\u0000")
    bad_path = str(tmp_path / "bad.tar")
    with open(bad_path, "wb") as f:
        f.write(bad)
    with registry() as reg:
        reg.skopeo_copy_in(f"oci-archive:{path}", "library/evil:1", "--preserve-digests")
        reg.skopeo_copy_in(f"oci-archive:{bad_path}", "library/bad:1", "--preserve-digests")
        ref = f"{reg.host}/library/evil:1"
        pulled = berth(root, "pull", ref)
        _warned(pulled, ref)
        berth(root, "rm", "-f", _runs_without_what_was_left_out(root, ref))
        before = _store(root)
        p = berth(root, "pull", f"{reg.host}/library/bad:1", check=False)
    assert p.returncode == 125 and "has an invalid config: User x\\x00 holds a NUL" in \
        p.stderr, p
    assert p.stderr.count("\n") == 1 and "Traceback" not in p.stderr
    assert _store(root) == before   # refused before its layers were fetched or unpacked


def test_create_checks_the_config_of_an_image_an_older_berth_let_in(root, tmp_path, busybox):
    """The image record's copy of the config is what create merges: one an older berth
    recorded with hostile values is left out there too, or refused."""
    record = os.path.join(root, "images", busybox.id[7:] + ".json")
    with open(record) as f:
        doc = json.load(f)

    def write(doc: dict) -> None:   # a new file: the record is a hard link to a template's
        with open(record + ".new", "w") as f:
            json.dump(doc, f)
        os.rename(record + ".new", record)
    doc["config"]["ExposedPorts"] = {"web/tcp": {}, "81/tcp": {}}
    write(doc)
    p = berth(root, "run", "--rm", str(busybox), "true")
    assert 'WARNING: image busybox:1.38.0-musl: invalid exposed port "web/tcp"' in p.stderr, p
    doc["config"]["Cmd"] = ["sh\u0000"]
    write(doc)
    p = berth(root, "run", "--rm", str(busybox), check=False)
    assert p.returncode == 125 and "has an invalid config: Cmd holds a NUL byte" in p.stderr
    assert berth(root, "ps", "-aq").stdout == ""


@pytest.mark.parametrize("change,words", [
    ("STOPSIGNAL SIGNOPE", "invalid --change: invalid signal: SIGNOPE"),
    ("EXPOSE 70000", 'invalid --change: invalid exposed port "70000/tcp"'),
    ("VOLUME rel", "invalid --change: invalid mount config"),
    ("LABEL ok=1 'a b'=c", "invalid --change: label 'a b' contains whitespaces"),
])
def test_import_and_commit_refuse_a_change_an_image_cant_hold(root, busybox, change, words):
    from helpers import ALPINE_ROOTFS
    p = berth(root, "import", "--change", change, str(ALPINE_ROOTFS), "mine:1", check=False)
    assert p.returncode == 125 and words in p.stderr and p.stderr.count("\n") == 1, p
    cid = berth(root, "create", str(busybox), "true").stdout.strip()
    p = berth(root, "commit", "--change", change, cid, "mine:2", check=False)
    assert p.returncode == 125 and words in p.stderr and p.stderr.count("\n") == 1, p
    assert berth(root, "images", "-q").stdout.split() == [busybox.id[7:19]]
