"""The Dockerfile front end: the parser (engine/build/dockerfile.py, instructions.py), variable
expansion and word splitting (expand.py) and RUN --mount specs (runmount.py), against the
behaviour and messages of Docker's parser and shell lexer (cases from moby buildkit's documented
behaviour and its tests' tables). Pure Python, no containers."""

from __future__ import annotations

import pytest

from engine.build.dockerfile import parse, parse_trigger
from engine.build.expand import expand, expand_words, parse_arg, parse_pairs, raw_words
from engine.build.instructions import parse_heredoc
from engine.build.runmount import parse_mount
from engine.errors import InvalidArgument


def one(text: str):
    """The only instruction of the only stage of ``FROM scratch`` + text."""
    df = parse("FROM scratch\n" + text)
    (ins,) = df.stages[0].instructions
    return ins


def error(text: str) -> str:
    with pytest.raises(InvalidArgument) as e:
        parse(text)
    return str(e.value)


# --- lines, comments, continuations, directives ------------------------------------------------

def test_comments_continuations_and_lines():
    df = parse("# a comment\n\nFROM busybox\n"
               "RUN echo a \\\n"
               "    # inside a continuation: skipped\n"
               "  && echo b\n"
               "  # indented comment line\n"
               "CMD [\"sh\"]\n")
    run, cmd = df.stages[0].instructions
    assert run.cmd == "RUN" and run.line == 4 and not run.json_form
    # Docker joins continuation lines as written: the leading spaces of the next line stay
    assert run.args == ["echo a   && echo b"]
    assert run.original == "RUN echo a   && echo b"
    assert cmd.line == 8 and cmd.args == ["sh"] and cmd.json_form
    assert df.warnings == []


def test_tabs_and_the_legacy_env_form_as_dockers_own_testfile():
    df = parse("FROM\tubuntu:14.04\n"
               "LABEL\tmaintainer\tTianon Gravi <admwiggin@gmail.com> (@tianon)\n"
               "RUN\tapt-get install -yq \\\n\tapt-utils \\\n\t--no-install-recommends\n"
               "ENV\tDOCKER_CROSSPLATFORMS\t\\\n\tlinux/386 linux/arm \\\n\tdarwin/amd64\n"
               "COPY\t.\t/go/src\n")
    label, run, env, copy = df.stages[0].instructions
    assert df.stages[0].base == "ubuntu:14.04"
    assert parse_pairs(label.args[0], {}, what="LABEL") == \
        [("maintainer", "Tianon Gravi <admwiggin@gmail.com> (@tianon)")]
    assert run.args == ["apt-get install -yq \tapt-utils \t--no-install-recommends"]
    assert parse_pairs(env.args[0], {}) == \
        [("DOCKER_CROSSPLATFORMS", "linux/386 linux/arm \tdarwin/amd64")]
    assert expand_words(copy.args[0], {}) == [".", "/go/src"]


def test_empty_continuation_line_is_a_warning_not_an_error():
    df = parse("FROM busybox\nRUN echo a \\\n\n    b\n")
    assert df.stages[0].instructions[0].args == ["echo a     b"]
    assert df.warnings and "Empty continuation line" in df.warnings[0]


def test_crlf_and_byte_order_mark():
    df = parse("\ufeffFROM busybox\r\nRUN echo a \\\r\n b\r\n")
    assert df.stages[0].instructions[0].args == ["echo a  b"]


def test_directives_only_at_the_top():
    df = parse("# syntax=docker/dockerfile:1.4\n#escape = `\nFROM busybox\nRUN echo a `\n b\n")
    assert df.directives == {"syntax": "docker/dockerfile:1.4", "escape": "`"}
    assert df.escape == "`"
    assert df.stages[0].instructions[0].args == ["echo a  b"]
    # after a comment or an empty line, a directive is just a comment
    df = parse("# hello\n# escape=`\nFROM busybox\nRUN echo a \\\n b\n")
    assert df.directives == {} and df.stages[0].instructions[0].args == ["echo a  b"]
    df = parse("\n# escape=`\nFROM busybox\n")
    assert df.directives == {}
    # an unknown directive ends the directives as well
    df = parse("# foo=bar\n# escape=`\nFROM busybox\n")
    assert df.directives == {}


