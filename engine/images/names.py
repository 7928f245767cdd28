"""Image names: ``images/refs.json`` maps every tag and repo digest to an image id; tagging,
untagging and looking a reference up (the ImageStore's ``Names`` part).

refs.json says what the names are. Each image record keeps a copy of its own names, written
before refs.json (or in the same journalled change when the record is new, see journal.py), so
a damaged or lost refs.json is rebuilt from the records and no image loses a name to it (and so
prune never takes a tagged image for a dangling one). A name whose record is gone names nothing:
removing an image takes its names with its record in one step, and the next change of names
drops them from refs.json.
"""

from __future__ import annotations

import errno

from ..errors import InvalidArgument, NotFound
from ..models import Image
from . import reference
from .records import is_digest

REFS = ("images", "refs.json")
_DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def valid_refs(doc) -> bool:
    """Whether ``doc`` is a refs.json berth wrote: tags and digests, each name -> an id."""
    if not isinstance(doc, dict):
        return False
    for key in ("tags", "digests"):
        table = doc.get(key, {})
        if not isinstance(table, dict) or not all(
                isinstance(k, str) and is_digest(v) for k, v in table.items()):
            return False
    return True


def names_of(refs: dict, image_id: str) -> tuple[list[str], list[str]]:
    """(tags, repo digests) that ``refs`` gives ``image_id``."""
    return (sorted(t for t, i in refs["tags"].items() if i == image_id),
            sorted(d for d, i in refs["digests"].items() if i == image_id))


class Names:
    """The names of an ImageStore's images (mixed into ImageStore)."""

    def _refs(self) -> dict:
        """{"tags": {name: id}, "digests": {name@digest: id}}; rebuilt from the records' own
        copies when refs.json is damaged or lost (and named as damaged)."""
        try:
            doc = self.store.read(*REFS)
            problem = "" if doc is None or valid_refs(doc) else "not a table of names"
        except ValueError as e:
            doc, problem = None, f"not JSON ({e})"
        except OSError as e:
            doc, problem = None, e.strerror or str(e)
        if doc is not None and not problem:
            return {"tags": dict(doc.get("tags") or {}), "digests": dict(doc.get("digests") or {})}
        rebuilt = self._refs_from_records()
        if problem:
            self.store.note_damaged("image", "refs.json", f"images/refs.json: {problem}; the "
                                    "names are read from the image records")
        elif rebuilt["tags"] or rebuilt["digests"]:
            self.store.note_damaged("image", "refs.json", "images/refs.json is missing; the "
                                    "names are read from the image records")
        return rebuilt

    def _refs_from_records(self) -> dict:
        refs: dict = {"tags": {}, "digests": {}}
        newest: dict[str, str] = {}  # name -> created of the record that holds it
        records, _ = self._all_records()
        for img in records:
            for table, names in (("tags", img.repo_tags), ("digests", img.repo_digests)):
                for n in names:
                    if n not in refs[table] or img.created > newest[n]:
                        refs[table][n] = img.id
                        newest[n] = img.created
        return refs

    def _live_refs(self, keep=()) -> dict:
        """refs without the names of records that are gone (except the ids in ``keep``)."""
        refs = self._refs()
        ids = set(self._ids()) | set(keep)
        for table in refs.values():
            for k in [k for k, v in table.items() if v not in ids]:
                del table[k]
        return refs

    def _with_names(self, img: Image, refs: dict) -> Image:
        img.repo_tags, img.repo_digests = names_of(refs, img.id)
        return img

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
                    if hit in ids:
                        return hit
                    # a digest names content: any local image pulled by that manifest will do
                    for name, iid in refs["digests"].items():
                        if name.endswith("@" + r.digest) and iid in ids:
                            return iid
                else:
                    hit = refs["tags"].get(str(r.with_default_tag()))
                    if hit in ids:
                        return hit
        if hexpart and all(c in "0123456789abcdef" for c in hexpart):
            found = [i for i in ids if i[7:].startswith(hexpart)]
            if len(found) > 1:
                raise InvalidArgument(f"image id prefix '{ref}' is ambiguous: give more digits")
            if found:
                return found[0]
        return None

    def _journal_names(self, refs: dict, touched, new: Image, chains=(), blobs=()) -> None:
        """Commit the new record ``new`` with the names ``refs`` and the copies in the records
        of ``touched`` (ids) as one journalled change; the caller holds the root's lock."""
        records = self._copies(refs, touched - {new.id})
        records.append(self._with_names(new, refs))
        self._journal_change(records, refs, chains, blobs)

    def _write_names(self, refs: dict, touched, stamp: dict | None = None) -> None:
        """Commit a change of names alone (the caller holds the root's lock): the copies in the
        records of ``touched`` first, then refs.json, whose rename is the commit point. Killed
        in between, refs.json still says the old names; rebuilt from the copies (when it is
        damaged too), it would say the new ones: either way never a mix. Needs no new file,
        so untag (rmi of one name of several) works on a full disk. ``stamp``: {id: {field:
        value}} of record metadata to set in the same writes (a tag's time)."""
        for img in self._copies(refs, touched):
            for key, value in ((stamp or {}).get(img.id) or {}).items():
                setattr(img, key, value)
            try:
                self._write(img)
            except OSError as e:
                # a full disk: the copy is only a spare (refs.json says the names); a record
                # that grows may not fit in place
                if e.errno not in _DISK_ERRNOS:
                    raise
        self.store.write(refs, *REFS)

    def _copies(self, refs: dict, touched) -> list[Image]:
        """The readable records of ``touched`` (ids; None ignored) with the names of ``refs``."""
        out = []
        for iid in sorted(i for i in touched if i):
            img = self._record(iid)
            if img is not None:
                out.append(self._with_names(img, refs))
        return out

    def tag(self, image: Image, target: str) -> str:
        """Point the tag ``target`` at ``image``; the normalised tag."""
        r = reference.parse(target)
        if r.digest:
            raise InvalidArgument(f"refusing to create a tag with a digest reference: {target}")
        name = str(r.with_default_tag())
        with self.store.lock():
            self._replay()
            if self._record(image.id) is None:
                raise NotFound(f"No such image: {image.id}")
            refs = self._live_refs()
            old = refs["tags"].get(name)
            refs["tags"][name] = image.id
            from ..clock import now_rfc3339
            self._write_names(refs, {image.id, old},
                              stamp={image.id: {"last_tag_time": now_rfc3339()}})
        return name

    def untag(self, ref: str) -> str:
        """Remove the tag (or name@digest) ``ref``; the normalised name removed."""
        r = reference.parse(ref)
        with self.store.lock():
            self._replay()
            refs = self._live_refs()
            key = f"{r.name}@{r.digest}" if r.digest else str(r.with_default_tag())
            table = refs["digests"] if r.digest else refs["tags"]
            iid = table.pop(key, None)
            if iid is None:
                raise NotFound(f"No such image: {ref}")
            self._write_names(refs, {iid})
        return key

    def untag_all(self, image_id: str) -> list[str]:
        """Remove every name of ``image_id`` in one change; the names removed."""
        with self.store.lock():
            self._replay()
            refs = self._live_refs()
            gone = []
            for table in refs.values():
                for k in sorted(k for k, v in table.items() if v == image_id):
                    del table[k]
                    gone.append(k)
            if gone:
                self._write_names(refs, {image_id})
        return gone
