"""What a client of the engine needs besides ``Engine`` and the ground (models, errors, clock,
options): turning what a user typed into models, the attach stream's framing, terminals.

The dashboard and the CLI import the engine only through ``engine`` (the facade, ``connect``),
``engine.models``, ``engine.errors``, ``engine.clock``, ``engine.options`` and this module
(tests/test_boundaries.py holds them to it), so that a remote engine speaking the Docker API
(engine/client/) stands in for the local one. Every name here is the same for either: it
parses, formats or frames, and touches no store. The few that only make sense beside a local
root (``run_api_service``, ``dial_stdio``, ``sealed_environment``, ``sealed_python``) say so.

Each name loads its module on first use, so a hot path pays only for what it touches.
"""

from __future__ import annotations

import importlib

# name -> (module, attribute in it; None for the module itself)
_NAMES: dict[str, tuple[str, str | None]] = {
    # the frames of an attached container's stream (STDOUT/STDERR/EXIT from it, STDIN,
    # RESIZE, SIGNAL, DETACH to it) and the terminal helpers that serve it
    "frames": ("engine.runtime.frames", None),
    "pty": ("engine.runtime.pty", None),
    # ps/logs flags
    "parse_filters": ("engine.runtime.filters", "parse_filters"),
    "parse_since": ("engine.runtime.filters", "parse_since"),
    # events/stats flags
    "parse_event_filters": ("engine.events", "parse_filters"),
    "parse_timestamp": ("engine.events", "parse_timestamp"),
    # run/create/update flags
    "parse_publish": ("engine.network.ports", "parse_publish"),
    "parse_volume": ("engine.volumes", "parse_volume"),
    "parse_mount": ("engine.volumes", "parse_mount"),
    "parse_tmpfs": ("engine.volumes", "parse_tmpfs"),
    "health_from_flags": ("engine.healthconfig", "from_flags"),
    "merge_resources": ("engine.runtime.update", "merge"),
    # image references and registries
    "parse_reference": ("engine.images.reference", "parse"),
    "familiar": ("engine.images.reference", "familiar"),
    "split_tag": ("engine.images.reference", "split_tag"),
    "parse_repo_ref": ("engine.images.distribution", "parse_repo_ref"),
    "registry_key": ("engine.images.auth", "registry_key"),
    # build
    "BuildOptions": ("engine.build.options", "BuildOptions"),
    "check_platform": ("engine.build.options", "check_platform"),
    "render_build_event": ("engine.build.events", "render"),
    "context_from_source": ("engine.build.context", "from_source"),
    "remove_tree": ("engine.fswalk", "remove_tree"),
    # whether `berth connection` has named any engine (a stat: no client module loads for it)
    "connections_file": ("engine.paths", "connections_file"),
    # beside a local root only: the Docker API service (on a socket, or on stdin/stdout for
    # `ssh host berth system dial-stdio`), and the environment of a berth process it starts
    "ApiLimits": ("engine.docker_api.server", "Limits"),
    "run_api_service": ("engine.docker_api.server", "run_service"),
    "dial_stdio": ("engine.docker_api.stdio", "dial_stdio"),
    "sealed_environment": ("engine.runtime.sealed", "environment"),
    "sealed_python": ("engine.runtime.sealed", "python_command"),
    # beside a local root only: `berth run`'s monitor launched at the CLI's first instruction
    # (engine/runtime/process.py launch_early), and the start path's time marks (BERTH_TRACE)
    "launch_monitor_early": ("engine.runtime.process", "launch_early_here"),
    "early_monitor_socket": ("engine.runtime.process", "early_socket"),
    "trace": ("engine.runtime.trace", None),
    # an ssh connection's handshake started at the CLI's first instruction (engine/client)
    "dial_early": ("engine.client", "dial_early"),
    # beside a local root only: `berth node run`, this host as a Kubernetes node (engine/kube/)
    "run_node": ("engine.kube.agent", "run_node"),
    # a Kubernetes connection (kube://CONTEXT, engine/kube/cluster.py): kubectl's columns of
    # its objects, and exec through its API server
    "kube_views": ("engine.kube.views", None),
    "kube_exec": ("engine.kube.exec_client", None),
}

__all__ = sorted(_NAMES)


def __getattr__(name: str):
    try:
        module, attr = _NAMES[name]
    except KeyError:
        raise AttributeError(f"module 'engine.public' has no attribute {name!r}") from None
    value = importlib.import_module(module)
    if attr is not None:
        value = getattr(value, attr)
    globals()[name] = value
    return value
