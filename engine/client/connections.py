"""Connections: named engine addresses, as podman's ``system connection`` keeps them, plus
what docker's users already have: docker's contexts (~/.docker/contexts), DOCKER_HOST and
CONTAINER_HOST. berth's own are in ``~/.config/berth/connections.json`` ($XDG_CONFIG_HOME).

``local`` is always there: the berth engine of this machine, in-process. A ``default`` set by
``berth connection use`` is what commands without -H/--connection work on.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

from ..errors import InvalidArgument, NotFound
from ..paths import connections_file

LOCAL = "local"


@dataclass
class Connection:
    name: str
    url: str                # "" for local
    identity: str = ""      # ssh private key
    source: str = "berth"   # berth | docker context | env
    tls_dir: str = ""       # a docker context's TLS material
    skip_tls_verify: bool = False
    kubeconfig: str = ""    # kube://CONTEXT: the kubeconfig that holds it ("" = kubectl's)

    def connect(self):
        """The engine this connection names (a local Engine for ``local``; a Kubernetes
        cluster for ``kube://CONTEXT``)."""
        if not self.url:
            from ..engine import Engine
            return Engine()
        if is_kube(self.url):
            from ..kube.cluster import Cluster, context_of
            return Cluster(self.name, context_of(self.url), self.kubeconfig)
        from . import connect
        from .transport import TLS
        tls = None
        if self.tls_dir and os.path.isdir(self.tls_dir):
            tls = TLS.in_dir(self.tls_dir, not self.skip_tls_verify)
        elif self.url.startswith("tcp://"):
            tls = TLS.from_env()
        return connect(self.url, self.identity, self.name, tls,
                       connection=self.name if self.source == "berth" else "")


def is_kube(url: str) -> bool:
    """A Kubernetes cluster (a kubeconfig context), not a container engine."""
    return url.startswith("kube://")


def _read() -> dict:
    try:
        with open(connections_file(), encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {"default": "", "connections": {}}
    except (OSError, ValueError) as e:
        raise InvalidArgument(f"{connections_file()} can't be read ({e}): fix or remove "
                              "it") from None
    if not isinstance(data, dict) or not isinstance(data.get("connections"), dict):
        raise InvalidArgument(f"{connections_file()} is not a connections file: fix or remove it")
    return data


def _write(data: dict) -> None:
    from ..store import write_atomic
    path = connections_file()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    write_atomic(path, json.dumps(data, indent=2).encode(), mode=0o600)


def docker_contexts() -> list[Connection]:
    """docker's contexts (``docker context create``), each with its docker endpoint."""
    base = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    meta = os.path.join(base, "contexts", "meta")
    out = []
    try:
        entries = sorted(os.listdir(meta))
    except OSError:
        return out
    for entry in entries:
        try:
            with open(os.path.join(meta, entry, "meta.json"), encoding="utf-8") as f:
                data = json.load(f)
            endpoint = (data.get("Endpoints") or {}).get("docker") or {}
            host = endpoint.get("Host") or ""
        except (OSError, ValueError, AttributeError):
            continue
        if not host or not data.get("Name"):
            continue
        out.append(Connection(data["Name"], host, source="docker context",
                              tls_dir=os.path.join(base, "contexts", "tls", entry, "docker"),
                              skip_tls_verify=bool(endpoint.get("SkipTLSVerify"))))
    return out


def all_connections() -> list[Connection]:
    """Every engine the user has named: local, berth's own, the environment's, docker's."""
    data = _read()
    out = [Connection(LOCAL, "", source="this machine")]
    for name, c in sorted(data["connections"].items()):
        out.append(Connection(name, c.get("url", ""), c.get("identity", ""),
                              kubeconfig=c.get("kubeconfig", "")))
    for var in ("CONTAINER_HOST", "DOCKER_HOST"):
        if os.environ.get(var):
            out.append(Connection(var, os.environ[var], source="env"))
    names = {c.name for c in out}
    out += [c for c in docker_contexts() if c.name not in names]
    return out


def default_name() -> str:
    return _read().get("default") or LOCAL


def find(name: str) -> Connection:
    for c in all_connections():
        if c.name == name:
            return c
    raise NotFound(f"no connection named {name!r}: `berth connection ls` lists them, "
                   "`berth connection add NAME URL` adds one")


def _check_name(name: str) -> None:
    import re
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name or "") or name == LOCAL:
        raise InvalidArgument(f"invalid connection name {name!r}: letters, digits, '_', '.', "
                              f"'-', not starting with a punctuation mark, and not {LOCAL!r}")


def add(name: str, url: str, identity: str = "", default: bool = False,
        kubeconfig: str = "") -> Connection:
    """Name an engine (or, ``kube://CONTEXT``, a cluster: its context is read now from
    ``kubeconfig`` or kubectl's files, so a typo is refused before anything is written)."""
    _check_name(name)
    entry: dict = {"url": url}
    if is_kube(url):
        from ..kube.cluster import find_kubeconfig, context_of
        from ..kube.kubeconfig import load
        if identity:
            raise InvalidArgument("--identity is for ssh:// connections; a cluster's "
                                  "credentials are in its kubeconfig")
        if kubeconfig and not os.path.isfile(kubeconfig):
            raise InvalidArgument(f"--kubeconfig {kubeconfig}: no such file")
        context = context_of(url)
        load(find_kubeconfig(context, kubeconfig), context or None)
        if kubeconfig:
            entry["kubeconfig"] = kubeconfig = os.path.abspath(kubeconfig)
    else:
        from .transport import parse_address
        if kubeconfig:
            raise InvalidArgument("--kubeconfig is for kube://CONTEXT connections")
        parse_address(url)   # refuses what isn't an address before anything is written
        if identity and not os.path.isfile(identity):
            raise InvalidArgument(f"--identity {identity}: no such file")
        if identity:
            entry["identity"] = os.path.abspath(identity)
    data = _read()
    data["connections"][name] = entry
    if default:
        data["default"] = name
    _write(data)
    return Connection(name, url, identity, kubeconfig=kubeconfig)


def remove(name: str) -> None:
    data = _read()
    if name not in data["connections"]:
        raise NotFound(f"no connection named {name!r} of berth's own (docker's contexts and "
                       "the environment's are removed where they are set)")
    del data["connections"][name]
    if data.get("default") == name:
        data["default"] = ""
    _write(data)


def use(name: str) -> None:
    """Make ``name`` what commands work on by default (``local`` goes back to this machine)."""
    if name != LOCAL:
        find(name)
    data = _read()
    data["default"] = "" if name == LOCAL else name
    _write(data)


def resolve(host: str = "", connection: str = ""):
    """The engine for -H URL, --connection NAME, or else the default connection."""
    if host and is_kube(host):
        from ..kube.cluster import Cluster, context_of
        return Cluster(host, context_of(host), named=False)
    if host:
        from . import connect
        from .transport import TLS
        return connect(host, tls=TLS.from_env() if host.startswith("tcp://") else None)
    return find(connection or default_name()).connect()


def context_hash(name: str) -> str:
    """The directory docker keeps a context's files under (sha256 of its name)."""
    return hashlib.sha256(name.encode()).hexdigest()