def test_directive_errors():
    assert error("# escape=x\nFROM busybox\n") == \
        "Dockerfile:1: invalid escape token 'x' does not match ` or \\"
    assert error("# escape=`\n# escape=\\\nFROM busybox\n") == \
        "Dockerfile:2: only one escape parser directive can be used"


def test_backtick_escape_leaves_backslashes_alone():
    df = parse("# escape=`\nFROM scratch\nCOPY testfile.txt c:\\\nRUN dir c:\\\n")
    copy, run = df.stages[0].instructions
    assert copy.args == ["testfile.txt c:\\"] and run.args == ["dir c:\\"]


def test_empty_and_instructionless_files():
    assert error("") == "Dockerfile:1: file with no instructions"
    assert error("# only a comment\n\n") == "Dockerfile:1: file with no instructions"
    assert error("ARG A=1\n") == "Dockerfile:1: dockerfile contains no stages to build"


def test_error_names_file_and_line():
    with pytest.raises(InvalidArgument) as e:
        parse("FROM busybox\n\nFOO bar\n", name="app.Dockerfile")
    assert str(e.value) == "app.Dockerfile:3: unknown instruction: FOO"
    assert error("FROM busybox\nrunn echo\n") == \
        "Dockerfile:2: unknown instruction: RUNN (did you mean RUN?)"
    assert error("FROM busybox\nCOPPY a b\n") == \
        "Dockerfile:2: unknown instruction: COPPY (did you mean COPY?)"


# --- stages ----------------------------------------------------------------------------------

def test_stages_args_and_names():
    df = parse("ARG BASE=busybox\nARG TAG\nFROM --platform=linux/amd64 $BASE:${TAG} AS Build\n"
               "RUN true\nfrom build\nCOPY --from=build /a /b\nFROM scratch as final\n")
    assert [a.args for a in df.args] == [["BASE=busybox"], ["TAG"]]
    b, second, final = df.stages
    assert (b.index, b.name, b.base, b.platform, b.line) == \
        (0, "build", "$BASE:${TAG}", "linux/amd64", 3)
    assert [i.cmd for i in b.instructions] == ["RUN"]
    assert (second.name, second.base) == ("", "build")
    assert second.instructions[0].flags == {"from": "build"}
    assert final.name == "final"
    assert df.stage("BUILD") is b and df.stage("1") is second and df.stage("nope") is None


def test_from_errors():
    assert error("FROM\n") == "Dockerfile:1: FROM requires either one or three arguments"
    assert error("FROM a b\n") == "Dockerfile:1: FROM requires either one or three arguments"
    assert error("FROM a AS 1x\n") == \
        'Dockerfile:1: invalid name for build stage: "1x", name can\'t start with a number ' \
        "or contain symbols"
    assert error("FROM a AS x\nFROM b AS X\n") == 'Dockerfile:2: duplicate stage name "x"'
    assert error("RUN true\nFROM a\n") == "Dockerfile:1: no build stage in current context"
    assert error("FROM --plat=x a\n") == "Dockerfile:1: Unknown flag: plat"


# --- forms and arguments -----------------------------------------------------------------------

def test_exec_and_shell_forms():
    assert one('RUN ["echo", "a b"]').args == ["echo", "a b"]
    assert one('CMD [ "x" ]  ').json_form
    # not JSON: shell form, as written
    ins = one("ENTRYPOINT [echo, x]")
    assert ins.args == ["[echo, x]"] and not ins.json_form
    assert one('CMD ["a", "b"] trailing').args == ['["a", "b"] trailing']
    assert error('FROM a\nRUN ["echo", 1]\n') == \
        "Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only"
    assert one("CMD").args == [] and one("CMD []").json_form


