"""seccomp: Docker-format profiles compiled once to BPF, cached, and installed with one syscall.

A profile (``seccomp_default.json`` beside this module, or a ``--security-opt seccomp=FILE.json``)
is resolved for the container's capabilities and the host's architecture exactly as moby does
(``includes``/``excludes`` on caps, arches and minKernel), compiled with libseccomp through
pyseccomp, and the BPF program is written to a cache file named by the hash of everything that
went into it. The container's start then only reads that file (in the monitor) and calls
``prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &sock_fprog)`` (in the child): pyseccomp is imported
only on a cache miss.
"""

from __future__ import annotations

import os

from engine.errors import InvalidArgument
from engine.runtime import linux

DEFAULT_PROFILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seccomp_default.json")
# Bump when the compiler below changes what it emits for the same profile.
_COMPILER_VERSION = "4"
X32_SYSCALL_BIT = 0x40000000
BOOT_ID = "/proc/sys/kernel/random/boot_id"

PR_SET_SECCOMP = 22
PR_GET_SECCOMP = 21
SECCOMP_MODE_FILTER = 2

# Go's runtime.GOARCH names (used in profiles' includes/excludes "arches") per uname machine.
_GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "i386": "386", "s390x": "s390x",
           "ppc64le": "ppc64le", "riscv64": "riscv64", "armv7l": "arm", "mips64": "mips64"}
# libseccomp's SCMP_ARCH_* names per uname machine (the key into a profile's archMap).
_SCMP_NATIVE = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64", "s390x": "SCMP_ARCH_S390X",
                "ppc64le": "SCMP_ARCH_PPC64LE", "riscv64": "SCMP_ARCH_RISCV64"}
_ACTIONS = ("SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
            "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG")
_OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4, "SCMP_CMP_GE": 5,
        "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}


