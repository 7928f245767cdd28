"""Nothing of the directory berth is started from, or of its environment, runs as root (issue 17,
item 2).

A hostile directory holds a module for every name of the standard library and of the packages
berth imports (json.py, ipaddress.py, enum.py, encodings/, sitecustomize.py, engine/, textual/,
...), programs berth might look up through PATH (nft, setsid, ...), a PYTHONHOME, a
PYTHONSTARTUP, a user site, a warnings filter naming a module, and a pycache prefix holding
forged bytecode of berth's own modules; each writes a marker file when it runs. berth is
driven from that directory with that environment (PYTHONPATH, PYTHONHOME, PYTHONSTARTUP,
PYTHONINSPECT, PYTHONUSERBASE, PYTHONWARNINGS, PYTHONPYCACHEPREFIX, and "." and "" in PATH)
through the CLI (run, exec, rm -f with the network reaper after it), the API service (cp both
ways and exec, which run in helper processes) and the dashboard's shell and console commands.
No marker may appear.

The CLI, the service and the dashboard are themselves started with ``python -I`` (a Python
program cannot protect itself from the PYTHONPATH its caller gives it; sudo drops these
variables), so what is tested is every process berth starts; one run of the plain ``berth``
script from the hostile directory shows that the directory alone does not reach it either.
"""

from __future__ import annotations

import importlib.util
import io
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pexpect
import pytest

from helpers import REPO
from test_api_support import _answers, stop_service

VENV_BIN = Path(sys.executable).parent
BERTH_SCRIPT = VENV_BIN / "berth"
PACKAGES = ("engine", "tui", "themes", "textual", "rich", "aiohttp", "pyte", "pyroute2",
            "psutil", "pyseccomp", "zstandard", "aiofiles", "_distutils_hack", "encodings")
PROGRAMS = ("nft", "setsid", "ip", "mount", "umount", "sh", "getent", "ldconfig", "uname")
# berth's own modules whose bytecode a pycache prefix could replace
FORGED = ("engine/__init__.py", "engine/runtime/__init__.py", "engine/runtime/monitor.py",
          "engine/network/reaper.py", "engine/docker_api/fs_helper.py", "engine/docker_api/exec_helper.py",
          "tui/__init__.py", "tui/cli.py")


