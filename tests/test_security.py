"""Containment pieces on the real kernel, without a container: each child-side step runs in a
forked child (its own mount, IPC or net namespace where it changes anything) and the test reads
what the kernel says about that child."""

from __future__ import annotations

import ctypes
import errno
import json
import os
import stat
import tempfile
import traceback

import pytest

from engine.errors import InvalidArgument
from engine.models import ContainerConfig
from engine.runtime import caps, linux, seccomp, security

DOCKER_DEFAULT_MASK = 0xA80425FB


def in_child(fn, *args):
    """Run ``fn(*args)`` in a forked child and return what it returned (JSON) or raise what it
    raised, as text. The child never returns into pytest."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(r)
        try:
            out = json.dumps({"ok": fn(*args)})
        except BaseException:
            out = json.dumps({"error": traceback.format_exc()})
        os.write(w, out.encode())
        os._exit(0)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.close(r)
    os.waitpid(pid, 0)
    result = json.loads(b"".join(chunks))
    if "error" in result:
        raise AssertionError("in child:\n" + result["error"])
    return result["ok"]


def status_fields(pid="self"):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def cfg(**kw) -> ContainerConfig:
    return ContainerConfig(image="busybox", **kw)


@pytest.fixture
def bpf_cache(tmp_path):
    return str(tmp_path / "seccomp")


# --- capabilities as Docker computes them ---------------------------------------------------

def test_default_capabilities_are_dockers_fourteen():
    assert caps.mask(caps.compute([], [], False)) == DOCKER_DEFAULT_MASK
    assert len(caps.compute([], [], False)) == 14


@pytest.mark.parametrize("add,drop,expect_in,expect_out", [
    (["NET_ADMIN"], [], {"NET_ADMIN", "CHOWN"}, set()),
    (["cap_sys_admin"], ["chown"], {"SYS_ADMIN"}, {"CHOWN"}),
    ([], ["ALL"], set(), set(caps.DEFAULT_CAPS)),
    (["NET_BIND_SERVICE"], ["ALL"], {"NET_BIND_SERVICE"}, {"CHOWN", "KILL"}),
    (["ALL"], ["SYS_ADMIN"], {"SYS_MODULE", "NET_ADMIN", "CHOWN"}, {"SYS_ADMIN"}),
])
def test_cap_add_and_drop(add, drop, expect_in, expect_out):
    got = set(caps.compute(add, drop, False))
    assert expect_in <= got
    assert not expect_out & got


def test_drop_all_leaves_exactly_the_adds():
    assert caps.compute(["NET_BIND_SERVICE"], ["ALL"], False) == ["NET_BIND_SERVICE"]


def test_privileged_gets_every_capability_the_kernel_knows():
    got = caps.compute([], ["ALL"], True)
    bnd = int(status_fields()["CapBnd"], 16)
    # everything the host lets root have (this host withholds SYS_RESOURCE from everyone)
    assert caps.mask(got) == bnd and len(got) >= 38


# --- validate -------------------------------------------------------------------------------

@pytest.mark.parametrize("kw,message", [
    ({"cap_add": ["NET_FOO"]}, 'unknown capability: "CAP_NET_FOO"'),
    ({"cap_drop": ["cap_bogus"]}, 'unknown capability: "CAP_BOGUS"'),
    ({"security_opt": ["bogus"]}, "invalid --security-opt 'bogus'"),
    ({"security_opt": ["seccomp="]}, "seccomp needs unconfined or a profile path"),
    ({"security_opt": ["no-new-privileges=maybe"]}, "no-new-privileges takes true or false"),
    ({"security_opt": ["seccomp=/nonexistent/profile.json"]}, "opening seccomp profile /nonexistent/profile.json"),
    ({"sysctls": {"vm.swappiness": "10"}}, "sysctl 'vm.swappiness' is not in a separate kernel namespace"),
    ({"sysctls": {"kernel.core_pattern": "|/x"}}, "sysctl 'kernel.core_pattern' is not in a separate"),
    ({"sysctls": {"net.ipv4.ip_forward": "1"}, "network_mode": "host"}, "not allowed with --network host"),
    ({"sysctls": {"kernel.hostname": "x"}}, "use --hostname"),
    ({"devices": ["relative/dev"]}, "paths must be absolute"),
    ({"devices": ["/dev/null:/dev/n:rwx"]}, "permissions must be a combination of r, w and m"),
    ({"devices": ["/dev/does-not-exist"]}, "error gathering device information while adding custom device '/dev/does-not-exist'"),
    ({"devices": ["/etc/hostname"]}, "/etc/hostname is not a device node"),
    ({"userns": "private"}, "invalid --userns 'private': expected host or auto"),
    ({"userns": "auto", "privileged": True}, "--privileged is incompatible with --userns auto"),
    ({"group_add": [" "]}, "invalid --group-add"),
])
def test_validate_refuses_with_a_message(kw, message):
    with pytest.raises(InvalidArgument) as e:
        security.validate(cfg(**kw))
    assert message in str(e.value)


def test_validate_accepts_what_docker_accepts(tmp_path):
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}))
    security.validate(cfg(
        cap_add=["NET_ADMIN", "CAP_SYS_PTRACE", "all"], cap_drop=["ALL"],
        security_opt=["no-new-privileges", "seccomp=unconfined", "apparmor=unconfined",
                      "label=disable", "systempaths=unconfined", f"seccomp={profile}",
                      "seccomp:unconfined", "no-new-privileges:true"],
        sysctls={"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000", "fs.mqueue.msg_max": "20",
                 "kernel.domainname": "example"},
        devices=["/dev/null", "/dev/zero:/dev/myzero", "/dev/full:r", "/dev/random:/dev/r:rw"],
        group_add=["audio", "1234"], userns="auto"))


def test_bad_profile_is_refused_at_create(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "NOPE"}]}')
    with pytest.raises(InvalidArgument, match="unknown action 'NOPE'"):
        security.validate(cfg(security_opt=[f"seccomp={p}"]))
    p.write_text("{not json")
    with pytest.raises(InvalidArgument, match="decoding seccomp profile"):
        security.validate(cfg(security_opt=[f"seccomp={p}"]))


# --- the default profile and its resolution -------------------------------------------------

def _names(resolved, action="SCMP_ACT_ALLOW", unconditional=True):
    out = set()
    for r in resolved["rules"]:
        if r["action"] == action and (not unconditional or not r["args"]):
            out.update(r["names"])
    return out


def test_default_profile_is_dockers_shape():
    prof = seccomp.load_profile(seccomp.DEFAULT_PROFILE)
    assert prof["defaultAction"] == "SCMP_ACT_ERRNO" and prof["defaultErrnoRet"] == errno.EPERM
    x86 = [a for a in prof["archMap"] if a["architecture"] == "SCMP_ARCH_X86_64"][0]
    assert x86["subArchitectures"] == ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert len(prof["syscalls"][0]["names"]) > 300


def test_resolution_follows_capabilities():
    prof = seccomp.load_profile(seccomp.DEFAULT_PROFILE)
    default = seccomp.resolve(prof, caps.DEFAULT_CAPS, "x86_64")
    allowed = _names(default)
    # (ptrace is allowed on kernels >= 4.8, as in Docker's profile: the pid namespace and
    # CAP_SYS_PTRACE guard it)
    assert "ptrace" in allowed
    for blocked in ("mount", "umount2", "reboot", "unshare", "setns", "init_module", "bpf",
                    "keyctl", "add_key", "swapon", "kexec_load", "open_by_handle_at"):
        assert blocked not in allowed, blocked
    assert {"read", "execve", "chroot", "arch_prctl", "modify_ldt"} <= allowed
    # clone only without namespace flags, clone3 refused with ENOSYS so libcs fall back to clone
    assert "clone" not in allowed and "clone" in _names(default, unconditional=False)
    assert any(r["names"] == ["clone3"] and r["errnoRet"] == errno.ENOSYS for r in default["rules"])
    assert default["arches"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]

    admin = seccomp.resolve(prof, caps.DEFAULT_CAPS + ["SYS_ADMIN", "SYS_BOOT", "SYS_MODULE"], "x86_64")
    assert {"mount", "umount2", "unshare", "setns", "clone", "reboot", "init_module"} <= _names(admin)
    assert not any(r["names"] == ["clone3"] for r in admin["rules"])
    # without CAP_SYS_CHROOT the chroot rule goes
    assert "chroot" not in _names(seccomp.resolve(prof, ["CHOWN"], "x86_64"))


def test_bpf_is_compiled_once_and_cached(bpf_cache):
    profile = seccomp.profile_bytes(None)
    prog = seccomp.cached_bpf(profile, caps.DEFAULT_CAPS, bpf_cache)
    assert len(prog) % 8 == 0 and len(prog) > 8 * 100
    files = os.listdir(bpf_cache)
    assert len(files) == 1
    # A second call reads the file: make the cached copy recognisable and see it come back.
    path = os.path.join(bpf_cache, files[0])
    with open(path, "wb") as f:
        f.write(b"\0" * 16)
    assert seccomp.cached_bpf(profile, caps.DEFAULT_CAPS, bpf_cache) == b"\0" * 16
    # Another capability set is another program.
    seccomp.cached_bpf(profile, caps.DEFAULT_CAPS + ["SYS_ADMIN"], bpf_cache)
    assert len(os.listdir(bpf_cache)) == 2


def test_prepare_spec_is_json(bpf_cache):
    spec = security.prepare(cfg(cap_add=["NET_ADMIN"], sysctls={"net.ipv4.ip_forward": "1"},
                                devices=["/dev/null:/dev/mynull:r"], group_add=["audio"]),
                            cache_dir=bpf_cache)
    assert json.loads(json.dumps(spec)) == spec
    assert spec["cap_mask"] == DOCKER_DEFAULT_MASK | (1 << caps.CAP_NUMBER["NET_ADMIN"])
    assert spec["seccomp_bpf"] and "/proc/kcore" in spec["masked_paths"]
    assert spec["devices"][0]["path"] == "/dev/mynull" and spec["devices"][0]["major"] == 1
    unconfined = security.prepare(cfg(security_opt=["seccomp=unconfined", "systempaths=unconfined"]),
                                  cache_dir=bpf_cache)
    assert unconfined["seccomp_bpf"] is None and unconfined["masked_paths"] == []
    priv = security.prepare(cfg(privileged=True), cache_dir=bpf_cache)
    assert priv["seccomp_bpf"] is None and priv["readonly_paths"] == [] and priv["devices"]


# --- finalize in a real child ---------------------------------------------------------------

def _finalize_and_report(spec, uid, gid, groups):
    security.finalize(spec, uid, gid, groups)
    st = status_fields()
    return {k: st[k] for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "Seccomp",
                               "NoNewPrivs", "Uid", "Gid", "Groups")}


def _finalize_then_exec(spec, uid, gid, groups, argv):
    """finalize, then exec ``argv`` with stdout to a pipe; returns its output."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(r)
        try:
            os.dup2(w, 1)
            os.dup2(w, 2)
            security.finalize(spec, uid, gid, groups)
            os.execv(argv[0], argv)
        except BaseException:
            os.write(w, traceback.format_exc().encode())
        os._exit(127)
    os.close(w)
    out = b""
    while chunk := os.read(r, 65536):
        out += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return out.decode()