def load_profile(path: str) -> dict:
    """Read and check a Docker-format seccomp profile; InvalidArgument says what is wrong."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise InvalidArgument(f"opening seccomp profile {path}: {e.strerror}") from None
    return parse_profile(data, path)


def parse_profile(data: bytes | str, where: str = "seccomp profile") -> dict:
    """Check a profile's shape (actions, ops, names) as Docker's loader would."""
    import json
    try:
        prof = json.loads(data)
    except ValueError as e:
        raise InvalidArgument(f"decoding seccomp profile {where}: {e}") from None
    if not isinstance(prof, dict):
        raise InvalidArgument(f"seccomp profile {where} is not a JSON object")
    if prof.get("defaultAction") not in _ACTIONS:
        raise InvalidArgument(f"seccomp profile {where}: unknown defaultAction {prof.get('defaultAction')!r}")
    for i, rule in enumerate(prof.get("syscalls") or []):
        names = rule.get("names") or ([rule["name"]] if rule.get("name") else [])
        if not names:
            raise InvalidArgument(f"seccomp profile {where}: syscalls[{i}] names no syscall")
        if rule.get("action") not in _ACTIONS:
            raise InvalidArgument(f"seccomp profile {where}: syscalls[{i}] has unknown action {rule.get('action')!r}")
        for a in rule.get("args") or []:
            if a.get("op") not in _OPS:
                raise InvalidArgument(f"seccomp profile {where}: syscalls[{i}] has unknown op {a.get('op')!r}")
    return prof


def _kernel_at_least(version: str) -> bool:
    want = tuple(int(x) for x in version.split("."))
    have = tuple(int(x) for x in os.uname().release.split("-")[0].split(".")[:len(want)])
    return have >= want


def resolve(profile: dict, caps: list[str], machine: str | None = None) -> dict:
    """The profile reduced to what applies here: architectures to add, default action and the
    rules whose includes/excludes match ``caps`` (names without CAP_), the arch and the kernel."""
    machine = machine or os.uname().machine
    goarch = _GOARCH.get(machine, machine)
    capset = {"CAP_" + c for c in caps}
    native = _SCMP_NATIVE.get(machine)
    arches: list[str] = []
    for entry in profile.get("archMap") or []:
        if entry.get("architecture") == native:
            arches = [native, *(entry.get("subArchitectures") or [])]
    if not arches:
        arches = list(profile.get("architectures") or [])
    rules = []
    for rule in profile.get("syscalls") or []:
        inc, exc = rule.get("includes") or {}, rule.get("excludes") or {}
        if exc.get("arches") and goarch in exc["arches"]:
            continue
        if exc.get("caps") and capset & set(exc["caps"]):
            continue
        if exc.get("minKernel") and _kernel_at_least(exc["minKernel"]):
            continue
        if inc.get("arches") and goarch not in inc["arches"]:
            continue
        if inc.get("caps") and not set(inc["caps"]) <= capset:
            continue
        if inc.get("minKernel") and not _kernel_at_least(inc["minKernel"]):
            continue
        names = rule.get("names") or [rule["name"]]
        rules.append({"names": names, "action": rule["action"], "errnoRet": rule.get("errnoRet"),
                      "args": rule.get("args") or []})
    return {"defaultAction": profile["defaultAction"], "defaultErrnoRet": profile.get("defaultErrnoRet"),
            "arches": arches, "rules": rules}


def _action(ps, name: str, errno_ret: int | None) -> int:
    import errno as _errno
    if name == "SCMP_ACT_ALLOW":
        return ps.ALLOW
    if name == "SCMP_ACT_ERRNO":
        return ps.ERRNO(_errno.EPERM if errno_ret is None else errno_ret)
    if name in ("SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD"):
        return ps.KILL_THREAD
    if name == "SCMP_ACT_KILL_PROCESS":
        return ps.KILL_PROCESS
    if name == "SCMP_ACT_TRAP":
        return ps.TRAP
    if name == "SCMP_ACT_TRACE":
        return ps.TRACE(_errno.EPERM if errno_ret is None else errno_ret)
    return ps.LOG


def compile_bpf(resolved: dict) -> bytes:
    """Compile a resolved profile to a classic BPF program (an array of struct sock_filter)."""
    import tempfile

    import pyseccomp as ps

    f = ps.SyscallFilter(_action(ps, resolved["defaultAction"], resolved["defaultErrnoRet"]))
    # A binary tree of syscall numbers instead of a linear list: every syscall the container
    # makes runs this program, so its length per syscall matters more than its size.
    try:
        f.set_attr(ps.Attr.CTL_OPTIMIZE, 2)
    except (OSError, ValueError, RuntimeError):
        pass
    for arch in resolved["arches"]:
        if arch == "SCMP_ARCH_X32" and not x32_runs():
            # a kernel without the x32 ABI answers its syscalls ENOSYS: their third of the
            # program (372 of 1,227 instructions) would only cost every start (the kernel checks
            # and JITs the whole program: ~0.3 of its ~1 ms). The filter answers them ENOSYS
            # itself, as its action for an architecture it doesn't cover (libseccomp's: kill)
            import errno
            f.set_attr(ps.Attr.ACT_BADARCH, ps.ERRNO(errno.ENOSYS))
            continue
        a = getattr(ps.Arch, arch.removeprefix("SCMP_ARCH_"), None)
        if a is not None and not f.exist_arch(a):
            f.add_arch(a)
    for rule in resolved["rules"]:
        action = _action(ps, rule["action"], rule["errnoRet"])
        if action == _action(ps, resolved["defaultAction"], resolved["defaultErrnoRet"]):
            continue   # libseccomp refuses a rule equal to the default; it would change nothing
        args = [ps.Arg(a["index"], _OPS[a["op"]], a.get("value", 0), a.get("valueTwo", 0))
                for a in rule["args"]]
        # Conditions on different arguments all have to hold (one rule); several on the same
        # argument are alternatives (a rule each), as moby reads them.
        indexes = [a["index"] for a in rule["args"]]
        alternatives = [[a] for a in args] if len(set(indexes)) < len(indexes) else [args]
        for name in rule["names"]:
            for conds in alternatives:
                try:
                    f.add_rule(action, name, *conds)
                except (OSError, ValueError, RuntimeError):
                    # A syscall libseccomp does not know on any of these arches: moby skips it.
                    break
    with tempfile.TemporaryFile() as out:
        f.export_bpf(out)
        out.seek(0)
        return out.read()


def x32_runs() -> bool:
    """Whether x32 syscalls run here (CONFIG_X86_X32_ABI, not syscall.x32=n, and no seccomp
    filter of ours kills them): an x32 getpid answers, or fails with ENOSYS. Asked in a child,
    which a filter's bad-architecture action may kill (berth inside a berth container). Fixed
    for a boot (the cache key has the boot's id)."""
    if os.uname().machine != "x86_64":
        return False
    linux.load_ctypes()
    call, nr = linux._libc.syscall, linux.ctypes.c_long(X32_SYSCALL_BIT | 39)
    pid = os.fork()
    if pid == 0:
        code = 2
        try:
            code = 0 if call(nr) != -1 or linux.ctypes.get_errno() != 38 else 1   # ENOSYS
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    # unsure (exit 2): keep the x32 part, as before
    return not (os.WIFSIGNALED(status) or os.waitstatus_to_exitcode(status) == 1)


def _boot() -> str:
    """This boot's id: what the kernel decides once per boot (x32_runs) is part of the key."""
    try:
        with open(BOOT_ID) as f:
            return f.read().strip()
    except OSError:
        return ""


def profile_bytes(path: str | None) -> bytes:
    """The raw profile text (the default one when ``path`` is None)."""
    try:
        with open(path or DEFAULT_PROFILE, "rb") as f:
            return f.read()
    except OSError as e:
        raise InvalidArgument(f"opening seccomp profile {path}: {e.strerror}") from None


def cached_bpf(profile: bytes | None, caps: list[str], cache_dir: str) -> bytes:
    """The BPF program for this profile (None: the default one) and capability set, compiled on
    first use and read from ``cache_dir`` afterwards (the key covers the profile, the caps, the
    arch and the kernel). The default profile is known by its file's identity (inode, size,
    mtime): every start uses it, and reading and hashing it cost a start 0.5 ms."""
    uname = os.uname()
    if profile is None:
        from .caps import mask
        st = os.stat(DEFAULT_PROFILE)
        key = (f"default-{_COMPILER_VERSION}-{st.st_ino}-{st.st_size}-{st.st_mtime_ns}-"
               f"{mask(caps):x}-{uname.machine}-{uname.release}-{_boot()}")
    else:
        try:
            from _sha256 import sha256   # hashlib loads OpenSSL: 4 ms of a start
        except ImportError:   # Python 3.12+ calls it _sha2
            from hashlib import sha256
        key = sha256(b"\0".join([
            _COMPILER_VERSION.encode(), profile, ",".join(sorted(caps)).encode(),
            uname.machine.encode(), uname.release.encode(), _boot().encode()])).hexdigest()
    path = os.path.join(cache_dir, key + ".bpf")
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        pass
    if profile is None:
        profile = profile_bytes(None)
    prog = compile_bpf(resolve(parse_profile(profile), caps))
    from ..store import write_atomic  # several starts may compile the same profile at once
    try:
        os.makedirs(cache_dir, 0o700, exist_ok=True)
        write_atomic(path, prog, 0o600, fsync=False)
    except OSError:
        pass   # a full disk: the cache is an optimisation, the start goes on (write_atomic
        # leaves no temporary file behind)
    return prog


def install(prog: bytes) -> None:
    """Load a BPF program as this thread's seccomp filter (needs no_new_privs or CAP_SYS_ADMIN).
    ctypes is loaded by then (linux.py: every caller has made a syscall through it before it
    entered the container)."""
    import ctypes
    import struct   # (init.py's: loaded before pivot_root)

    buf = ctypes.create_string_buffer(prog, len(prog))
    # struct sock_fprog {unsigned short len; struct sock_filter *filter;}, packed as the C
    # compiler lays it out: no ctypes.Structure subclass made at every start (~30 us)
    fprog = ctypes.create_string_buffer(struct.pack("@HP", len(prog) // 8, ctypes.addressof(buf)))
    try:
        linux.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog))
    except OSError as e:
        raise OSError(e.errno, f"installing the seccomp filter: {os.strerror(e.errno)}") from None
