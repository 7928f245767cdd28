"""rmi and image prune, with Docker's rules: a tag is untagged while the image has other names;
the image is deleted with its last name (or when named by id); an image a container uses is kept
unless forced, and a running container's image is kept even then."""

from __future__ import annotations

from ..errors import Conflict
from . import reference
from .users import claims


def _is_id(ref: str, image) -> bool:
    h = ref[7:] if ref.startswith("sha256:") else ref
    return bool(h) and image.id[7:].startswith(h) and all(c in "0123456789abcdef" for c in h) \
        and not _names_tag(ref, image)


def _names_tag(ref: str, image) -> bool:
    try:
        r = reference.parse(ref)
    except Exception:
        return False
    if r.digest:
        return f"{r.name}@{r.digest}" in image.repo_digests
    return str(r.with_default_tag()) in image.repo_tags


def remove_image(engine, ref: str, force: bool = False) -> list[str]:
    store = engine.image_store
    img = store.resolve(ref, damaged_ok=True)
    out: list[str] = []
    by_id = _is_id(ref, img)
    if not by_id:
        is_digest = "@" in ref
        if len(img.repo_tags) > 1 or (is_digest and img.repo_tags):
            # one name of several: only the name goes
            removed = store.untag(ref)
            engine.emit("image", "untag", img.id, name=removed)
            return [f"Untagged: {reference.familiar(removed)}"]
    users = claims(engine.store).images.get(img.id, [])
    running = [c for c, r in users if r]
    if users and not force:
        if by_id:
            state = "running" if running else "stopped"
            raise Conflict(f"conflict: unable to delete {img.short_id} (must be forced) - image "
                           f"is being used by {state} container {users[0][0][:12]}")
        raise Conflict(f"conflict: unable to remove repository reference \"{ref}\" (must force)"
                       f" - container {users[0][0][:12]} is using its referenced image "
                       f"{img.short_id}")
    if by_id and len(img.repo_tags) > 1 and not force:
        raise Conflict(f"conflict: unable to delete {img.short_id} (must be forced) - image is "
                       "referenced in multiple repositories")
    if running:
        raise Conflict(f"conflict: unable to delete {img.short_id} (cannot be forced) - image "
                       f"is being used by running container {running[0][:12]}")
    names = [*img.repo_tags, *img.repo_digests]
    if users:
        # forced while stopped containers use it: the containers still need its layers, so it
        # stays as a dangling image until they are gone (then prune or rmi removes it)
        for name in store.untag_all(img.id):
            engine.emit("image", "untag", img.id, name=name)
            out.append(f"Untagged: {reference.familiar(name)}")
        return out
    # the record and every name go in one step (see ImageStore.delete)
    store.delete(img)
    for name in names:
        engine.emit("image", "untag", img.id, name=name)
        out.append(f"Untagged: {reference.familiar(name)}")
    engine.emit("image", "delete", img.id)
    out.append(f"Deleted: {img.id}")
    return out


def prune_images(engine, all: bool = False) -> tuple[list[str], int]:
    """Remove the dangling images (with ``all``, every image) no container uses, then the
    store's garbage (see garbage.py); (ids removed, bytes reclaimed)."""
    from .garbage import collect
    store = engine.image_store
    removed: list[str] = []
    reclaimed = 0
    used = claims(engine.store).images
    for img in store.images():
        if img.id in used or (img.repo_tags and not all):
            continue
        freed = store.delete(img, only_if_unused=True, only_if_nameless=not all)
        if freed is None:
            continue   # named or used meanwhile
        reclaimed += freed
        engine.emit("image", "delete", img.id)
        removed.append(img.id)
    reclaimed += collect(store)[1]
    return removed, reclaimed
