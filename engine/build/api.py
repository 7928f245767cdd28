"""Build verbs of Engine: build, prune_build_cache, build_cache_usage (engine/build)."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading
    from typing import Callable

    from ..models import Image
    from .events import BuildEvent
    from .options import BuildOptions


class BuildAPI:
    """``berth build`` and its cache, on the engine's own image store and runtime."""

    def build(self, context_dir: str, options: "BuildOptions", dockerfile_text: str | None = None,
              progress: "Callable[[BuildEvent], None] | None" = None,
              cancel: "threading.Event | None" = None) -> "Image":
        """Build the Dockerfile (``options.dockerfile`` in ``context_dir``, or
        ``dockerfile_text``) into an image tagged ``options.tags``; synchronous. Progress goes
        to ``progress`` as BuildEvents; a set ``cancel`` stops the running step and removes
        what the build made (``Cancelled``); a failed step is a ``BuildError``."""
        from ..errors import InvalidArgument, NotFound
        from ..images import reference
        from .dockerfile import parse
        from .events import BuildEvent
        from .options import check_platform
        from .stages import Builder
        check_platform(options.platform)
        tags = []
        for t in options.tags:
            try:
                tags.append(str(reference.parse(t).with_default_tag()))
            except InvalidArgument as e:
                raise InvalidArgument(f"invalid tag {t!r}: {e}") from None
        if not os.path.isdir(context_dir):
            raise NotFound(f"unable to prepare context: path {context_dir!r} not found")
        name = options.dockerfile or "Dockerfile"
        if dockerfile_text is None:
            path = name if os.path.isabs(name) else os.path.join(context_dir, name)
            try:
                with open(path, encoding="utf-8") as f:
                    dockerfile_text = f.read()
            except FileNotFoundError:
                raise NotFound(f"Cannot locate specified Dockerfile: {name}") from None
            except (IsADirectoryError, UnicodeDecodeError) as e:
                raise InvalidArgument(f"Cannot read the Dockerfile {name}: {e}") from None
        dockerfile = parse(dockerfile_text, os.path.basename(name) or "Dockerfile")
        b = Builder(self, context_dir, options, progress, cancel)
        for w in getattr(dockerfile, "warnings", None) or []:
            b.emit("warning", w)
        state = b.run(dockerfile)
        images = self.image_store
        try:
            img = images.resolve(state.id)
            for t in tags:
                images.tag(img, t)
            img = images.resolve(state.id)
        except NotFound:
            img = images.create_image(state.doc, state.layers, tags)
        for t in tags:
            self.emit("image", "tag", img.id, name=t)
        if progress is not None:
            progress(BuildEvent("done", "\n".join(reference.familiar(t) for t in tags),
                                b.step, b.steps, img.id))
        return img

    def prune_build_cache(self, all: bool = False, filters=None) -> tuple[list[str], int]:
        """Remove the build cache no image shares (every record with ``all``) and the layers
        only it kept; (removed cache ids, bytes reclaimed)."""
        from .cache import prune
        return prune(self.image_store, all)

    def build_cache_usage(self) -> list[dict]:
        """The build cache as Docker's ``system df`` BuildCache entries."""
        from .cache import usage
        return usage(self.image_store)
