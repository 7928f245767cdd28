"""``berth`` starts its interpreter without site (``python -S``, the launcher `make venv` writes:
tui/berth.in): site's scan of the virtualenv (its .pth files, _distutils_hack) costs every
command ~6 ms, and the hot verbs load nothing from site-packages. Imported first by the
launcher, this runs site the first time an import finds nothing on the plain path (textual,
aiohttp, pyseccomp, …), so every other command works as it would with site from the start."""

import sys


class SiteOnDemand:
    """The last finder on sys.meta_path: asked only when no other found the module."""

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        sys.meta_path.remove(cls)
        import site
        site.main()   # the virtualenv's site-packages and .pth files, as at a normal start
        from importlib.machinery import PathFinder
        return PathFinder.find_spec(name, path, target)


if sys.flags.no_site and SiteOnDemand not in sys.meta_path:
    sys.meta_path.append(SiteOnDemand)
