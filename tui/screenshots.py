"""`make screenshots`: SVG screenshots of every main screen in every theme, from a scripted run.

It makes a throwaway berth root with the shared busybox image, a few containers (two running,
one created, one exited) and volumes, drives the dashboard at 160x48 with Pilot in each theme,
saves ``screenshots/<theme>-<screen>.svg`` and removes the root and everything it made.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMAGE = REPO.parent / "shared" / "images" / "busybox-1.38.0-musl-amd64.oci.tar"
OUT = REPO / "screenshots"
SIZE = (160, 48)
LOOP = ("i=0; while :; do i=$((i+1)); echo \"GET /api/items/$i 200 $((i*7%90))ms\"; "
        "[ $((i%4)) = 0 ] && echo \"warn: slow request $i\" >&2; sleep 0.3; done")


def demo_root(root: str):
    """Fill ``root`` with something worth looking at; returns the Engine."""
    from engine import Engine
    from engine.models import ContainerConfig
    engine = Engine(root)
    engine.load(str(IMAGE))
    engine.tag("busybox:1.38.0-musl", "busybox:latest")
    for name in ("pgdata", "cache", "uploads"):
        engine.create_volume(name, labels={"app": "shop"})

    def make(name, cmd, start=False):
        config = ContainerConfig(image="busybox", cmd=cmd, network_mode="none",
                                 env=["APP_ENV=demo", f"SERVICE={name}"])
        engine.create(config, name=name)
        if start:
            engine.start(name)

    make("api", ["sh", "-c", LOOP], start=True)
    make("worker", ["sh", "-c", "while :; do i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; "
                                "echo batch done; sleep 1; done"], start=True)
    make("migrate", ["sh", "-c", "echo migrating; exit 3"], start=True)
    make("scheduler", ["sleep", "1000"])
    engine.wait("migrate")
    return engine


async def shoot(engine, theme: str) -> list[str]:
    from tui.app import BerthApp
    from tui.config import Config
    saved = []
    app = BerthApp(engine, theme=theme, config=Config())

    async def save(name: str) -> None:
        await pilot.pause(0.3)
        path = app.save_screenshot(f"{theme}-{name}.svg", path=str(OUT))
        saved.append(path)

    async with app.run_test(size=SIZE) as pilot:
        for _ in range(200):
            await pilot.pause(0.05)
            if getattr(app.screen, "loaded", False):
                break
        await pilot.pause(3.0)   # a few stats samples for the CPU column and sparklines
        await save("containers")
        for key, name in (("2", "images"), ("3", "volumes"), ("4", "networks")):
            await pilot.press(key)
            await save(name)
        await pilot.press("1", "home")
        await pilot.press("question_mark")
        await save("help")
        await pilot.press("escape", "1", "home")   # api is first by name
        await pilot.press("l")
        await pilot.pause(1.5)
        await pilot.press("t", "slash", *"warn", "enter")
        await save("logs")
        await pilot.press("escape", "i")
        await pilot.pause(0.5)
        await save("inspect")
        await pilot.press("escape", "enter")
        await pilot.pause(0.5)
        await save("details")
    return saved


def main() -> int:
    if not IMAGE.exists():
        print(f"screenshots: {IMAGE} is missing", file=sys.stderr)
        return 1
    from themes import THEMES
    OUT.mkdir(exist_ok=True)
    root = tempfile.mkdtemp(prefix="berth-shots-", dir="/var/tmp")
    os.environ["BERTH_ROOT"] = root
    engine = None
    try:
        engine = demo_root(root)
        for theme in THEMES:
            for path in asyncio.run(shoot(engine, theme)):
                print(path)
    finally:
        if engine is not None:
            for c in engine.containers(all=True):
                try:
                    engine.remove(c.id, force=True)
                except Exception as e:  # keep cleaning up the rest
                    print(f"screenshots: remove {c.name}: {e}", file=sys.stderr)
        try:
            sys.path.insert(0, str(REPO / "tests"))
            from helpers import cleanup_root
            cleanup_root(root)
        except ImportError:
            pass
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
