"""Device rules on cgroup v2: an eBPF program of type CGROUP_DEVICE attached to the container's
cgroup, as runc's devicefilter does (v2 has no devices.allow file).

The program sees (access << 16 | type, major, minor) for every open and mknod of a device node
by a process in the cgroup and answers 1 (allow) or 0 (EPERM). It is built from the same rules
v1 writes to devices.allow ("c 1:3 rwm", "b *:* m", "a *:* rwm"), all of them allow rules after
an implicit deny of everything. The attachment lives as long as the cgroup, so nothing is kept
open and nothing needs removing.
"""

from __future__ import annotations

import ctypes
import os
import struct

from . import linux

_SYS_bpf = 321                      # x86_64
BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2
CGROUP2_SUPER_MAGIC = 0x63677270

# struct bpf_cgroup_dev_ctx's device types and access bits (linux/bpf.h)
_TYPES = {"b": 1, "c": 2}
_ACCESS = {"m": 1, "r": 2, "w": 4}

# eBPF opcodes used below
_LDXW = 0x61        # dst = *(u32 *)(src + off)
_MOV32_REG = 0xbc   # dst = (u32) src
_MOV32_IMM = 0xb4   # dst = imm
_AND32_IMM = 0x54   # dst &= imm
_RSH32_IMM = 0x74   # dst >>= imm
_JNE_IMM = 0x55     # if dst != imm: pc += off
_EXIT = 0x95


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def parse_rule(rule: str) -> tuple[int, int, int, int]:
    """("c 1:3 rwm") -> (type or 0 for any, major or -1, minor or -1, access bits)."""
    parts = rule.split()
    kind = parts[0] if parts else ""
    if kind == "a":
        return 0, -1, -1, 7
    if kind not in _TYPES or len(parts) != 3 or ":" not in parts[1]:
        raise ValueError(f"device rule {rule!r} is not 'TYPE MAJOR:MINOR ACCESS'")
    major, _, minor = parts[1].partition(":")
    access = 0
    for ch in parts[2]:
        if ch not in _ACCESS:
            raise ValueError(f"device rule {rule!r} has access {ch!r}: use r, w and m")
        access |= _ACCESS[ch]

    def number(text: str) -> int:
        if text == "*":
            return -1
        if not text.isdigit():
            raise ValueError(f"device rule {rule!r} has a bad device number {text!r}")
        return int(text)
    return _TYPES[kind], number(major), number(minor), access


def compile_rules(rules: list[str]) -> bytes:
    """The program's instructions: registers 2-5 hold type, access, major and minor; one block
    per rule returns 1 when every field matches; the end returns 0 (unless a rule matched
    everything, as --privileged's ``a *:* rwm`` does)."""
    prog = [_insn(_LDXW, 2, 1, 0), _insn(_AND32_IMM, 2, imm=0xFFFF),
            _insn(_LDXW, 3, 1, 0), _insn(_RSH32_IMM, 3, imm=16),
            _insn(_LDXW, 4, 1, 4), _insn(_LDXW, 5, 1, 8)]
    for rule in rules:
        kind, major, minor, access = parse_rule(rule)
        checks: list[list[bytes]] = []
        if kind:
            checks.append([_insn(_JNE_IMM, 2, imm=kind)])
        if access != 7:
            # any bit asked for that the rule does not grant: no match
            checks.append([_insn(_MOV32_REG, 1, 3), _insn(_AND32_IMM, 1, imm=~access & 7),
                           _insn(_JNE_IMM, 1, imm=0)])
        if major >= 0:
            checks.append([_insn(_JNE_IMM, 4, imm=major)])
        if minor >= 0:
            checks.append([_insn(_JNE_IMM, 5, imm=minor)])
        block = [i for check in checks for i in check] + [_insn(_MOV32_IMM, 0, imm=1),
                                                          _insn(_EXIT)]
        # each jump skips to the end of its block
        out, n = [], len(block)
        for pos, ins in enumerate(block):
            if ins[0] == _JNE_IMM:
                ins = _insn(_JNE_IMM, ins[1] & 0xF, off=n - pos - 1,
                            imm=struct.unpack_from("<i", ins, 4)[0])
            out.append(ins)
        prog += out
        if not checks:
            # it matches everything: what follows could never run, which the verifier refuses
            return b"".join(prog)
    prog += [_insn(_MOV32_IMM, 0, imm=0), _insn(_EXIT)]
    return b"".join(prog)


def _bpf(cmd: int, attr: ctypes.Array, what: str) -> int:
    ret = linux._libc.syscall(_SYS_bpf, ctypes.c_int(cmd), attr, ctypes.c_uint(len(attr)))
    return linux._check(ret, what)


def load(rules: list[str]) -> int:
    """Load the program for ``rules``; returns its fd (OSError with the verifier's last line
    when the kernel refuses it)."""
    insns = compile_rules(rules)
    code = ctypes.create_string_buffer(insns, len(insns))
    license = ctypes.create_string_buffer(b"Apache")

    def attempt(log_size: int) -> int:
        log = ctypes.create_string_buffer(max(log_size, 1))
        attr = ctypes.create_string_buffer(128)
        struct.pack_into("<IIQQIIQ", attr, 0, BPF_PROG_TYPE_CGROUP_DEVICE, len(insns) // 8,
                         ctypes.addressof(code), ctypes.addressof(license),
                         1 if log_size else 0, log_size, ctypes.addressof(log) if log_size else 0)
        attr[48:48 + 12] = b"berth_device"
        try:
            return _bpf(BPF_PROG_LOAD, attr, "bpf(BPF_PROG_LOAD) of the device filter")
        except OSError as e:
            detail = log.value.decode(errors="replace").strip().splitlines()
            if detail:
                raise OSError(e.errno, f"{e.strerror}: {detail[-1]}") from None
            raise
    try:
        return attempt(0)
    except OSError:
        return attempt(1 << 20)   # again, for the verifier's reason


def is_cgroup2(path: str) -> bool:
    """Whether ``path`` is on a cgroup2 filesystem (a directory shaped like one is not)."""
    buf = ctypes.create_string_buffer(128)
    if linux._libc.statfs(os.fsencode(path), buf) != 0:
        return False
    return struct.unpack_from("<q", buf, 0)[0] == CGROUP2_SUPER_MAGIC


def attach(cgroup_dir: str, rules: list[str]) -> None:
    """Allow the processes in ``cgroup_dir`` only the devices ``rules`` name. With
    BPF_F_ALLOW_MULTI it sits beside programs attached higher up (systemd's): every one of them
    must allow an access."""
    prog = load(rules)
    try:
        fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            attr = ctypes.create_string_buffer(20)
            struct.pack_into("<IIII", attr, 0, fd, prog, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)
            _bpf(BPF_PROG_ATTACH, attr, "bpf(BPF_PROG_ATTACH) of the device filter")
        finally:
            os.close(fd)
    finally:
        os.close(prog)
