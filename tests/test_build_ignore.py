""".dockerignore (engine/build/ignore.py) against moby/patternmatcher's documented behaviour: its
tests' match tables, the Dockerfile reference's examples, the ignorefile reader's cleaning, and the
archive walk's handling of excluded directories with exceptions inside. Pure Python."""

from __future__ import annotations

import os

import pytest

from engine.build.ignore import IgnoreRules, go_clean, read_patterns
from engine.errors import InvalidArgument

EXACT, INEXACT, FAIL = "exact", "inexact", "fail"

# patternmatcher's table: "exact" matches the path itself, "inexact" only through a parent
MATCHES = [
    ("**", "file", EXACT), ("**", "file/", EXACT), ("**/", "file", EXACT),
    ("**/", "file/", EXACT), ("**", "dir/file", EXACT), ("**/", "dir/file", EXACT),
    ("**", "dir/file/", EXACT), ("**/", "dir/file/", EXACT), ("**/**", "dir/file", EXACT),
    ("**/**", "dir/file/", EXACT), ("dir/**", "dir/file", EXACT), ("dir/**", "dir/file/", EXACT),
    ("dir/**", "dir/dir2/file", EXACT), ("dir/**", "dir/dir2/file/", EXACT),
    ("**/dir", "dir", EXACT), ("**/dir", "dir/file", INEXACT),
    ("**/dir2/*", "dir/dir2/file", EXACT), ("**/dir2/*", "dir/dir2/file/", INEXACT),
    ("**/dir2/**", "dir/dir2/dir3/file", EXACT), ("**/dir2/**", "dir/dir2/dir3/file/", EXACT),
    ("**file", "file", EXACT), ("**file", "dir/file", EXACT), ("**/file", "dir/file", EXACT),
    ("**file", "dir/dir/file", EXACT), ("**/file", "dir/dir/file", EXACT),
    ("**/file*", "dir/dir/file", EXACT), ("**/file*", "dir/dir/file.txt", EXACT),
    ("**/file*txt", "dir/dir/file.txt", EXACT), ("**/file*.txt", "dir/dir/file.txt", EXACT),
    ("**/file*.txt*", "dir/dir/file.txt", EXACT), ("**/**/*.txt", "dir/dir/file.txt", EXACT),
    ("**/**/*.txt2", "dir/dir/file.txt", FAIL), ("**/*.txt", "file.txt", EXACT),
    ("**/**/*.txt", "file.txt", EXACT), ("a**/*.txt", "a/file.txt", EXACT),
    ("a**/*.txt", "a/dir/file.txt", EXACT), ("a**/*.txt", "a/dir/dir/file.txt", EXACT),
    ("a/*.txt", "a/dir/file.txt", FAIL), ("a/*.txt", "a/file.txt", EXACT),
    ("a/*.txt**", "a/file.txt", EXACT), ("a[b-d]e", "ae", FAIL), ("a[b-d]e", "ace", EXACT),
    ("a[b-d]e", "aae", FAIL), ("a[^b-d]e", "aze", EXACT), (".*", ".foo", EXACT),
    (".*", "foo", FAIL), ("abc.def", "abcdef", FAIL), ("abc.def", "abc.def", EXACT),
    ("abc.def", "abcZdef", FAIL), ("abc?def", "abcZdef", EXACT), ("abc?def", "abcdef", FAIL),
    ("**/foo/bar", "foo/bar", EXACT), ("**/foo/bar", "dir/foo/bar", EXACT),
    ("**/foo/bar", "dir/dir2/foo/bar", EXACT), ("abc/**", "abc", FAIL),
    ("abc/**", "abc/def", EXACT), ("abc/**", "abc/def/ghi", EXACT), ("**/.foo", ".foo", EXACT),
    ("**/.foo", "bar.foo", FAIL), ("a(b)c/def", "a(b)c/def", EXACT),
    ("a(b)c/def", "a(b)c/xyz", FAIL), ("a.|)$(}+{bc", "a.|)$(}+{bc", EXACT),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", EXACT),
    ("a\\\\", "a\\", EXACT), ("a\\*b", "a*b", EXACT),
]

# Go's filepath.Match table as patternmatcher runs it
GO_MATCH = [
    ("abc", "abc", True), ("*", "abc", True), ("*c", "abc", True), ("a*", "a", True),
    ("a*", "abc", True), ("a*", "ab/c", True), ("a*/b", "abc/b", True), ("a*/b", "a/c/b", False),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True), ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False), ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True), ("a*b?c*x", "abxbbxdbxebxczzy", False),
    ("ab[c]", "abc", True), ("ab[b-d]", "abc", True), ("ab[e-g]", "abc", False),
    ("ab[^c]", "abc", False), ("ab[^b-d]", "abc", False), ("ab[^e-g]", "abc", True),
    ("a\\*b", "a*b", True), ("a\\*b", "ab", False), ("a?b", "a☺b", True),
    ("a[^a]b", "a☺b", True), ("a???b", "a☺b", False), ("a[^a][^a][^a]b", "a☺b", False),
    ("[a-ζ]*", "α", True), ("*[a-ζ]", "A", False), ("a?b", "a/b", False), ("a*b", "a/b", False),
    ("[\\]a]", "]", True), ("[\\-]", "-", True), ("[x\\-]", "x", True), ("[x\\-]", "-", True),
    ("[x\\-]", "z", False), ("[\\-x]", "x", True), ("[\\-x]", "-", True), ("[\\-x]", "a", False),
    ("*x", "xxx", True),
]
BAD = ["[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]", "[", "[^", "[^bc", "a[", "!"]


