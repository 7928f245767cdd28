"""mount_all against the real kernel, in a child with its own mount namespace: hostile symlinks in
an image never reach the host, binds and tmpfs get their options, new volumes are filled from
the image."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile

import pytest

from helpers import made_since
from mountns import in_mount_ns, mount_points
from engine.volumes import mount_all, parse_mount, parse_tmpfs, parse_volume, prepare_mounts
from engine.volumes.store import data_dir


@pytest.fixture
def hostdir():
    """A directory on the host the tests check berth never touches, removed afterwards."""
    d = tempfile.mkdtemp(prefix="berth-hostile-", dir="/var/tmp")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def make_container(engine, mounts=(), cid="c" * 64, name="box", image_volumes=(),
                   volumes_from=(), status="created"):
    from engine.models import Container, ContainerConfig, ContainerState
    cfg = ContainerConfig(image="busybox", mounts=list(mounts), image_volumes=list(image_volumes),
                          volumes_from=list(volumes_from))
    c = Container(id=cid, name=name, created="2026-01-01T00:00:00.000000000Z", config=cfg,
                  state=ContainerState(status=status))
    os.makedirs(engine.paths.container_dir(cid), exist_ok=True)
    engine.store.write(c.to_dict(), "containers", cid, "config.json")
    engine.store.write(c.state.to_dict(), "containers", cid, "state.json")
    return c


def make_rootfs(root) -> str:
    rootfs = os.path.join(root, "rootfs")
    for d in ("etc", "tmp", "var/lib"):
        os.makedirs(os.path.join(rootfs, d), exist_ok=True)
    return rootfs


def _mounted_in_child(rootfs, prepared, probe=None):
    def child():
        mount_all(rootfs, prepared)
        out = {"mounts": mount_points()}
        if probe:
            out["probe"] = probe()
        return out
    result = in_mount_ns(child)
    assert result[0] == "ok", result
    return result[1]


def test_absolute_symlink_target_is_resolved_inside_the_root(engine, root):
    rootfs = make_rootfs(root)
    os.symlink("/etc", os.path.join(rootfs, "data"))
    c = make_container(engine, [parse_tmpfs("/data:size=1m")])
    host_etc_before = set(os.listdir("/etc"))
    out = _mounted_in_child(rootfs, prepare_mounts(engine.store, c, []),
                            probe=lambda: os.path.ismount("/etc"))
    assert os.path.join(rootfs, "etc") in out["mounts"]
    assert "/etc" not in out["mounts"] and out["probe"] is False
    assert made_since("/etc", host_etc_before) == set()


def test_dotdot_symlink_cannot_climb_out_to_create_or_mount_on_the_host(engine, root, hostdir):
    rootfs = make_rootfs(root)
    # ../../../../… far more than the rootfs is deep, then down into a host directory
    os.symlink("../" * 20 + hostdir.lstrip("/"), os.path.join(rootfs, "x"))
    os.symlink("/" + hostdir.lstrip("/") + "/../../..", os.path.join(rootfs, "y"))
    src = os.path.join(hostdir, "src")
    os.mkdir(src)
    c = make_container(engine, [parse_volume("vol1:/x/made/deeper"),
                                parse_volume(f"{src}:/y/z/bound")])
    out = _mounted_in_child(rootfs, prepare_mounts(engine.store, c, []))
    inside = os.path.join(rootfs, hostdir.lstrip("/"), "made", "deeper")
    assert inside in out["mounts"]
    assert os.path.join(rootfs, "z", "bound") in out["mounts"]
    assert not [m for m in out["mounts"] if m.startswith(hostdir)]
    assert sorted(os.listdir(hostdir)) == ["src"]
    assert os.path.isdir(inside) and os.path.isdir(os.path.join(rootfs, "z", "bound"))


def test_file_bind_through_symlink_to_host_file_makes_a_file_in_the_root(engine, root, hostdir):
    rootfs = make_rootfs(root)
    os.symlink("/etc/passwd", os.path.join(rootfs, "pw"))
    src = os.path.join(hostdir, "secret")
    with open(src, "w") as f:
        f.write("from the host\n")
    c = make_container(engine, [parse_mount(f"type=bind,src={src},dst=/pw,ro")])
    with open("/etc/passwd", "rb") as f:
        before = f.read()

    def probe():
        with open(os.path.join(rootfs, "etc", "passwd")) as f:
            return f.read()
    out = _mounted_in_child(rootfs, prepare_mounts(engine.store, c, []), probe)
    assert out["probe"] == "from the host\n"
    assert os.path.join(rootfs, "etc", "passwd") in out["mounts"]
    with open("/etc/passwd", "rb") as f:
        assert f.read() == before
    assert os.path.isfile(os.path.join(rootfs, "etc", "passwd"))


def test_symlink_loop_is_an_error_not_a_hang(engine, root):
    rootfs = make_rootfs(root)
    os.symlink("/loop", os.path.join(rootfs, "loop"))
    c = make_container(engine, [parse_tmpfs("/loop/x")])
    prepared = prepare_mounts(engine.store, c, [])
    result = in_mount_ns(mount_all, rootfs, prepared)
    assert result[0] == "error" and result[1] == "HostError"
    assert "Too many levels of symbolic links" in result[2]


def test_read_only_bind_refuses_writes_and_rw_bind_shares_both_ways(engine, root, hostdir):
    rootfs = make_rootfs(root)
    ro_src, rw_src = os.path.join(hostdir, "ro"), os.path.join(hostdir, "rw")
    os.mkdir(ro_src)
    os.mkdir(rw_src)
    c = make_container(engine, [parse_volume(f"{ro_src}:/ro:ro"), parse_volume(f"{rw_src}:/rw")])

    def probe():
        import errno
        try:
            open(os.path.join(rootfs, "ro", "f"), "w").close()
            ro = "written"
        except OSError as e:
            ro = errno.errorcode[e.errno]
        with open(os.path.join(rootfs, "rw", "inside"), "w") as f:
            f.write("from inside")
        with open(os.path.join(rw_src, "outside"), "w") as f:
            f.write("host edit")
        with open(os.path.join(rootfs, "rw", "outside")) as f:
            seen = f.read()
        return [ro, seen]
    out = _mounted_in_child(rootfs, prepare_mounts(engine.store, c, []), probe)
    assert out["probe"] == ["EROFS", "host edit"]
    assert os.listdir(ro_src) == []
    with open(os.path.join(rw_src, "inside")) as f:
        assert f.read() == "from inside"


def test_read_only_bind_is_recursive(engine, root, hostdir):
    """A submount of a read-only bind's source is read-only inside too (Docker 25's rro)."""
    rootfs = make_rootfs(root)
    src = os.path.join(hostdir, "src")
    os.makedirs(os.path.join(src, "sub"))
    c = make_container(engine, [parse_volume(f"{src}:/ro:ro")])
    prepared = prepare_mounts(engine.store, c, [])

    def child():
        from engine.runtime import linux
        linux.mount("tmpfs", os.path.join(src, "sub"), "tmpfs", 0, "size=1m")
        mount_all(rootfs, prepared)
        try:
            open(os.path.join(rootfs, "ro", "sub", "f"), "w").close()
            return "written"
        except OSError as e:
            return e.errno
    import errno
    assert in_mount_ns(child) == ("ok", errno.EROFS)


def test_non_recursive_read_only_bind_keeps_the_sources_locked_flags(engine, root, hostdir):
    rootfs = make_rootfs(root)
    src = os.path.join(hostdir, "src")
    os.makedirs(src)
    c = make_container(engine, [parse_mount(f"type=bind,src={src},dst=/nr,ro,"
                                            "bind-recursive=disabled")])
    prepared = prepare_mounts(engine.store, c, [])

    def child():
        from engine.runtime import linux
        # a nosuid,nodev source: a remount that dropped those flags would be refused (EPERM)
        linux.mount("tmpfs", src, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, "size=1m")
        mount_all(rootfs, prepared)
        sv = os.statvfs(os.path.join(rootfs, "nr"))
        return [bool(sv.f_flag & os.ST_RDONLY), bool(sv.f_flag & os.ST_NOSUID),
                bool(sv.f_flag & os.ST_NODEV)]
    assert in_mount_ns(child) == ("ok", [True, True, True])


def test_tmpfs_options_size_mode_and_noexec(engine, root):
    rootfs = make_rootfs(root)
    c = make_container(engine, [parse_tmpfs("/run/t:size=1m,mode=1770"),
                                parse_mount("type=tmpfs,dst=/m,tmpfs-size=2m,tmpfs-mode=700")])

    def probe():
        out = []
        for p in ("run/t", "m"):
            full = os.path.join(rootfs, p)
            sv = os.statvfs(full)
            out.append([sv.f_blocks * sv.f_frsize, stat.S_IMODE(os.stat(full).st_mode),
                        bool(sv.f_flag & os.ST_NOEXEC), bool(sv.f_flag & os.ST_NOSUID)])
        return out
    out = _mounted_in_child(rootfs, prepare_mounts(engine.store, c, []), probe)
    assert out["probe"] == [[1 << 20, 0o1770, True, True], [2 << 20, 0o700, True, True]]


def test_nested_mounts_are_mounted_parents_first(engine, root, hostdir):
    rootfs = make_rootfs(root)
    c = make_container(engine, [parse_tmpfs("/a/b/c"), parse_volume("outer:/a"),
                                parse_volume("middle:/a/b")])
    prepared = prepare_mounts(engine.store, c, [])
    assert [p["target"] for p in prepared] == ["/a", "/a/b", "/a/b/c"]
    out = _mounted_in_child(rootfs, prepared)
    for p in ("a", "a/b", "a/b/c"):
        assert os.path.join(rootfs, p) in out["mounts"]
    # /a/b's mount point was made inside the "outer" volume, where the container sees it
    assert os.path.isdir(os.path.join(data_dir(engine.store, "outer"), "b"))


def _image_dir(rootfs, hostdir):
    app = os.path.join(rootfs, "var", "lib", "app")
    os.makedirs(os.path.join(app, "sub"))
    with open(os.path.join(app, "a"), "w") as f:
        f.write("hello")
    os.chown(os.path.join(app, "a"), 1234, 5678)
    os.chmod(os.path.join(app, "a"), 0o640)
    os.setxattr(os.path.join(app, "a"), "user.berth", b"kept")
    os.link(os.path.join(app, "a"), os.path.join(app, "hard"))
    os.symlink("/etc", os.path.join(app, "escape"))
    os.symlink("../" * 10 + hostdir.lstrip("/"), os.path.join(app, "up"))
    os.mkfifo(os.path.join(app, "fifo"))
    os.chown(os.path.join(app, "sub"), 42, 43)
    os.chmod(os.path.join(app, "sub"), 0o700)
    with open(os.path.join(app, "sub", "deep"), "w") as f:
        f.write("deep")
    os.utime(os.path.join(app, "sub"), ns=(1_000_000_000, 1_000_000_000))
    os.chown(app, 1000, 1001)
    os.chmod(app, 0o750)
    os.setxattr(app, "user.dir", b"on the directory itself")
    return app


def test_new_volume_is_filled_from_the_image_with_owners_modes_and_xattrs(engine, root, hostdir):
    rootfs = make_rootfs(root)
    _image_dir(rootfs, hostdir)
    os.symlink("var/lib/app", os.path.join(rootfs, "data"))
    c = make_container(engine, [parse_volume("appdata:/data"),
                                parse_volume("empty:/var/lib/app2:nocopy")],
                       image_volumes=["/var/lib/app"])
    prepared = prepare_mounts(engine.store, c, [])
    by_target = {p["target"]: p for p in prepared}
    assert by_target["/data"]["copy_up"] and by_target["/var/lib/app"]["copy_up"]
    assert not by_target["/var/lib/app2"]["copy_up"]
    _mounted_in_child(rootfs, prepared)
    for name in ("appdata", by_target["/var/lib/app"]["name"]):
        d = data_dir(engine.store, name)
        st = os.stat(d)
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 1001, 0o750)
        assert os.getxattr(d, "user.dir") == b"on the directory itself"
        assert sorted(os.listdir(d)) == ["a", "escape", "fifo", "hard", "sub", "up"]
        a = os.stat(os.path.join(d, "a"))
        assert (a.st_uid, a.st_gid, stat.S_IMODE(a.st_mode)) == (1234, 5678, 0o640)
        assert os.getxattr(os.path.join(d, "a"), "user.berth") == b"kept"
        assert os.stat(os.path.join(d, "hard")).st_ino == a.st_ino
        assert os.readlink(os.path.join(d, "escape")) == "/etc"
        assert stat.S_ISFIFO(os.lstat(os.path.join(d, "fifo")).st_mode)
        sub = os.stat(os.path.join(d, "sub"))
        assert (sub.st_uid, sub.st_gid, stat.S_IMODE(sub.st_mode)) == (42, 43, 0o700)
        assert sub.st_mtime_ns == 1_000_000_000
        with open(os.path.join(d, "sub", "deep")) as f:
            assert f.read() == "deep"
    assert os.listdir(data_dir(engine.store, "empty")) == []
    assert os.listdir(hostdir) == []


def test_copy_up_happens_only_on_the_first_start_and_only_into_an_empty_volume(engine, root,
                                                                           hostdir):
    rootfs = make_rootfs(root)
    _image_dir(rootfs, hostdir)
    vol = engine.create_volume("prefilled")
    with open(os.path.join(vol.mountpoint, "mine"), "w") as f:
        f.write("x")
    c = make_container(engine, [parse_volume("prefilled:/var/lib/app"),
                                parse_volume("fresh:/var/lib/app/sub")])
    prepared = prepare_mounts(engine.store, c, [])
    assert [p["copy_up"] for p in prepared] == [False, True]
    again = prepare_mounts(engine.store, c, [])
    assert [p["copy_up"] for p in again] == [False, False]


def test_mount_phases_put_mounts_on_runtime_paths_last(engine, root):
    rootfs = make_rootfs(root)
    c = make_container(engine, [parse_tmpfs("/dev/shm:size=2m"), parse_tmpfs("/data")])
    prepared = prepare_mounts(engine.store, c, [])

    def child():
        mount_all(rootfs, prepared, "early")
        early = mount_points()
        from engine.runtime import linux
        os.mkdir(os.path.join(rootfs, "dev"))
        linux.mount("tmpfs", os.path.join(rootfs, "dev"), "tmpfs", 0, "size=1m")  # the runtime's
        mount_all(rootfs, prepared, "late")
        sv = os.statvfs(os.path.join(rootfs, "dev", "shm"))
        return [os.path.join(rootfs, "dev", "shm") in early, os.path.join(rootfs, "data") in early,
                sv.f_blocks * sv.f_frsize]
    assert in_mount_ns(child) == ("ok", [False, True, 2 << 20])


def test_volume_subpath_is_resolved_inside_the_volume_at_mount_time(engine, root, hostdir):
    rootfs = make_rootfs(root)
    vol = engine.create_volume("subvol")
    os.makedirs(os.path.join(vol.mountpoint, "app", "conf"))
    c = make_container(engine, [parse_mount("src=subvol,dst=/conf,volume-subpath=app/conf")])
    prepared = prepare_mounts(engine.store, c, [])
    assert prepared[0]["source"] == os.path.join(vol.mountpoint, "app", "conf")
    # a container using the volume swaps the checked directory for a link out of it
    shutil.rmtree(os.path.join(vol.mountpoint, "app", "conf"))
    os.symlink(hostdir, os.path.join(vol.mountpoint, "app", "conf"))

    result = in_mount_ns(mount_all, rootfs, prepared)
    # the link is followed inside the volume, where that path does not exist
    assert result[0] == "error" and result[1] == "HostError"
    assert "No such file or directory" in result[2]
    os.makedirs(os.path.join(vol.mountpoint, hostdir.lstrip("/")))
    out = _mounted_in_child(rootfs, prepared, lambda: open(
        os.path.join(rootfs, "conf", "x"), "w").close())
    assert os.path.join(rootfs, "conf") in out["mounts"]
    assert os.listdir(hostdir) == []
    assert os.path.isfile(os.path.join(vol.mountpoint, hostdir.lstrip("/"), "x"))


def test_userns_auto_mounts_are_idmapped_and_owned_by_the_containers_root(engine, root):
    """--userns auto: mount_all as host root with the container's user namespace; on disk the
    volume keeps the ids the container sees, as without --userns."""
    from engine.runtime import userns
    host = 3_000_000   # a range no allocator hands out; the namespace dies with the descriptor
    rootfs = make_rootfs(root)
    app = os.path.join(rootfs, "srv")
    os.mkdir(app)
    with open(os.path.join(app, "f"), "w") as f:
        f.write("x")
    # the image as an idmapped overlay shows it to host root: ids shifted by the range base
    os.chown(os.path.join(app, "f"), host + 7, host + 8)
    os.chown(app, host, host)
    vol = engine.create_volume("nsvol")
    with open(os.path.join(vol.mountpoint, "disk"), "w") as f:
        f.write("x")
    c = make_container(engine, [parse_volume("fresh:/srv"), parse_volume("nsvol:/data"),
                                parse_tmpfs("/t"), parse_volume("nsvol:/ro:ro")])
    prepared = prepare_mounts(engine.store, c, [])

    def child():
        fd = userns.new_userns_fd(host, 65536)
        try:
            mount_all(rootfs, prepared, userns_fd=fd, host_uid=host)
        finally:
            os.close(fd)
        st = lambda p: [os.stat(os.path.join(rootfs, p)).st_uid,   # noqa: E731
                        os.stat(os.path.join(rootfs, p)).st_gid]
        try:
            open(os.path.join(rootfs, "ro", "no"), "w").close()
            ro = "written"
        except OSError as e:
            ro = e.errno
        return {"data/disk": st("data/disk"), "t": st("t"), "srv/f": st("srv/f"),
                "made": st("data"), "ro": ro}
    import errno
    result = in_mount_ns(child)
    assert result[0] == "ok", result
    out = result[1]
    assert out["data/disk"] == [host, host]          # disk uid 0 is the container's root
    assert out["t"] == [host, host]
    assert out["srv/f"] == [host + 7, host + 8] and out["ro"] == errno.EROFS
    fresh = engine.volume("fresh").mountpoint
    assert (os.stat(os.path.join(fresh, "f")).st_uid, os.stat(fresh).st_uid) == (7, 0)
    assert os.stat(os.path.join(vol.mountpoint, "disk")).st_uid == 0
