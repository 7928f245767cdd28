"""--format and -f through berth's CLI as a user types them, and the same templates rendered by
the docker CLI (Go's own text/template) on the same container through berth's API socket."""

from __future__ import annotations

import json
import re

import pytest

from test_api_support import service  # noqa: F401


@pytest.fixture
def box(cli, busybox, tmp_path):
    """A created (not started) container with labels, env, a volume and a bind mount."""
    cli("create", "--name", "box", "-l", "a.b=AB", "-l", "x=<&>", "-e", "FOO=bar",
        "-v", "vol1:/data", "-v", f"{tmp_path}:/hosttmp", busybox, "sh", "-c", "sleep 9")
    return "box"


def test_inspect_templates_have_gos_actions_and_dockers_functions(cli, box):
    lines = [
        "{{range .Mounts}}{{.Destination}} {{end}}",
        '{{index .Config.Labels "a.b"}}|{{index .Config.Labels "nope"}}|',
        "{{with .State.Health}}{{.Status}}{{else}}none{{end}}",
        "{{len .Config.Env}}",
        '{{printf "%-8s|" .Name}}',
        '{{join .Args ","}}',
        '{{split "a,b" ","}}',
        '{{upper .Name}} {{title "x y"}} {{pad .Name 1 1}}|',
        "{{truncate .Id 12}}",
        '{{if .State.Running}}up{{else if eq .State.Status "created"}}new{{end}}',
        "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}",
        "{{json .Config.Labels}}",
        "{{- /* trimmed */ -}}  {{.HostConfig.CapAdd}} {{.Config.Healthcheck}}",
    ]
    out = cli("inspect", "-f", "\n".join(lines), box).stdout
    cid = cli("inspect", "-f", "{{.Id}}", box).stdout.strip()
    assert out.split("\n") == [
        "/data /hosttmp ", "AB||", "none", "2", "/box    |", "-c,sleep 9", "[a b]",
        "/BOX X Y  /box |", cid[:12], "new", "a.b=AB;x=<&>;",
        '{"a.b":"AB","x":"<&>"}[] <nil>', ""]   # {{- trims the newline before it


def test_list_formats_as_docker_prints_them(cli, box):
    assert cli("ps", "-a", "--format", r"table {{.Names}}\t{{.Status}}").stdout == \
        "NAMES     STATUS\nbox       Created\n"
    assert cli("ps", "-a", "--format", '{{.Label "a.b"}} {{.Labels}} {{.Mounts}}').stdout == \
        f"AB a.b=AB,x=<&> vol1,{cli('inspect', '-f', '{{(index .Mounts 1).Source}}', box).stdout[:14]}…\n"
    (line,) = cli("images", "--format", "{{json .}}").stdout.splitlines()
    assert '"Digest":"\\u003cnone\\u003e"' in line   # docker's json of a row: HTML-escaped
    row = json.loads(line)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} \w+", row["CreatedAt"])
    assert list(row) == sorted(row)


def test_template_errors_are_one_line_with_dockers_exit_codes(cli, box):
    p = cli("inspect", "-f", "{{.Nope}}", box, check=False)
    assert (p.returncode, p.stdout, p.stderr) == (1, "", (
        'berth: template parsing error: template: :1:2: executing "" at <.Nope>: map has no '
        'entry for key "Nope"\n'))
    p = cli("inspect", "-f", "{{.}", box, check=False)
    assert (p.returncode, p.stdout, p.stderr) == (
        64, "", "berth: template parsing error: template: :1: bad character U+007D '}'\n")
    p = cli("ps", "-a", "--format", "{{.Names}} {{.Nope}}", check=False)
    assert (p.returncode, p.stdout) == (1, "")
    assert p.stderr.endswith("can't evaluate field Nope in type *formatter.ContainerContext\n")


