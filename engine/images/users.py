"""What the containers of a root use of the image store."""

from __future__ import annotations


def containers_using(store, image_id: str) -> list[tuple[str, bool]]:
    """(container id, running) of every container created from ``image_id``; running as the
    runtime sees it (a record that says running but whose monitor died is not)."""
    try:
        from ..runtime.process import effective_status
    except ImportError:  # pragma: no cover - a build without the runtime
        def effective_status(state):
            return state
    out = []
    for cid in store.list_dir("containers"):
        cfg = store.read("containers", cid, "config.json")
        if not isinstance(cfg, dict) or cfg.get("image_id") != image_id:
            continue
        state = effective_status(store.read("containers", cid, "state.json") or {})
        out.append((cid, state.get("status") in ("running", "paused", "restarting")))
    return out
