"""What a build is asked to do: ``docker build``'s options as one record."""

from __future__ import annotations

from ..models import Model, dataclass, field


@dataclass
class BuildOptions(Model):
    """The options of one build (the CLI's flags, the API's query parameters)."""

    tags: list[str] = field(default_factory=list)
    dockerfile: str = "Dockerfile"         # relative to the context
    build_args: dict[str, str] = field(default_factory=dict)
    target: str = ""
    no_cache: bool = False
    pull: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    network: str = "default"               # default | none | host | bridge
    quiet: bool = False
    platform: str = ""
    cache_from: list[str] = field(default_factory=list)
    extra_hosts: list[str] = field(default_factory=list)
    rm: bool = True
    force_rm: bool = False


def native_platform() -> str:
    """``linux/<arch>`` of this machine, as Docker names it."""
    import platform
    m = platform.machine()
    arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386",
            "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}.get(m, m)
    return f"linux/{arch}"


def check_platform(value: str, what: str = "--platform") -> None:
    """Refuse any platform but this machine's (berth runs no emulator)."""
    if not value:
        return
    from ..errors import InvalidArgument
    native = native_platform()
    parts = value.lower().split("/")
    wanted = "/".join(parts[:2])
    if wanted != native and not (len(parts) == 1 and f"linux/{parts[0]}" == native):
        raise InvalidArgument(f"{what} {value}: berth builds only for this machine's platform "
                              f"({native}); leave it out or give {native}")