class Hostile:
    def __init__(self, base: Path, root: str):
        self.dir = base / "hostile"
        self.markers = base / "markers"
        self.dir.mkdir()
        self.markers.mkdir()
        for name in sorted(set(sys.stdlib_module_names) - set(sys.builtin_module_names)):
            self._module(self.dir / f"{name}.py", name)
        for name in PACKAGES:
            (self.dir / name).mkdir(exist_ok=True)
            self._module(self.dir / name / "__init__.py", f"{name}/")
        for name in ("sitecustomize", "usercustomize", "hostile_warning"):
            self._module(self.dir / f"{name}.py", name)
        home = self.dir / "home" / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
        (home / "encodings").mkdir(parents=True)
        self._module(home / "encodings" / "__init__.py", "PYTHONHOME")
        userbase = self.dir / "userbase" / "lib" / home.name / "site-packages"
        userbase.mkdir(parents=True)
        self._module(userbase / "usercustomize.py", "PYTHONUSERBASE")
        self._module(self.dir / "startup.py", "PYTHONSTARTUP")
        for name in PROGRAMS:
            prog = self.dir / name
            prog.write_text(f"#!/bin/sh\necho {name} >> {self.markers}/PATH-{name}\n"
                            f"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "
                            f'exec {name} "$@"\n')
            prog.chmod(0o755)
        self.pycache = self.dir / "pycache"
        self._forge_bytecode()
        path = os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        self.env = {**os.environ, "BERTH_ROOT": root, "BERTH_NETWORK_LINGER": "0.3",
                    "PATH": f".::{path}", "PYTHONPATH": str(self.dir),
                    "PYTHONHOME": str(self.dir / "home"),
                    "PYTHONSTARTUP": str(self.dir / "startup.py"), "PYTHONINSPECT": "1",
                    "PYTHONUSERBASE": str(self.dir / "userbase"),
                    "PYTHONWARNINGS": "ignore::hostile_warning.Warning",
                    "PYTHONPYCACHEPREFIX": str(self.pycache)}
        self.env.pop("BERTH_RUN", None)

    def _module(self, path: Path, name: str) -> None:
        # posix, not open(): encodings is imported before the interpreter has open()
        marker = str(self.markers / name.replace("/", "."))
        path.write_text(f"import posix\nposix.close(posix.open({marker!r}, posix.O_CREAT | "
                        "posix.O_WRONLY, 0o644))\n")

    def _forge_bytecode(self) -> None:
        """Bytecode in the pycache prefix that claims to be berth's own modules (same source
        mtime and size, which is all the loader checks)."""
        from importlib._bootstrap_external import _code_to_timestamp_pyc
        old = sys.pycache_prefix
        sys.pycache_prefix = str(self.pycache)
        try:
            for rel in FORGED:
                src = REPO / rel
                st = src.stat()
                marker = str(self.markers / ("pyc-" + rel.replace("/", ".")))
                code = compile(f"import posix\nposix.close(posix.open({marker!r}, "
                               "posix.O_CREAT | posix.O_WRONLY, 0o644))\n", str(src), "exec")
                target = Path(importlib.util.cache_from_source(str(src)))
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(_code_to_timestamp_pyc(code, st.st_mtime, st.st_size))
        finally:
            sys.pycache_prefix = old

    def berth(self, *args: str, check: bool = True, timeout: float = 60,
              **kw) -> subprocess.CompletedProcess:
        """The CLI from the hostile directory with the hostile environment (itself -I)."""
        p = subprocess.run([sys.executable, "-I", str(BERTH_SCRIPT), *args], cwd=self.dir,
                           env=self.env, capture_output=True, text=True, timeout=timeout, **kw)
        if check and p.returncode != 0:
            raise AssertionError(f"berth {' '.join(args)} exited {p.returncode}: {p.stderr}")
        return p

    def ran(self) -> list[str]:
        return sorted(os.listdir(self.markers))


@pytest.fixture
def hostile(tmp_path, root):
    return Hostile(tmp_path, root)


def test_the_hostile_directory_works(hostile):
    """The bait is real: each piece of it is taken by a process that honours it."""
    plain = {k: v for k, v in hostile.env.items() if not k.startswith("PYTHON")}
    steps = {
        "PYTHONHOME": ([sys.executable, "-c", "pass"], hostile.dir, ["PYTHONHOME"]),
        "PYTHONPATH": ([sys.executable, "-c", "pass"], hostile.dir, ["PYTHONPATH"]),
        "the directory": ([sys.executable, "-m", "engine.network.reaper"], hostile.dir, []),
        "PYTHONPYCACHEPREFIX": ([sys.executable, "-c", "import engine"], REPO,
                                ["PYTHONPYCACHEPREFIX"]),
        "PATH": (["/bin/sh", "-c", "nft --version"], hostile.dir, []),
    }
    for what, (argv, cwd, keep) in steps.items():
        before = hostile.ran()
        subprocess.run(argv, cwd=cwd, env={**plain, **{k: hostile.env[k] for k in keep}},
                       capture_output=True, timeout=30)
        assert hostile.ran() != before, f"{what}: nothing of the bait ran"


def test_cli_run_exec_rm_and_the_network_reaper(hostile, root, busybox):
    from engine.paths import Paths
    image = str(busybox)
    assert hostile.berth("run", "--rm", image, "echo", "hi").stdout == "hi\n"
    bridge = Paths.from_env(root).default_bridge
    for leave in (("rm", "-f"), ("network", "disconnect", "bridge")):
        cid = hostile.berth("run", "-d", image, "sleep", "100").stdout.strip()
        assert hostile.berth("exec", cid, "sh", "-c", "echo $((6*7))").stdout == "42\n"
        # the default network goes idle (the monitor's teardown, or this very command): a
        # reaper takes its bridge down a moment later
        hostile.berth(*leave, cid)
        deadline = time.monotonic() + 20
        while os.path.exists(f"/sys/class/net/{bridge}"):
            assert time.monotonic() < deadline, f"{leave}: the network reaper did not run"
            time.sleep(0.05)
        if leave[0] != "rm":
            hostile.berth("rm", "-f", cid)
    assert hostile.ran() == []


