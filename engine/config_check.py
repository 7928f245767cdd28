"""A container's configuration checked as Docker's daemon checks it at create, whichever front end
built it (the command line, the dashboard's run dialog, the Docker API and compose through it).

Above Docker's own rules, one of berth's: nothing that ends up in a file of this container or of
its neighbours (hosts, resolv.conf, hostname) may hold whitespace, a line break or a control
character. A name is one field of a line there; a line break in it would let a container write
lines of its choosing into its neighbours' /etc/hosts.
"""

from __future__ import annotations

from .errors import InvalidArgument, NotFound
from .runtime.names import check_alias, check_hostname, check_search_domain, shown, unsafe


def validate_config(config) -> None:
    """Raise InvalidArgument (with Docker's message where Docker has one) for the first value of
    ``config`` that can't be used; normalises the MAC address to Docker's form."""
    from .options import validate_env, validate_labels
    from .resource_options import validate_resources
    _check_image(config.image)
    validate_resources(config.resources, config.oom_score_adj)
    if config.hostname:
        check_hostname(config.hostname)
    if config.domainname:
        check_hostname(config.domainname, "--domainname")
    validate_env(config.env)
    validate_labels(config.labels)
    for server in config.dns:
        check_ip(server, "--dns")
    for domain in config.dns_search:
        check_search_domain(domain)
    for option in config.dns_options:
        check_dns_option(option)
    from .network.files import check_add_host
    for spec in config.extra_hosts:
        check_add_host(spec)
    for alias in config.aliases:
        check_alias(alias)
    for port in config.exposed_ports:
        check_exposed_port(port)
    _check_networks(config)
    if config.ip_address:
        check_ip(config.ip_address, "--ip", version=4)
    if config.mac_address:
        config.mac_address = normal_mac(config.mac_address)
    _check_numbers(config)
    if config.healthcheck is not None:
        from .healthconfig import validate
        validate(config.healthcheck)
    _check_no_nul(config.to_dict(), "")


def validate_exec(body: dict) -> None:
    """An exec's settings (the API's ExecConfig): Docker's env rule, and no NUL byte in its
    command, env, user or directory (execve and chdir can't take one)."""
    from .options import validate_env
    validate_env(body.get("Env") or [])
    _check_no_nul({k: body.get(k) for k in ("Cmd", "Env", "User", "WorkingDir")}, "")


def _check_image(ref) -> None:
    from .images.reference import parse
    if not isinstance(ref, str):
        raise InvalidArgument(f"invalid reference format: {shown(ref)} is not a string")
    if ref.startswith("sha256:") or (len(ref) == 64 and ref.isalnum()):
        return   # an image id, which names no repository
    parse(ref)


def check_ip(value, flag: str, version: int | None = None) -> None:
    """An address as the docker CLI's ValidateIPAddress takes it (``--dns``, ``--ip``)."""
    import ipaddress
    try:
        ip = ipaddress.ip_address(value) if isinstance(value, str) and not unsafe(value) else None
    except ValueError:
        ip = None
    if ip is None or (version and ip.version != version):
        kind = f"IPv{version} address" if version else "IP address"
        raise InvalidArgument(f'invalid argument "{shown(value)}" for "{flag}" flag: {kind} is '
                              f"not correctly formatted: {shown(value)}")


def check_dns_option(value) -> None:
    """A --dns-option: one word of resolv.conf's options line (``ndots:2``, ``rotate``)."""
    if not value or unsafe(value):
        raise InvalidArgument(f'invalid argument "{shown(value)}" for "--dns-option" flag: a '
                              "resolver option is one word, such as ndots:2 or rotate")


def check_exposed_port(value) -> None:
    """An exposed port as stored: ``PORT/PROTO`` (``80/tcp``), one port of 1 to 65535."""
    port, _, proto = value.partition("/") if isinstance(value, str) else ("", "", "")
    if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535
            and proto in ("tcp", "udp", "sctp")):
        raise InvalidArgument(f'invalid exposed port "{shown(value)}": give PORT/PROTO, a port '
                              "from 1 to 65535 and tcp, udp or sctp")


def normal_mac(value) -> str:
    """A unicast Ethernet address in Docker's form (``02:42:ac:11:00:02``), from that form or
    with dashes; InvalidArgument with the docker CLI's message otherwise."""
    text = value.strip().lower().replace("-", ":") if isinstance(value, str) else ""
    parts = text.split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdef" for c in p)
                                  for p in parts):
        raise InvalidArgument(f"{shown(value)} is not a valid mac address")
    if int(parts[0], 16) & 1:
        raise InvalidArgument(f"{shown(value)} is not a valid mac address: it is a multicast "
                              "address; a container's address must be unicast (first byte even)")
    return text


def _check_networks(config) -> None:
    """A network named by --network or in the API's EndpointsConfig names a record file: only
    names a network can have (no path of any kind) are looked up."""
    mode = config.network_mode or "bridge"
    named = [] if mode in ("bridge", "default", "host", "none") or mode.startswith(
        "container:") else [mode]
    if not named and not config.networks:
        return   # ipam's ipaddress costs a plain `berth run` 2 ms
    from .network.ipam import valid_name
    for name in [*named, *config.networks]:
        if not isinstance(name, str) or not valid_name(name):
            raise NotFound(f"network {shown(name)} not found")


def _check_numbers(config) -> None:
    from .options import INT64_MAX, parse_ulimit
    for u in config.ulimits:
        parse_ulimit(f"{u.name}={u.soft}:{u.hard}")
    checks = (("--stop-timeout", config.stop_timeout, -1),
              ("--shm-size", config.shm_size, 1),
              ("--restart", config.restart_policy.max_retries, 0))
    for flag, value, low in checks:
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or \
                not low <= value <= INT64_MAX:
            raise InvalidArgument(f"invalid value for {flag}: {shown(value)} is not a number "
                                  f"from {low} to {INT64_MAX}")


def _check_no_nul(value, where: str) -> None:
    """No NUL byte anywhere: a command, a path or a user with one can't reach the kernel."""
    if isinstance(value, str):
        if "\0" in value:
            raise InvalidArgument(f"invalid value for {where or 'the configuration'}: "
                                  f"{shown(value)} holds a NUL byte, which no command, path or "
                                  "name can carry")
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_no_nul(k, where)
            _check_no_nul(v, f"{where}.{k}" if where else str(k))
    elif isinstance(value, (list, tuple)):
        for v in value:
            _check_no_nul(v, where)
