"""The hostile-input corpus for the command line and the engine: names, aliases, hostnames, DNS
values, extra hosts, labels, env, subnets and numbers a user (or a script fed by someone else)
might pass. Each is refused with one line naming what is wrong (Docker's sentence where Docker
has one), exit 125, no traceback, and nothing is left behind: no container, network or volume
record, no bridge. The last tests check that what a container could write into its
neighbours' /etc/hosts never gets there, whatever the entry point."""

from __future__ import annotations

import os
import shutil

import pytest

from engine.errors import InvalidArgument
from engine.models import ContainerConfig
from helpers import root_links

IMAGE = "busybox:1.38.0-musl"


def _state(root: str) -> tuple:
    """Everything a refused command must not have changed: containers, networks, volumes,
    container directories, the root's links."""
    from engine import Engine
    engine = Engine(root)
    cdir = os.path.join(root, "containers")
    return ([c.id for c in engine.containers(all=True)], [n.id for n in engine.networks()],
            [v.name for v in engine.volumes()],
            sorted(os.listdir(cdir)) if os.path.isdir(cdir) else [], root_links(root))


def _refused(cli, root: str, args: list[str], message: str) -> None:
    before = _state(root)
    p = cli(*args, check=False)
    assert p.returncode == 125, (args, p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr, p.stderr
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("berth: "), p.stderr
    assert message in lines[0], (message, lines[0])
    assert _state(root) == before


# (flags before the image, the message's telling part)
CREATE_CASES = {
    "alias-newline": (["--network", "app", "--network-alias", "db\n6.6.6.6 victim"],
                      'invalid network alias "db\\n6.6.6.6 victim"'),
    "alias-space": (["--network", "app", "--network-alias", "a b"],
                    'invalid network alias "a b"'),
    "alias-escape": (["--network", "app", "--network-alias", "a\x1b[2Jb"],
                     'invalid network alias "a\\x1b[2Jb"'),
    "hostname-newline": (["-h", "web\n6.6.6.6 victim"],
                         "invalid hostname format for --hostname: web\\n6.6.6.6 victim"),
    "hostname-long": (["-h", "h" * 65], "at most 64 bytes"),
    "domainname-tab": (["--domainname", "a\tb"],
                       "invalid hostname format for --domainname: a\\tb"),
    "dns-newline": (["--dns", "1.1.1.1\nnameserver 6.6.6.6"],
                    'for "--dns" flag: IP address is not correctly formatted: '
                    "1.1.1.1\\nnameserver 6.6.6.6"),
    "dns-word": (["--dns", "resolver"], "IP address is not correctly formatted: resolver"),
    "dns-scope-newline": (["--dns", "fe80::1%eth0\nx"], "IP address is not correctly formatted"),
    "dns-search-newline": (["--dns-search", "a.com\nnameserver 6.6.6.6"],
                           "a.com\\nnameserver 6.6.6.6 is not a valid domain"),
    "dns-search-digits": (["--dns-search", "123"], "123 is not a valid domain"),
    "dns-option-newline": (["--dns-option", "ndots:1\nnameserver 6.6.6.6"],
                           'for "--dns-option" flag: a resolver option is one word'),
    "add-host-newline": (["--add-host", "a\n6.6.6.6 b:1.2.3.4"],
                         'bad format for add-host: "a\\n6.6.6.6 b:1.2.3.4"'),
    "add-host-space": (["--add-host", "a b:1.2.3.4"], 'bad format for add-host: "a b:1.2.3.4"'),
    "add-host-ip-newline": (["--add-host", "a:1.2.3.4\n6.6.6.6"],
                            'invalid IP address in add-host: "1.2.3.4\\n6.6.6.6"'),
    "label-newline": (["--label", "a\nb=c"], "label 'a\\nb' contains whitespaces"),
    "name-newline": (["--name", "a\nb"],
                     "Invalid container name (a\\nb), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"),
    "mac-word": (["--network", "app", "--mac-address", "zz"], "zz is not a valid mac address"),
    "mac-multicast": (["--network", "app", "--mac-address", "01:00:5e:00:00:01"],
                      "is a multicast address"),
    "ip-newline": (["--network", "app", "--ip", "10.0.0.9\n"],
                   "IPv4 address is not correctly formatted: 10.0.0.9\\n"),
    "expose-word": (["--expose", "http"], 'invalid exposed port "http/tcp"'),
    "cpus-nan": (["--cpus", "nan"], "failed to parse nan as a rational number"),
    "cpus-inf": (["--cpus", "inf"], "failed to parse inf as a rational number"),
    "cpus-too-precise": (["--cpus", "1e-20"], "value is too precise"),
    "memory-overflow": (["--memory", "99999999999999999999g"], "out of range"),
    "memory-huge-digits": (["--memory", "9" * 400], "out of range"),
    "shm-overflow": (["--shm-size", "99999999999999999999g"], "out of range"),
    "pids-overflow": (["--pids-limit", "99999999999999999999999"],
                      'strconv.ParseInt: parsing "99999999999999999999999": value out of range'),
    "pids-kernel": (["--pids-limit", "99999999"], "more than the kernel allows"),
    "cpu-shares-word": (["--cpu-shares", "lots"],
                        'invalid argument "lots" for "--cpu-shares" flag: strconv.ParseInt'),
    "cpu-shares-overflow": (["--cpu-shares", "99999999999999999999999"], "value out of range"),
    "cpu-quota-kernel": (["--cpu-quota", "9223372036854775807"], "CPU cfs quota can not be more"),
    "cpuset-huge": (["--cpuset-cpus", "0-99999999999"], "Invalid value 0-99999999999"),
    "stop-timeout-word": (["--stop-timeout", "soon"], 'for "--stop-timeout" flag'),
    "stop-timeout-overflow": (["--stop-timeout", "99999999999999999999"], "value out of range"),
    "ulimit-overflow": (["--ulimit", "nofile=99999999999999999999999"],
                        "invalid ulimit argument: nofile=99999999999999999999999"),
    "restart-overflow": (["--restart", "on-failure:99999999999999999999999"],
                         "maximum retry count must be an integer"),
    "image-space": ([], "invalid reference format"),
}


@pytest.fixture
def app_network(cli):
    cli("network", "create", "app")   # a subnet from the pool: tests run side by side
    return "app"


@pytest.mark.parametrize("case", sorted(CREATE_CASES))
def test_create_refuses_hostile_flags(cli, root, busybox, request, case):
    flags, message = CREATE_CASES[case]
    if "app" in flags:
        request.getfixturevalue("app_network")
    image = "busy box" if case == "image-space" else IMAGE
    _refused(cli, root, ["create", *flags, image, "true"], message)


@pytest.mark.parametrize("args,message", [
    (["network", "create", "--subnet", "127.0.0.0/8", "lo"], "loopback (127.0.0.0/8)"),
    (["network", "create", "--subnet", "224.0.0.0/4", "mc"], "multicast (224.0.0.0/4)"),
    (["network", "create", "--subnet", "0.0.0.0/0", "all"], "'this network' (0.0.0.0/8)"),
    (["network", "create", "--subnet", "169.254.0.0/16", "ll"], "link-local (169.254.0.0/16)"),
    (["network", "create", "--subnet", "96.0.0.0/3", "wide"], "loopback (127.0.0.0/8)"),
    (["network", "create", "--subnet", "250.1.0.0/16", "e"], "reserved and broadcast"),
    (["network", "create", "--subnet", "10.204.0.0/24\n", "nl"],
     "invalid subnet 10.204.0.0/24\\n"),
    (["network", "create", "--label", "a b=c", "lab"], "label 'a b' contains whitespaces"),
    (["network", "create", "n\n1"], 'invalid network name "n\\n1"'),
    (["volume", "create", "vol\n"], '"vol\\n" includes invalid characters for a local volume name'),
    (["volume", "create", "--label", "a\nb=c", "vol"], "label 'a\\nb' contains whitespaces"),
    (["stop", "-t", "soon", "x"], 'invalid argument "soon" for "--time" flag'),
    (["logs", "--tail", "many", "x"], 'invalid argument "many" for "--tail" flag'),
    (["ps", "-n", "some"], 'invalid argument "some" for "--last" flag'),
    (["search", "--limit", "lots", "x"], 'invalid argument "lots" for "--limit" flag'),
    (["update", "--cpu-shares", "lots", "x"], 'invalid argument "lots" for "--cpu-shares" flag'),
    (["system", "service", "--max-body", "lots"], 'invalid argument "lots" for "--max-body"'),
], ids=lambda v: "-".join(v) if isinstance(v, list) else "")
def test_other_verbs_refuse_hostile_arguments(cli, root, args, message):
    _refused(cli, root, args, message)


def test_env_file_with_a_nul_byte_is_refused(cli, root, busybox, tmp_path):
    env = tmp_path / "env"
    env.write_bytes(b"A=x\0y\n")
    _refused(cli, root, ["create", "--env-file", str(env), IMAGE, "true"],
             "invalid environment variable: A=x\\x00y: it holds a NUL byte")


def test_a_network_named_by_a_path_is_not_read_from_outside_the_root(cli, root, busybox,
                                                                     app_network, tmp_path):
    """--network ../../x named a record file anywhere: a crafted one (another user's bridge,
    any subnet) would have been joined."""
    outside = tmp_path / "evil.json"
    shutil.copy(os.path.join(root, "networks", "app.json"), outside)
    path = os.path.relpath(str(outside)[:-len(".json")], os.path.join(root, "networks"))
    _refused(cli, root, ["create", "--network", path, IMAGE, "true"], f"network {path} not found")


def test_connect_alias_cannot_write_a_neighbours_hosts_file(cli, root, busybox, app_network):
    """The issue's attack: an alias with a line break, given to `network connect`, became a
    line of its own in every peer's /etc/hosts."""
    peer = cli("run", "-d", "--network", "app", "--name", "peer", IMAGE, "sleep", "60").stdout
    peer = peer.strip()
    cli("run", "-d", "--name", "evil", IMAGE, "sleep", "60")
    hosts = os.path.join(root, "containers", peer, "hosts")
    before = open(hosts).read()
    _refused(cli, root, ["network", "connect", "--alias", "x\n6.6.6.6 peer", "app", "evil"],
             'invalid network alias "x\\n6.6.6.6 peer"')
    assert open(hosts).read() == before
    assert "6.6.6.6" not in cli("exec", "peer", "cat", "/etc/hosts").stdout
    assert "evil" not in cli("network", "inspect", "-f", "{{json .Containers}}", "app").stdout
    cli("rm", "-f", "peer", "evil")


def test_engine_refuses_what_every_front_end_would_send(engine, busybox):
    """Engine.create itself refuses (the dashboard's run dialog and the API call it): the
    checks are not the command line's alone."""
    before = engine.containers(all=True)
    for config, message in [
        (ContainerConfig(image=IMAGE, cmd=["true"], hostname="a\nb"), "invalid hostname"),
        (ContainerConfig(image=IMAGE, cmd=["true"], dns=["1.1.1.1\nx"]), "not correctly formatted"),
        (ContainerConfig(image=IMAGE, cmd=["true"], network_mode="none",
                         dns_options=["a b"]), "a resolver option is one word"),
        (ContainerConfig(image=IMAGE, cmd=["true"], extra_hosts=["h:1.1.1.1 x"]),
         "invalid IP address in add-host"),
        (ContainerConfig(image=IMAGE, cmd=["sh", "-c", "echo\0x"]), "holds a NUL byte"),
        (ContainerConfig(image=IMAGE, cmd=["true"], workdir="/tmp\0"), "holds a NUL byte"),
        (ContainerConfig(image=IMAGE, cmd=["true"], labels={"k": 5}), "is not a string"),
        (ContainerConfig(image=IMAGE, cmd=["true"], env="A=1"), "is not a list"),
        (ContainerConfig(image=IMAGE, cmd=["true"], stop_timeout=1 << 70), "--stop-timeout"),
    ]:
        with pytest.raises(InvalidArgument, match=message):
            engine.create(config)
    assert engine.containers(all=True) == before


def test_hosts_and_resolv_writers_leave_out_hostile_fields():
    """The last line of defence: a record written before the checks (or by hand) reaches no
    file as a line of its own."""
    from engine.models import Container, ContainerState
    from engine.network.files import hosts_lines, resolv_text
    text = hosts_lines("web\n6.6.6.6 evil", ["10.1.0.2"],
                       [("10.1.0.3", ["db", "x\n6.6.6.6 bank", "ok"]),
                        ("10.1.0.4\n6.6.6.6", ["other"])],
                       ["h\n6.6.6.6 a:1.2.3.4", "fine:1.2.3.5", "t:1.2.3.6\n6.6.6.6 b"])
    assert "6.6.6.6" not in text
    lines = text.splitlines()
    assert "10.1.0.3\tdb ok" in lines and "1.2.3.5\tfine" in lines
    assert not any(line.startswith("10.1.0.2") for line in lines)   # its hostname was hostile
    config = ContainerConfig(image=IMAGE, dns=["1.1.1.1\nnameserver 6.6.6.6", "9.9.9.9"],
                             dns_search=["a.com\nnameserver 6.6.6.6"],
                             dns_options=["ndots:1\nnameserver 6.6.6.6", "rotate"])
    resolv = resolv_text(Container("0" * 64, "c", "", config, ContainerState()), "/dev/null")
    assert resolv == "nameserver 9.9.9.9\noptions rotate\n"
