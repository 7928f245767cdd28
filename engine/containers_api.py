"""Container lifecycle verbs: create, start, stop, kill, restart, rm, ps, pause, rename, prune.

Synchronous on purpose (the CLI's hot path imports no asyncio); each verb checks the container's
lifecycle rules on its state, changes the records under the container's lock and emits its event.
The running side lives in engine/runtime (the monitor, the init sequence, cgroups).

Each verb is ordered so that a SIGKILL at any instant leaves the old state or the new one:

- create: under the root's lock, the name is checked against every container (damaged ones by
  the name their spec.json knows), the whole directory is built as ``containers/<id>.tmp.*`` and
  renamed into place (the commit point; a kill before it leaves garbage the next create sweeps).
  Its volumes are made after (each volume create is atomic; a failure discards the container).
- start: see ``start``'s comments: one start at a time (``.start``), never a second monitor
  (``.monitor``, process.py), and what a monitor that dies makes is released by the next reader
  (runtime/release.py).
- stop/kill: ``stopped_by_user`` is written before the signal, so a restart policy never
  restarts what was stopped; a stop killed before its signal leaves a running container whose
  next ``start`` clears the flag again.
- rm: runtime/release.py (killed part-way, the container stays "Removal In Progress" and
  ``rm -f`` finishes it; start refuses it).
- rename: one atomic, fsynced rewrite of config.json under the root's lock.
"""

from __future__ import annotations

import os
import _signal  # not signal.py: its enum costs `berth run` 1 ms
import time

from .errors import Conflict, ExecError, HostError, InvalidArgument, NotFound
from .models import Container, ContainerConfig, ContainerState
from .paths import rootless

POLL = 0.01
PIDFD_LOOK = 0.25



