"""The values a pod may read about itself: ``fieldRef`` and ``resourceFieldRef`` (in env and in
downwardAPI volumes) and ``$(VAR)`` references in env, command and args, as the kubelet expands
them."""

from __future__ import annotations

import re

from ..errors import InvalidArgument
from . import quantity

_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\['([^']*)'\]$")
_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)|\$\$")


def field_value(pod: dict, path: str, node: str, pod_ip: str, host_ip: str) -> str:
    """The value of ``fieldRef.fieldPath`` for this pod."""
    meta, spec = pod.get("metadata", {}), pod.get("spec", {})
    simple = {
        "metadata.name": meta.get("name", ""), "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""), "spec.nodeName": spec.get("nodeName") or node,
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.podIP": pod_ip, "status.podIPs": pod_ip, "status.hostIP": host_ip,
    }
    if path in simple:
        return simple[path]
    if path in ("metadata.labels", "metadata.annotations"):
        items = meta.get(path.split(".")[1]) or {}
        return "\n".join(f'{k}="{v}"' for k, v in sorted(items.items()))
    m = _SUBSCRIPT.match(path)
    if m:
        return (meta.get(m.group(1)) or {}).get(m.group(2), "")
    raise InvalidArgument(f"fieldRef {path!r} is not supported")


def resource_value(container: dict, ref: dict) -> str:
    """The value of ``resourceFieldRef`` (limits.cpu, requests.memory, ...) for a container."""
    kind, _, name = ref.get("resource", "").partition(".")
    res = (container.get("resources") or {}).get(kind) or {}
    if name not in ("cpu", "memory", "ephemeral-storage"):
        raise InvalidArgument(f"resourceFieldRef {ref.get('resource')!r} is not supported")
    raw = res.get(name)
    divisor = quantity.parse(ref.get("divisor") or "1")
    if raw is None:
        return "0"
    value = quantity.parse(raw) / divisor
    return str(int(-(-value // 1)))   # rounded up, as the kubelet does


def expand(text: str, env: dict[str, str]) -> str:
    """``$(NAME)`` replaced by its value when NAME is defined, ``$$`` by ``$``."""
    def sub(m):
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))
    return _REF.sub(sub, text)
