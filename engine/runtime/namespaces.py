"""Which namespaces a container shares, as Docker's ``--pid``, ``--ipc``, ``--uts`` (HostConfig
PidMode, IpcMode, UTSMode) and ``--cgroup-parent`` say: checked at create with Docker's words,
resolved at every start into the spec the monitor's intermediate follows (monitor_start.py
unshares what is private and ``setns``-es into what is shared).

- ``--pid host`` / ``--uts host`` / ``--ipc host``: the host's namespace (``--ipc host`` also
  binds the host's /dev/shm); the hostname is then the host's and berth never sets it.
- ``--pid container:X``: X's pid namespace (the container sees X's processes, X sees its).
- ``--ipc container:X``: X's IPC namespace and X's /dev/shm, when X was made ``shareable``
  (or uses the host's), as dockerd asks of the donor since its default became ``private``.
- ``--ipc none``: a private IPC namespace without /dev/shm.
- ``--network container:X`` gives the container X's hostname and /etc/hosts, resolv.conf and
  hostname files, as Docker does.
- ``--cgroup-parent P``: the container's cgroup is ``<berth's cgroup parent>/P/<id>``. berth
  keeps every container under its own cgroup hierarchy (so ``system reset`` and the per-root
  cleanup find them all): a relative P goes there, and an absolute one must already be inside
  it; anything else is refused.
"""

from __future__ import annotations

import os
import re

from ..errors import Conflict, InvalidArgument, NotFound

PID_MODES = ("", "host")
IPC_MODES = ("", "none", "private", "shareable", "host")
UTS_MODES = ("", "host")
_COMPONENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@:-]*")
_ID = re.compile(r"[0-9a-f]{64}")


def _container_ref(mode: str) -> str:
    return mode.partition(":")[2] if mode.startswith("container:") else ""


def validate(store, config) -> None:
    """Refuse, at create, modes Docker refuses, with its messages (``InvalidArgument``)."""
    pid, ipc, uts = config.pid_mode, config.ipc_mode, config.uts_mode
    if pid not in PID_MODES and not _container_ref(pid):
        raise InvalidArgument(f"invalid PID mode: {pid}")
    if ipc not in IPC_MODES and not _container_ref(ipc):
        raise InvalidArgument(f"invalid IPC mode: {ipc}")
    if uts not in UTS_MODES:
        raise InvalidArgument(f"invalid UTS mode: {uts}")
    if uts == "host" and config.hostname:
        raise InvalidArgument("conflicting options: hostname and the UTS mode")
    if (pid or ipc not in ("", "private", "shareable", "none") or uts) and \
            config.userns not in ("", "host"):
        raise InvalidArgument(f"conflicting options: --userns {config.userns} and a shared "
                              "PID, IPC or UTS namespace (they belong to the host's user "
                              "namespace)")
    for mode in (pid, ipc):
        ref = _container_ref(mode)
        if ref:
            from . import records
            try:
                records.find(store, ref)
            except NotFound:
                raise InvalidArgument(f"No such container: {ref}") from None
    if config.cgroup_parent:
        cgroup_subpath(store.paths.cgroup_parent, config.cgroup_parent)
    network = config.network_mode or "bridge"
    if config.links:
        if network.startswith("container:"):
            raise InvalidArgument("conflicting options: container type network can't be used "
                                  "with links. This would result in undefined behavior")
        if network == "host":
            raise InvalidArgument("conflicting options: host type networking can't be used "
                                  "with links. This would result in undefined behavior")
        from . import records
        from ..network.hosts import split_links
        for name, alias in split_links(config.links):
            if not name or not alias:
                raise InvalidArgument(f"invalid link format: {config.links}")
            try:
                records.find(store, name)
            except NotFound:
                raise InvalidArgument(f"could not get container for {name}") from None


