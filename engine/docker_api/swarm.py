"""Swarm endpoints, answered as a dockerd that is not in a swarm answers them: berth has no
swarm mode. Every cluster verb is 503 with moby's ``errNoManager`` sentence (daemon/cluster),
leaving a swarm is 503 "This node is not part of a swarm" (``errNoSwarm``, which docker-py's
``leave_swarm(force=True)`` takes as done), and ``init``/``join`` are refused by name."""

from __future__ import annotations

from aiohttp import web

from .server import error_response

NOT_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" '
               'to connect this node to swarm and try again.')
NOT_IN_SWARM = "This node is not part of a swarm"

# (method, path) of every route of moby's swarm router that needs a manager
_CLUSTER_ROUTES = (
    ("GET", "/swarm"), ("GET", "/swarm/unlockkey"), ("POST", "/swarm/update"),
    ("POST", "/swarm/unlock"),
    ("GET", "/services"), ("GET", "/services/{id}"), ("POST", "/services/create"),
    ("POST", "/services/{id}/update"), ("DELETE", "/services/{id}"),
    ("GET", "/services/{id}/logs"),
    ("GET", "/nodes"), ("GET", "/nodes/{id}"), ("DELETE", "/nodes/{id}"),
    ("POST", "/nodes/{id}/update"),
    ("GET", "/tasks"), ("GET", "/tasks/{id}"), ("GET", "/tasks/{id}/logs"),
    ("GET", "/secrets"), ("POST", "/secrets/create"), ("GET", "/secrets/{id}"),
    ("DELETE", "/secrets/{id}"), ("POST", "/secrets/{id}/update"),
    ("GET", "/configs"), ("POST", "/configs/create"), ("GET", "/configs/{id}"),
    ("DELETE", "/configs/{id}"), ("POST", "/configs/{id}/update"),
)


def register(routes) -> None:
    for method, path in _CLUSTER_ROUTES:
        routes.add(method, path, not_manager)
    routes.add("POST", "/swarm/leave", leave)
    routes.add("POST", "/swarm/init", refused)
    routes.add("POST", "/swarm/join", refused)


async def not_manager(request: web.Request) -> web.Response:
    return error_response(503, NOT_MANAGER)


async def leave(request: web.Request) -> web.Response:
    return error_response(503, NOT_IN_SWARM)


async def refused(request: web.Request) -> web.Response:
    return error_response(503, "berth has no swarm mode: this node cannot init or join a swarm")
