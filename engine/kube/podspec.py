"""A pod's spec as berth container configs: the infra container that holds the pod's network
namespace (and its hostPorts), and one config per init or app container joined to it with
``--network container:INFRA``. Labels name the pod on each container, so that an agent that
restarts finds (adopts) what it already runs."""

from __future__ import annotations

import base64
import os

from ..errors import InvalidArgument
from ..models import ContainerConfig, Healthcheck, Mount, Port, Resources
from . import quantity
from .fields import expand, field_value, resource_value

L_NS = "io.kubernetes.pod.namespace"
L_POD = "io.kubernetes.pod.name"
L_UID = "io.kubernetes.pod.uid"
L_CONTAINER = "io.kubernetes.container.name"
L_NODE = "berth.kube.node"
L_KIND = "berth.kube.kind"          # infra | init | app
L_ATTEMPT = "berth.kube.attempt"    # 0 for the first run of a container, +1 per restart
INFRA = "POD"
PAUSE_IMAGE = "berth.local/kube-pause:1"
PAUSE_BINARY = "/bin/busybox"   # the host's static busybox (Debian's busybox-static)
PAUSE_CMD = ("/busybox", "sleep", "2147483647")
SECOND = 1_000_000_000


def pod_labels(pod: dict, node: str) -> dict[str, str]:
    meta = pod["metadata"]
    return {L_NS: meta["namespace"], L_POD: meta["name"], L_UID: meta["uid"], L_NODE: node}


def container_name(pod: dict, name: str, attempt: int) -> str:
    """dockershim's name for it: k8s_CONTAINER_POD_NAMESPACE_UID8_ATTEMPT."""
    meta = pod["metadata"]
    return f"k8s_{name}_{meta['name']}_{meta['namespace']}_{meta['uid'][:8]}_{attempt}"


def infra_config(pod: dict, node: str, network: str) -> ContainerConfig:
    """The pause container: the pod's network namespace, hostname and published hostPorts."""
    ports = []
    for c in pod["spec"].get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("hostPort"):
                ports.append(Port(container_port=p["containerPort"],
                                  proto=p.get("protocol", "TCP").lower(),
                                  host_ip=p.get("hostIP", ""), host_port=p["hostPort"]))
    hostname = pod["spec"].get("hostname") or pod["metadata"]["name"]
    return ContainerConfig(image=PAUSE_IMAGE, cmd=list(PAUSE_CMD), network_mode=network,
                           networks=[network],
                           hostname=hostname[:63], ports=ports,
                           labels={**pod_labels(pod, node), L_CONTAINER: INFRA, L_KIND: "infra",
                                   L_ATTEMPT: "0"})


def container_config(pod: dict, spec: dict, kind: str, attempt: int, infra_id: str,
                     volumes: dict[str, str], node: str, pod_ip: str, host_ip: str,
                     lookup) -> tuple[ContainerConfig, bool]:
    """(config, entrypoint_set) for one of the pod's containers; ``lookup(kind, name)`` reads
    a ConfigMap or Secret for env (None when missing)."""
    env = _env(pod, spec, node, pod_ip, host_ip, lookup)
    values = dict(e.split("=", 1) for e in env)
    command = [expand(a, values) for a in spec.get("command") or []]
    args = [expand(a, values) for a in spec.get("args") or []]
    sc = _security(pod, spec)
    config = ContainerConfig(
        image=spec["image"], entrypoint=command, cmd=args, env=env,
        workdir=spec.get("workingDir", ""), tty=bool(spec.get("tty")),
        open_stdin=bool(spec.get("stdin")), network_mode=f"container:{infra_id}",
        resources=_resources(spec), mounts=_mounts(spec, volumes),
        labels={**pod_labels(pod, node), L_CONTAINER: spec["name"], L_KIND: kind,
                L_ATTEMPT: str(attempt)}, **sc)
    live = spec.get("livenessProbe") or {}
    if "exec" in live:
        # the monitor runs it as the container's healthcheck; the agent restarts it when the
        # health turns unhealthy
        config.healthcheck = Healthcheck(
            test=["CMD", *live["exec"].get("command", [])],
            interval=live.get("periodSeconds", 10) * SECOND,
            timeout=live.get("timeoutSeconds", 1) * SECOND,
            start_period=live.get("initialDelaySeconds", 0) * SECOND,
            retries=live.get("failureThreshold", 3))
    return config, bool(command)


