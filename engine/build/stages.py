"""The builder: stages in order (FROM, multi-stage, ``--target``), build args, the step loop
with its cache, and what a failed or cancelled build leaves (nothing but the cache of the
steps that succeeded; a cancelled one not even that)."""

from __future__ import annotations

import os

from ..errors import BuildError, Cancelled, InvalidArgument, NotFound
from .events import BuildEvent
from .state import State

# Docker's predefined args: usable without an ARG, left out of history, never "not consumed"
PROXY_ARGS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
              "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")


class StageRun:
    """What one stage has while it builds: its state, its args, whether CMD was set."""

    def __init__(self, stage, state: State, args: dict[str, str | None]):
        self.stage = stage
        self.state = state
        self.args = args            # declared in this stage (value None: declared, no value)
        self.cmd_set = False


class Builder:
    """One build (``Engine.build``): see the module doc."""

    def __init__(self, engine, context_dir: str, options, progress=None, cancel=None):
        self.engine = engine
        self.images = engine.image_store
        self.context = context_dir
        self.options = options
        self.progress = progress or (lambda e: None)
        self.cancel = cancel
        self.step = 0
        self.steps = 0
        self.escape = "\\"
        self.consumed: set[str] = set()
        self.stages: list[StageRun] = []
        self.new_keys: list[str] = []       # cache records this build wrote
        self.new_layers: list = []          # layers this build made
        self.containers: set[str] = set()   # step containers alive now
        self.cache_sources: list[State] | None = None
        self.ignore = None

    # --- events -------------------------------------------------------------------------------
    def emit(self, kind: str, text: str = "", image_id: str = "") -> None:
        self.progress(BuildEvent(kind, text, self.step, self.steps, image_id))

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("the build was cancelled")

    # --- the build ------------------------------------------------------------------------------
    def run(self, dockerfile) -> State:
        from . import steps
        self.escape = dockerfile.escape
        target = self._target(dockerfile)
        todo = dockerfile.stages[:target.index + 1]
        self.steps = len(dockerfile.args) + sum(1 + len(s.instructions) for s in todo)
        labels = dict(self.options.labels or {})
        if labels:
            self.steps += 1
        global_args: dict[str, str | None] = {}
        for ins in dockerfile.args:
            self._begin(ins.original)
            for name, value in self._arg_words(ins, dict(_values(global_args))):
                global_args[name] = self.options.build_args.get(name, value)
                if name in self.options.build_args:
                    self.consumed.add(name)
        self.global_args = global_args
        try:
            with self.images.busy():   # what this build makes is an orphan until recorded
                for stage in todo:
                    self.check_cancel()
                    run = self._from(stage, dockerfile)
                    self.stages.append(run)
                    for ins in stage.instructions:
                        self.check_cancel()
                        self._begin(ins.original)
                        steps.dispatch(self, run, ins)
                    if stage is target and labels:
                        self._begin("LABEL " + " ".join(f'"{k}"="{v}"' for k, v in labels.items()))
                        steps.label(self, run, list(labels.items()))
                final = self.stages[-1].state
                unused = sorted(k for k in self.options.build_args
                                if k not in self.consumed and k not in PROXY_ARGS)
                if unused:
                    self.emit("warning", f"One or more build-args [{' '.join(unused)}] "
                                         "were not consumed")
                return final
        except BaseException as e:
            self._clean_up(cancelled=isinstance(e, (Cancelled, KeyboardInterrupt)))
            raise

    def _target(self, dockerfile):
        if not self.options.target:
            return dockerfile.stages[-1]
        stage = dockerfile.stage(self.options.target)
        if stage is None:
            raise InvalidArgument(f"failed to reach build target {self.options.target} in "
                                  "Dockerfile")
        return stage

    def _begin(self, original: str) -> None:
        self.step += 1
        text = original.strip()
        self.emit("step", f"Step {self.step}/{self.steps} : {text}")

    def _clean_up(self, cancelled: bool) -> None:
        """After a failure: the step containers go; after a cancel, what this build cached and
        made too."""
        from .workspace import discard
        for cid in list(self.containers):
            discard(self.engine, cid)
        self.containers.clear()
        if cancelled:
            for k in self.new_keys:
                self.images.store.delete("build-cache", f"{k}.json")
            self.images.discard_unused([l.blob for l in self.new_layers],
                                       [l.chain_id for l in self.new_layers])

    # --- FROM -----------------------------------------------------------------------------------
    def _from(self, stage, dockerfile) -> StageRun:
        from .expand import expand
        from .options import check_platform
        self._begin("FROM " + (f"--platform={stage.platform} " if stage.platform else "")
                    + stage.base + (f" AS {stage.name}" if stage.name else ""))
        env = dict(_values(self.global_args))
        base = expand(stage.base, env, self.escape)
        if stage.platform:
            check_platform(expand(stage.platform, env, self.escape), "FROM --platform")
        if not base:
            raise InvalidArgument(f"Dockerfile:{stage.line}: base name ({stage.base}) should "
                                  "not be blank")
        earlier = next((r for r in self.stages if r.stage.name and r.stage.name == base.lower()),
                       None)
        if earlier is not None:
            state = earlier.state
        elif base.lower() == "scratch":
            state = State.scratch()
        else:
            state = State.of_image(self.images, self.image(base, self.options.pull))
        run = StageRun(stage, state, {})
        if state.id:   # scratch has none
            self.emit("layer", image_id=state.id)
        triggers = list(state.config.get("OnBuild") or [])
        if triggers:
            from .dockerfile import parse_trigger
            from . import steps
            cfg = dict(state.config)
            cfg.pop("OnBuild", None)
            run.state = State({**state.doc, "config": cfg}, state.layers)
            self.emit("output", f"# Executing {len(triggers)} build "
                                f"trigger{'s' if len(triggers) > 1 else ''}\n")
            for t in triggers:
                self.check_cancel()
                steps.dispatch(self, run, parse_trigger(t, self.escape))
        return run

    def image(self, ref: str, pull: bool = False):
        """A local image by name or id, pulled first when missing (or with ``pull``)."""
        if not pull:
            try:
                return self.images.resolve(ref)
            except NotFound:
                pass
        try:
            self.engine.pull_sync(ref)
        except NotFound:
            raise
        except Exception as e:  # noqa: BLE001 - any failure to pull says why
            if pull:
                try:
                    return self.images.resolve(ref)
                except NotFound:
                    pass
            raise NotFound(f"unable to find image '{ref}' locally, and pulling it failed: "
                           f"{e}") from None
        return self.images.resolve(ref)

    def stage_or_image(self, ref: str) -> State:
        """``COPY --from``/``--mount from``: an earlier stage by name or index, or an image."""
        for r in self.stages:
            if r.stage.name == ref.lower() or str(r.stage.index) == ref:
                return r.state
        if ref.isdigit():
            raise InvalidArgument(f"invalid from flag value {ref}: refers to current build "
                                  "stage or a later one")
        return State.of_image(self.images, self.image(ref))

    # --- args -----------------------------------------------------------------------------------
    def _arg_words(self, ins, env) -> list[tuple[str, str | None]]:
        from .expand import parse_arg
        return parse_arg(ins.args[0] if ins.args else "", env, self.escape)

    def declare_args(self, run: StageRun, ins) -> list[tuple[str, str | None]]:
        """ARG in a stage: each name's value (--build-arg, else the default, else the global
        ARG's); returns the (name, default) pairs declared."""
        out = []
        for name, default in self._arg_words(ins, self.expansion_env(run)):
            if name in self.options.build_args:
                value = self.options.build_args[name]
                self.consumed.add(name)
            elif default is not None:
                value = default
            else:
                value = self.global_args.get(name)
            run.args[name] = value
            out.append((name, default))   # history shows the default, as Docker's does
        return out

    def expansion_env(self, run: StageRun) -> dict[str, str]:
        """What instructions expand with: the args in effect, the stage's ENV over them."""
        env = {k: v for k, v in run.args.items() if v is not None}
        for name in PROXY_ARGS:
            if name in self.options.build_args and name not in env:
                env[name] = self.options.build_args[name]
        for e in run.state.config.get("Env") or []:
            k, _, v = e.partition("=")
            env[k] = v
        return env

    def run_args(self, run: StageRun) -> list[tuple[str, str]]:
        """The build args a RUN sees in its environment (not overridden by ENV), sorted."""
        envs = {e.partition("=")[0] for e in run.state.config.get("Env") or []}
        out = {k: v for k, v in run.args.items() if v is not None and k not in envs}
        for name in PROXY_ARGS:
            if name in self.options.build_args and name not in envs:
                out.setdefault(name, self.options.build_args[name])
        return sorted(out.items())

    # --- the step and its cache -------------------------------------------------------------
    def commit(self, run: StageRun, created_by: str, config: dict | None = None,
               make_layer=None, author: str = "", key_text: str | None = None) -> State:
        """One step on ``run.state``: from the cache when it has it, else ``make_layer()`` (a
        function making the step's layer, or None for a config-only step) and the new config;
        the new state is kept as the stage's and recorded in the cache. ``key_text``: what
        the cache keys on when it holds more than history shows (RUN's mounts, COPY's flags)."""
        from ..clock import now_rfc3339
        from . import cache
        parent = run.state
        k = cache.key(parent.id, key_text or created_by)
        if not self.options.no_cache:
            hit = cache.lookup(self.images, k)
            if hit is None and self.options.cache_from:
                hit = self._from_cache_images(parent, created_by, config, key_text)
            if hit is not None:
                self.emit("cache")
                self.emit("layer", image_id=hit.id)
                run.state = hit
                return hit
        layer = make_layer() if make_layer is not None else None
        if layer is not None:
            self.new_layers.append(layer)
        new = parent.then(config if config is not None else parent.config, created_by,
                          now_rfc3339(), layer, author)
        cache.record(self.images, k, parent.id, created_by, new, layer.size if layer else 0)
        self.new_keys.append(k)
        self.emit("layer", image_id=new.id)
        run.state = new
        return new

    def _from_cache_images(self, parent: State, created_by: str, config,
                           key_text: str | None) -> State | None:
        from . import cache
        if self.cache_sources is None:
            self.cache_sources = []
            for ref in self.options.cache_from:
                try:
                    self.cache_sources.append(State.of_image(self.images,
                                                             self.images.resolve(ref)))
                except NotFound:
                    self.emit("warning", f"cache source {ref} is not a local image: ignored")
        found = cache.from_images(self.cache_sources, parent, created_by)
        if found is None:
            return None
        entry, layer = found
        new = parent.then(config if config is not None else parent.config, created_by,
                          entry.get("created") or "", layer, entry.get("author") or "")
        cache.record(self.images, cache.key(parent.id, key_text or created_by), parent.id,
                     created_by, new, layer.size if layer else 0)
        return new

    def ignore_rules(self):
        """The context's .dockerignore rules (None when it has none)."""
        if self.ignore is None:
            path = os.path.join(self.context, ".dockerignore")
            self.ignore = False
            if os.path.isfile(path):
                from .ignore import IgnoreRules
                self.ignore = IgnoreRules.from_file(path)
        return self.ignore or None

    def fail(self, message: str, exit_code: int = 1, tail: str = "") -> BuildError:
        return BuildError(message, self.step, exit_code, tail)


def _values(args: dict[str, str | None]):
    return ((k, v) for k, v in args.items() if v is not None)


def tmp_dir(engine) -> str:
    d = engine.store.path("tmp")
    os.makedirs(d, exist_ok=True)
    return d