def test_plain_berth_script_from_the_hostile_directory(hostile, busybox):
    # no PYTHON* variables: what a root shell that cd'd into a user's directory runs
    env = {k: v for k, v in hostile.env.items() if not k.startswith("PYTHON")}
    p = subprocess.run([str(BERTH_SCRIPT), "run", "--rm", str(busybox), "true"], cwd=hostile.dir,
                       env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert hostile.ran() == []


def test_api_service_cp_and_exec(hostile, root, busybox):
    import docker
    sock = os.path.join(root, "hostile.sock")
    service = subprocess.Popen([sys.executable, "-I", str(BERTH_SCRIPT), "system", "service",
                                "--socket", sock, "--timeout", "0"], cwd=hostile.dir,
                               env=hostile.env, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not _answers(sock):
            assert service.poll() is None, service.stderr.read().decode()
            assert time.monotonic() < deadline, "the service did not answer"
            time.sleep(0.05)
        client = docker.DockerClient(base_url=f"unix://{sock}", timeout=120)
        c = client.containers.run(str(busybox), "sleep 100", detach=True, network_mode="none")
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as tar:
            info = tarfile.TarInfo("note")
            info.size = 5
            tar.addfile(info, io.BytesIO(b"hello"))
        assert c.put_archive("/tmp", data.getvalue())             # fs_helper extract
        chunks, stat = c.get_archive("/tmp/note")                   # fs_helper stat, archive
        with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
            assert tar.extractfile("note").read() == b"hello"
        assert stat["size"] == 5
        code, out = c.exec_run(["cat", "/tmp/note"])                # exec_helper, pipes
        assert (code, out) == (0, b"hello")
        code, out = c.exec_run(["tty"], tty=True)                   # exec_helper, terminal
        assert code == 0 and out.startswith(b"/dev/pts/"), out
        c.remove(force=True)
        client.close()
    finally:
        stop_service(service)
    assert hostile.ran() == []


# The dashboard's own code, run in a process started as the dashboard would be (-I) from the
# hostile directory: the full-terminal shell (screens/shell.py) and the exec console
# (widgets/terminal_sessions.py), each starting `berth exec -it` as it does in the app.
SHELL_SCRIPT = """
import contextlib, sys
from engine import Engine
from tui.screens.shell import run_shell

class App:
    def suspend(self):
        return contextlib.nullcontext()
    def notify(self, message, **kw):
        print("NOTIFY", message)

engine = Engine()
run_shell(App(), engine, engine.container(sys.argv[1]))
print("SHELL DONE")
"""

CONSOLE_SCRIPT = """
import asyncio, os, sys
from engine import Engine
from tui.widgets.terminal_sessions import PtySession, exec_argv

async def main():
    engine = Engine()
    session = PtySession(exec_argv(sys.argv[1], "tty"),
                         {"BERTH_ROOT": engine.paths.root, "BERTH_RUN": engine.paths.run})
    await session.start(24, 80)
    out = b""
    while True:
        try:
            chunk = os.read(session.fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    code, _ = await session.wait()
    print("CONSOLE", code, out.decode(errors="replace").strip())

asyncio.run(main())
"""


def test_dashboard_shell_and_console(hostile, busybox):
    cid = hostile.berth("run", "-d", "--network", "none", str(busybox), "sleep", "100").stdout.strip()
    child = pexpect.spawn(sys.executable, ["-I", "-c", SHELL_SCRIPT, cid], cwd=str(hostile.dir),
                          env=hostile.env, timeout=30)
    try:
        child.expect(r"[#$] ")
        child.sendline("echo in-$((1+1)); exit 3")
        child.expect("in-2")
        child.expect("SHELL DONE")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    p = subprocess.run([sys.executable, "-I", "-c", CONSOLE_SCRIPT, cid], cwd=hostile.dir,
                       env=hostile.env, capture_output=True, text=True, timeout=60)
    assert "CONSOLE 0 /dev/pts/" in p.stdout, (p.stdout, p.stderr)
    hostile.berth("rm", "-f", cid)
    assert hostile.ran() == []
