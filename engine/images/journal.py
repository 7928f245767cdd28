"""Crash safety of the image store: one journal for every image a change records, and the lock
that tells work in progress from garbage.

A change that records an image (load, pull, import, commit) first puts everything the record
needs in place: blobs are verified into blobs/, layers unpacked in tmp/ and renamed into
layers/. Then, under the root's lock, one intent is written to ``images/journal.json``
(atomically: that rename is the commit point) naming the records to write, the whole new
refs.json and the layers and blobs the change may have left unused; it is applied and removed.
A berth killed before the commit point leaves the old state (and unreferenced blobs and layers,
which prune collects); one killed after it leaves a journal that the next image verb applies
first. So every name and record is the old one or the new one, never a mix, and no record
names a layer or blob that is not there. A change of names alone (tag, untag) is one rename of
refs.json and removing an image one unlink of its record (names.py, store.py): neither needs a
journal, nor a new file on a full disk.

Every process that puts something in place before its record exists, or keeps scratch in
tmp/, holds ``busy()`` (a shared lock) meanwhile; whoever collects garbage takes that lock
exclusively without waiting (``exclusive()``), and so never takes a live writer's work for an
orphan. The kernel drops the lock of a killed process: nothing needs its pid.
"""

from __future__ import annotations

import errno
import fcntl
import os

JOURNAL = ("images", "journal.json")
BUSY = (".images-busy.lock",)   # beside the root's .lock
# the host's failures (a full disk): a reader that meets them while finishing a journal still
# reads what is there, and the next change tries again
_HOST_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO)


class _Busy:
    """The context manager behind Journal.busy (a shared flock on <root>/.images-busy.lock)."""

    __slots__ = ("images", "fd")

    def __init__(self, images):
        self.images = images
        self.fd = -1

    def __enter__(self) -> None:
        self.fd = os.open(self.images.store.path(*BUSY), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                          0o600)
        fcntl.flock(self.fd, fcntl.LOCK_SH)

    def __exit__(self, *exc) -> None:
        os.close(self.fd)


class Exclusive:
    """The busy lock held exclusively: no berth is adding images or keeps scratch meanwhile."""

    __slots__ = ("fd",)

    def __init__(self, fd: int):
        self.fd = fd

    def __enter__(self) -> "Exclusive":
        return self

    def __exit__(self, *exc) -> None:
        os.close(self.fd)


class Journal:
    """The journal and the busy lock of an ImageStore (mixed into ImageStore)."""

    def busy(self) -> _Busy:
        """Hold while putting blobs or layers in place for a record not yet written, or while
        keeping scratch in tmp/ (``with images.busy():``); any number may hold it at once."""
        return _Busy(self)

    def exclusive(self) -> Exclusive | None:
        """The busy lock held exclusively (``with``), or None at once when a berth holds it."""
        fd = os.open(self.store.path(*BUSY), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return Exclusive(fd)

    # --- the journal --------------------------------------------------------------------------
    def _journal_change(self, records: list, refs: dict, chains=(), blobs=()) -> None:
        """Record ``records`` (Images) and the names ``refs``, then drop whichever of the
        layers ``chains`` and ``blobs`` nothing uses any more. The caller holds the root's lock
        and has put everything the records name in place."""
        self.store.write({"records": [img.to_dict() for img in records], "refs": refs,
                          "chains": list(chains), "blobs": list(blobs)}, *JOURNAL)
        self._replay()

    def _replay(self) -> bool:
        """Finish the change a journal describes (the caller holds the root's lock); whether
        there was one."""
        try:
            doc = self.store.read(*JOURNAL)
        except ValueError as e:
            doc = e
        if doc is None:
            return False
        if not _well_formed(doc):
            # not something berth wrote (a rename is atomic): what it meant can't be known
            self.store.note_damaged("image", "journal", f"images/journal.json: {_why(doc)}; "
                                    "discarded")
            self.store.delete(*JOURNAL)
            return False
        # names first: a name of a record not yet written names nothing, so a reader that
        # does not wait for the lock sees the image appear whole, with its names
        self.store.write(doc["refs"], "images", "refs.json")
        for rec in doc["records"]:
            self.store.write(rec, "images", rec["id"].partition(":")[2] + ".json")
        if doc.get("chains") or doc.get("blobs"):
            self._drop_unused(list(doc.get("chains") or []), list(doc.get("blobs") or []))
        self.store.delete(*JOURNAL)
        return True

    def _settle(self) -> None:
        """Before reading: finish a change a killed berth committed but did not apply. A full
        disk leaves it for later (the reader sees what is there)."""
        if not os.path.exists(self.store.path(*JOURNAL)):
            return
        with self.store.lock():
            try:
                self._replay()
            except OSError as e:
                if e.errno not in _HOST_ERRNOS:
                    raise
                self.store.note_damaged("image", "journal", "an interrupted change could not be "
                                        f"finished: {e.strerror}")

    def pending_change(self) -> bool:
        """Whether a change was committed but not applied (a berth was killed meanwhile)."""
        return os.path.exists(self.store.path(*JOURNAL))


def _well_formed(doc) -> bool:
    from .records import is_digest
    return isinstance(doc, dict) and isinstance(doc.get("refs"), dict) \
        and isinstance(doc.get("records"), list) \
        and all(isinstance(r, dict) and is_digest(r.get("id")) for r in doc["records"])


def _why(doc) -> str:
    return f"not JSON ({doc})" if isinstance(doc, ValueError) else "not a journal berth wrote"