def test_root_in_a_default_container_has_dockers_set_after_exec(bpf_cache):
    spec = security.prepare(cfg(), cache_dir=bpf_cache)
    out = _finalize_then_exec(spec, 0, 0, [], ["/bin/sh", "-c", "grep -E '^(Cap|Seccomp:|NoNewPrivs)' /proc/self/status"])
    fields = dict(line.split(":\t") for line in out.splitlines())
    for k in ("CapPrm", "CapEff", "CapBnd"):
        assert int(fields[k], 16) == DOCKER_DEFAULT_MASK, out
    assert int(fields["CapInh"], 16) == 0 and int(fields["CapAmb"], 16) == 0
    assert fields["Seccomp"] == "2" and fields["NoNewPrivs"] == "0"


def test_non_root_user_keeps_only_the_bounding_set_after_exec(bpf_cache):
    spec = security.prepare(cfg(cap_add=["NET_ADMIN"]), cache_dir=bpf_cache)
    out = _finalize_then_exec(spec, 1000, 1000, [1000, 20], ["/bin/sh", "-c", "grep -E '^(Cap|Uid|Gid|Groups)' /proc/self/status"])
    fields = dict(line.split(":\t") for line in out.splitlines())
    assert int(fields["CapPrm"], 16) == 0 and int(fields["CapEff"], 16) == 0, out
    assert int(fields["CapBnd"], 16) == spec["cap_mask"]
    assert fields["Uid"].split() == ["1000"] * 4 and fields["Gid"].split() == ["1000"] * 4
    assert fields["Groups"].split() == ["20", "1000"]


