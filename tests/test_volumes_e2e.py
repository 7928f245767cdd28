"""Volumes as a new user meets them, through `berth run` on real busybox containers: data outlives
containers, :ro holds, --volumes-from shares, anonymous volumes go with rm -v, binds are live,
image symlinks never reach the host, prune keeps what is used, new volumes are pre-filled."""

from __future__ import annotations

import json
import os
import shutil
import tempfile

import pytest

from engine.volumes.store import mounts_under
from helpers import made_since

RUN = ("run", "--network", "none")


@pytest.fixture
def hostdir():
    d = tempfile.mkdtemp(prefix="berth-e2e-", dir="/var/tmp")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def volumes(cli) -> list[str]:
    return cli("volume", "ls", "-q").stdout.split()


def test_named_volume_outlives_its_container(cli, busybox):
    cli(*RUN, "--name", "writer", "-v", "keep:/data", busybox, "sh", "-c",
        "echo persisted > /data/f")
    cli("rm", "writer")
    assert volumes(cli) == ["keep"]
    out = cli(*RUN, "--rm", "-v", "keep:/data", busybox, "cat", "/data/f").stdout
    assert out == "persisted\n"


def test_read_only_volume_refuses_writes_inside(cli, busybox):
    p = cli(*RUN, "--rm", "-v", "ro:/data:ro", busybox, "sh", "-c",
            "touch /data/x && echo wrote", check=False)
    assert p.returncode != 0 and "wrote" not in p.stdout
    assert "Read-only file system" in p.stdout + p.stderr
    cli(*RUN, "--rm", "-v", "ro:/data", busybox, "touch", "/data/x")


def test_volumes_from_sees_the_same_files(cli, busybox, hostdir):
    cli("create", "--name", "store", "--network", "none", "-v", "shared:/shared", "-v", "/anon",
        "-v", f"{hostdir}:/bind", busybox, "true")
    cli(*RUN, "--rm", "--volumes-from", "store", busybox, "sh", "-c",
        "echo 1 > /shared/a; echo 2 > /anon/b; echo 3 > /bind/c")
    out = cli(*RUN, "--rm", "--volumes-from", "store:ro", busybox, "sh", "-c",
              "cat /shared/a /anon/b /bind/c; touch /shared/z 2>&1 || echo refused").stdout
    assert out.split("\n")[:3] == ["1", "2", "3"] and "refused" in out
    with open(os.path.join(hostdir, "c")) as f:
        assert f.read() == "3\n"


def test_anonymous_volume_goes_with_rm_v_and_with_rm_flag(cli, busybox):
    cli(*RUN, "--name", "anon", "-v", "/scratch", busybox, "true")
    (name,) = volumes(cli)
    assert len(name) == 64
    cli("rm", "-v", "anon")
    assert volumes(cli) == []
    cli(*RUN, "--rm", "-v", "/scratch", "-v", "named:/named", busybox, "true")
    assert volumes(cli) == ["named"]


def test_bind_mount_shows_host_edits_at_once(cli, busybox, hostdir):
    cli(*RUN, "-d", "--name", "watch", "-v", f"{hostdir}:/host", busybox, "sh", "-c",
        "while [ ! -f /host/go ]; do sleep 0.05; done; cat /host/go")
    with open(os.path.join(hostdir, "go.tmp"), "w") as f:
        f.write("edited on the host\n")
    os.rename(os.path.join(hostdir, "go.tmp"), os.path.join(hostdir, "go"))
    assert cli("wait", "watch").stdout.strip() == "0"
    assert cli("logs", "watch").stdout == "edited on the host\n"


def test_missing_bind_source_created_by_v_refused_by_mount(cli, busybox, hostdir):
    made = os.path.join(hostdir, "new", "dir")
    cli(*RUN, "--rm", "-v", f"{made}:/x", busybox, "true")
    assert os.path.isdir(made)
    gone = os.path.join(hostdir, "gone")
    p = cli(*RUN, "--rm", "--mount", f"type=bind,src={gone},dst=/x", busybox, "true",
            check=False)
    assert p.returncode == 125
    assert f"bind source path does not exist: {gone}" in p.stderr
    assert not os.path.exists(gone)


