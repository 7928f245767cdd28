"""berth's own compiled modules in one file, so a start finds and reads each with one stat and
one read instead of the path finder's dozen system calls and its Python-level search.

Every import of a berth module costs ~140 us here before its first line runs: the path finder
stats the package directory and the source twice, and the source loader opens the ``.pyc``,
fstats, ioctls, seeks twice, reads twice and closes it, with importlib's Python around each
step. ``berth run``'s CLI loads ~70 of berth's modules and the container's monitor ~40, one
after the other on the start path: ~10 ms of it was that search.

``make bytecode`` writes the bundle (``python -m engine.codebundle``) after compileall: an index
(module -> whether a package, its source's mtime and size when compiled, where its code is in
the file) and the marshalled code objects. ``install()`` puts a finder for it first on
sys.meta_path. The finder serves a module only while its source is the one compiled (same mtime
in ns and size, the check ``.pyc`` files get) and the file was written by this interpreter's
bytecode version; anything else (an edited, added or removed module, another Python, no bundle)
goes to the usual finders, which load the source or its ``.pyc`` as before. The loader is the
usual SourceFileLoader but for where its code comes from, so ``__file__``, ``__cached__``,
``__spec__``, resources and tracebacks are what they always were.

It reads the file again for each module (open, pread, close) rather than keeping it open or
mapped: a monitor forked from the CLI closes every descriptor it did not choose
(monitor_fork._child), and keeps what it maps for its container's life.
"""

from __future__ import annotations

import marshal
import os
import sys

_external = sys.modules["_frozen_importlib_external"]   # importlib._bootstrap_external
_SourceFileLoader = _external.SourceFileLoader

TREE = __file__.rsplit("/", 2)[0]   # the directory that holds engine/ and tui/
PACKAGES = ("engine", "tui")
PATH = os.path.join(TREE, "engine", "__pycache__", f"bundle.{sys.implementation.cache_tag}.bin")
# the writer's bytecode version and optimization level (-O drops asserts from the code)
HEADER = b"berth-bundle\0" + _external.MAGIC_NUMBER + bytes((sys.flags.optimize,))
TOKEN = 8   # bytes of the write's token, after the header and before each module's code


