"""Where a remote engine is and how to reach it: unix sockets, tcp (with TLS as docker's
``--tlsverify``/``DOCKER_CERT_PATH``), and ``ssh://user@host[:port]``, which runs
``berth system dial-stdio`` (or docker's own ``docker system dial-stdio``) on the far end
through the ssh binary, as docker's ssh helper does, and speaks HTTP over its stdin/stdout.
``ssh://user@host[:port]/path/to.sock`` (podman's connections) reaches the engine's socket
there through ``ssh -L`` instead (forward.py).

``dial(address)`` gives a connected stream socket for one HTTP connection; an ssh one is one
end of a socketpair whose other end is the ssh process's stdin and stdout.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from ..errors import HostError, InvalidArgument, Unreachable

# what the far end of an ssh connection runs: berth when it has it, else docker's helper, else
# podman's (podman 4 has the same verb)
REMOTE_DIAL = ("if command -v berth >/dev/null 2>&1; then exec berth system dial-stdio; "
               "elif command -v docker >/dev/null 2>&1; then exec docker system dial-stdio; "
               "else exec podman system dial-stdio; fi")
CONNECT_TIMEOUT = 10.0


@dataclass
class TLS:
    """Docker's client TLS: a CA to verify the daemon (``verify``), a certificate to show."""

    verify: bool = True
    ca: str = ""
    cert: str = ""
    key: str = ""

    @classmethod
    def from_env(cls, env=None) -> "TLS | None":
        """DOCKER_TLS_VERIFY / DOCKER_CERT_PATH as the docker CLI reads them (None: plain tcp)."""
        env = os.environ if env is None else env
        if env.get("BERTH_TLS"):   # berth's --tls/--tlsverify/--tls* flags, as docker's
            path = env.get("DOCKER_CERT_PATH") or os.path.expanduser("~/.docker")
            dflt = cls.in_dir(path, env["BERTH_TLS"] == "verify")
            return cls(dflt.verify, env.get("BERTH_TLSCACERT") or dflt.ca,
                       env.get("BERTH_TLSCERT") or dflt.cert, env.get("BERTH_TLSKEY") or dflt.key)
        path = env.get("DOCKER_CERT_PATH", "")
        verify = bool(env.get("DOCKER_TLS_VERIFY"))
        if not (verify or path):
            return None
        path = path or os.path.expanduser("~/.docker")
        return cls.in_dir(path, verify)

    @classmethod
    def in_dir(cls, path: str, verify: bool = True) -> "TLS":
        pick = lambda name: os.path.join(path, name) if os.path.exists(os.path.join(path, name)) else ""  # noqa: E731
        return cls(verify, pick("ca.pem"), pick("cert.pem"), pick("key.pem"))

    def context(self, hostname: str):
        import ssl
        ctx = ssl.create_default_context(cafile=self.ca or None)
        if not self.verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.cert:
            ctx.load_cert_chain(self.cert, self.key or None)
        return ctx


@dataclass
class Address:
    """A parsed engine address: ``scheme`` unix | tcp | ssh."""

    url: str
    scheme: str
    path: str = ""          # unix: the socket; ssh: the engine's socket there, if given
    host: str = ""
    port: int = 0
    user: str = ""
    identity: str = ""      # ssh: a private key (ssh -i)
    tls: TLS | None = None
    remote_command: str = REMOTE_DIAL
    extra: dict = field(default_factory=dict)

    @property
    def display(self) -> str:
        """The address without secrets, as `connection ls` and errors show it."""
        return self.url


def parse_address(url: str, identity: str = "", tls: TLS | None = None) -> Address:
    """``unix:///path``, ``tcp://host:port`` (``http://`` alike; ``https://`` is tcp with TLS),
    ``ssh://[user@]host[:port]``. InvalidArgument names what is wrong with anything else."""
    text = url.strip()
    if text.startswith("/"):
        text = "unix://" + text
    parts = urlsplit(text)
    scheme = parts.scheme
    if scheme == "unix":
        path = unquote(parts.path or parts.netloc)
        if not path:
            raise InvalidArgument(f"{url}: a unix address needs a socket path (unix:///run/docker.sock)")
        return Address(url, "unix", path=path)
    if scheme in ("tcp", "http", "https"):
        if not parts.hostname:
            raise InvalidArgument(f"{url}: a tcp address needs a host (tcp://HOST:PORT)")
        if scheme == "https" and tls is None:
            tls = TLS()
        port = parts.port or (2376 if tls else 2375)
        return Address(url, "tcp", host=parts.hostname, port=port, tls=tls)
    if scheme == "ssh":
        if not parts.hostname:
            raise InvalidArgument(f"{url}: an ssh address needs a host (ssh://USER@HOST[:PORT])")
        # a path is an engine's socket there (podman's connections, whose ?secure=True
        # berth has no use for: ssh checks the host key anyway): forwarded by ssh -L
        path = unquote(parts.path) if parts.path not in ("", "/") else ""
        return Address(url, "ssh", host=parts.hostname, port=parts.port or 0,
                       user=unquote(parts.username or ""), identity=identity, path=path)
    raise InvalidArgument(f"{url}: not an engine address: give unix:///PATH, tcp://HOST:PORT "
                          "or ssh://USER@HOST[:PORT][/SOCKET]")


