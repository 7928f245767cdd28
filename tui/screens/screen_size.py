"""LaidOutOnce: a full screen that is not laid out twice for one size when it opens."""

from __future__ import annotations


class LaidOutOnce:
    """A Screen mixin. Textual lays a screen out when it is pushed (its resume) and again on
    the Resize its first layout sends it, for the same size: the second one re-arranged and
    repainted the whole screen for nothing, a good part of the time from `i` or `l` to the
    screen. Here that first Resize lays out only if the size changed; later ones as Textual
    does (after a suspended terminal comes back, its Resize is what repaints the screen)."""

    _first_resize_seen = False

    def _screen_resized(self, size) -> None:
        first, self._first_resize_seen = not self._first_resize_seen, True
        if first and size == self._size:
            return
        super()._screen_resized(size)
