"""berth's modules read from one bundle (engine/codebundle.py): served while their source is
the one compiled, never after it changed, never from a bundle rewritten since it was opened or
written by another Python; and what it serves is the module the usual import would give."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from helpers import REPO

CODEBUNDLE = REPO / "engine" / "codebundle.py"


def _tree(tmp_path, files: dict[str, str]):
    """A tree with engine/ and tui/ packages of ``files`` (relative path -> source)."""
    tree = tmp_path / "tree"
    for rel, text in {"engine/__init__.py": "", "tui/__init__.py": "", **files}.items():
        path = tree / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return tree


def _run(code: str, tree, bundle) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter whose path is ``tree`` alone, with the bundle at
    ``bundle`` installed from the real engine/codebundle.py (loaded by its path)."""
    prelude = textwrap.dedent(f"""
        import importlib.util, sys
        sys.path[:] = [{str(tree)!r}] + [p for p in sys.path if p.startswith(sys.base_prefix)]
        spec = importlib.util.spec_from_file_location("codebundle", {str(CODEBUNDLE)!r})
        cb = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(cb)
        finder = cb.install({str(bundle)!r}, {str(tree)!r})
    """)
    return subprocess.run([sys.executable, "-S", "-c", prelude + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=60, cwd="/")


def _write(tree, bundle) -> int:
    p = subprocess.run([sys.executable, "-S", "-c", textwrap.dedent(f"""
        import importlib.util
        spec = importlib.util.spec_from_file_location("codebundle", {str(CODEBUNDLE)!r})
        cb = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(cb)
        print(cb.write({str(tree)!r}, {str(bundle)!r}))
    """)], capture_output=True, text=True, timeout=60, check=True)
    return int(p.stdout)


def test_modules_come_from_the_bundle_as_the_usual_import_gives_them(tmp_path):
    tree = _tree(tmp_path, {"engine/sub/__init__.py": "X = 1\n",
                            "engine/sub/leaf.py": "from . import X\nY = X + 1\n",
                            "tui/view.py": "Z = 3\n"})
    bundle = tmp_path / "bundle.bin"
    assert _write(tree, bundle) == 5
    p = _run("""
        import engine.sub.leaf, tui.view
        import engine, engine.sub
        mods = [engine, engine.sub, engine.sub.leaf, tui.view]
        print([type(m.__loader__).__name__ for m in mods])
        print([m.__file__ for m in mods])
        print(engine.sub.__path__, engine.sub.leaf.Y, tui.view.Z, engine.sub.leaf.__cached__)
    """, tree, bundle)
    assert p.returncode == 0, p.stderr
    loaders, files, rest = p.stdout.splitlines()
    # the packages' own __init__ too
    assert loaders == str(["BundledLoader"] * 4)
    assert files == str([f"{tree}/engine/__init__.py", f"{tree}/engine/sub/__init__.py",
                         f"{tree}/engine/sub/leaf.py", f"{tree}/tui/view.py"])
    assert rest == (f"[{str(tree / 'engine' / 'sub')!r}] 2 3 "
                    f"{tree}/engine/sub/__pycache__/leaf.{sys.implementation.cache_tag}.pyc")


def test_an_edited_added_or_removed_module_is_never_served_from_the_bundle(tmp_path):
    tree = _tree(tmp_path, {"engine/a.py": "V = 'old'\n", "engine/b.py": "V = 'b'\n"})
    bundle = tmp_path / "bundle.bin"
    _write(tree, bundle)
    a = tree / "engine" / "a.py"
    st = a.stat()
    a.write_text("V = 'new'\n")   # the same size: told apart by its mtime
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    (tree / "engine" / "c.py").write_text("V = 'c'\n")
    (tree / "engine" / "b.py").unlink()
    p = _run("""
        import engine.a, engine.c
        print(engine.a.V, type(engine.a.__loader__).__name__, engine.c.V)
        try:
            import engine.b
        except ModuleNotFoundError:
            print("no b")
    """, tree, bundle)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["new", "SourceFileLoader", "c", "no", "b"]


def test_a_bundle_rewritten_since_its_index_was_read_is_not_misread(tmp_path):
    tree = _tree(tmp_path, {"engine/a.py": "V = 'a'\n", "engine/b.py": "V = 'b'\n"})
    bundle = tmp_path / "bundle.bin"
    _write(tree, bundle)
    # the index is read at install; then the bundle is written again for a tree where the
    # offsets moved (a longer engine/__init__): the old offsets now point elsewhere
    p = _run(f"""
        import os
        with open({str(tree / 'engine' / '__init__.py')!r}, "w") as f:
            f.write("PAD = " + repr("x" * 500) + "\\n")
        cb.write({str(tree)!r}, {str(bundle)!r})
        import engine.a, engine.b
        print(engine.a.V, engine.b.V, type(engine.b.__loader__).__name__)
    """, tree, bundle)
    assert p.returncode == 0, p.stderr
    # served by the loader its finder made, which read the sources instead of the new bundle
    assert p.stdout.split() == ["a", "b", "BundledLoader"]


def test_a_bundle_of_another_python_or_none_at_all_is_not_used(tmp_path):
    tree = _tree(tmp_path, {"engine/a.py": "V = 1\n"})
    bundle = tmp_path / "bundle.bin"
    _write(tree, bundle)
    data = bundle.read_bytes()
    other = tmp_path / "other.bin"
    at = data.index(b"\0") + 1          # the bytecode version follows the name
    other.write_bytes(data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:])
    for path in (other, tmp_path / "missing.bin"):
        p = _run("""
            import engine.a
            print(finder, type(engine.a.__loader__).__name__)
        """, tree, path)
        assert p.returncode == 0, p.stderr
        assert p.stdout.split() == ["None", "SourceFileLoader"]


