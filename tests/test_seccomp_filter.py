"""The BPF program berth compiles from Docker's default seccomp profile decides exactly what the
profile says, for every syscall number of every architecture the kernel lets a container use
(x86_64, i386 and, where the kernel has it, x32): the program is run here by a small classic-BPF
interpreter over each syscall, and, in a real container, the syscalls themselves are made. A
kernel without x32 gets no x32 part (a third of the program, and of what installing it costs
every start) and its x32 syscalls are answered ENOSYS, as that kernel would."""

from __future__ import annotations

import errno
import os
import struct

import pytest

from engine.runtime import caps, seccomp

AUDIT_ARCH = {"SCMP_ARCH_X86_64": 0xC000003E, "SCMP_ARCH_X86": 0x40000003,
              "SCMP_ARCH_X32": 0xC000003E}
RET_ALLOW, RET_ERRNO, RET_DATA = 0x7FFF0000, 0x00050000, 0xFFFF
MAX_NR = 512

pytestmark = pytest.mark.skipif(os.uname().machine != "x86_64", reason="x86_64 profile")


def run_bpf(prog: bytes, nr: int, arch: int, args: tuple[int, ...] = (0,) * 6) -> int:
    """The return value of classic BPF program ``prog`` over a struct seccomp_data."""
    data = struct.pack("<iIQ6Q", nr, arch, 0, *args)
    insns = [struct.unpack_from("<HBBI", prog, i) for i in range(0, len(prog), 8)]
    a = x = pc = 0
    mem = [0] * 16
    while True:
        code, jt, jf, k = insns[pc]
        pc += 1
        if code == 0x20:                      # ld [k]
            a = struct.unpack_from("<I", data, k)[0]
        elif code == 0x00:                    # ld #k
            a = k
        elif code == 0x60:                    # ld M[k]
            a = mem[k]
        elif code == 0x02:                    # st M[k]
            mem[k] = a
        elif code == 0x03:                    # stx M[k]
            mem[k] = x
        elif code == 0x61:                    # ldx M[k]
            x = mem[k]
        elif code == 0x54:                    # and #k
            a &= k
        elif code == 0x07:                    # tax
            x = a
        elif code == 0x87:                    # txa
            a = x
        elif code == 0x05:                    # ja
            pc += k
        elif code in (0x15, 0x25, 0x35, 0x45, 0x1D, 0x2D, 0x3D, 0x4D):
            v = x if code & 0x08 else k
            op = code & 0xF0
            hit = (a == v if op == 0x10 else a > v if op == 0x20 else a >= v if op == 0x30
                   else bool(a & v))
            pc += jt if hit else jf
        elif code == 0x06:                    # ret #k
            return k
        else:
            raise AssertionError(f"opcode {code:#x} at {pc - 1} not understood")


def _expected(resolved: dict) -> dict[tuple[str, int], int | None]:
    """(arch, nr) -> the return the profile asks for (None: it depends on the arguments), each
    number known by its name on that architecture (libseccomp's table)."""
    import pyseccomp as ps
    default = RET_ERRNO | (resolved["defaultErrnoRet"] or errno.EPERM)
    by_name: dict[str, int | None] = {}
    for rule in resolved["rules"]:
        assert rule["action"] in ("SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO"), rule
        ret = RET_ALLOW if rule["action"] == "SCMP_ACT_ALLOW" \
            else RET_ERRNO | (rule["errnoRet"] or errno.EPERM)
        for name in rule["names"]:
            if rule["args"]:
                by_name.setdefault(name, None)
            else:   # decided by a rule without conditions, whatever another says
                by_name[name] = ret
    out = {}
    for arch in ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86"):
        a = getattr(ps.Arch, arch.removeprefix("SCMP_ARCH_"))
        for nr in range(MAX_NR):
            try:
                name = ps.resolve_syscall(a, nr).decode()
            except ValueError:
                name = ""
            out[(arch, nr)] = by_name.get(name, default)
    return out