def test_image_symlinks_never_make_berth_mount_on_the_host(cli, busybox, root, hostdir):
    # the symlinks are put in the container's upper layer before its first start, which is
    # what an image layer carrying them looks like from inside the root filesystem
    cid = cli("create", "--name", "evil", "--network", "none", "-v", "ev1:/data/sub",
              "-v", f"{hostdir}:/up/bound", "--tmpfs", "/etc2/t", busybox, "sh", "-c",
              "test -d /etc/sub && grep -q ' /t tmpfs ' /proc/mounts && "
              "grep -q ' /tmp/bound ' /proc/mounts && echo ok").stdout.strip()
    upper = os.path.join(root, "containers", cid, "upper")
    os.symlink("/etc", os.path.join(upper, "data"))
    os.symlink("../" * 12 + "tmp", os.path.join(upper, "up"))
    os.symlink("/etc/../../../", os.path.join(upper, "etc2"))
    etc_before = set(os.listdir("/etc"))
    tmp_before = set(os.listdir("/tmp"))
    cli("start", "evil")
    assert cli("wait", "evil").stdout.strip() == "0"
    assert cli("logs", "evil").stdout.strip().endswith("ok")
    assert made_since("/etc", etc_before) == set() and not os.path.exists("/etc/sub")
    assert not os.path.exists("/tmp/bound") and made_since("/tmp", tmp_before) == set()
    assert not os.path.exists("/t")
    # the mount points were made inside the container's own layer
    for made in ("etc/sub", "tmp/bound", "t"):
        assert os.path.isdir(os.path.join(upper, made)), made


def test_volume_prune_removes_only_unused_volumes(cli, busybox):
    cli("create", "--name", "user", "--network", "none", "-v", "used:/u", "-v", "/anon-used",
        busybox, "true")
    cli("start", "user")
    cli("wait", "user")
    cli("volume", "create", "unused")
    free_anon = cli("volume", "create").stdout.strip()
    used = set(volumes(cli)) - {"unused", free_anon}
    assert len(used) == 2
    assert cli("volume", "prune", "-f").stdout.startswith(f"Deleted Volumes:\n{free_anon}\n")
    assert set(volumes(cli)) == used | {"unused"}
    cli("volume", "prune", "-f", "-a")
    assert set(volumes(cli)) == used
    p = cli("volume", "rm", "used", check=False)
    assert p.returncode == 1 and "volume is in use" in p.stderr


def test_new_named_volume_is_prefilled_from_the_image(cli, busybox, root):
    cli(*RUN, "--rm", "-v", "etc:/etc", busybox, "true")
    etc = os.path.join(root, "volumes", "etc", "_data")
    assert "passwd" in os.listdir(etc)
    out = cli(*RUN, "--rm", "-v", "etc:/mnt", busybox, "cat", "/mnt/passwd").stdout
    assert out.startswith("root:")
    cli(*RUN, "--rm", "-v", "bare:/etc:nocopy", busybox, "true")
    # nothing of the image's /etc (the runtime's hosts/resolv.conf mount points may be there)
    assert not {"passwd", "group"} & set(os.listdir(os.path.join(root, "volumes", "bare", "_data")))


def test_read_only_root_with_writable_volume_and_tmpfs(cli, busybox):
    out = cli(*RUN, "--rm", "--read-only", "-v", "wvol:/data", "--tmpfs", "/scratch:size=1m",
              busybox, "sh", "-c",
              "touch /data/ok /scratch/ok && echo writable; touch /nope 2>/dev/null || echo ro"
              ).stdout
    assert out == "writable\nro\n"


def test_system_df_counts_what_containers_use(cli, busybox):
    cli(*RUN, "--name", "dfc", "-v", "dfvol:/data", busybox, "sh", "-c",
        "head -c 2000 /dev/zero > /data/blob")
    cli("wait", "dfc")
    cli("volume", "create", "idle")
    rows = {line.split("   ")[0].strip(): line.split() for line in
            cli("system", "df").stdout.splitlines()[1:]}
    # TYPE TOTAL ACTIVE SIZE RECLAIMABLE: dfvol is linked to a (stopped) container, idle is not
    assert rows["Local Volumes"][2:5] == ["2", "1", "2kB"]
    assert rows["Containers"][1:3] == ["1", "0"]
    # the one image, used by the (stopped) container: nothing of it is reclaimable
    assert rows["Images"][1:3] == ["1", "1"] and rows["Images"][4:] == ["0B", "(0%)"]
    assert rows["Images"][3] != "0B"
    verbose = cli("system", "df", "-v").stdout.splitlines()
    assert ["dfvol", "1", "2kB"] in [line.split() for line in verbose]
    out = cli("system", "prune", "-f", "--volumes").stdout
    assert "Deleted Containers:" in out
    assert cli("volume", "ls", "-q").stdout.split() == ["dfvol", "idle"]


