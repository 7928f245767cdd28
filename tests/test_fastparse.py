"""tui/commands/fastparse.py reads the hot verbs' command lines as argparse does, or hands them
to argparse: on every line below both parsers are run, and where the fast one answers its
result must be argparse's, attribute by attribute."""

from __future__ import annotations

import argparse
import contextlib
import io

import pytest

from tui import cli
from tui.commands import fastparse

# lines the fast parser must read itself (the plain shapes every script and test uses)
READ = [
    "run --rm --network none busybox true",
    "run busybox",
    "run -d busybox sleep 100",
    "run -it busybox sh",
    "run -dit --name web busybox sh -c 'echo hi'",
    "run --name=web -e A=1 -e B=2 --env-file f -p 80:80 -p 443:443/tcp busybox",
    "run -v /a:/b -v vol:/c:ro --mount type=tmpfs,dst=/t --tmpfs /run busybox ls -l /",
    "run --rm -h myhost --hostname other busybox hostname",
    "run --entrypoint '' busybox echo",
    "run --entrypoint= busybox",
    "run -w '' -u 1000:1000 --cap-add NET_ADMIN --cap-drop ALL busybox id",
    "run --memory 64m --cpus 0.5 --pids-limit 10 --ulimit nofile=10:10 busybox true",
    "run busybox echo -- x",
    "run busybox -d --rm",
    "run --rm busybox sh -c 'exit 3'",
    "run -e '' busybox env",
    "run --security-opt seccomp=unconfined --privileged --read-only busybox true",
    "run --health-cmd 'true' --health-interval 1s --no-healthcheck busybox true",
    "run -l a=b --label c=d -a stdout -a stderr --sig-proxy false busybox true",
    "run --restart on-failure:3 --stop-signal SIGINT --stop-timeout 3 --init busybox",
    "run --network=bridge --ip 10.0.0.5 --network-alias web --dns 1.1.1.1 busybox",
    "run '' true",
    "run --name= -h '' --workdir=/x=y busybox",
    "--root /tmp/r run busybox true",
    "--root=/tmp/r --tls run busybox true",
    "-H unix:///x.sock run busybox true",
    "--context prod --tlsverify --tlscacert ca.pem run busybox true",
    "start c1",
    "start -a c1",
    "start -ai --detach-keys ctrl-x c1 c2",
    "stop c1 c2 c3",
    "stop -t 0 c1",
    "stop --time=5 c1",
    "stop --timeout 1 -s SIGINT c1",
    "rm c1",
    "rm -f c1 c2",
    "rm -fv c1",
    "rm --force --volumes --link c1",
    "exec c1",
    "exec c1 true",
    "exec -it c1 sh",
    "exec -d -e A=1 -w /tmp -u nobody c1 sleep 5",
    "exec --privileged --env-file f c1 ls -la",
    "exec c1 -it sh",
    "exec --detach-keys ctrl-a c1 sh -c 'x -- y'",
    "pull busybox",
    "pull -q 127.0.0.1:5000/library/busybox:bench",
    "pull -qa --platform linux/arm64 busybox",
    "pull --tls-verify=false --quiet localhost:5000/x@sha256:" + "a" * 64,
    "--root /tmp/r pull --all-tags busybox",
    "system dial-stdio",
    "--root /tmp/r system dial-stdio",
]

# lines it must hand to argparse (help, errors, abbreviations, dash-led values, '--', …)
HANDED = [
    "run", "run --help", "run --rm", "run --rm= busybox", "run --help=x busybox", "run --nme x busybox", "run --netw none busybox",
    "run --memory-swap -1 busybox", "run -e=A=1 busybox", "run -eA=1 busybox",
    "run -d=1 busybox", "run --rm=1 busybox", "run -- busybox true", "run - busybox",
    "run -itx busybox", "run -ie A busybox", "run --name", "run --name --rm busybox",
    "--help run busybox", "-h run busybox", "--bogus run busybox", "--root", "run --root x busybox",
    "start", "start --help", "start c1 -a", "start -a c1 -i c2", "stop -t -1 c1",
    "stop --time c1", "rm -x c1", "rm c1 -f", "rm", "exec", "exec -h c1 true",
    "exec --help", "exec -e c1", "exec -- c1 true",
    "ps", "logs c1", "kill c1", "container run busybox", "run1 busybox",
    "pull", "pull --help", "pull busybox -q", "pull a b", "pull --tls-verify busybox",
    "pull --tls-verify false busybox", "pull --tls-verify=maybe busybox", "pull -x busybox",
    "pull --platform", "push busybox",
    "system", "system df", "system dial-stdio x", "system dial-stdio --help", "system --help",
]


def _argparse(argv: list[str]):
    """argparse's Namespace for argv, or what it printed and exited with."""
    parser = cli.build_parser(cli.COMMANDS.get(cli._command_of(argv) or ""))
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            return parser.parse_args(argv)
    except SystemExit as e:
        return ("exit", e.code, out.getvalue(), err.getvalue())


def _split(line: str) -> list[str]:
    import shlex
    return shlex.split(line)


def test_shared_constants_are_argparses():
    assert fastparse.SUPPRESS == argparse.SUPPRESS
    assert fastparse.REMAINDER == argparse.REMAINDER


@pytest.mark.parametrize("line", READ)
def test_read_as_argparse_reads_it(line):
    argv = _split(line)
    fast = fastparse.parse(argv, cli.global_args)
    assert fast is not None, f"the fast parser handed {line!r} to argparse"
    slow = _argparse(argv)
    assert isinstance(slow, argparse.Namespace), slow
    expected = vars(slow)
    got = vars(fast)
    # the same handler, by name (argparse's comes from a parser built on its own)
    assert got.pop("func").__name__ == expected.pop("func").__name__
    assert got == expected


@pytest.mark.parametrize("line", HANDED)
def test_unusual_lines_go_to_argparse(line):
    assert fastparse.parse(_split(line), cli.global_args) is None


def test_handed_lines_still_get_argparses_answer(capsys):
    """Through cli.main, an unusual line gets argparse's usage error, exit 2 (not a fast guess)."""
    with pytest.raises(SystemExit) as e:
        cli.main(["run", "--nme", "x", "busybox"])
    assert e.value.code == 2
    assert "unrecognized arguments: --nme" in capsys.readouterr().err