def test_writing_is_skipped_while_every_source_is_the_one_compiled(tmp_path):
    tree = _tree(tmp_path, {"engine/a.py": "V = 1\n"})
    bundle = tmp_path / "bundle.bin"
    _write(tree, bundle)
    first = bundle.stat().st_ino
    _write(tree, bundle)
    assert bundle.stat().st_ino == first   # not replaced
    (tree / "engine" / "a.py").write_text("V = 22\n")
    _write(tree, bundle)
    assert bundle.stat().st_ino != first


def test_berths_own_modules_load_from_a_bundle_of_its_tree(tmp_path):
    """Every module of the start path, and the engine's facade, work when served from the
    bundle (none depends on being loaded the usual way)."""
    bundle = tmp_path / "bundle.bin"
    assert _write(REPO, bundle) > 200
    p = _run("""
        import engine.engine, engine.runtime.monitor, engine.runtime.prestart, tui.cli
        import engine.runtime.init, engine.runtime.security
        served = sorted(n for n, m in sys.modules.items() if n.startswith(("engine", "tui."))
                        and type(getattr(m, "__loader__", None)).__name__ == "BundledLoader")
        other = sorted(n for n in sys.modules if n.startswith(("engine", "tui."))
                       and n not in served)
        print(len(served), other)
    """, REPO, bundle)
    assert p.returncode == 0, p.stderr
    count, other = p.stdout.split(" ", 1)
    assert int(count) > 40 and other.strip() == "[]", p.stdout


def test_pid1_after_pivot_root_imports_nothing_from_a_path(tmp_path):
    """After pivot_root the tree's path (sys.path, the bundle's) names the image's files:
    init.seal_imports leaves pid 1 unable to load any module from a file; the built-in ones,
    which read none, still load."""
    (tmp_path / "planted.py").write_text("raise SystemExit('loaded from the image')\n")
    p = subprocess.run([sys.executable, "-S", "-c", textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        import engine.codebundle
        engine.codebundle.install()
        from engine.runtime import init
        sys.path.insert(0, {str(tmp_path)!r})
        init.seal_imports()
        for name in ("planted", "colorsys", "engine.runtime.cgroup_v2"):
            try:
                __import__(name)
                print("imported", name)
            except ImportError:
                print("refused", name)
        builtin = next(n for n in sys.builtin_module_names if n not in sys.modules)
        __import__(builtin)
        print("built-in", builtin in sys.modules)
    """)], capture_output=True, text=True, timeout=60, cwd="/")
    assert p.returncode == 0, p.stderr
    assert p.stdout.split("\n")[:4] == ["refused planted", "refused colorsys",
                                        "refused engine.runtime.cgroup_v2", "built-in True"]
