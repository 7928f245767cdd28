"""berth without root: an ordinary user's containers in a user namespace of their own.

``idmap`` reads the user's subordinate ids, ``userns`` keeps the one long-lived user namespace
per user that every berth process of that user joins (as podman's pause process), ``limits``
says what needs cgroup delegation, ``slirp`` and ``netns`` give containers a network without
touching the host's. Nothing here is imported when berth runs as root.
"""
