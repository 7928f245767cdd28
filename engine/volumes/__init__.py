"""Named and anonymous volumes, bind mounts and tmpfs: parsing, the volume store, mounting.

- ``parse``: Docker's ``-v``, ``--mount`` and ``--tmpfs`` syntaxes into ``Mount`` records
- ``store``: ``<root>/volumes/<name>/_data`` + ``meta.json``, and which containers use a volume
- ``mounts``: the runtime's seams ``prepare_mounts`` (monitor), ``mount_all`` (container's
  first process), ``release`` (stop, ``rm -v``, ``--rm``)
- ``inroot``: resolving mount targets inside the container's root, never outside it
- ``copyup``: filling a new volume with the image's content at its mount point

Only the standard library is imported, so the monitor can load this on the start path.
"""

from __future__ import annotations

from .mounts import (find_container, inspect_mounts, mount_all, prepare_mounts, release,
                     resolve_mounts, validate_mounts)
from .parse import parse_mount, parse_tmpfs, parse_volume, validate_volume_name
from .store import (container_mounts, create_volume, get_volume, list_volumes,
                    remove_volume)

__all__ = [
    "parse_volume", "parse_mount", "parse_tmpfs", "validate_volume_name",
    "prepare_mounts", "mount_all", "release", "resolve_mounts", "validate_mounts",
    "find_container", "inspect_mounts", "container_mounts", "create_volume", "get_volume",
    "list_volumes", "remove_volume",
]
