"""A pod's QoS class as the kubelet reports it (engine/kube/status.py qos_class): pure, no
cluster."""

from __future__ import annotations

from engine.kube.status import qos_class


def _pod(*resources):
    return {"spec": {"containers": [{"name": f"c{i}", **({"resources": r} if r is not None else {})}
                                    for i, r in enumerate(resources)]}}


def test_qos_classes_as_kubernetes_gives_them():
    both = {"cpu": "100m", "memory": "64Mi"}
    assert qos_class(_pod(None)) == "BestEffort"
    assert qos_class(_pod({})) == "BestEffort"
    assert qos_class(_pod({"limits": both, "requests": both})) == "Guaranteed"
    assert qos_class(_pod({"limits": both})) == "Guaranteed"        # requests default to limits
    assert qos_class(_pod({"requests": both})) == "Burstable"
    assert qos_class(_pod({"limits": both, "requests": {"cpu": "50m", "memory": "64Mi"}})) \
        == "Burstable"


def test_a_container_without_resources_beside_one_with_them_is_burstable():
    """The first container has none: its requests are not the previous container's limits
    (that read a name not yet bound and failed the pod's whole status)."""
    both = {"cpu": "100m", "memory": "64Mi"}
    assert qos_class(_pod(None, {"limits": both, "requests": both})) == "Burstable"
    assert qos_class(_pod({"limits": both, "requests": both}, {})) == "Burstable"
