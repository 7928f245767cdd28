"""Image verbs: load, save, import, images, tag, rmi, inspect, history, prune (engine/images)."""

from __future__ import annotations


class ImagesAPI:
    """The image verbs of Engine: load, save, import, images, tag, rmi, inspect, history,
    prune; the work is done by the modules of engine/images."""

    @property
    def image_store(self):
        """The ImageStore of this root (made on first use)."""
        s = self.__dict__.get("_image_store")
        if s is None:
            from .store import ImageStore
            s = self.__dict__["_image_store"] = ImageStore(self.store)
            s.sweep_tmp()
        return s

    # --- reading ------------------------------------------------------------------------------
    def images(self, all: bool = False):
        """Every image, newest first (``all`` is accepted for Docker's -a: berth keeps no
        intermediate images)."""
        return self.image_store.images()

    def image(self, ref: str):
        """The image named by a tag, name@digest, id or unique id prefix (NotFound if none)."""
        return self.image_store.resolve(ref)

    def image_layer_dirs(self, image) -> list[str]:
        """The diff dirs of ``image``, bottom layer first (overlay lowerdirs reversed)."""
        return self.image_store.layer_dirs(image)

    def image_inspect(self, ref: str) -> dict:
        """Docker-shaped ``image inspect`` JSON."""
        from .describe import inspect
        return inspect(self.image_store, self.image_store.resolve(ref, damaged_ok=True))

    def history(self, ref: str) -> list[dict]:
        """The image's history, newest first: Id, Created, CreatedBy, Size, Comment, Tags."""
        from .describe import history
        return history(self.image_store, self.image(ref))

    # --- adding -------------------------------------------------------------------------------
    def load(self, path: str):
        """Load an OCI layout tar or a ``docker save`` archive; the Images loaded, each with
        ``loaded_tags``: the names the archive gave it (Docker reports those, not the image's
        other names)."""
        from .archive import load
        loaded = load(self.image_store, path)
        for img in loaded:
            self.emit("image", "load", img.id, name=(img.repo_tags or [img.id])[0])
        return loaded

    def save(self, refs: list[str], path: str, format: str = "oci-archive") -> None:
        """Write the images to ``path`` as an oci-archive or a docker-archive."""
        from .export import save
        save(self.image_store, list(refs), path, format)
        for ref in refs:
            self.emit("image", "save", self.image(ref).id, name=ref)

    def import_image(self, source: str, ref: str | None = None, changes=(),
                     message: str = ""):
        """A one-layer image from a root filesystem tarball (``-`` reads stdin)."""
        from .importer import import_image
        img = import_image(self.image_store, source, ref, list(changes or ()), message)
        self.emit("image", "import", img.id, name=ref or "")
        return img

    def tag(self, source: str, target: str) -> None:
        """Give the image ``source`` the name ``target``."""
        img = self.image(source)
        name = self.image_store.tag(img, target)
        self.emit("image", "tag", img.id, name=name)

    # --- removing -----------------------------------------------------------------------------
    def remove_image(self, ref: str, force: bool = False) -> list[str]:
        """Untag ``ref``, and delete the image once no name is left: Docker's rmi. Returns
        "Untagged: …" and "Deleted: …" lines."""
        from .remove import remove_image
        return remove_image(self, ref, force)

    def prune_images(self, all: bool = False) -> tuple[list[str], int]:
        """Remove dangling images (every image no container uses, with ``all``);
        (removed ids, bytes reclaimed)."""
        from .remove import prune_images
        return prune_images(self, all)