def test_copy_and_add():
    ins = one("COPY --chown=1:2 --chmod=0755 --link a b /dst/")
    assert ins.args == ["a b /dst/"]
    assert ins.flags == {"chown": "1:2", "chmod": "0755", "link": "true"}
    assert one('ADD ["a b", "/x"]').args == ["a b", "/x"]
    assert one("ADD --link=false x y").flags == {"link": "false"}
    assert error("FROM a\nCOPY onlyone\n") == \
        "Dockerfile:2: COPY requires at least two arguments, but only one was provided. " \
        "Destination could not be determined"
    assert error("FROM a\nADD --from=x a b\n") == "Dockerfile:2: Unknown flag: from"
    assert error("FROM a\nCOPY --from a b\n") == "Dockerfile:2: Missing a value on flag: from"
    assert error("FROM a\nCOPY --from=a --from=b a b\n") == \
        "Dockerfile:2: Duplicate flag specified: from"
    assert error("FROM a\nCOPY --link=maybe a b\n") == \
        "Dockerfile:2: Expecting boolean value for flag link, not: maybe"


def test_flag_values_lose_their_quotes():
    assert one('COPY --chown="1:2" a b').flags == {"chown": "1:2"}


def test_one_argument_instructions():
    assert one("USER  app:app ").args == ["app:app"]
    assert one("WORKDIR /my dir").args == ["/my dir"]   # one argument, spaces and all
    assert one("STOPSIGNAL SIGKILL").args == ["SIGKILL"]
    assert one("MAINTAINER Jane <j@x>").args == ["Jane <j@x>"]
    for cmd in ("USER", "WORKDIR", "STOPSIGNAL", "MAINTAINER"):
        assert error(f"FROM a\n{cmd}\n") == f"Dockerfile:2: {cmd} requires exactly one argument"
    assert error("FROM a\nUSER --x=1 u\n") == "Dockerfile:2: Unknown flag: x"


def test_expose_volume_shell():
    assert one("EXPOSE 80 443/tcp").args == ["80 443/tcp"]
    assert error("FROM a\nEXPOSE\n") == "Dockerfile:2: EXPOSE requires at least one argument"
    assert one('VOLUME ["/a", "/b"]').args == ["/a", "/b"]
    assert one("VOLUME /a /b").args == ["/a /b"]
    assert error('FROM a\nVOLUME [" "]\n') == \
        "Dockerfile:2: VOLUME specified can not be an empty string"
    assert one('SHELL ["/bin/sh", "-ec"]').args == ["/bin/sh", "-ec"]
    assert error("FROM a\nSHELL /bin/sh -c\n") == \
        "Dockerfile:2: SHELL requires the arguments to be in JSON form"
    assert error("FROM a\nSHELL []\n") == "Dockerfile:2: SHELL requires at least one argument"


def test_env_label_arg_checks():
    assert one('ENV A=1 B="x y"').args == ['A=1 B="x y"']
    assert error("FROM a\nENV A\n") == "Dockerfile:2: ENV must have two arguments"
    assert error("FROM a\nENV A=1 B\n") == \
        "Dockerfile:2: Syntax error - can't find = in \"B\". Must be of the form: name=value"
    assert error("FROM a\nLABEL =x\n") == "Dockerfile:2: LABEL names can not be blank"
    assert error("FROM a\nENV\n") == "Dockerfile:2: ENV requires at least one argument"
    assert error("FROM a\nARG\n") == "Dockerfile:2: ARG requires at least one argument"
    assert error("FROM a\nARG =1\n") == "Dockerfile:2: ARG names can not be blank"


def test_healthcheck():
    ins = one("HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://x/ || exit 1")
    assert ins.args == ["CMD", "curl -f http://x/ || exit 1"] and not ins.json_form
    assert ins.flags == {"interval": "5s", "retries": "3"}
    ins = one('HEALTHCHECK CMD ["true"]')
    assert ins.args == ["CMD", "true"] and ins.json_form
    assert one("HEALTHCHECK NONE").args == ["NONE"]
    assert error("FROM a\nHEALTHCHECK NONE x\n") == \
        "Dockerfile:2: HEALTHCHECK NONE takes no arguments"
    assert error("FROM a\nHEALTHCHECK CMD\n") == \
        "Dockerfile:2: Missing command after HEALTHCHECK CMD"
    assert error("FROM a\nHEALTHCHECK RUN x\n") == \
        'Dockerfile:2: Unknown type "RUN" in HEALTHCHECK (try CMD)'
    assert error("FROM a\nHEALTHCHECK --interval=1us CMD x\n") == \
        'Dockerfile:2: Interval "interval" cannot be less than 1ms'
    assert error("FROM a\nHEALTHCHECK --timeout=5 CMD x\n") == \
        'Dockerfile:2: time: missing unit in duration "5"'
    assert error("FROM a\nHEALTHCHECK --retries=-1 CMD x\n") == \
        "Dockerfile:2: --retries cannot be negative (-1)"
    assert error("FROM a\nHEALTHCHECK\n") == \
        "Dockerfile:2: HEALTHCHECK requires at least one argument"