def test_finalize_sets_no_new_privs_and_group_add(bpf_cache):
    spec = security.prepare(cfg(security_opt=["no-new-privileges"], group_add=["4242"], cap_drop=["ALL"]),
                            cache_dir=bpf_cache)
    got = in_child(_finalize_and_report, spec, 0, 0, [0])
    assert got["NoNewPrivs"] == "1" and got["Seccomp"] == "2"
    assert int(got["CapBnd"], 16) == 0 and int(got["CapEff"], 16) == 0
    assert got["Groups"].split() == ["0", "4242"]


def test_unknown_group_name_fails_finalize(bpf_cache):
    spec = security.prepare(cfg(group_add=["no-such-group-xyz"], security_opt=["seccomp=unconfined"]),
                            cache_dir=bpf_cache)
    with pytest.raises(AssertionError, match="unable to find group no-such-group-xyz"):
        in_child(_finalize_and_report, spec, 0, 0, [])


# --- the filter blocks what Docker's blocks, with Docker's errno ----------------------------

_libc = ctypes.CDLL(None, use_errno=True)
SYS_keyctl, SYS_personality, SYS_clone3, SYS_unshare, SYS_getpid = 250, 135, 435, 272, 39


def _syscall(nr, *args):
    r = _libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    return 0 if r >= 0 else -ctypes.get_errno()


