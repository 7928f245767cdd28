"""berth without root: an ordinary user's containers in a user namespace of their own.

``userns`` keeps the one long-lived user namespace per user that every berth process of that
user joins (as podman's pause process; ``holders`` starts and finds such sleeping holders),
mapped from the user's subordinate ids (``idmap``); ``overlay`` says how overlayfs is mounted
there; ``cgroups`` stands in where no cgroup is delegated (``procstats`` then reads /proc) and
``checks`` refuses at create what can't be done; ``netns`` keeps the user's network namespace
with berth's bridges inside, slirp4netns joining it to the outside, and ``forward`` with
``portfwd`` carry published ports from the host. With root only ``overlay``, ``idmap`` and this
package's ``in_netns`` are imported, and they answer as before.
"""


def in_netns(method):
    """Decorator: without root, the network verb runs in the user's network namespace
    (netns.call); here, so that modules on every command's path import nothing for it."""
    def wrapper(*args, **kwargs):
        from ..paths import rootless
        if rootless():
            from .netns import call
            return call(method, *args, **kwargs)
        return method(*args, **kwargs)
    wrapper.__name__, wrapper.__doc__ = method.__name__, method.__doc__
    wrapper.__qualname__ = method.__qualname__
    return wrapper