def test_onbuild():
    ins = one("ONBUILD RUN echo built")
    assert ins.args == ["RUN echo built"]
    trigger = parse_trigger(ins.args[0])
    assert (trigger.cmd, trigger.args) == ("RUN", ["echo built"])
    assert error("FROM a\nONBUILD ONBUILD RUN x\n") == \
        "Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
    assert error("FROM a\nONBUILD FROM x\n") == \
        "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger"
    assert error("FROM a\nONBUILD\n") == "Dockerfile:2: ONBUILD requires at least one argument"


def test_run_flags():
    ins = one("RUN --mount=type=cache,target=/root/.cache --mount=type=bind,source=.,target=/src "
              "--network=none make")
    assert ins.flags == {"mount": ["type=cache,target=/root/.cache",
                                   "type=bind,source=.,target=/src"], "network": "none"}
    assert ins.args == ["make"]
    assert error("FROM a\nRUN --network=bridge x\n") == \
        'Dockerfile:2: unsupported network mode "bridge"'
    assert error("FROM a\nRUN --mount=type=cache,from=$X,target=/x x\n") == \
        "Dockerfile:2: 'from' doesn't support variable expansion, define alias stage instead"


def test_run_mount_specs():
    m = parse_mount("type=cache,target=/c,id=go,sharing=locked,mode=0700,uid=1", expand=str)
    assert (m["type"], m["target"], m["id"], m["sharing"], m["mode"], m["uid"], m["readonly"]) \
        == ("cache", "/c", "go", "locked", 0o700, 1, False)
    m = parse_mount("source=src,dst=/s", expand=str)
    assert (m["type"], m["source"], m["target"], m["readonly"]) == ("bind", "src", "/s", True)
    assert parse_mount("type=bind,target=/s,rw", expand=str)["readonly"] is False
    assert parse_mount("target=$D", expand=lambda v: v.replace("$D", "/d"))["target"] == "/d"
    for spec, message in [("type=nfs,target=/x", 'unsupported mount type "nfs"'),
                          ("type=bind,target=/x,uid=1", 'uid not allowed for "bind" type mounts'),
                          ("type=cache,target=/x,sharing=no", 'unsupported sharing value "no"'),
                          ("type=bind,foo=1", "unexpected key 'foo' in 'foo=1'"),
                          ("type=bind,target", "invalid field 'target' must be a key=value pair"),
                          ("type=bind,target=/x,size=1", "unexpected key 'size' for mount type "
                                                         "'bind'")]:
        with pytest.raises(InvalidArgument) as e:
            parse_mount(spec, expand=str)
        assert str(e.value) == message


# --- here-documents ----------------------------------------------------------------------------

def test_heredocs_in_run_and_copy():
    df = parse("FROM busybox\n"
               "RUN <<EOF\n"
               "echo $HOME\n"
               "  indented\n"
               "EOF\n"
               "COPY <<-\"END\" /etc/greeting\n"
               "\thello $USER\n"
               "\t\tworld\n"
               "\tEND\n"
               "RUN <<A cat > /a && <<'B' cat > /b\n"
               "a\n"
               "A\n"
               "b\n"
               "B\n"
               "CMD done\n")
    run, copy, two, cmd = df.stages[0].instructions
    assert run.args == ["<<EOF"] and run.line == 2
    (doc,) = run.heredocs
    assert (doc.name, doc.content, doc.expand, doc.chomp) == \
        ("EOF", "echo $HOME\n  indented\n", True, False)
    (doc,) = copy.heredocs
    assert copy.args == ['<<-"END" /etc/greeting']
    assert (doc.name, doc.content, doc.expand, doc.chomp) == \
        ("END", "hello $USER\nworld\n", False, True)
    assert [(d.name, d.content, d.expand) for d in two.heredocs] == \
        [("A", "a\n", True), ("B", "b\n", False)]
    assert cmd.line == 15 and cmd.args == ["done"]


