"""Image records: ``images/<hex>.json``, one per image, read with care (a damaged one is named
and skipped, never fatal to the others) and rebuilt from the blobs it was made from (the
ImageStore's ``Records`` part)."""

from __future__ import annotations

import os

from ..models import Image

_HEX = frozenset("0123456789abcdef")
_LISTS = ("repo_tags", "repo_digests", "diff_ids", "chain_ids", "layers", "layer_media_types",
          "history")


def is_digest(value) -> bool:
    """Whether ``value`` is sha256:<64 lowercase hex> (the only digests berth stores)."""
    return isinstance(value, str) and len(value) == 71 and value.startswith("sha256:") \
        and _HEX.issuperset(value[7:])


def parse(data, image_id: str) -> Image | str:
    """The Image a record's JSON holds, or what is wrong with it."""
    if not isinstance(data, dict):
        return "not an image record"
    if data.get("id") != image_id:
        return f"its id is {str(data.get('id'))[:80]!r}, not its name"
    for key in _LISTS:
        if not isinstance(data.get(key, []), list):
            return f"{key} is not a list"
    for key in ("diff_ids", "chain_ids", "layers"):
        if not all(is_digest(d) for d in data.get(key, [])):
            return f"{key} holds something that is not a digest"
    if len(data.get("diff_ids", [])) != len(data.get("chain_ids", [])):
        return "its layers and their chain ids do not match"
    if not isinstance(data.get("config", {}), dict) or \
            not isinstance(data.get("size", 0), int) or \
            not all(isinstance(t, str) for t in data.get("repo_tags", []) +
                    data.get("repo_digests", [])):
        return "a field has the wrong type"
    try:
        return Image.from_dict(data)
    except (TypeError, ValueError) as e:
        return f"cannot be read ({e})"


class Records:
    """The image records of an ImageStore (mixed into ImageStore)."""

    def _ids(self) -> list[str]:
        """The id of every image record on disk, readable or not."""
        return ["sha256:" + n[:-5] for n in self.store.list_dir("images")
                if len(n) == 69 and n.endswith(".json") and _HEX.issuperset(n[:64])]

    def _read_record(self, image_id: str) -> Image | str | None:
        """The record of ``image_id``: an Image, None when there is none, or (a str) which
        file is damaged and how."""
        hexpart = image_id.partition(":")[2]
        where = f"images/{hexpart}.json"
        try:
            data = self.store.read("images", hexpart + ".json")
        except ValueError as e:
            return f"{where}: not JSON ({e})"
        except OSError as e:
            return f"{where}: {e.strerror}"
        if data is None:
            return None
        got = parse(data, image_id)
        return f"{where}: {got}" if isinstance(got, str) else got

    def _record(self, image_id: str) -> Image | None:
        """The readable record of ``image_id``, or None (a damaged one is named)."""
        got = self._read_record(image_id)
        if isinstance(got, str):
            self.store.note_damaged("image", image_id[7:19], got)
            return None
        return got

    def _all_records(self) -> tuple[list[Image], dict[str, str]]:
        """(every readable record, {image id: what is wrong} for the others)."""
        good, bad = [], {}
        for iid in self._ids():
            got = self._read_record(iid)
            if isinstance(got, Image):
                good.append(got)
            elif got is not None:
                bad[iid] = got
        return good, bad

    def _write(self, img: Image) -> None:
        self.store.write(img.to_dict(), "images", img.id.partition(":")[2] + ".json")

    def annotate(self, image_id: str, **fields) -> None:
        """Set the store's metadata of an image (``parent``, ``last_tag_time``): fields of its
        record, not of its content, so its id stays."""
        from ..errors import NotFound
        with self.store.lock():
            self._replay()
            img = self._record(image_id)
            if img is None:
                raise NotFound(f"No such image: {image_id}")
            for key, value in fields.items():
                setattr(img, key, value)
            self._write(img)

    def rebuild(self, image_id: str) -> Image | None:
        """The record of ``image_id`` made again from its config blob (the id is its digest)
        and a manifest blob naming it, with what layers/ holds; None when a part is missing.
        Names are not part of it (names.py keeps them)."""
        import json
        from .blobs import chain_ids
        from .layers import OCI_LAYER_TAR
        if not self.has_blob(image_id):
            return None
        try:
            config = json.loads(self.blobs.read(image_id))
            diff_ids = list(config["rootfs"]["diff_ids"])
        except (ValueError, KeyError, TypeError, OSError):
            return None
        if not all(is_digest(d) for d in diff_ids):
            return None
        manifest_digest, manifest = self._manifest_of(image_id)
        if manifest is None:
            return None
        descs = manifest.get("layers") or []
        if len(descs) != len(diff_ids) or not all(isinstance(d, dict) and
                                                  is_digest(d.get("digest")) for d in descs):
            return None
        chains = chain_ids(diff_ids)
        return Image(
            id=image_id, created=config.get("created") or "",
            size=sum(self.layer_size(c) for c in chains),
            architecture=config.get("architecture") or "", os=config.get("os") or "",
            config=config.get("config") or {}, diff_ids=diff_ids, chain_ids=chains,
            layers=[d["digest"] for d in descs],
            layer_media_types=[d.get("mediaType") or OCI_LAYER_TAR for d in descs],
            manifest_digest=manifest_digest, history=list(config.get("history") or []),
            author=config.get("author") or "", comment=config.get("comment") or "")

    def _manifest_of(self, config_digest: str) -> tuple[str, dict | None]:
        """A manifest blob whose config is ``config_digest``: (its digest, the manifest)."""
        import json
        for digest in self.blobs.all():
            path = self.blob_path(digest)
            try:
                if os.path.getsize(path) > 1 << 20:
                    continue  # a layer, not a manifest
                with open(path, "rb") as f:
                    body = f.read()
                if not body.startswith(b"{"):
                    continue
                doc = json.loads(body)
            except (OSError, ValueError):
                continue
            if isinstance(doc, dict) and isinstance(doc.get("config"), dict) and \
                    doc["config"].get("digest") == config_digest and \
                    isinstance(doc.get("layers", []), list):
                return digest, doc
        return "", None
