"""Docker's run flags as engine.options parses them, messages included; image config merging;
the frame protocol; json-file log rotation."""

from __future__ import annotations

import json
import os

import pytest

from engine import options
from engine.errors import InvalidArgument
from engine.models import ContainerConfig


@pytest.mark.parametrize("text,value", [("128m", 128 << 20), ("1g", 1 << 30), ("512k", 512 << 10),
                                        ("1024", 1024), ("1.5g", int(1.5 * (1 << 30))),
                                        ("64MB", 64 << 20), ("10b", 10)])
def test_sizes(text, value):
    assert options.parse_size(text) == value


def test_bad_size_names_the_flag():
    with pytest.raises(InvalidArgument, match=r'invalid argument "12x" for "--memory" flag'):
        options.parse_size("12x")


def test_memory_rules():
    assert options.parse_memory("64m", "128m") == (64 << 20, 128 << 20, 0)
    assert options.parse_memory("64m", "-1") == (64 << 20, -1, 0)
    with pytest.raises(InvalidArgument, match="Minimum memory limit allowed is 6MB"):
        options.parse_memory("1m")
    with pytest.raises(InvalidArgument, match="should be larger than memory"):
        options.parse_memory("64m", "32m")
    with pytest.raises(InvalidArgument, match="always set the Memory limit"):
        options.parse_memory(None, "32m")


def test_cpus_ulimit_restart_signal():
    assert options.parse_cpus("0.5") == 500_000_000
    with pytest.raises(InvalidArgument, match="rational number"):
        options.parse_cpus("lots")
    u = options.parse_ulimit("nofile=1024:2048")
    assert (u.name, u.soft, u.hard) == ("nofile", 1024, 2048)
    assert options.parse_ulimit("nproc=10").hard == 10
    with pytest.raises(InvalidArgument, match="invalid ulimit type: bogus"):
        options.parse_ulimit("bogus=1")
    with pytest.raises(InvalidArgument, match="soft limit must be less than or equal"):
        options.parse_ulimit("nofile=10:5")
    assert options.parse_restart("on-failure:3").max_retries == 3
    assert options.parse_restart("unless-stopped").name == "unless-stopped"
    with pytest.raises(InvalidArgument, match="unknown policy 'sometimes'"):
        options.parse_restart("sometimes")
    with pytest.raises(InvalidArgument, match="only be used with 'on-failure'"):
        options.parse_restart("always:3")
    assert options.parse_stop_signal("term") == "SIGTERM"
    assert options.parse_stop_signal("9") == "SIGKILL"
    with pytest.raises(InvalidArgument, match="invalid signal"):
        options.signal_number("SIGNOPE")


def test_env_and_env_file(tmp_path, monkeypatch):
    f = tmp_path / "env"
    f.write_text("# c\nA=1\nFROM_HOST\n\nB=two words\n")
    monkeypatch.setenv("FROM_HOST", "h")
    monkeypatch.delenv("UNSET_ONE", raising=False)
    assert options.parse_env(["A=flag", "UNSET_ONE", "C="], [str(f)]) == \
        ["A=1", "FROM_HOST=h", "B=two words", "A=flag", "C="]
    assert options.merge_env(["PATH=/bin", "A=img"], ["A=1", "A=flag"]) == ["PATH=/bin", "A=flag"]
    f.write_text("BAD KEY=1\n")
    with pytest.raises(InvalidArgument, match="contains whitespaces"):
        options.read_env_file(str(f))


def test_labels_log_opts_names():
    assert options.parse_labels(["a=1", "b"]) == {"a": "1", "b": ""}
    assert options.parse_log_opts(["max-size=1k", "max-file=3"]) == {"max-size": "1k",
                                                                     "max-file": "3"}
    with pytest.raises(InvalidArgument, match="max-file cannot be less than 1"):
        options.parse_log_opts(["max-size=1k", "max-file=0"])
    with pytest.raises(InvalidArgument, match="unknown log opt"):
        options.parse_log_opts(["color=blue"])
    assert options.validate_name("/web-1") == "web-1"
    with pytest.raises(InvalidArgument, match="Invalid container name"):
        options.validate_name("bad name")