def _probe_filter(prog_hex):
    # Only the filter: the child keeps every capability, so a refusal can only be seccomp's.
    if prog_hex:
        seccomp.install(bytes.fromhex(prog_hex))
    return {
        "keyctl": _syscall(SYS_keyctl, 0, -3, 0),          # KEYCTL_GET_KEYRING_ID, session keyring
        "personality_query": _syscall(SYS_personality, 0xFFFFFFFF),
        "personality_bsd": _syscall(SYS_personality, 0x0006),
        "clone3": _syscall(SYS_clone3, 0, 0),
        "unshare_uts": _syscall(SYS_unshare, linux.CLONE_NEWUTS),
        "getpid": _syscall(SYS_getpid),
        "seccomp_mode": status_fields()["Seccomp"],
    }


def test_default_filter_blocks_with_eperm_where_docker_does(bpf_cache):
    spec = security.prepare(cfg(), cache_dir=bpf_cache)
    without = in_child(_probe_filter, None)
    assert without["keyctl"] != -errno.EPERM and without["unshare_uts"] == 0
    assert without["personality_bsd"] == 0
    got = in_child(_probe_filter, spec["seccomp_bpf"])
    assert got["seccomp_mode"] == "2"
    assert got["keyctl"] == -errno.EPERM
    assert got["unshare_uts"] == -errno.EPERM
    assert got["personality_bsd"] == -errno.EPERM
    assert got["personality_query"] >= 0
    assert got["clone3"] == -errno.ENOSYS
    assert got["getpid"] == 0


def test_sys_admin_opens_unshare_in_the_filter(bpf_cache):
    spec = security.prepare(cfg(cap_add=["SYS_ADMIN"]), cache_dir=bpf_cache)
    got = in_child(_probe_filter, spec["seccomp_bpf"])
    assert got["unshare_uts"] == 0 and got["clone3"] != -errno.ENOSYS


def test_custom_profile_file_is_used(tmp_path, bpf_cache):
    p = tmp_path / "p.json"
    p.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EACCES}]}))
    spec = security.prepare(cfg(security_opt=[f"seccomp={p}"]), cache_dir=bpf_cache)
    got = in_child(_probe_filter, spec["seccomp_bpf"])
    assert got["getpid"] == -errno.EACCES and got["unshare_uts"] == 0


# --- masked and read-only paths, sysctls, devices -------------------------------------------

def _private_mounts():
    linux.unshare(linux.CLONE_NEWNS)
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)


