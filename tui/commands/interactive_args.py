"""The arguments of the interactive subcommands (tui/commands/interactive.py): attach, exec,
top, cp, diff, commit, export, port, as argparse takes them, and their one-line help."""

from __future__ import annotations

from .fastparse import REMAINDER

VERBS = ("attach", "exec", "top", "cp", "diff", "commit", "export", "port")


def _port_args(p) -> None:
    p.add_argument("container")
    p.add_argument("private_port", nargs="?", metavar="PRIVATE_PORT[/PROTO]")


def _attach_args(p):
    p.add_argument("--no-stdin", action="store_true", help="do not attach stdin")
    p.add_argument("--sig-proxy", default="true", help="proxy signals to the container")
    p.add_argument("--detach-keys", default="", help="keys that detach (default ctrl-p,ctrl-q)")
    p.add_argument("container")


def _exec_args(p):
    p.add_argument("-d", "--detach", action="store_true", help="run the command in the background")
    p.add_argument("-i", "--interactive", action="store_true", help="keep stdin open")
    p.add_argument("-t", "--tty", action="store_true", help="allocate a terminal")
    p.add_argument("-e", "--env", action="append", default=[], help="set an environment variable")
    p.add_argument("--env-file", action="append", default=[], help="read variables from a file")
    p.add_argument("-w", "--workdir", default="", help="working directory inside the container")
    p.add_argument("-u", "--user", default="", help="user[:group], names or numbers")
    p.add_argument("--privileged", action="store_true", help="every capability the host gives")
    p.add_argument("--detach-keys", default="", help="keys that detach from -it (ctrl-p,ctrl-q)")
    p.add_argument("container")
    p.add_argument("command", nargs=REMAINDER)


def _top_args(p):
    p.add_argument("container")
    # the rest as typed, dashes too (docker top C -eo pid,comm)
    p.add_argument("ps_args", nargs=REMAINDER,
                   help="ps options: the host's ps columns for the container's processes, as docker top")


def _cp_args(p):
    p.add_argument("-L", "--follow-link", action="store_true", help="follow a symlink in SRC")
    p.add_argument("-a", "--archive", action="store_true", help="keep uid and gid (always done)")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("src", metavar="SRC")
    p.add_argument("dest", metavar="DEST")


def _diff_args(p):
    p.add_argument("container")


def _commit_args(p):
    p.add_argument("-m", "--message", default="", help="commit message")
    p.add_argument("-a", "--author", default="", help='author ("Name <email>")')
    p.add_argument("-c", "--change", action="append", default=[],
                   help="a Dockerfile instruction for the image config (CMD, ENV, ...)")
    p.add_argument("-p", "--pause", default="true", help="pause the container while committing")
    p.add_argument("container")
    p.add_argument("repository", nargs="?", default=None, metavar="REPOSITORY[:TAG]")


def _export_args(p):
    p.add_argument("-o", "--output", default="", help="write to a file instead of stdout")
    p.add_argument("container")


ARGS = {"attach": _attach_args, "exec": _exec_args, "top": _top_args, "cp": _cp_args,
        "diff": _diff_args, "commit": _commit_args, "export": _export_args,
        "port": _port_args}
HELP = {"attach": "attach to a running container's streams",
        "exec": "run a command in a running container",
        "top": "show a container's processes",
        "cp": "copy files between a container and the host",
        "diff": "show a container's filesystem changes",
        "commit": "make an image from a container's changes",
        "export": "write a container's filesystem as a tar",
        "port": "list a container's published ports"}