class ContainersAPI:
    """Container lifecycle verbs: create, start, stop, kill, rm, ps, pause (engine/runtime)."""

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

    def container_inspect(self, ref: str, size: bool = False) -> dict:
        """Docker's inspect object; of a container with a damaged record too, as far as it can
        be known (its State.Error says what is damaged). ``size``: with SizeRw and SizeRootFs
        (``inspect -s``)."""
        from .inspect import container_inspect
        from .runtime import records
        c = records.find(self.store, ref, damaged=True)
        data = container_inspect(self, c)
        if size:
            data["SizeRw"], data["SizeRootFs"] = self.container_size(c.id)
        return data

    # --- create ---------------------------------------------------------------------------------

    def create(self, config: ContainerConfig, name: str | None = None,
               entrypoint_set: bool = False, _image: tuple | None = None) -> Container:
        """A new container; ``_image`` = (image config, image id, layer dirs bottom first)
        stands for an image not recorded (yet): a build's step (engine/build/workspace.py)."""
        from .clock import now_rfc3339
        from .config_check import validate_config
        from .options import validate_name
        from .runtime import process, records
        from .runtime.spec import merge_image
        if name:
            name = validate_name(name)
        validate_config(config)
        _validate_network(self.store, config)
        if rootless():
            from .rootless.checks import validate as validate_rootless
            validate_rootless(self.store, config)
        if config.pid_mode or config.ipc_mode or config.uts_mode or config.cgroup_parent \
                or config.links:
            from .runtime.namespaces import validate as validate_namespaces
            validate_namespaces(self.store, config)
        try:
            from .runtime import security
        except ImportError:
            security = None
        if security is not None:
            security.validate(config)
        with self.store.lock():
            # the image is resolved under the root's lock, which rmi and prune hold to remove
            # one: until config.json names its layers below, nothing can take them away
            image_config, image_id, layer_dirs = _image or self._image_for_create(config.image)
            merge_image(config, image_config, entrypoint_set)
            config.image_id = image_id
            if not config.entrypoint and not config.cmd:
                raise InvalidArgument("no command specified")
            cid = os.urandom(32).hex()
            container = Container(cid, "", now_rfc3339(), config, ContainerState())
            d = self.paths.container_dir(cid)
            taken = self._names_in_use()
            container.name = name or _fresh_name(taken)
            if container.name in taken:
                owner = taken[container.name]
                raise Conflict(f'Conflict. The container name "/{container.name}" is already in '
                               f'use by container "{owner}". You have to remove (or rename) that '
                               "container to be able to reuse that name.")
            # built under a temporary name and renamed into place: a containers/<id> directory
            # is always a whole container, and a kill before the rename leaves only garbage
            # that the next create sweeps (we hold the root's lock, which every create holds)
            import _thread
            staging = f"{d}.tmp.{os.getpid()}.{_thread.get_ident()}"
            try:
                os.mkdir(staging, 0o700)   # only root reaches upper/, which may hold setuid files
                for sub in ("rootfs", "upper", "work"):
                    os.makedirs(os.path.join(staging, sub), exist_ok=True)
                from .network.files import write_container_files
                write_container_files(staging, container)
                process.write_json(os.path.join(staging, process.STATE),
                                   container.state.to_dict())
                records.write_config(self.store, container, layer_dirs, directory=staging)
                os.rename(staging, d)   # the commit point
            except BaseException:
                process.remove_tree(staging)
                raise
        if config.mounts or config.image_volumes or config.volumes_from:
            # name and create the volumes now, so they show in `volume ls` and inspect at once
            # and a clash between mount points is refused by create rather than start
            from .volumes import resolve_mounts
            try:
                resolve_mounts(self.store, container)
            except BaseException:
                process.discard(d)
                raise
        self.emit("container", "create", cid, name=container.name, image=config.image)
        return container

    def _names_in_use(self) -> dict[str, str]:
        """name -> id of every container, damaged ones too (by the name their last start's
        spec.json still knows: it may run, holding that name). Called under the root's lock,
        which every create holds: what is left under a temporary name in containers/ by a
        create or rm that was killed is removed here."""
        from .runtime import records
        from .temps import sweep_temp_files
        names = {}
        sweep_temp_files(self.store, "containers")
        for cid in records.ids(self.store):
            raw = records.read_raw(self.store, cid)
            if raw is not None:
                names[raw["name"]] = cid
            elif os.path.isdir(self.paths.container_dir(cid)):
                spec_name = records.spec_name(self.store, cid)
                if spec_name:
                    names.setdefault(spec_name, cid)
        return names

    def _image_for_create(self, ref: str) -> tuple[dict, str, list[str]]:
        """(image config, image id, layer dirs bottom first) of ``ref``; the caller holds the
        root's lock until its record names those layers. The config is what of the image's can
        be used (hostile input: images/config_check.py), each value left out a warning."""
        image_fn = getattr(self, "image", None)
        if image_fn is not None:
            img = image_fn(ref)
            images = self.image_store
            return images.check_config(img.config, ref), img.id, list(self.image_layer_dirs(img))
        from .images.store import ImageStore   # the images area's seam, before its verbs land
        images = ImageStore(self.store)
        try:
            img = images.resolve(ref)
        except NotFound:
            raise NotFound(f"Unable to find image '{ref}' locally: load or pull it first") from None
        return images.check_config(img.config, ref), img.id, images.layer_dirs(img)

    # --- start ----------------------------------------------------------------------------------

    def run(self, config: ContainerConfig, name: str | None = None,
            entrypoint_set: bool = False, attach_fd: int | None = None,
            console_size: tuple[int, int] | None = None, _image: tuple | None = None
            ) -> Container:
        """create + start, with the monitor's interpreter starting while the record is
        written (what ``berth run`` calls)."""
        from .runtime import trace
        launch = self._launch(attach_fd)
        trace.mark("monitor taken (launched early) or spawned")
        try:
            c = self.create(config, name, entrypoint_set, _image=_image)
        except BaseException:
            launch.close()
            raise
        trace.mark("created: image resolved, names checked, records written")
        return self.start(c.id, attach_fd, _launch=launch, console_size=console_size)

    def _launch(self, attach_fd: int | None):
        from .runtime.process import MonitorLaunch, take_early
        key = (self.paths.root, self.paths.run, self.paths.cgroup_parent)
        return take_early(*key, attach_fd) or MonitorLaunch(*key, attach_fd)

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
                c = records.load(self.store, c.id)   # releases what a dead monitor left
                if c is None:
                    raise NotFound(f"No such container: {ref}")
                if c.state.status == "paused":
                    raise Conflict("cannot start a paused container, try unpause instead")
                if c.running:
                    return c
                if c.state.status in ("removing", "dead"):
                    raise Conflict("container is marked for removal and cannot be started")
                from .runtime.release import settle
                settle(self.store, c.id)   # never a second monitor
                from .runtime import trace
                trace.mark("start: container loaded, locked, settled")
                raw = records.read_raw(self.store, c.id) or {}
                spec = specs.build(self.store, c, raw.get("layer_dirs") or [])
                if console_size:
                    spec["console_size"] = list(console_size)
                # killed before the id is sent, start leaves the container as it was (its
                # monitor exits when the control pipe closes); the spec is written whole
                process.write_json(os.path.join(d, "spec.json"), spec)
                if c.state.stopped_by_user or c.state.error:
                    process.update_state(d, stopped_by_user=False, error="")
                trace.mark("spec built and written")
                launch.assign(c.id)
                # from here the monitor owns the container: killed or not, we leave it running,
                # or failed, or with a dead monitor the next reader releases
                launch.cgroup_made(self._make_cgroup(c.id, spec))
                trace.mark("cgroup made")
                msg = launch.result()
                trace.mark("waited for the monitor's reply (container running)")
            finally:
                os.close(lock)
        finally:
            launch.close()
        if "pid" not in msg:
            from .runtime.release import after_failed_start
            after_failed_start(self.store, c.id)
            code, error = msg.get("code", 125), msg.get("error", "the monitor failed")
            if code in (126, 127):
                raise ExecError(error, code)
            raise HostError(f"failed to start container {c.short_id}: {error}")
        c = records.load(self.store, c.id) or c
        trace.mark("container reloaded")
        return c

    def _make_cgroup(self, cid: str, spec: dict) -> bool:
        """Create the container's cgroup while the monitor's interpreter starts (it would wait
        for this otherwise); on failure the monitor tries itself and reports the error."""
        from .runtime import cgroups
        try:
            cgroups.of_spec(spec, self.paths.cgroup_parent).create(
                cid, spec["resources"], spec.get("device_rules"))
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
        # the record afresh (a restart changes the pid), else what the reader salvaged
        state = process.read_state(self.paths.container_dir(c.id)) or c.state.to_dict()
        if state.get("pid") and process.monitor_alive(state):
            try:
                os.kill(state["pid"], sig)
            except ProcessLookupError:
                pass

    def _wake_monitor(self, c: Container) -> None:
        from .runtime import process
        state = process.read_state(self.paths.container_dir(c.id)) or c.state.to_dict()
        if process.monitor_alive(state):
            try:
                os.kill(state["monitor_pid"], _signal.SIGUSR1)
            except ProcessLookupError:
                pass

    def _wait_stopped(self, cid: str, timeout: float | None) -> bool:
        """Until the record says stopped: asleep on a pidfd of pid 1 while it runs (looking at
        the record every PIDFD_LOOK, in case the pid was reused), then a look every POLL until
        the monitor writes the exit down (polling alone kept the dashboard busy while stops
        waited)."""
        from .runtime import process
        d = self.paths.container_dir(cid)
        deadline = None if timeout is None else time.monotonic() + timeout
        waited_on = 0
        while True:
            state = process.effective_status(process.read_state(d))
            if state.get("status") not in ("running", "paused", "restarting"):
                return True
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return False
            left = PIDFD_LOOK if deadline is None else min(PIDFD_LOOK, deadline - now)
            pid = state.get("pid") or 0
            if state.get("status") == "running" and pid and pid != waited_on \
                    and process.sleep_until_exit(pid, left):
                waited_on = pid   # gone: from here the monitor's record is what's awaited
                continue
            time.sleep(min(POLL, left))

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
        """rm: works on a container whose record is damaged too (engine/runtime/release.py
        has the order of its steps)."""
        from .runtime import records, release
        c = records.find(self.store, ref, damaged=True)
        if c.running and not force:
            raise Conflict(f"You cannot remove a running container {c.id}. Stop the container "
                           "before attempting removal or force remove")
        release.remove(self.store, c.id, records.read_config(self.store, c.id)[0], volumes)

    def prune_containers(self) -> tuple[list[str], int]:
        from .fswalk import tree_size
        removed, reclaimed = [], 0
        for c in self.containers(all=True):
            if c.running:
                continue
            reclaimed += tree_size(os.path.join(self.paths.container_dir(c.id), "upper"))
            try:
                self.remove(c.id)
            except NotFound:
                continue
            removed.append(c.id)
        return removed, reclaimed

    # --- rename -------------------------------------------------------------------------------------
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
                raise Conflict("Renaming a container with the same name as its current name")
            records.rewrite_name(self.store, c.id, new_name)
        self.emit("container", "rename", c.id, name=new_name, oldName=f"/{c.name}",
                  image=c.config.image)
        return self.container(c.id)

# --- helpers ------------------------------------------------------------------------------------

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

