"""Image names: ``images/refs.json`` maps every tag and repo digest to an image id; tagging,
untagging and looking a reference up (the ImageStore's ``Names`` part)."""

from __future__ import annotations

from ..errors import InvalidArgument, NotFound
from ..models import Image
from . import reference

REFS = ("images", "refs.json")


class Names:
    """The names of an ImageStore's images (mixed into ImageStore)."""

    def _refs(self) -> dict:
        refs = self.store.read(*REFS) or {}
        refs.setdefault("tags", {})
        refs.setdefault("digests", {})
        return refs

    def _lookup(self, ref: str) -> str | None:
        hexpart = ref[7:] if ref.startswith("sha256:") else ref
        ids = self._ids()
        if len(hexpart) == 64 and ("sha256:" + hexpart) in ids:
            return "sha256:" + hexpart
        if not ref.startswith("sha256:"):
            try:
                r = reference.parse(ref)
            except InvalidArgument:
                r = None
            if r is not None:
                refs = self._refs()
                if r.digest:
                    hit = refs["digests"].get(f"{r.name}@{r.digest}")
                    if hit:
                        return hit
                    # a digest names content: any local image pulled by that manifest will do
                    for name, iid in refs["digests"].items():
                        if name.endswith("@" + r.digest):
                            return iid
                else:
                    hit = refs["tags"].get(str(r.with_default_tag()))
                    if hit:
                        return hit
        if hexpart and all(c in "0123456789abcdef" for c in hexpart):
            found = [i for i in ids if i[7:].startswith(hexpart)]
            if len(found) > 1:
                raise InvalidArgument(f"image id prefix '{ref}' is ambiguous: give more digits")
            if found:
                return found[0]
        return None

    def _sync_names(self, refs: dict, ids: set[str]) -> None:
        """Rewrite the refs and the repo_tags/repo_digests of the images in ``ids``."""
        self.store.write(refs, *REFS)
        for iid in ids:
            img = self._record(iid)
            if img is None:
                continue
            img.repo_tags = sorted(t for t, i in refs["tags"].items() if i == iid)
            img.repo_digests = sorted(d for d, i in refs["digests"].items() if i == iid)
            self._write(img)

    def tag(self, image: Image, target: str) -> str:
        """Point the tag ``target`` at ``image``; the normalised tag."""
        r = reference.parse(target)
        if r.digest:
            raise InvalidArgument(f"refusing to create a tag with a digest reference: {target}")
        name = str(r.with_default_tag())
        with self.store.lock():
            if self._record(image.id) is None:
                raise NotFound(f"No such image: {image.id}")
            refs = self._refs()
            old = refs["tags"].get(name)
            refs["tags"][name] = image.id
            self._sync_names(refs, {image.id} | ({old} if old else set()))
        return name

    def untag(self, ref: str) -> str:
        """Remove the tag (or name@digest) ``ref``; the normalised name removed."""
        r = reference.parse(ref)
        with self.store.lock():
            refs = self._refs()
            key = f"{r.name}@{r.digest}" if r.digest else str(r.with_default_tag())
            table = refs["digests"] if r.digest else refs["tags"]
            iid = table.pop(key, None)
            if iid is None:
                raise NotFound(f"No such image: {ref}")
            self._sync_names(refs, {iid})
        return key