def test_heredoc_words():
    assert parse_heredoc("<<EOF").name == "EOF"
    assert parse_heredoc("<<'EOF'").expand is False
    assert parse_heredoc('<<E"O"F').expand is False
    assert parse_heredoc("2<<-EOF").chomp is True
    for word in ("<<", "<<<EOF", "cat<<EOF", "EOF", "<<'A B'x y"):
        assert parse_heredoc(word) is None, word


def test_heredoc_only_where_docker_reads_them():
    # exec form and other instructions: the text is an argument, the next lines instructions
    df = parse('FROM a\nRUN ["cat", "<<EOF"]\nCMD <<EOF\nEXPOSE 80\n')
    run, cmd, expose = df.stages[0].instructions
    assert run.heredocs == [] and cmd.args == ["<<EOF"] and expose.args == ["80"]


def test_heredoc_errors():
    assert error("FROM a\nRUN <<EOF\necho\n") == "Dockerfile:2: unterminated heredoc"
    assert error("FROM a\nCOPY a <<EOF\nx\nEOF\n") == \
        "Dockerfile:2: COPY cannot accept a heredoc as a destination"


def test_heredoc_in_onbuild_trigger():
    ins = one("ONBUILD RUN <<EOF\necho x\nEOF")
    assert ins.args == ["RUN <<EOF\necho x\nEOF"]
    trigger = parse_trigger(ins.args[0])
    assert trigger.cmd == "RUN" and trigger.heredocs[0].content == "echo x\n"


# --- expansion ---------------------------------------------------------------------------------

ENV = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": "", "FOO": "xxx", "BAR": ""}


@pytest.mark.parametrize("word,expected", [
    ("hello", "hello"),
    ("he'll'o", "hello"),
    ('he"ll"o', "hello"),
    ("he\\'llo", "he'llo"),
    ("'$PWD'", "$PWD"),
    ('"$PWD"', "/home"),
    ("\\$PWD", "$PWD"),
    ('"\\$PWD"', "$PWD"),
    ('"a\\b"', "a\\b"),            # inside double quotes \ escapes only " $ and itself
    ("a\\b", "ab"),
    ("$PWD/x", "/home/x"),
    ("${PWD}x", "/homex"),
    ("$KOREAN", "한국어"),
    ("$UNSET.", "."),
    ("$", "$"),
    ("a$", "a$"),
    ("$1x", "x"),                  # a positional parameter: unset
    ("${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}", "xxx  ccc"),
    ("${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}", "xxx bbb ccc"),
    ("${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}", "aaa bbb "),
    ("${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}", "aaa  "),
    ("${FOO:-$PWD}", "xxx"),
    ("${BAZ:-$PWD/x}", "/home/x"),
    ("${BAZ:-'a b'}", "a b"),
    ("${BAR?bbb}", ""),
    ("${FOO#x}", "xx"),
    ("${FOO##*x}", ""),
    ("${FOO%x}", "xx"),
    ("${PWD#/}", "home"),
    ("${PWD%%o*}", "/h"),
    ("${PWD/o/0}", "/h0me"),
    ("${SHELL//a/A}", "bAsh"),
])
def test_expand(word, expected):
    assert expand(word, ENV) == expected