def test_image_volume_is_anonymous_prefilled_and_goes_with_rm_v(engine, cli, busybox, tmp_path):
    from engine.models import ContainerConfig, Image
    top = tmp_path / "layer"
    (top / "var" / "db").mkdir(parents=True)
    (top / "var" / "db" / "seed").write_text("from the image\n")
    # busybox with one more layer and VOLUME /var/db in its config, given to the Engine directly
    layers = [*engine.image_layer_dirs(busybox.image), str(top)]
    engine.image = lambda ref: Image(id="sha256:" + "5" * 64, repo_tags=["withvol:latest"],
                                     config={**busybox.image.config, "Volumes": {"/var/db": {}}})
    engine.image_layer_dirs = lambda img: layers
    cid = engine.create(ContainerConfig(image="withvol", cmd=["cat", "/var/db/seed"],
                                        network_mode="none")).id
    assert cli("start", "-a", cid).stdout == "from the image\n"
    (name,) = volumes(cli)
    assert len(name) == 64
    info = json.loads(cli("volume", "inspect", name).stdout)[0]
    with open(os.path.join(info["Mountpoint"], "seed")) as f:
        assert f.read() == "from the image\n"
    cli("rm", "-v", cid)
    assert volumes(cli) == []


def test_local_driver_tmpfs_volume_is_mounted_while_used(cli, busybox, root):
    cli("volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt", "o=size=1m",
        "ramvol")
    data = os.path.join(root, "volumes", "ramvol", "_data")
    cli(*RUN, "-d", "--name", "ram", "-v", "ramvol:/data", busybox, "sh", "-c",
        "grep ' /data tmpfs ' /proc/mounts; while [ ! -f /data/stop ]; do sleep 0.05; done")
    # mounted once on the host, shared with the container while it runs
    assert mounts_under(data)
    open(os.path.join(data, "stop"), "w").close()
    assert cli("wait", "ram").stdout.strip() == "0"
    assert "size=1024k" in cli("logs", "ram").stdout
    cli("rm", "ram")    # released by then at the latest, whoever (monitor or rm) got there first
    assert not mounts_under(data)


def test_local_driver_bind_volume_is_a_host_directory(cli, busybox, root, hostdir):
    cli("volume", "create", "--opt", "type=none", "--opt", "o=bind", "--opt", f"device={hostdir}",
        "hostvol")
    cli(*RUN, "--rm", "-v", "hostvol:/data", busybox, "sh", "-c", "echo via volume > /data/f")
    with open(os.path.join(hostdir, "f")) as f:
        assert f.read() == "via volume\n"
    # a same-filesystem bind: invisible to os.path.ismount, which is why berth reads mountinfo
    cli(*RUN, "-d", "--name", "holder", "-v", "hostvol:/data", busybox, "sh", "-c",
        "while [ ! -f /data/stop ]; do sleep 0.05; done")
    assert mounts_under(os.path.join(root, "volumes", "hostvol", "_data"))
    p = cli("volume", "rm", "-f", "hostvol", check=False)
    assert p.returncode == 1 and "in use by running container" in p.stderr
    open(os.path.join(hostdir, "stop"), "w").close()
    cli("wait", "holder")
    cli("rm", "holder")
    assert not mounts_under(os.path.join(root, "volumes", "hostvol", "_data"))
    os.unlink(os.path.join(hostdir, "stop"))
    p = cli("volume", "create", "--opt", "o=bind", "bad", check=False)
    assert p.returncode == 125 and 'missing required option: "device"' in p.stderr
    # removing the volume never touches the host directory it was bound to
    cli("volume", "rm", "hostvol")
    assert os.listdir(hostdir) == ["f"]


def test_userns_auto_mounts_volumes_binds_and_tmpfs(cli, busybox, hostdir, root):
    """--userns auto: the monitor mounts them idmapped before it joins the user namespace, so
    the container's root owns what it sees and what it writes lands on disk with the ids the
    container used (as without --userns); a mount on a path berth mounts itself is refused."""
    with open(os.path.join(hostdir, "from-host"), "w") as f:
        f.write("hi\n")
    out = cli("run", "--rm", "--network", "none", "--userns", "auto", "-v", f"{hostdir}:/data",
              "-v", "uv:/v", "--tmpfs", "/scratch", "-v", f"{hostdir}:/ro:ro", busybox, "sh",
              "-c", "cat /data/from-host; echo x > /data/from-ctr; echo y > /v/y; "
              "touch /scratch/a; stat -c '%u %n' /data/from-host /v/y /scratch/a; "
              "touch /ro/z 2>/dev/null || echo ro refused; "
              "awk '{print $1, $2 != 0}' /proc/self/uid_map").stdout
    assert out == "hi\n0 /data/from-host\n0 /v/y\n0 /scratch/a\nro refused\n0 1\n"
    assert os.stat(os.path.join(hostdir, "from-ctr")).st_uid == 0
    assert cli("run", "--rm", "--network", "none", "--userns", "auto", "-v", "uv:/v", busybox,
               "cat", "/v/y").stdout == "y\n"
    p = cli("run", "--rm", "--network", "none", "--userns", "auto", "--tmpfs", "/dev/shm",
            busybox, "true", check=False)
    assert p.returncode == 125 and "--userns auto can't mount on /dev/shm" in p.stderr
    assert cli("ps", "-aq").stdout == ""
    cli("volume", "rm", "uv")