def _apply_paths_and_probe(spec):
    _private_mounts()
    security.apply_paths(spec)
    out = {}
    # (this kernel has no /proc/kcore; these masked files exist and have content on the host)
    for path in ("/proc/timer_list", "/proc/interrupts"):
        with open(path, "rb") as f:
            out[path] = len(f.read(64))
    out["firmware"] = os.listdir("/sys/firmware")
    out["acpi"] = os.listdir("/proc/acpi") if os.path.isdir("/proc/acpi") else None
    try:
        with open("/proc/sys/kernel/domainname", "w") as f:
            f.write("x")
        out["proc_sys"] = "written"
    except OSError as e:
        out["proc_sys"] = errno.errorcode[e.errno]
    out["proc_fs_ro"] = bool(os.statvfs("/proc/fs").f_flag & os.ST_RDONLY)
    out["proc_ro"] = bool(os.statvfs("/proc").f_flag & os.ST_RDONLY)
    return out


def test_masked_and_readonly_paths(bpf_cache):
    before = open("/proc/sys/kernel/domainname").read()
    spec = security.prepare(cfg(security_opt=["seccomp=unconfined"]), cache_dir=bpf_cache)
    got = in_child(_apply_paths_and_probe, spec)
    assert got["/proc/timer_list"] == 0 and got["/proc/interrupts"] == 0
    assert got["firmware"] == [] and got["acpi"] in (None, [])
    assert got["proc_sys"] == "EROFS" and got["proc_fs_ro"] and not got["proc_ro"]
    # the host's own /proc is untouched
    assert len(open("/proc/interrupts").read()) > 0 and os.listdir("/sys/firmware")
    assert open("/proc/sys/kernel/domainname").read() == before


def test_read_only_root(tmp_path, bpf_cache):
    spec = security.prepare(cfg(read_only=True, security_opt=["systempaths=unconfined"]), cache_dir=bpf_cache)
    target = tmp_path / "ro"
    target.mkdir()

    def probe():
        _private_mounts()
        linux.mount(str(target), str(target), None, linux.MS_BIND)
        os.chroot(str(target))
        os.chdir("/")
        security.apply_paths(spec)
        try:
            open("/x", "w").close()
            return "written"
        except OSError as e:
            return errno.errorcode[e.errno]
    assert in_child(probe) == "EROFS"
    assert not (target / "x").exists()


def test_sysctls_land_in_the_childs_namespaces_only(bpf_cache):
    host_shmmni = open("/proc/sys/kernel/shmmni").read().strip()
    spec = security.prepare(cfg(sysctls={"kernel.shmmni": "1234", "net.ipv4.ip_unprivileged_port_start": "80"}),
                            cache_dir=bpf_cache)

    def probe():
        linux.unshare(linux.CLONE_NEWIPC | linux.CLONE_NEWNET)
        security.apply_sysctls(spec)
        return [open("/proc/sys/kernel/shmmni").read().strip(),
                open("/proc/sys/net/ipv4/ip_unprivileged_port_start").read().strip()]
    assert in_child(probe) == ["1234", "80"]
    assert open("/proc/sys/kernel/shmmni").read().strip() == host_shmmni


def test_create_devices_makes_the_nodes(tmp_path, bpf_cache):
    spec = security.prepare(cfg(devices=["/dev/zero:/dev/myzero:rw", "/dev/null"]), cache_dir=bpf_cache)
    (tmp_path / "dev").mkdir()
    security.create_devices(spec, str(tmp_path))
    st = os.stat(tmp_path / "dev" / "myzero")
    assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1 and os.minor(st.st_rdev) == 5
    assert os.minor(os.stat(tmp_path / "dev" / "null").st_rdev) == 3


def test_device_cgroup_rules_allow_only_the_defaults_and_given_devices():
    rules = security.device_cgroup_rules(cfg(devices=["/dev/zero:/dev/z:r"]))
    assert "c 1:3 rwm" in rules and "c 136:* rwm" in rules and "c 1:5 r" in rules
    assert not any(r.startswith("a") for r in rules)
    assert not any(r.startswith("b") and r != "b *:* m" for r in rules)
    assert security.device_cgroup_rules(cfg(privileged=True)) == ["a *:* rwm"]


DEVICES_CGROUP = "/sys/fs/cgroup/devices"


@pytest.mark.skipif(not os.path.isdir(DEVICES_CGROUP) or not os.path.exists("/dev/loop0"),
                    reason="needs the cgroup v1 devices controller and a loop device")