def test_image_config_merge_as_docker():
    from engine.runtime.spec import merge_image
    image = {"Entrypoint": ["/entry"], "Cmd": ["default"], "Env": ["PATH=/x", "A=img"],
             "WorkingDir": "/app", "User": "app", "ExposedPorts": {"80/tcp": {}},
             "Volumes": {"/data": {}}, "StopSignal": "SIGQUIT", "Labels": {"l": "img", "m": "1"}}
    c = ContainerConfig(image="x", env=["A=flag"], labels={"l": "flag"})
    merge_image(c, image)
    assert (c.entrypoint, c.cmd, c.workdir, c.user) == (["/entry"], ["default"], "/app", "app")
    assert c.env == ["PATH=/x", "A=flag"] and c.stop_signal == "SIGQUIT"
    assert c.labels == {"l": "flag", "m": "1"} and c.image_volumes == ["/data"]
    assert c.exposed_ports == ["80/tcp"]
    c = ContainerConfig(image="x", cmd=["mine"])
    merge_image(c, image)
    assert (c.entrypoint, c.cmd) == (["/entry"], ["mine"])
    c = ContainerConfig(image="x", entrypoint=["/other"])
    merge_image(c, image, entrypoint_set=True)
    assert (c.entrypoint, c.cmd) == (["/other"], [])      # --entrypoint drops the image's Cmd
    c = ContainerConfig(image="x", entrypoint=[""], cmd=["ls"])
    merge_image(c, {"Entrypoint": ["/entry"]}, entrypoint_set=True)
    assert (c.entrypoint, c.cmd) == ([], ["ls"])
    c = ContainerConfig(image="x", cmd=["ls"])
    merge_image(c, {})
    assert c.env[0].startswith("PATH=/usr/local/sbin")


def test_frames_round_trip():
    from engine.runtime import frames
    data = frames.encode(frames.STDOUT, b"hello") + frames.encode(frames.EXIT, b"3")
    dec = frames.Decoder()
    assert dec.feed(data[:5]) == []
    assert dec.feed(data[5:]) == [(frames.STDOUT, b"hello"), (frames.EXIT, b"3")]
    assert data[:8] == b"\x01\x00\x00\x00\x00\x00\x00\x05"   # Docker's stream header
    big = frames.encode(frames.STDERR, b"x" * 70000)   # a length of three bytes, big-endian
    assert big[:8] == b"\x02\x00\x00\x00\x00\x01\x11\x70"
    assert dec.feed(big[:9]) == [] and dec.feed(big[9:]) == [(frames.STDERR, b"x" * 70000)]


def test_json_file_log_lines_and_rotation(tmp_path):
    from engine.runtime.logs import JsonFileWriter, log_files, read_lines
    w = JsonFileWriter(str(tmp_path), {"max-size": "200", "max-file": "3"})
    w.write("stdout", b"par")
    w.write("stdout", b"tial\nnext")
    w.write("stderr", b"err\n")
    w.close()
    lines = read_lines(str(tmp_path))
    assert [(s, t) for _, s, t in lines] == [("stdout", "partial\n"), ("stderr", "err\n"),
                                             ("stdout", "next")]
    rec = json.loads(open(tmp_path / "ctr.log").readline())
    assert set(rec) == {"log", "stream", "time"} and rec["time"].endswith("Z")
    w = JsonFileWriter(str(tmp_path), {"max-size": "200", "max-file": "3"})
    for i in range(20):
        w.write("stdout", f"line {i}\n".encode())
    w.close()
    files = log_files(str(tmp_path))
    assert [os.path.basename(f) for f in files] == ["ctr.log.2", "ctr.log.1", "ctr.log"]
    assert all(os.path.getsize(f) <= 200 for f in files)
    texts = [t for _, _, t in read_lines(str(tmp_path))]
    assert texts[-1] == "line 19\n" and texts == sorted(texts, key=lambda t: int(t.split()[1]))
    assert [t for _, _, t in read_lines(str(tmp_path), tail=2)] == ["line 18\n", "line 19\n"]


def test_user_resolution(tmp_path):
    from engine.runtime.users import UserError, resolve
    passwd = tmp_path / "passwd"
    group = tmp_path / "group"
    passwd.write_text("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n")
    group.write_text("root:x:0:\napp:x:1000:\nextra:x:50:app,other\nwheel:x:10:root\n")
    r = lambda s, g=(): resolve(s, g, str(passwd), str(group))  # noqa: E731
    assert r("app") == (1000, 1000, [1000, 50], "/home/app")
    assert r("1000:extra") == (1000, 50, [50], "/home/app")
    assert r("4242") == (4242, 0, [0], "/")
    assert r("root", ["app"]) == (0, 0, [0, 10, 1000], "/root")
    with pytest.raises(UserError, match="unable to find user ghost"):
        r("ghost")
    with pytest.raises(UserError, match="unable to find group nogroup"):
        r("app:nogroup")