@pytest.fixture(scope="module")
def default_program(tmp_path_factory):
    prof = seccomp.parse_profile(seccomp.profile_bytes(None))
    resolved = seccomp.resolve(prof, caps.DEFAULT_CAPS)
    prog = seccomp.cached_bpf(None, caps.DEFAULT_CAPS, str(tmp_path_factory.mktemp("bpf")))
    return resolved, prog


def test_the_default_program_decides_every_syscall_as_the_profile_says(default_program):
    resolved, prog = default_program
    wrong = []
    for (arch, nr), want in _expected(resolved).items():
        if want is None:
            continue   # conditions on arguments: below
        got = run_bpf(prog, nr, AUDIT_ARCH[arch])
        if got != want:
            wrong.append((arch, nr, hex(got), hex(want)))
    assert not wrong, wrong[:20]
    # a rule with conditions: personality(PER_LINUX) is allowed, another persona is not
    assert run_bpf(prog, 135, AUDIT_ARCH["SCMP_ARCH_X86_64"], (0, 0, 0, 0, 0, 0)) == RET_ALLOW
    assert run_bpf(prog, 135, AUDIT_ARCH["SCMP_ARCH_X86_64"], (0x0004, 0, 0, 0, 0, 0)) \
        == RET_ERRNO | errno.EPERM
    # clone without namespace flags is allowed, clone(CLONE_NEWUSER) is not
    assert run_bpf(prog, 56, AUDIT_ARCH["SCMP_ARCH_X86_64"], (0x11, 0, 0, 0, 0, 0)) == RET_ALLOW
    assert run_bpf(prog, 56, AUDIT_ARCH["SCMP_ARCH_X86_64"], (0x10000000, 0, 0, 0, 0, 0)) \
        == RET_ERRNO | errno.EPERM


def test_x32_has_its_part_only_where_the_kernel_runs_it(default_program, monkeypatch):
    resolved, prog = default_program
    x32 = 0x40000000
    if seccomp.x32_runs():
        assert run_bpf(prog, x32 | 250, AUDIT_ARCH["SCMP_ARCH_X32"]) == RET_ERRNO | errno.EPERM
        assert run_bpf(prog, x32 | 39, AUDIT_ARCH["SCMP_ARCH_X32"]) == RET_ALLOW
        return
    # every x32 syscall, allowed or not on x86_64, is answered ENOSYS as the kernel would
    for nr in range(MAX_NR):
        assert run_bpf(prog, x32 | nr, AUDIT_ARCH["SCMP_ARCH_X32"]) \
            == RET_ERRNO | errno.ENOSYS, nr
    # and the program is what it would be without x32 in the profile: nothing of x32 left
    monkeypatch.setattr(seccomp, "x32_runs", lambda: True)
    with_x32 = seccomp.compile_bpf(resolved)
    assert len(prog) // 8 < len(with_x32) // 8 * 3 // 4, (len(prog) // 8, len(with_x32) // 8)
    assert run_bpf(with_x32, x32 | 39, AUDIT_ARCH["SCMP_ARCH_X32"]) == RET_ALLOW


def test_a_container_makes_the_syscalls_the_profile_allows_and_no_other(root, busybox):
    """Real syscalls under the installed filter, in a container: busybox's applets that need
    an allowed syscall work, those that need a refused one get EPERM (the profile's errno)."""
    from helpers import berth
    out = berth(root, "run", "--rm", "--network", "none", busybox, "sh", "-c",
                "cat /proc/self/status | grep -c Seccomp; echo ok > /tmp/f && cat /tmp/f; "
                "unshare -U true 2>&1; echo unshare=$?; "
                "swapoff /dev/null 2>&1; echo swapoff=$?; "
                "nice -n 1 true; echo nice=$?", check=False)
    lines = out.stdout.splitlines()
    assert "ok" in lines
    assert "unshare=1" in lines and any("Operation not permitted" in x for x in lines), lines
    assert "swapoff=1" in lines, lines
    assert "nice=0" in lines, lines
    status = berth(root, "run", "--rm", "--network", "none", busybox, "grep", "^Seccomp:",
                   "/proc/self/status").stdout
    assert status.split() == ["Seccomp:", "2"]