def test_device_rules_enforced_by_a_real_v1_cgroup():
    """Write the rules as the v1 backend does and check the kernel refuses a disk but not /dev/null."""
    d = tempfile.mkdtemp(prefix="berth-test-sec-", dir=DEVICES_CGROUP)
    try:
        with open(os.path.join(d, "devices.deny"), "w") as f:
            f.write("a")
        for rule in security.device_cgroup_rules(cfg()):
            with open(os.path.join(d, "devices.allow"), "w") as f:
                f.write(rule)

        def probe():
            with open(os.path.join(d, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
            out = {}
            for dev in ("/dev/null", "/dev/loop0"):
                try:
                    os.close(os.open(dev, os.O_RDONLY))
                    out[dev] = "ok"
                except OSError as e:
                    out[dev] = errno.errorcode[e.errno]
            return out
        assert in_child(probe) == {"/dev/null": "ok", "/dev/loop0": "EPERM"}
    finally:
        os.rmdir(d)


def test_profile_file_is_embedded_at_create(tmp_path, bpf_cache):
    p = tmp_path / "p.json"
    p.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EACCES}]}))
    c = cfg(security_opt=["no-new-privileges", f"seccomp={p}"])
    security.validate(c)
    assert c.security_opt[0] == "no-new-privileges"
    assert c.security_opt[1].startswith('seccomp={"defaultAction":"SCMP_ACT_ALLOW"')
    p.unlink()                                   # the container no longer needs the file
    spec = security.prepare(c, cache_dir=bpf_cache)
    assert in_child(_probe_filter, spec["seccomp_bpf"])["getpid"] == -errno.EACCES


def test_a_capability_the_host_withholds_is_refused_by_name(bpf_cache):
    own = caps.own_bounding()
    withheld = [c for c in caps.all_caps() if not own & (1 << caps.CAP_NUMBER[c])]
    if not withheld:
        pytest.skip("this host withholds no capability from root")
    from engine.errors import HostError
    with pytest.raises(HostError, match=f"CAP_{withheld[0]}"):
        security.prepare(cfg(cap_add=[withheld[0]]), cache_dir=bpf_cache)
    spec = security.prepare(cfg(cap_add=["ALL"]), cache_dir=bpf_cache)
    assert withheld[0] not in spec["caps"] and spec["cap_mask"] == own


def test_conditions_on_one_argument_are_alternatives(tmp_path, bpf_cache):
    # personality(0xffffffff) or personality(8) allowed, everything else of it refused
    p = tmp_path / "p.json"
    p.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EACCES,
         "args": [{"index": 0, "value": 6, "op": "SCMP_CMP_EQ"},
                  {"index": 0, "value": 7, "op": "SCMP_CMP_EQ"}]}]}))
    spec = security.prepare(cfg(security_opt=[f"seccomp={p}"]), cache_dir=bpf_cache)

    def probe():
        seccomp.install(bytes.fromhex(spec["seccomp_bpf"]))
        return [_syscall(SYS_personality, v) for v in (6, 7)] + [_syscall(SYS_personality, 0xFFFFFFFF)]
    got = in_child(probe)
    assert got[:2] == [-errno.EACCES, -errno.EACCES] and got[2] >= 0


def test_filter_goes_in_before_capabilities_drop_unless_no_new_privs(tmp_path, bpf_cache):
    """runc's order: without no_new_privs the filter is installed while CAP_SYS_ADMIN is still
    held, so it also governs the capability calls after it; with no_new_privs it goes last."""
    p = tmp_path / "no-capset.json"
    p.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["capset"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EACCES}]}))
    before = security.prepare(cfg(security_opt=[f"seccomp={p}"]), cache_dir=bpf_cache)
    with pytest.raises(AssertionError, match="capset"):
        in_child(_finalize_and_report, before, 0, 0, [])
    last = security.prepare(cfg(security_opt=[f"seccomp={p}", "no-new-privileges"]), cache_dir=bpf_cache)
    got = in_child(_finalize_and_report, last, 0, 0, [])
    assert got["Seccomp"] == "2" and got["NoNewPrivs"] == "1"
    assert int(got["CapEff"], 16) == DOCKER_DEFAULT_MASK