class BundledLoader(_SourceFileLoader):
    """SourceFileLoader whose code comes from the bundle: ``where`` is (offset, length) of
    the module's entry, which starts with the bundle's ``token`` (a fresh one each write, so
    a bundle rewritten since the index was read is never misread: the usual way then)."""

    def __init__(self, fullname: str, path: str, bundle: "Bundle", where: tuple[int, int]):
        super().__init__(fullname, path)
        self.bundle = bundle
        self.where = where

    def get_code(self, fullname):
        offset, length = self.where
        token = self.bundle.token
        try:
            fd = os.open(self.bundle.path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                data = os.pread(fd, length, offset)
            finally:
                os.close(fd)
            if len(data) == length and data.startswith(token):
                return marshal.loads(memoryview(data)[len(token):])
        except (OSError, ValueError, EOFError, TypeError):
            pass
        return super().get_code(fullname)


class Bundle:
    """The finder. ``index``: one line per module, ``name package mtime_ns size offset length``
    (one bytes object, searched with find: a dict of tuples weighed ~100 KiB in every monitor);
    sources are found under ``tree`` from their names, so a copy of the tree (mtimes kept)
    checks its own files."""

    def __init__(self, path: str, tree: str, token: bytes, index: bytes):
        self.path = path
        self.tree = tree
        self.token = token
        self.index = index

    def find_spec(self, name, path=None, target=None):
        if not name.startswith(PACKAGES):   # textual's hundreds, for one: not searched
            return None
        index = self.index
        at = index.find(b"\n" + name.encode() + b" ")
        if at < 0:
            return None
        line = index[at + 1:index.index(b"\n", at + 1)]
        _, package, mtime_ns, size, offset, length = _entry(line)
        source = f"{self.tree}/{name.replace('.', '/')}{'/__init__' if package else ''}.py"
        try:
            st = os.stat(source)
        except OSError:
            return None
        if st.st_mtime_ns != mtime_ns or st.st_size != size:
            return None
        loader = BundledLoader(name, source, self, (offset, length))
        return _external.spec_from_file_location(name, source, loader=loader)

    def invalidate_caches(self):
        pass


def read_index(path: str = PATH) -> tuple[bytes, bytes] | None:
    """(token, index) of the bundle at ``path``, or None when there is no usable one (never
    written, or by another bytecode version or optimization level)."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(HEADER) + TOKEN + 4)
            if len(head) != len(HEADER) + TOKEN + 4 or not head.startswith(HEADER):
                return None
            size = int.from_bytes(head[-4:], "little")
            index = f.read(size)
    except OSError:
        return None
    if len(index) != size or not index.startswith(b"\n"):
        return None
    return head[len(HEADER):-4], index


def install(path: str = PATH, tree: str = TREE) -> Bundle | None:
    """Put the bundle's finder first on sys.meta_path (once); None without a usable bundle."""
    for finder in sys.meta_path:
        if isinstance(finder, Bundle):
            return finder
    found = read_index(path)
    if found is None:
        return None
    finder = Bundle(path, tree, *found)
    sys.meta_path.insert(0, finder)
    return finder


def _modules(tree: str):
    """(name, whether a package, source path relative to ``tree``) of every module under
    PACKAGES."""
    for package in PACKAGES:
        for dirpath, dirnames, filenames in os.walk(os.path.join(tree, package)):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for filename in sorted(filenames):
                if filename.endswith(".py"):
                    rel = os.path.relpath(os.path.join(dirpath, filename), tree)
                    parts = rel[:-3].split(os.sep)
                    package = parts[-1] == "__init__"
                    if package:
                        parts.pop()
                    yield ".".join(parts), package, rel


def _entry(line: bytes) -> tuple:
    """(name, package, mtime_ns, size, offset, length) of one line of an index."""
    name, *numbers = line.split()
    return (name.decode(), *map(int, numbers))


def _entries(index: bytes) -> dict[str, tuple[int, int]]:
    """name -> (mtime_ns, size) of each module in an index."""
    return {e[0]: (e[2], e[3]) for e in map(_entry, filter(None, index.split(b"\n")))}


def write(tree: str = TREE, path: str = PATH) -> int:
    """Compile every module under PACKAGES into the bundle at ``path`` (atomically, and only
    when a source changed since); the number of modules in it. A module that does not compile
    or changes while read is left out: its import goes the usual way."""
    modules = list(_modules(tree))
    found = read_index(path)
    if found is not None:
        old = _entries(found[1])
        if old.keys() == {name for name, _, _ in modules} and all(
                _stat(os.path.join(tree, rel)) == old[name] for name, _, rel in modules):
            return len(old)
    token = os.urandom(TOKEN)
    lines, blobs = [], []
    for name, package, rel in modules:
        with open(os.path.join(tree, rel), "rb") as f:
            st = os.fstat(f.fileno())
            text = f.read()
            if os.fstat(f.fileno()).st_mtime_ns != st.st_mtime_ns:
                continue
        try:
            code = compile(text, os.path.join(tree, rel), "exec", dont_inherit=True)
        except SyntaxError:
            continue
        lines.append((name, int(package), st.st_mtime_ns, st.st_size))
        blobs.append(token + marshal.dumps(code))
    # the code follows the header and the index, whose length depends on the offsets in it
    base = 0
    while True:
        offset, text = base, [b""]
        for (name, package, mtime_ns, size), blob in zip(lines, blobs):
            text.append(f"{name} {package} {mtime_ns} {size} {offset} {len(blob)}".encode())
            offset += len(blob)
        index = b"\n".join(text) + b"\n"
        if len(HEADER) + TOKEN + 4 + len(index) == base:
            break
        base = len(HEADER) + TOKEN + 4 + len(index)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(HEADER + token + len(index).to_bytes(4, "little") + index)
            for blob in blobs:
                f.write(blob)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return len(lines)


def _stat(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


if __name__ == "__main__":
    print(f"{write()} modules in {PATH}")