@pytest.mark.parametrize("word,env,expected", [
    ("${FOO#*x*y}", {"FOO": "xxyy"}, "y"),
    ("${FOO#*}", {"FOO": "xxyy"}, "xxyy"),
    ("${FOO#$BAR}", {"FOO": "xxyy", "BAR": "x"}, "xyy"),
    ("${FOO%%\\**}", {"FOO": "xx**"}, "xx"),
    ("${FOO%%\\**\\*}", {"FOO": "a***yy*"}, "a"),
    ("${FOO#?\\?}", {"FOO": "???y"}, "?y"),
    ("${FOO#()[]{\\}^$.\\*\\?|\\\\}", {"FOO": "()[]{}^$.*?|\\x"}, "x"),
    ("${ABC:-.}${FOO%x}${ABC:-.}", {"FOO": "xxyy"}, ".xxyy."),
    ("${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}", {"FOO": "/foo*/*/*.txt", "NEEDLE": "\\*/"},
     "/foo.*/*.txt - /foo..*.txt"),
    ("${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}", {"FOO": "/tmp/tmp/bar.txt", "NEEDLE": "/tmp"},
     "/tmp/bar.txt - /bar.txt"),
    ("${FOO/$N/$R} - ${FOO//$N/$R}", {"FOO": "/a/foo/b/c.txt", "N": "/?/", "R": "/"},
     "/foo/b/c.txt - /foo/c.txt"),
    ("${FOO//\\//\\/}", {"FOO": "/tmp/foo.txt"}, "\\/tmp\\/foo.txt"),
    ("${FOO/$BAR/ww}", {"FOO": "xxyy", "BAR": ""}, "wwxxyy"),
    ("${FOO///}", {"FOO": "xxyy"}, "xxyy"),
    ("v${V}${VARIANT:+-${VARIANT}}.tgz", {"V": "1", "VARIANT": "v7"}, "v1-v7.tgz"),
    ("v${V}${VARIANT:+-${VARIANT}}.tgz", {"V": "1"}, "v1.tgz"),
])
def test_expand_patterns(word, env, expected):
    assert expand(word, env) == expected


@pytest.mark.parametrize("word,message", [
    ("${FOO=aaa}", "unsupported modifier (=) in substitution"),
    ("${FOO:x}", "unsupported modifier (:x) in substitution"),
    ("${}", "syntax error: bad substitution"),
    ("${:x}", "syntax error: bad substitution"),
    ("${FOO", "syntax error: missing '}'"),
    ("${FOO:-x", "syntax error: missing '}'"),
    ("${FOO//ww}", "syntax error: missing '/' in ${}"),
    ("'abc", "unexpected end of statement while looking for matching single-quote"),
    ('"abc', "unexpected end of statement while looking for matching double-quote"),
    ("${BAZ?ccc}", "BAZ: ccc"),
    ("${BAR:?}", "BAR: is not allowed to be empty"),
    ("${BAZ:?}", "BAZ: is not allowed to be unset"),
])
def test_expand_errors(word, message):
    with pytest.raises(InvalidArgument) as e:
        expand(word, ENV)
    assert str(e.value) == f'failed to process "{word}": {message}'


def test_backtick_escape_in_expansion():
    assert expand("`$PWD c:\\x", ENV, escape="`") == "$PWD c:\\x"


def test_expand_words():
    env = {"PORTS": "80  443/tcp", "ONE": "a b"}
    assert expand_words("$PORTS 8080", env) == ["80", "443/tcp", "8080"]
    assert expand_words('"$ONE" c', env) == ["a b", "c"]
    assert expand_words("'x y' z\\ w", env) == ["x y", "z w"]
    assert expand_words("  a   b  ", env) == ["a", "b"]
    assert expand_words("a''b ''", env) == ["ab"]   # moby drops an empty quoted word


def test_env_and_label_pairs():
    env = {"X": "ex"}
    assert parse_pairs('A=1 B="two words" C=$X D=\'$X\' E=a\\ b', env) == \
        [("A", "1"), ("B", "two words"), ("C", "ex"), ("D", "$X"), ("E", "a b")]
    assert parse_pairs("KEY  some value  $X", env) == [("KEY", "some value  ex")]
    assert parse_pairs('"com.example.vendor"="ACME Inc"', env, what="LABEL") == \
        [("com.example.vendor", "ACME Inc")]
    assert parse_pairs("A=", env) == [("A", "")]
    assert raw_words('a="b c" d') == ['a="b c"', "d"]
    assert raw_words('a\\ b "c \\" d" \'e\\\' f') == ['a\\ b', '"c \\" d"', "'e\\'", "f"]
    assert raw_words('x="" y=\'\'') == ['x=""', "y=''"]


def test_arg_words():
    assert parse_arg("A B=1 C=\"x y\"") == [("A", None), ("B", "1"), ("C", "x y")]
    assert parse_arg("V=${BASE:-3}", {"BASE": "9"}) == [("V", "9")]
    assert parse_arg("V=$BASE") == [("V", "")]