def cgroup_subpath(berth_parent: str, wanted: str) -> str:
    """``--cgroup-parent`` as a path below berth's own cgroup parent (see the module doc)."""
    path = wanted
    if path.startswith("/"):
        top = "/" + berth_parent
        if path != top and not path.startswith(top + "/"):
            raise InvalidArgument(f"cgroup parent {wanted} is outside berth's cgroup hierarchy "
                                  f"({top}): give a path relative to it, such as "
                                  f"{wanted.strip('/') or 'mine'}, which berth puts under {top}")
        path = path[len(top):]
    parts = [p for p in path.split("/") if p]
    for part in parts:
        if part in (".", "..") or not _COMPONENT.fullmatch(part) or _ID.fullmatch(part):
            raise InvalidArgument(f"invalid cgroup parent {wanted}: use names of letters, "
                                  "digits, '_', '.', '-' separated by '/' (no '..', no "
                                  "64-hex container ids)")
    return "/".join(parts)


def _running_pid(store, ref: str, what: str) -> tuple[int, object]:
    from . import records
    try:
        c = records.find(store, ref)
    except NotFound:
        raise InvalidArgument(f"No such container: {ref}") from None
    if c.state.status not in ("running", "paused") or not c.state.pid:
        raise Conflict(f"cannot join the {what} of container {ref}: container {ref} is not "
                       "running")
    return c.state.pid, c


def _donor_ipc(store, ref: str) -> dict:
    pid, c = _running_pid(store, ref, "IPC namespace")
    mode = c.config.ipc_mode
    if mode == "host":
        return {"mode": "host"}
    if mode.startswith("container:"):
        return _donor_ipc(store, _container_ref(mode))
    if mode != "shareable":
        raise InvalidArgument(f"container {ref}: non-shareable IPC (hint: use IpcMode:shareable "
                              "for the donor container)")
    return {"mode": "container", "pid": pid}


def resolve(store, container) -> dict:
    """What the start spec needs: ``namespaces`` {"pid"|"ipc"|"uts": {"mode", "pid"}} and,
    for ``--network container:X``, X's hostname and record directory (``etc_dir``)."""
    c = container.config
    out: dict = {}
    ns: dict = {}
    if c.pid_mode == "host":
        ns["pid"] = {"mode": "host"}
    elif _container_ref(c.pid_mode):
        pid, _ = _running_pid(store, _container_ref(c.pid_mode), "PID namespace")
        ns["pid"] = {"mode": "container", "pid": pid}
    if c.ipc_mode in ("host", "none"):
        ns["ipc"] = {"mode": c.ipc_mode}
    elif _container_ref(c.ipc_mode):
        ns["ipc"] = _donor_ipc(store, _container_ref(c.ipc_mode))
    if c.uts_mode == "host":
        ns["uts"] = {"mode": "host"}
        out["hostname"] = os.uname().nodename
    if ns:
        out["namespaces"] = ns
    ref = _container_ref(c.network_mode or "")
    if ref:
        from . import records
        donor = records.find(store, ref)
        while donor.config.network_mode.startswith("container:"):
            donor = records.find(store, _container_ref(donor.config.network_mode))
        out["hostname"] = donor.config.hostname or donor.id[:12]
        out["domainname"] = donor.config.domainname
        out["etc_dir"] = store.paths.container_dir(donor.id)
    if c.cgroup_parent:
        out["cgroup_parent"] = cgroup_subpath(store.paths.cgroup_parent, c.cgroup_parent)
    if c.links:
        from ..network.links import link_env
        out["link_env"] = link_env(store, container)
    return out


def host_config(container) -> dict:
    """These settings as inspect's HostConfig shows them."""
    from ..network.hosts import split_links
    c = container.config
    links = [f"/{name}:/{container.name}/{alias}" for name, alias in split_links(c.links)]
    return {"PidMode": c.pid_mode, "IpcMode": c.ipc_mode or "private", "UTSMode": c.uts_mode,
            "CgroupParent": c.cgroup_parent, "Links": links or None}