@pytest.mark.parametrize("pattern,text,kind", MATCHES)
def test_patternmatcher_table(pattern, text, kind):
    rules = IgnoreRules([pattern])
    assert rules.patterns[0].match(text) == (kind == EXACT)
    if text != "/":
        assert rules.excluded(text) == (kind != FAIL)


@pytest.mark.parametrize("pattern,text,match", GO_MATCH)
def test_go_match_table(pattern, text, match):
    assert IgnoreRules([pattern]).excluded(text) == match


@pytest.mark.parametrize("pattern", BAD)
def test_bad_patterns_are_refused(pattern):
    with pytest.raises(InvalidArgument) as e:
        IgnoreRules.from_text(pattern + "\n")
    assert str(e.value).startswith(".dockerignore: ")


@pytest.mark.parametrize("patterns,path,excluded", [
    (["docs", "!docs/README.md"], "docs/README.md", False),
    (["docs/", "!docs/README.md"], "docs/README.md", False),
    (["docs/*", "!docs/README.md"], "docs/README.md", False),
    (["docs", "!docs/README.md"], "docs/other.md", True),
    (["*.go", "!fileutils.go"], "fileutils.go", False),
    (["!fileutils.go", "*.go"], "fileutils.go", True),
    (["**", "!util/docker/web"], "util/docker/web/foo", False),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
    (["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", False),
    (["*.go"], ".", False),                      # the context itself is never excluded
    ([], "any/path/there", False),
])
def test_exceptions(patterns, path, excluded):
    assert IgnoreRules(patterns).excluded(path) == excluded


def test_dockerfile_reference_examples():
    rules = IgnoreRules.from_text("# comment\n*/temp*\n*/*/temp*\ntemp?\n")
    assert rules.excluded("somedir/temporary.txt") and rules.excluded("somedir/temp")
    assert rules.excluded("somedir/subdir/temporary.txt")
    assert rules.excluded("tempa") and rules.excluded("tempb")
    assert not rules.excluded("temporary.txt") and not rules.excluded("a/b/c/temp.txt")
    assert not rules.excluded("# comment")
    rules = IgnoreRules.from_text("*.md\n!README*.md\nREADME-secret.md\n")
    assert rules.excluded("CHANGES.md") and rules.excluded("README-secret.md")
    assert not rules.excluded("README.md") and not rules.excluded("README-public.md")
    rules = IgnoreRules.from_text("*.md\nREADME-secret.md\n!README*.md\n")
    assert not rules.excluded("README-secret.md") and rules.excluded("x.md")


def test_reader_cleans_like_ignorefile():
    text = ("\ufeff# comment\n  # not a comment: leading space\n  spaced  \n/abs/path\n./dot/x/\n"
            "a/../b\n!  /keep\n\n\t\n//double\n/\n")
    assert read_patterns(text) == ["# not a comment: leading space", "spaced", "abs/path",
                                   "dot/x", "b", "!keep", "double", "/"]
    assert go_clean("") == "." and go_clean("a//b/./c/..") == "a/b" and go_clean("../x") == "../x"


def test_from_file_missing_means_no_rules(tmp_path):
    rules = IgnoreRules.from_file(str(tmp_path / ".dockerignore"))
    assert not rules and not rules.excluded("anything")


def _tree(base, paths):
    for p in paths:
        full = os.path.join(base, p)
        if p.endswith("/"):
            os.makedirs(full, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write(p)


def test_walk_skips_excluded_and_enters_dirs_an_exception_reaches(tmp_path):
    _tree(tmp_path, ["Dockerfile", "app/main.py", "app/main.pyc", "node_modules/x/index.js",
                     "logs/a.log", "logs/keep.log", "docs/README.md", "docs/guide.md",
                     "build/out/bin", "empty/"])
    os.symlink("/etc", tmp_path / "etc-link")
    rules = IgnoreRules.from_text("**/*.pyc\nnode_modules\nlogs\n!logs/keep.log\n"
                                  "docs\n!**/README.md\nbuild/**\n")
    got = list(rules.walk(str(tmp_path)))
    # logs/ itself is excluded but entered for its exception; docs/ is not entered (the
    # exception doesn't start with "docs/": Docker's walk skips it and its README too)
    assert got == ["Dockerfile", "app", "app/main.py", "build", "empty", "etc-link",
                   "logs/keep.log"]
    assert rules.excluded("docs/README.md") is False   # while a direct question says kept


def test_walk_without_rules_yields_everything(tmp_path):
    _tree(tmp_path, ["b", "a/c", ".dockerignore"])
    assert list(IgnoreRules([]).walk(str(tmp_path))) == [".dockerignore", "a", "a/c", "b"]