def _env(pod, spec, node, pod_ip, host_ip, lookup) -> list[str]:
    values: dict[str, str] = {}
    for src in spec.get("envFrom") or []:
        for kind in ("configMapRef", "secretRef"):
            if kind in src:
                obj = lookup(kind, src[kind]["name"])
                if obj is None and not src[kind].get("optional"):
                    raise InvalidArgument(f'{kind[:-3]} "{src[kind]["name"]}" not found')
                for k, v in _data(kind, obj).items():
                    values[src.get("prefix", "") + k] = v
    for e in spec.get("env") or []:
        name = e["name"]
        if "valueFrom" not in e:
            values[name] = expand(e.get("value", ""), values)
            continue
        ref = e["valueFrom"]
        if "fieldRef" in ref:
            values[name] = field_value(pod, ref["fieldRef"]["fieldPath"], node, pod_ip, host_ip)
        elif "resourceFieldRef" in ref:
            values[name] = resource_value(spec, ref["resourceFieldRef"])
        else:
            kind = "configMapRef" if "configMapKeyRef" in ref else "secretRef"
            key = ref.get("configMapKeyRef") or ref.get("secretKeyRef")
            data = _data(kind, lookup(kind, key["name"]))
            if key["key"] in data:
                values[name] = data[key["key"]]
            elif not key.get("optional"):
                raise InvalidArgument(
                    f'key {key["key"]!r} of {kind[:-3]} "{key["name"]}" not found')
    return [f"{k}={v}" for k, v in values.items()]


def _data(kind: str, obj: dict | None) -> dict[str, str]:
    if not obj:
        return {}
    if kind == "secretRef":
        return {k: base64.b64decode(v).decode(errors="replace")
                for k, v in (obj.get("data") or {}).items()}
    return dict(obj.get("data") or {})


def _resources(spec: dict) -> Resources:
    res = spec.get("resources") or {}
    limits, requests = res.get("limits") or {}, res.get("requests") or {}
    out = Resources()
    if "memory" in limits:
        out.memory = quantity.memory_bytes(limits["memory"])
    if "cpu" in limits:
        out.nano_cpus = quantity.nano_cpus(limits["cpu"])
    cpu_request = requests.get("cpu", limits.get("cpu"))
    if cpu_request is not None:   # the kubelet's shares: 1024 per CPU requested, at least 2
        out.cpu_shares = max(2, quantity.milli_cpus(cpu_request) * 1024 // 1000)
    return out


def _mounts(spec: dict, volumes: dict[str, str]) -> list[Mount]:
    out = []
    for vm in spec.get("volumeMounts") or []:
        if vm["name"] not in volumes:
            raise InvalidArgument(f'volumeMount {vm["name"]!r} names no volume of the pod')
        source = volumes[vm["name"]]
        if vm.get("subPath"):
            sub = vm["subPath"]
            if sub.startswith("/") or ".." in sub.split("/"):
                raise InvalidArgument(f"subPath {sub!r} leaves its volume")
            source = os.path.join(source, sub)
            if not os.path.exists(source):
                os.makedirs(source, mode=0o777)
        out.append(Mount(type="bind", target=vm["mountPath"], source=source,
                         read_only=bool(vm.get("readOnly"))))
    return out


def _security(pod: dict, spec: dict) -> dict:
    """securityContext (the container's over the pod's) as ContainerConfig fields."""
    psc = pod["spec"].get("securityContext") or {}
    sc = {**psc, **(spec.get("securityContext") or {})}
    out: dict = {}
    uid, gid = sc.get("runAsUser"), sc.get("runAsGroup")
    if uid is not None:
        out["user"] = f"{uid}:{gid}" if gid is not None else str(uid)
    elif gid is not None:
        out["user"] = f"0:{gid}"
    groups = [str(g) for g in psc.get("supplementalGroups") or []]
    if psc.get("fsGroup") is not None:
        groups.append(str(psc["fsGroup"]))
    if groups:
        out["group_add"] = groups
    if sc.get("readOnlyRootFilesystem"):
        out["read_only"] = True
    if sc.get("privileged"):
        out["privileged"] = True
    caps = sc.get("capabilities") or {}
    if caps.get("add"):
        out["cap_add"] = list(caps["add"])
    if caps.get("drop"):
        out["cap_drop"] = list(caps["drop"])
    if sc.get("allowPrivilegeEscalation") is False:
        out["security_opt"] = ["no-new-privileges"]
    return out
