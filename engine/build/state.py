"""The image a build is making, one step at a time: its config document and its layers, and
the id it gets once recorded (the same id the image store gives it, so ``Step …`` lines, the
cache and ``Successfully built`` all name one image)."""

from __future__ import annotations

import hashlib
import json

from ..images.layers import Layer


class State:
    """An image in the making: ``doc`` is the image config document (architecture, os,
    created, config, history, …) without ``rootfs``; ``layers`` bottom first; ``id`` what
    ``ImageStore.create_image(doc, layers)`` will call it (or the recorded base's id)."""

    __slots__ = ("doc", "layers", "id")

    def __init__(self, doc: dict, layers: list[Layer], id: str = ""):
        self.doc = doc
        self.layers = layers
        self.id = id or image_id(doc, layers)

    @property
    def config(self) -> dict:
        return self.doc.get("config") or {}

    @classmethod
    def of_image(cls, images, image) -> "State":
        """The state of a recorded image (a FROM), its config document read from its blob."""
        try:
            with open(images.blob_path(image.id), "rb") as f:
                doc = json.loads(f.read())
        except (OSError, ValueError):
            doc = {"architecture": image.architecture, "os": image.os, "created": image.created,
                   "config": image.config, "history": image.history}
        doc.pop("rootfs", None)
        # the config as this berth can use it (hostile input: images/config_check.py)
        doc["config"] = images.check_config(doc.get("config") or {}, image.id)
        return cls(doc, images.image_layers(image), image.id)

    @classmethod
    def scratch(cls) -> "State":
        from .options import native_platform
        return cls({"architecture": native_platform().split("/")[1], "os": "linux",
                    "config": {}, "history": []}, [], "")

    def then(self, config: dict, created_by: str, created: str, layer: Layer | None,
             author: str = "") -> "State":
        """The state one step later: ``config`` as the new config section, a history entry for
        the step, and ``layer`` on top (None: an empty-layer step)."""
        entry = {"created": created, "created_by": created_by}
        if author:
            entry["author"] = author
        if layer is None:
            entry["empty_layer"] = True
        doc = {k: v for k, v in self.doc.items()
               if k not in ("created", "config", "history", "author")}
        doc["created"] = created
        if author or self.doc.get("author"):
            doc["author"] = author or self.doc["author"]
        doc["config"] = {k: v for k, v in config.items() if v not in (None, "", [], {})}
        doc["history"] = [*(self.doc.get("history") or []), entry]
        return State(doc, [*self.layers, *([layer] if layer is not None else [])])


def image_id(doc: dict, layers: list[Layer]) -> str:
    """The id ``ImageStore.create_image`` gives this config document with these layers."""
    config = dict(doc)
    config["rootfs"] = {"type": "layers", "diff_ids": [l.diff_id for l in layers]}
    data = json.dumps(config, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(data).hexdigest()