# templates whose rendering by the docker CLI (through berth's API) berth's CLI must match
SAME_AS_DOCKER = [
    "{{.Name}} {{.State.Status}} {{.State.Running}} {{.State.Pid}} {{.RestartCount}}",
    "{{range .Mounts}}{{.Type}}:{{.Name}}:{{.Destination}}:{{.RW}} {{end}}",
    '{{index .Config.Labels "a.b"}}|{{index .Config.Labels "nope"}}|{{.Config.Labels.nope}}|'
    "{{json .Config.Labels}}|{{.Config.Labels}}",
    "{{with .State.Health}}{{.Status}}{{else}}none{{end}} {{.Config.Healthcheck}}",
    '{{len .Config.Env}} {{join .Config.Env ";"}} {{join .Args ","}} '
    '{{printf "%-8s|%5d|%q|%v" .Name .State.ExitCode .Path .Config.Cmd}}',
    "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}{{range $i, $e := .Args}}{{$i}}"
    "{{end}}",
    '{{upper .Name}} {{title .State.Status}} {{pad .Name 1 2}}|{{truncate .Id 12}} '
    '{{split .Name "o"}}',
    '{{if eq .State.Status "running"}}up{{else if .State.Restarting}}re{{else}}down{{end}} '
    "{{and .State.Running .Name}} {{or .State.Running .Name}} {{not .State.Paused}}",
    "{{.HostConfig.CapAdd}} {{len .HostConfig.CapAdd}} {{.HostConfig.Memory}} "
    "{{.HostConfig.RestartPolicy.Name}} {{json .State.Running}}",
    "{{.Nope}}", "{{.}", "{{.Name.X}}", "{{index .Args 7}}",
]


def test_templates_render_as_the_docker_cli_renders_them(cli, box, service):  # noqa: F811
    for text in SAME_AS_DOCKER:
        d = service.docker("inspect", "-f", text, box, check=False)
        b = cli("inspect", "-f", text, box, check=False)
        assert (b.returncode, b.stdout, b.stderr.removeprefix("berth: ")) == \
            (d.returncode, d.stdout.lstrip("\n"), d.stderr), text
    for text in (r'table {{.Names}}\t{{.Label "a.b"}}\t{{.Labels}}\t{{.State}}\t{{.Command}}',
                 '{{.Names}} {{.Image}} {{.Mounts}} {{.LocalVolumes}} {{.Size}}'):
        assert cli("ps", "-a", "--format", text).stdout == \
            service.docker("ps", "-a", "--format", text).stdout, text
    text = r"table {{.Name}}\t{{.Driver}}\t{{.Mountpoint}}\t{{.Labels}}"
    assert cli("volume", "ls", "--format", text).stdout == \
        service.docker("volume", "ls", "--format", text).stdout
    assert cli("volume", "ls", "--format", "json").stdout == \
        service.docker("volume", "ls", "--format", "json").stdout


def test_sizes_in_ps_and_inspect_as_docker_shows_them(cli, busybox):
    """`ps -s` adds docker's SIZE column and `{{.Size}}` asks for sizes as -s does; `inspect
    -s` adds SizeRw and SizeRootFs (the engine's one container_size serves both and the API)."""
    cli("run", "--name", "box", "--network", "none", busybox, "sh", "-c",
        "head -c 5000 /dev/zero > /written")
    table = cli("ps", "-as").stdout.splitlines()
    assert table[0].split()[-1] == "SIZE"
    assert table[1].endswith("5kB (virtual 1.54MB)")
    assert cli("ps", "-a", "--format", "{{.Size}}").stdout.strip() == " ".join(table[1].split()[-3:])
    rw, rootfs = cli("inspect", "-s", "-f", "{{.SizeRw}} {{.SizeRootFs}}", "box").stdout.split()
    image = int(cli("image", "inspect", "-f", "{{.Size}}", busybox).stdout)
    assert int(rw) == 5000 and int(rootfs) == 5000 + image
    assert "SizeRw" not in cli("inspect", "box").stdout
