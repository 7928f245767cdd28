"""-v, --mount and --tmpfs parse as Docker's, and fail with Docker's messages."""

from __future__ import annotations

import os

import pytest

from engine.errors import InvalidArgument
from engine.models import Mount
from engine.volumes import parse_mount, parse_tmpfs, parse_volume


@pytest.mark.parametrize("spec, expected", [
    ("data:/data", Mount(type="volume", target="/data", source="data")),
    ("/data", Mount(type="volume", target="/data", anonymous=True)),
    ("/data/", Mount(type="volume", target="/data", anonymous=True)),
    ("data:/d:ro", Mount(type="volume", target="/d", source="data", read_only=True)),
    ("data:/d:rw,nocopy", Mount(type="volume", target="/d", source="data", nocopy=True)),
    ("/srv/x:/y", Mount(type="bind", target="/y", source="/srv/x",
                        options=["rprivate", "create-mountpoint"])),
    ("/srv/x/../z:/y:ro,rshared", Mount(type="bind", target="/y", source="/srv/z", read_only=True,
                                        options=["rshared", "create-mountpoint"])),
    ("/srv/x:/y:z", Mount(type="bind", target="/y", source="/srv/x",
                          options=["rprivate", "create-mountpoint"])),
])
def test_volume_flag(spec, expected):
    assert parse_volume(spec) == expected


def test_volume_flag_relative_host_path_is_made_absolute():
    m = parse_volume("./here:/x")
    assert m.type == "bind" and m.source == os.path.join(os.getcwd(), "here")


@pytest.mark.parametrize("spec, message", [
    ("/d:ro", "invalid volume specification: '/d:ro'"),
    ("a:b:c:d", "invalid volume specification: 'a:b:c:d'"),
    ("", "invalid volume specification: ''"),
    ("data:/d:bogus", "invalid mode: bogus"),
    ("data:/d:ro,rw", "invalid mode: ro,rw"),
    ("data:rel", "invalid mount config for type \"volume\": invalid mount path: 'rel' mount "
                 "path must be absolute"),
    ("data:/", "invalid mount config for type \"volume\": invalid specification: destination "
               "can't be '/'"),
    ("a b:/x", '"a b" includes invalid characters for a local volume name, only '
               '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
               "directory, use absolute path"),
    ("a:/x", "volume name is too short, names should be at least two alphanumeric characters"),
    ("/h:/t:nocopy", 'invalid mount config for type "bind": field VolumeOptions must not be '
                     "specified"),
    ("vol:/t:rshared", 'invalid mount config for type "volume": field BindOptions must not be '
                       "specified"),
])
def test_volume_flag_errors(spec, message):
    with pytest.raises(InvalidArgument) as e:
        parse_volume(spec)
    assert str(e.value) == message


def test_mount_flag_bind(tmp_path):
    m = parse_mount(f"type=bind,source={tmp_path},target=/x,readonly,bind-propagation=rslave")
    assert m == Mount(type="bind", target="/x", source=str(tmp_path), read_only=True,
                      options=["rslave"])
    m = parse_mount(f"type=bind,src={tmp_path},dst=/x,ro=false,bind-recursive=disabled")
    assert not m.read_only and m.options == ["rprivate", "nonrecursive"]


def test_mount_flag_bind_missing_source_is_an_error(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(InvalidArgument) as e:
        parse_mount(f"type=bind,src={missing},dst=/x")
    assert str(e.value) == ('invalid mount config for type "bind": bind source path does not '
                            f"exist: {missing}")
    assert not missing.exists()


def test_mount_flag_volume_and_tmpfs():
    assert parse_mount("source=v1,destination=/x,volume-nocopy") == \
        Mount(type="volume", target="/x", source="v1", nocopy=True)
    assert parse_mount("type=volume,dst=/x") == Mount(type="volume", target="/x", anonymous=True)
    m = parse_mount("type=volume,src=v1,dst=/x,volume-label=a=b,volume-opt=type=tmpfs,"
                    "volume-subpath=sub/dir")
    assert m.options == ["subpath=sub/dir", "volume-label=a=b", "volume-opt=type=tmpfs"]
    assert parse_mount("type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770") == \
        Mount(type="tmpfs", target="/t",
              options=["noexec", "nosuid", "nodev", f"size={64 << 20}", "mode=1770"])


@pytest.mark.parametrize("spec, message", [
    ("type=volume,src=v1", "target is required"),
    ("dst=/x,foo=1", "unexpected key 'foo' in 'foo=1'"),
    ("dst=/x,bogus", "invalid field 'bogus' must be a key=value pair"),
    ("dst=/x,ro=maybe", "invalid value for ro: maybe"),
    ("type=nfs,dst=/x", 'invalid mount config for type "nfs": mount type unknown'),
    ("type=bind,dst=/x", 'invalid mount config for type "bind": field Source must not be empty'),
    ("type=tmpfs,src=x,dst=/x", 'invalid mount config for type "tmpfs": field Source must not '
                                "be specified"),
    ("type=volume,dst=/x,ro", 'invalid mount config for type "volume": must not set ReadOnly '
                              "mode when using anonymous volumes"),
    ("type=tmpfs,dst=/x,bind-propagation=shared",
     "cannot mix 'bind-*' options with mount type 'tmpfs'"),
    ("type=bind,src=/,dst=/x,volume-nocopy",
     "cannot mix 'volume-*' options with mount type 'bind'"),
    ("type=tmpfs,dst=/x,tmpfs-size=lots", "invalid value for tmpfs-size: lots"),
    ("type=tmpfs,dst=/x,tmpfs-mode=999", "invalid value for tmpfs-mode: 999"),
    ("type=volume,src=v1,dst=/x,volume-subpath=../up",
     'invalid mount config for type "volume": subpath must be a relative path within the '
     "volume: ../up"),
])
def test_mount_flag_errors(spec, message):
    with pytest.raises(InvalidArgument) as e:
        parse_mount(spec)
    assert str(e.value) == message


def test_tmpfs_flag():
    assert parse_tmpfs("/run") == Mount(type="tmpfs", target="/run",
                                        options=["noexec", "nosuid", "nodev"], given="")
    m = parse_tmpfs("/run:rw,exec,size=65536k,mode=1777")
    assert m.options == ["noexec", "nosuid", "nodev", "exec", "size=65536k", "mode=1777"]
    assert m.given == "rw,exec,size=65536k,mode=1777"   # inspect's HostConfig.Tmpfs, as typed
    assert not m.read_only
    assert parse_tmpfs("/t:ro").read_only
    for bad, message in (("run", "invalid mount path: 'run' mount path must be absolute"),
                         ("/t:size=lots", "invalid tmpfs option 'size=lots' in '/t:size=lots'")):
        with pytest.raises(InvalidArgument) as e:
            parse_tmpfs(bad)
        assert message in str(e.value)


def test_tmpfs_flags_later_words_win():
    from engine.volumes.mounts import MS_NODEV, MS_NOEXEC, MS_NOSUID, tmpfs_flags_and_data
    flags, data = tmpfs_flags_and_data(parse_tmpfs("/t:exec,size=1m,size=2m,uid=5").options)
    assert flags == MS_NOSUID | MS_NODEV and not flags & MS_NOEXEC
    assert data == "size=2m,uid=5"