def ssh_argv(addr: Address, command: str = "", tty: bool = False,
             forward: tuple[str, str] | None = None) -> list[str]:
    """The ssh command line that runs the dial-stdio helper (or ``command``) on ``addr``'s
    host; ``forward`` (LOCAL, REMOTE) adds a forward of socket LOCAL here to REMOTE there.
    BERTH_SSH_COMMAND replaces ``ssh`` (with its own options), as GIT_SSH_COMMAND does git's."""
    argv = shlex.split(os.environ.get("BERTH_SSH_COMMAND") or "ssh")
    argv.append("-tt" if tty else "-T")
    argv += ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={int(CONNECT_TIMEOUT)}"]
    if forward:
        argv += ["-o", "ExitOnForwardFailure=yes", "-o", "StreamLocalBindUnlink=yes",
                 "-L", f"{forward[0]}:{forward[1]}"]
    if addr.port:
        argv += ["-p", str(addr.port)]
    if addr.identity:
        argv += ["-i", addr.identity]
    argv += ["--", f"{addr.user}@{addr.host}" if addr.user else addr.host,
             command or addr.remote_command]
    return argv


class SSHSocket:
    """One end of a socketpair whose other end is an ssh process's stdio: a socket to the
    far end's dial-stdio. ``close`` ends the ssh process too."""

    shared = False   # the process is this connection's alone

    def __init__(self, addr: Address):
        import tempfile
        self.addr = addr
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.errors = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(ssh_argv(addr), stdin=theirs, stdout=theirs,
                                         stderr=self.errors, start_new_session=True)
        except FileNotFoundError:
            mine.close()
            raise HostError(f"{addr.display}: no ssh binary: install openssh-client") from None
        finally:
            theirs.close()
        self.sock = mine

    def stderr_text(self) -> str:
        """What ssh said on its way out (or its exit status, when it said nothing)."""
        try:
            self.proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            pass
        try:
            self.errors.seek(0)
            said = self.errors.read().decode(errors="replace").strip()
        except (OSError, ValueError):
            said = ""
        code = self.proc.returncode
        return said or (f"ssh exited with status {code}" if code else "")

    def close(self) -> None:
        try:
            self.sock.close()
        finally:
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.errors.close()


# ssh processes started ahead of their first dial (dial_early), by their command line
_early: dict[tuple, SSHSocket] = {}


def dial_early(addr: Address) -> None:
    """Start the ssh process of ``addr``'s first connection now, so that its handshake (the
    longest part of a first answer over ssh) runs while the caller loads the rest of itself;
    the first ``dial`` of the same address takes it. A failure here is said by that dial."""
    if addr.scheme != "ssh":
        return
    key = tuple(ssh_argv(addr))
    try:
        if addr.path:
            from . import forward
            forward.forwarder(addr)
        elif key not in _early:
            _early[key] = SSHSocket(addr)
    except (HostError, OSError):
        pass


def dial(addr: Address, timeout: float | None = CONNECT_TIMEOUT):
    """A connected socket to ``addr`` (and, for ssh, the SSHSocket that owns its process).
    HostError names the address and why it can't be reached."""
    try:
        if addr.scheme == "unix":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            try:
                s.connect(addr.path)
            except BaseException:
                s.close()
                raise
            s.settimeout(None)
            return s, None
        if addr.scheme == "tcp":
            s = socket.create_connection((addr.host, addr.port), timeout=timeout)
            if addr.tls is not None:
                try:
                    s = addr.tls.context(addr.host).wrap_socket(s, server_hostname=addr.host)
                except BaseException:
                    s.close()
                    raise
            s.settimeout(None)
            return s, None
        if addr.path:   # an engine's socket there, through the process's ssh -L
            from . import forward
            return forward.dial(addr, timeout)
        owner = _early.pop(tuple(ssh_argv(addr)), None) if _early else None
        owner = owner or SSHSocket(addr)
        return owner.sock, owner
    except OSError as e:
        raise Unreachable(f"cannot reach {addr.display}: {e.strerror or e}") from None
