"""Container verbs: create, start, stop, kill, restart, rm, ps, logs, wait, pause, rename, prune.

Synchronous on purpose (the CLI's hot path imports no asyncio); each verb checks the container's
lifecycle rules on its state, changes the records under the container's lock and emits its event.
The running side lives in engine/runtime (the monitor, the init sequence, cgroups).
"""

from __future__ import annotations

import os
import signal as _signal
import time
from typing import Iterator

from .errors import Conflict, ExecError, HostError, InvalidArgument, NotFound
from .models import Container, ContainerConfig, ContainerState, LogLine

POLL = 0.01


class ContainersAPI:
    """Container verbs: create, start, stop, kill, rm, ps, logs, wait, pause (engine/runtime)."""

    # --- lookups --------------------------------------------------------------------------------

    def container(self, ref: str) -> Container:
        from .runtime import records
        return records.find(self.store, ref)

    def containers(self, all: bool = False, filters: dict[str, list[str]] | None = None
                   ) -> list[Container]:
        from .runtime import records
        from .runtime.filters import matches
        out = [c for c in records.all_containers(self.store) if all or c.running or filters]
        if filters:
            out = [c for c in out if matches(c, filters)]
            if not all and "status" not in filters:
                out = [c for c in out if c.running]
        out.sort(key=lambda c: c.created, reverse=True)
        return out

    def container_inspect(self, ref: str) -> dict:
        from .inspect import container_inspect
        return container_inspect(self, self.container(ref))

    # --- create ---------------------------------------------------------------------------------

    def create(self, config: ContainerConfig, name: str | None = None,
               entrypoint_set: bool = False) -> Container:
        from .clock import now_rfc3339
        from .config_check import validate_config
        from .options import validate_name
        from .runtime import process, records
        from .runtime.spec import merge_image
        if name:
            name = validate_name(name)
        validate_config(config)
        _validate_network(self.store, config)
        try:
            from .runtime import security
        except ImportError:
            security = None
        if security is not None:
            security.validate(config)
        image_config, image_id, layer_dirs = self._image_for_create(config.image)
        merge_image(config, image_config, entrypoint_set)
        config.image_id = image_id
        if not config.entrypoint and not config.cmd:
            raise InvalidArgument("no command specified")
        cid = os.urandom(32).hex()
        container = Container(cid, "", now_rfc3339(), config, ContainerState())
        d = self.paths.container_dir(cid)
        with self.store.lock():
            taken = self._names_in_use()
            container.name = name or _fresh_name(taken)
            if container.name in taken:
                owner = taken[container.name]
                raise Conflict(f'Conflict. The container name "/{container.name}" is already in '
                               f'use by container "{owner}". You have to remove (or rename) that '
                               "container to be able to reuse that name.")
            os.mkdir(d, 0o700)   # only root reaches upper/, which may hold setuid files
            for sub in ("rootfs", "upper", "work"):
                os.makedirs(os.path.join(d, sub), exist_ok=True)
            from .network.files import write_container_files
            write_container_files(d, container)
            process.write_json(os.path.join(d, process.STATE), container.state.to_dict())
            records.write_config(self.store, container, layer_dirs)   # the commit point
        if config.mounts or config.image_volumes or config.volumes_from:
            # name and create the volumes now, so they show in `volume ls` and inspect at once
            # and a clash between mount points is refused by create rather than start
            from .volumes import resolve_mounts
            try:
                resolve_mounts(self.store, container)
            except BaseException:
                import shutil
                shutil.rmtree(d, ignore_errors=True)
                raise
        self.emit("container", "create", cid, name=container.name, image=config.image)
        return container

    def _names_in_use(self) -> dict[str, str]:
        """name -> id of every container, removing the leftovers of creates that were killed
        before their commit point (safe: we hold the root's lock, which every create holds)."""
        import shutil
        from .runtime import records
        names = {}
        for cid in self.store.list_dir("containers"):
            raw = records.read_raw(self.store, cid)
            if raw is None:
                if os.path.isdir(self.paths.container_dir(cid)):
                    shutil.rmtree(self.paths.container_dir(cid), ignore_errors=True)
                continue
            names[raw["name"]] = cid
        return names

    def _image_for_create(self, ref: str) -> tuple[dict, str, list[str]]:
        """(image config, image id, layer dirs bottom first) of ``ref``."""
        image_fn = getattr(self, "image", None)
        if image_fn is not None:
            img = image_fn(ref)
            return img.config or {}, img.id, list(self.image_layer_dirs(img))
        from .images.store import ImageStore   # the images area's seam, before its verbs land
        images = ImageStore(self.store)
        try:
            img = images.resolve(ref)
        except NotFound:
            raise NotFound(f"Unable to find image '{ref}' locally: load or pull it first") from None
        return img.config or {}, img.id, images.layer_dirs(img)

    # --- start ----------------------------------------------------------------------------------

    def run(self, config: ContainerConfig, name: str | None = None,
            entrypoint_set: bool = False, attach_fd: int | None = None,
            console_size: tuple[int, int] | None = None) -> Container:
        """create + start, with the monitor's interpreter starting while the record is
        written (what ``berth run`` calls)."""
        launch = self._launch(attach_fd)
        try:
            c = self.create(config, name, entrypoint_set)
        except BaseException:
            launch.close()
            raise
        return self.start(c.id, attach_fd, _launch=launch, console_size=console_size)

    def _launch(self, attach_fd: int | None):
        from .runtime.process import MonitorLaunch
        return MonitorLaunch(self.paths.root, self.paths.run, self.paths.cgroup_parent, attach_fd)

    def start(self, ref: str, attach_fd: int | None = None, _launch=None,
              console_size: tuple[int, int] | None = None) -> Container:
        """Start the container's monitor and return once the command runs. ``attach_fd`` (a
        socket) receives the output stream as ``runtime.frames`` from the first byte;
        ``console_size`` (rows, cols) is the terminal's size from its first instant (-t)."""
        import fcntl
        from .runtime import process, records, spec as specs
        launch = _launch or self._launch(attach_fd)   # it boots while we prepare
        try:
            c = self.container(ref)
            d = self.paths.container_dir(c.id)
            lock = os.open(os.path.join(d, ".start"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                           0o600)
            try:
                fcntl.flock(lock, fcntl.LOCK_EX)   # one start at a time; freed if we are killed
                c = records.load(self.store, c.id) or c
                if c.state.status == "paused":
                    raise Conflict("cannot start a paused container, try unpause instead")
                if c.running:
                    return c
                raw = records.read_raw(self.store, c.id)
                spec = specs.build(self.store, c, raw.get("layer_dirs") or [])
                if console_size:
                    spec["console_size"] = list(console_size)
                process.write_json(os.path.join(d, "spec.json"), spec)
                if c.state.stopped_by_user or c.state.error:
                    process.update_state(d, stopped_by_user=False, error="")
                launch.assign(c.id)
                launch.cgroup_made(self._make_cgroup(c.id, spec))
                msg = launch.result()
            finally:
                os.close(lock)
        finally:
            launch.close()
        if "pid" not in msg:
            code, error = msg.get("code", 125), msg.get("error", "the monitor failed")
            if code in (126, 127):
                raise ExecError(error, code)
            raise HostError(f"failed to start container {c.short_id}: {error}")
        return records.load(self.store, c.id) or c

    def _make_cgroup(self, cid: str, spec: dict) -> bool:
        """Create the container's cgroup while the monitor's interpreter starts (it would wait
        for this otherwise); on failure the monitor tries itself and reports the error."""
        try:
            self._cgroups().create(cid, spec["resources"], spec.get("device_rules"))
            return True
        except OSError:
            return False

    # --- stop, kill, restart, pause -------------------------------------------------------------

    def stop(self, ref: str, timeout: int | None = None) -> Container:
        from .options import signal_number
        from .runtime import process
        c = self.container(ref)
        if not c.running:
            return c
        d = self.paths.container_dir(c.id)
        try:
            process.update_state(d, stopped_by_user=True)
        except OSError:
            pass   # a full disk must not keep a container running (a restart policy may act)
        self._wake_monitor(c)
        if timeout is None:
            timeout = c.config.stop_timeout if c.config.stop_timeout is not None else 10
        if c.state.pid and c.state.status != "restarting":
            self._signal(c, signal_number(c.config.stop_signal or "SIGTERM"))
            if c.state.status == "paused":
                self._thaw_quiet(c.id)
        if not self._wait_stopped(c.id, timeout if timeout >= 0 else None):
            self._signal(c, _signal.SIGKILL)
            self._cgroups().kill_all(c.id)
            self._wait_stopped(c.id, None)
        self.emit("container", "stop", c.id, name=c.name, image=c.config.image)
        return self.container(c.id)

    def kill(self, ref: str, signal: str | int = "SIGKILL") -> Container:
        from .options import signal_number
        c = self.container(ref)
        sig = signal_number(signal)
        if not c.running or not c.state.pid:
            raise Conflict(f"Cannot kill container: {ref}: Container {c.id} is not running")
        self._signal(c, sig)
        if sig == _signal.SIGKILL and c.state.status == "paused":
            self._thaw_quiet(c.id)
        self.emit("container", "kill", c.id, name=c.name, image=c.config.image, signal=str(sig))
        if sig == _signal.SIGKILL:
            self._wait_stopped(c.id, 10)
        return self.container(c.id)

    def restart(self, ref: str, timeout: int | None = None) -> Container:
        c = self.stop(ref, timeout)
        c = self.start(c.id)
        self.emit("container", "restart", c.id, name=c.name, image=c.config.image)
        return c

    def pause(self, ref: str) -> Container:
        from .runtime import process
        c = self.container(ref)
        if c.state.status == "paused":
            raise Conflict(f"Container {c.id} is already paused")
        if not c.can_pause():
            raise Conflict(f"Container {c.id} is not running")
        self._cgroups().freeze(c.id)
        process.update_state(self.paths.container_dir(c.id), status="paused")
        self.emit("container", "pause", c.id, name=c.name, image=c.config.image)
        return self.container(c.id)

    def unpause(self, ref: str) -> Container:
        from .runtime import process
        c = self.container(ref)
        if not c.can_unpause():
            raise Conflict(f"Container {c.id} is not paused")
        self._cgroups().thaw(c.id)
        process.update_state(self.paths.container_dir(c.id), status="running")
        self.emit("container", "unpause", c.id, name=c.name, image=c.config.image)
        return self.container(c.id)

    def _signal(self, c: Container, sig: int) -> None:
        from .runtime import process
        state = process.read_state(self.paths.container_dir(c.id))
        if state.get("pid") and process.monitor_alive(state):
            try:
                os.kill(state["pid"], sig)
            except ProcessLookupError:
                pass

    def _wake_monitor(self, c: Container) -> None:
        from .runtime import process
        state = process.read_state(self.paths.container_dir(c.id))
        if process.monitor_alive(state):
            try:
                os.kill(state["monitor_pid"], _signal.SIGUSR1)
            except ProcessLookupError:
                pass

    def _wait_stopped(self, cid: str, timeout: float | None) -> bool:
        from .runtime import process
        d = self.paths.container_dir(cid)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            state = process.effective_status(process.read_state(d))
            if state.get("status") not in ("running", "paused", "restarting"):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(POLL)

    def _thaw_quiet(self, cid: str) -> None:
        """Thaw so a signal is delivered; a cgroup already removed had nothing to thaw."""
        try:
            self._cgroups().thaw(cid)
        except OSError:
            pass

    def _cgroups(self):
        from .runtime import cgroups
        return cgroups.detect(self.paths)

    # --- update ---------------------------------------------------------------------------------

    def update(self, ref: str, resources=None, restart_policy=None) -> Container:
        """Change the limits and restart policy of a running or stopped container: written to
        its cgroup at once and kept in its record for every later start (Docker's rules;
        engine/runtime/update.py). ``resources``: a dict of Resources fields to change, or a
        Resources whose unset (zero) fields stay as they are; ``restart_policy``: a
        RestartPolicy or Docker's string (``on-failure:3``)."""
        from .runtime.update import UPDATABLE, update
        if resources is None:
            changes = {}
        elif isinstance(resources, dict):
            changes = dict(resources)
        else:
            changes = {k: v for k, v in resources.to_dict().items() if k in UPDATABLE and v}
        if isinstance(restart_policy, str):
            from .options import parse_restart
            restart_policy = parse_restart(restart_policy)
        return update(self, ref, changes, restart_policy)

    def resource_warnings(self, resources) -> list[str]:
        """Docker's warnings for the limits in ``resources`` this host can't apply (the cgroup
        skips them), and berth's note when a block I/O weight can't act."""
        return self._cgroups().warnings(resources)

    # --- remove ---------------------------------------------------------------------------------

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        import shutil
        from .runtime import process
        c = self.container(ref)
        d = self.paths.container_dir(c.id)
        if c.running and not force:
            raise Conflict(f"You cannot remove a running container {c.id}. Stop the container "
                           "before attempting removal or force remove")
        with process.container_lock(d):
            state = process.read_state(d)
            if process.monitor_alive(state):
                # the container's pid 1 dies with its monitor (PR_SET_PDEATHSIG)
                os.kill(state["monitor_pid"], _signal.SIGKILL)
                _wait_gone(state["monitor_pid"])
            state["status"] = "removing"
            try:
                process.write_json(os.path.join(d, process.STATE), state)
            except OSError:
                pass   # a full disk: the removal frees space rather than wait for a mark
        cg = self._cgroups()
        try:
            cg.kill_all(c.id)
            cg.remove(c.id)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise HostError(f"remove the cgroup of {c.short_id}: {e.strerror}") from e
        self._release(c, volumes)
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(self.paths.container_run_dir(c.id), ignore_errors=True)
        self.emit("container", "destroy", c.id, name=c.name, image=c.config.image)

    def _release(self, c: Container, volumes: bool) -> None:
        if c.config.userns not in ("", "host"):
            from .runtime import security   # [containment] give the --userns auto id range back
            security.release(self.paths.root, c.id)
        mode = c.config.network_mode
        if mode not in ("none", "host") and not mode.startswith("container:"):
            try:
                from . import network
                detach = network.detach
            except (ImportError, AttributeError):
                detach = None
            if detach is not None:
                detach(self.store, c)
        if c.config.mounts or c.config.image_volumes or c.config.volumes_from:
            from .volumes import release
            release(self.store, c, remove_anonymous=volumes)

    def prune_containers(self) -> tuple[list[str], int]:
        removed, reclaimed = [], 0
        for c in self.containers(all=True):
            if c.running:
                continue
            reclaimed += _tree_size(os.path.join(self.paths.container_dir(c.id), "upper"))
            try:
                self.remove(c.id)
            except NotFound:
                continue
            removed.append(c.id)
        return removed, reclaimed

    # --- attach, exec ---------------------------------------------------------------------------

    def attach(self, ref: str) -> int:
        """A socket connected to the running container's monitor, speaking ``runtime.frames``
        (output and EXIT from it; STDIN, STDIN_EOF, RESIZE, SIGNAL, DETACH to it)."""
        from .runtime import attach as _attach
        c = self.container(ref)
        if not c.running:
            raise Conflict("You cannot attach to a stopped container, start it first")
        if c.state.status == "paused":
            raise Conflict("You cannot attach to a paused container, unpause it first")
        try:
            return _attach.connect(_attach.socket_path(self.paths.run, c.id))
        except OSError as e:
            raise Conflict(f"cannot attach to {c.short_id}: its monitor does not answer "
                           f"({e.strerror}); was it started by an older berth?") from None

    def exec(self, ref: str, cmd: list[str], *, env: list[str] = (), workdir: str = "",
             user: str = "", tty: bool = False, detach: bool = False, privileged: bool = False,
             console_size: tuple[int, int] | None = None,
             stdio: tuple[int, int, int] | None = None):
        """Run ``cmd`` in the running container with its namespaces, cgroup and security
        settings; an ``runtime.exec.ExecProcess`` (``.master`` with -t, ``.wait()`` the exit
        code). Forks: call it from a process without threads (the CLI), not the dashboard."""
        from .runtime.exec import exec_in
        return exec_in(self.store, self.container(ref), list(cmd), env=list(env),
                       workdir=workdir, user=user, tty=tty, detach=detach,
                       privileged=privileged, console_size=console_size, stdio=stdio)

    # --- top, cp, diff, commit, export -----------------------------------------------------------

    def top(self, ref: str, ps_args=()) -> tuple[list[str], list[list[str]]]:
        """(headers, rows) of the processes in the running container's cgroup: host and
        container pids, user, CPU, memory, command (``ps_args`` accepted, not interpreted)."""
        from .runtime import top
        c = self.container(ref)
        if not c.running:
            raise Conflict(f"Container {c.id} is not running")
        return top.processes(self._cgroups().pids(c.id), c.state.pid)

    def copy_from(self, ref: str, path: str, out, follow_link: bool = False) -> None:
        """``path`` in the container as a tar written to ``out`` (``cp CONTAINER:PATH -``)."""
        from . import containerfs as fs
        c = self.container(ref)
        fs.run_in_root(self.store, c, lambda root, f: fs.archive_path(root, path, f, follow_link),
                       out=out)

    def copy_to(self, ref: str, path: str, stream) -> None:
        """A tar read from ``stream`` extracted into the container's directory ``path``."""
        from . import containerfs as fs
        c = self.container(ref)
        fs.run_in_root(self.store, c, lambda root, f: fs.extract_to(root, path, f), inp=stream)

    def copy_in(self, ref: str, src: str, path: str, follow_link: bool = False) -> None:
        """``cp HOSTPATH CONTAINER:PATH``, bytes, mode, owner and times kept."""
        from . import containerfs as fs
        if not os.path.lexists(src):
            raise NotFound(f"no such file or directory: {src}")
        c = self.container(ref)
        fs.run_in_root(self.store, c,
                       lambda root, _: fs.copy_file_into(root, src, path, follow_link))

    def copy_out(self, ref: str, path: str, dst: str, follow_link: bool = False) -> None:
        """``cp CONTAINER:PATH HOSTPATH``."""
        from . import containerfs as fs
        c = self.container(ref)
        try:
            fs.copy_out_to_host(lambda tmp: self.copy_from(c.id, path, tmp, follow_link), path,
                                dst)
        except OSError as e:
            raise HostError(f"write {e.filename or dst}: {e.strerror or e}") from None

    def diff(self, ref: str) -> list[tuple[str, str]]:
        """The container's changes to its image: ("A"|"C"|"D", path), sorted by path."""
        from . import containerfs as fs
        c = self.container(ref)
        raw = records_raw(self.store, c.id)
        return fs.diff(os.path.join(self.paths.container_dir(c.id), "upper"),
                       list(reversed(raw.get("layer_dirs") or [])))

    def export(self, ref: str, out) -> None:
        """The container's filesystem as a tar, to ``out`` (a path or a binary file)."""
        from . import containerfs as fs
        c = self.container(ref)

        def write(root, f):
            w = fs.TreeWriter(f, one_fs=True)
            try:
                w.add(root, ".", ".", "/")
            finally:
                w.close()
        if isinstance(out, str):
            tmp = f"{out}.berth-{os.getpid()}"
            try:
                with open(tmp, "wb") as f:
                    fs.run_in_root(self.store, c, write, out=f)
                os.rename(tmp, out)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
        else:
            fs.run_in_root(self.store, c, write, out=out)
        self.emit("container", "export", c.id, name=c.name, image=c.config.image)

    def commit(self, ref: str, repository: str | None = None, message: str = "",
               author: str = "", changes=(), pause: bool = True):
        """An image of the container: its image's layers plus its changes as a new layer, with
        its config and ``changes`` (Dockerfile instructions) applied; the Image."""
        from . import containerfs as fs
        c = self.container(ref)
        img = fs.commit(self, c, repository, message, author, changes, pause)
        self.emit("container", "commit", c.id, name=c.name, image=c.config.image)
        return img

    # --- wait, rename, logs ---------------------------------------------------------------------

    def wait(self, ref: str, condition: str = "not-running") -> int:
        from .runtime import process
        c = self.container(ref)
        d = self.paths.container_dir(c.id)
        if condition not in ("not-running", "next-exit", "removed"):
            raise InvalidArgument(f"invalid condition: {condition!r}; use not-running, "
                                  "next-exit or removed")
        started = process.read_state(d).get("started_at", "")
        last = c.state.exit_code
        while True:
            raw = process.read_state(d)
            if not raw:
                return last
            state = process.effective_status(raw)
            last = state.get("exit_code", 0)
            stopped = state.get("status") not in ("running", "paused", "restarting")
            if condition == "not-running" and stopped:
                return last
            if condition == "next-exit" and (stopped and state.get("started_at") != started
                                             or stopped and c.running):
                return last
            time.sleep(0.05)

    def rename(self, ref: str, new_name: str) -> Container:
        from .options import validate_name
        from .runtime import records
        new_name = validate_name(new_name)
        c = self.container(ref)
        with self.store.lock():
            taken = self._names_in_use()
            if new_name in taken and taken[new_name] != c.id:
                raise Conflict(f'Error when allocating new name: The container name "/{new_name}" '
                               f'is already in use by container "{taken[new_name]}". You have to '
                               "remove (or rename) that container to be able to reuse that name.")
            if new_name == c.name:
                raise Conflict(f"Renaming a container with the same name as its current name")
            records.rewrite_name(self.store, c.id, new_name)
        self.emit("container", "rename", c.id, name=new_name, oldName=f"/{c.name}",
                  image=c.config.image)
        return self.container(c.id)

    def logs(self, ref: str, follow: bool = False, tail: int | None = None,
             since: float | None = None, until: float | None = None,
             stop=None) -> Iterator[LogLine]:
        """The container's log lines, oldest first; with ``follow`` the iterator goes on until
        the container ends, or until ``stop`` (a threading.Event) is set: a follower of a
        quiet container otherwise waits for a line that may never come."""
        from .runtime import logs, process
        from .runtime.filters import rfc3339_seconds
        c = self.container(ref)
        d = self.paths.container_dir(c.id)

        def keep(t: str) -> bool:
            if since is None and until is None:
                return True
            secs = rfc3339_seconds(t)
            return (since is None or secs >= since) and (until is None or secs < until)

        for t, stream, text in logs.read_lines(d, tail):
            if keep(t):
                yield LogLine(t, stream, text)
        if not follow or (until is not None and until <= time.time()):
            return

        def running() -> bool:
            state = process.effective_status(process.read_state(d))
            return state.get("status") in ("running", "paused", "restarting")

        if not running():
            return
        for t, stream, text in logs.follow(d, running, stop=stop):
            if until is not None and rfc3339_seconds(t) >= until:
                return
            if keep(t):
                yield LogLine(t, stream, text)


# --- helpers ------------------------------------------------------------------------------------

def records_raw(store, cid: str) -> dict:
    from .runtime import records
    return records.read_raw(store, cid) or {}


def _validate_network(store, config: ContainerConfig) -> None:
    """The network area's refusals (unknown network, -p with container:NAME, …)."""
    try:
        from . import network
        getattr(network, "attach")
    except (ImportError, AttributeError):
        if config.network_mode in ("none", "host"):
            return
        raise InvalidArgument("bridge networking is not available yet; use --network none "
                              "or host") from None
    validate = getattr(network, "validate", None)
    flags = (config.ports or config.publish_all or config.ip_address or config.mac_address
             or config.aliases or config.networks or config.extra_hosts)
    # none and host without network flags have nothing to refuse; skipping saves the import
    # of the network machinery on the hot path
    if validate is not None and (config.network_mode not in ("none", "host") or flags):
        validate(store, config)


def _fresh_name(taken) -> str:
    from .runtime.names import generate
    for retry in range(100):
        name = generate(retry)
        if name not in taken:
            return name
    raise Conflict("could not generate a unique container name; give one with --name")


def _wait_gone(pid: int) -> None:
    from .runtime import process
    for _ in range(1000):
        if not process.start_time(pid):
            return
        time.sleep(0.005)


def _tree_size(path: str) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:
                pass
    return total
