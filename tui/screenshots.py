"""`make screenshots`: SVG screenshots of every main screen in every theme, from a scripted run.

It makes a throwaway berth root with the shared busybox image, a few containers (a web server and
an api fetching from it over the default network, a memory-limited cache writing to disk, a
CPU-capped worker, one created, one exited) and volumes, drives the dashboard at 160x48 with
Pilot in each theme, saves ``screenshots/<theme>-<screen>.svg`` (and an 80x24 set,
``<theme>-80x24-<screen>.svg``) and removes the root and everything it made. For the pull dialog it starts a real registry (docker-registry, with skopeo
copying in an image of three random layers per theme) behind a proxy that sends at most
``PULL_RATE`` bytes a second, so the pull can be caught half-way; without docker-registry,
skopeo or umoci the dialog is shown filled in instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import shutil
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMAGE = REPO.parent / "shared" / "images" / "busybox-1.38.0-musl-amd64.oci.tar"
OUT = REPO / "screenshots"
SIZE = (160, 48)
SMALL = (80, 24)         # the smallest terminal the dashboard is made for: its own set
LOOP = ("i=0; while :; do i=$((i+1)); wget -q -O /dev/null http://web/blob; "
        "echo \"GET /api/items/$i 200 $((i*7%90))ms\"; "
        "[ $((i%4)) = 0 ] && echo \"warn: slow request $i\" >&2; sleep 0.3; done")
WEB = ("mkdir -p /www && dd if=/dev/urandom of=/www/blob bs=1k count=48 2>/dev/null; "
       "httpd -f -p 80 -h /www")
# a sawtooth of memory (tmpfs pages count against the limit) and some direct disk I/O
CACHE = ("i=0; while :; do i=$((i%8+1)); "
         "dd if=/dev/zero of=/dev/shm/fill bs=1M count=$((i*6)) 2>/dev/null; "
         "dd if=/dev/urandom of=/data bs=64k count=8 oflag=direct 2>/dev/null; "
         "dd if=/data of=/dev/null bs=64k iflag=direct 2>/dev/null; sleep 1; done")
WORKER = ("while :; do i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; "
          "echo batch done; sleep 1; done")
CONSOLE_COMMAND = "ls --color=always -l / && ps"
PULL_LAYERS = (3 << 20, 6 << 20, 10 << 20)
PULL_RATE = 2 << 20      # bytes a second per connection through the proxy
GRAPH_POINTS = 40        # seconds of samples the graphs show
MIB = 1024 * 1024


def demo_root(root: str):
    """Fill ``root`` with something worth looking at; returns the Engine."""
    from engine import Engine
    from engine.models import ContainerConfig, Resources
    engine = Engine(root)
    engine.load(str(IMAGE))
    engine.tag("busybox:1.38.0-musl", "busybox:latest")
    for name in ("pgdata", "cache", "uploads"):
        engine.create_volume(name, labels={"app": "shop"})

    def make(name, cmd, start=False, network="none", **resources):
        config = ContainerConfig(image="busybox", cmd=cmd, network_mode=network,
                                 env=["APP_ENV=demo", f"SERVICE={name}"],
                                 resources=Resources(**resources))
        engine.create(config, name=name)
        if start:
            engine.start(name)

    make("web", ["sh", "-c", WEB], start=True, network="bridge")
    make("api", ["sh", "-c", LOOP], start=True, network="bridge")
    make("cache", ["sh", "-c", CACHE], start=True, memory=64 * MIB)
    make("worker", ["sh", "-c", WORKER], start=True, nano_cpus=500_000_000)
    make("migrate", ["sh", "-c", "echo migrating; exit 3"], start=True)
    make("scheduler", ["sleep", "1000"])
    engine.wait("migrate")
    return engine


# --- a registry to pull from, slowly -------------------------------------------------------------

class SlowProxy:
    """A plain-HTTP proxy in front of a registry that sends every body at ``rate`` bytes a
    second, so a pull of a few megabytes takes seconds. ``host`` is '127.0.0.1:PORT'."""

    CHUNK = 32 * 1024

    def __init__(self, upstream: str, rate: int) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                proxy.forward(self, body=True)

            def do_HEAD(self):
                proxy.forward(self, body=False)

        self.upstream, self.rate = upstream, rate
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"

    def forward(self, request: BaseHTTPRequestHandler, body: bool) -> None:
        conn = http.client.HTTPConnection(self.upstream, timeout=30)
        try:
            headers = {k: v for k, v in request.headers.items()
                       if k.lower() not in ("host", "connection")}
            conn.request(request.command, request.path, headers=headers)
            resp = conn.getresponse()
            data = resp.read() if body else b""
            request.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in ("connection", "transfer-encoding", "keep-alive",
                                     "content-length"):
                    request.send_header(k, v)
            length = len(data) if body else int(resp.getheader("Content-Length") or 0)
            request.send_header("Content-Length", str(length))
            request.end_headers()
            for i in range(0, len(data), self.CHUNK):
                request.wfile.write(data[i:i + self.CHUNK])
                request.wfile.flush()
                time.sleep(self.CHUNK / self.rate)
        except (BrokenPipeError, ConnectionResetError):
            pass   # the pull was cancelled
        finally:
            conn.close()

    def __enter__(self) -> "SlowProxy":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def pull_source(themes):
    """{theme: reference} of an image of three random layers per theme (a theme's pull must
    not find the layers an earlier theme's pull left), behind a SlowProxy; {} when the tools
    for it are missing."""
    sys.path.insert(0, str(REPO / "tests"))
    try:
        from registry_server import REGISTRY_BIN, SKOPEO, build_oci_image, registry
    except ImportError:
        yield {}
        return
    if not (os.path.exists(REGISTRY_BIN) and os.path.exists(SKOPEO) and shutil.which("umoci")):
        print("screenshots: docker-registry, skopeo or umoci missing: the pull dialog is shown "
              "without a pull", file=sys.stderr)
        yield {}
        return
    work = Path(tempfile.mkdtemp(prefix="berth-shots-pull-", dir="/var/tmp"))
    try:
        with registry() as server:
            refs = {}
            for theme in themes:
                tag = theme.removeprefix("berth-")
                src = build_oci_image(work / "layout", tag, random_layers=PULL_LAYERS)
                server.skopeo_copy_in(src, f"shop/web:{tag}")
                refs[theme] = f"shop/web:{tag}"
            with SlowProxy(server.host, PULL_RATE) as proxy:
                yield {theme: f"{proxy.host}/{ref}" for theme, ref in refs.items()}
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- the scripted run ----------------------------------------------------------------------------

async def until(pilot, cond, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        await pilot.pause(0.05)
    return cond()


async def shoot(engine, theme: str, pull_ref: str = "") -> list[str]:
    from tui.app import BerthApp
    from tui.config import Config
    saved = []
    app = BerthApp(engine, theme=theme, config=Config())

    async def save(name: str) -> None:
        await pilot.pause(0.3)
        path = app.save_screenshot(f"{theme}-{name}.svg", path=str(OUT))
        saved.append(path)

    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: getattr(app.screen, "loaded", False))
        # open the graphs once so they sample (in the background) while the rest is shot
        await pilot.press("g")
        await pilot.pause(0.2)
        await pilot.press("escape")
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
        await pilot.press("escape")
        await shoot_console(app, pilot, save)
        await shoot_run(app, pilot, save)
        await shoot_pull(app, pilot, save, pull_ref)
        await pilot.press("E")
        await until(pilot, lambda: len(getattr(app.screen, "events", ())) > 10)
        await save("events")
        await pilot.press("escape")
        await shoot_graphs(app, engine, pilot, save)
    return saved


async def shoot_small(engine, theme: str) -> list[str]:
    """The 80x24 set: the list with the detail pane under it, the run and limits dialogs
    (scrolled to the field being typed into), the logs and the inspect screens."""
    from tui.app import BerthApp
    from tui.config import Config
    saved = []
    app = BerthApp(engine, theme=theme, config=Config())
    tag = f"{SMALL[0]}x{SMALL[1]}"

    async def save(name: str) -> None:
        await pilot.pause(0.3)
        saved.append(app.save_screenshot(f"{theme}-{tag}-{name}.svg", path=str(OUT)))

    async with app.run_test(size=SMALL) as pilot:
        await until(pilot, lambda: getattr(app.screen, "loaded", False))
        await pilot.press("home")                      # api, first by name: a live log tail
        await until(pilot, lambda: "GET /api" in str(app.screen.query_one("#detail-text")
                                                      .render()))
        await pilot.pause(2.5)                         # a stats sample for the CPU column
        await save("containers")
        await pilot.press("R")
        await until(pilot, lambda: type(app.screen).__name__ == "RunDialog")
        for value in ("shop-web-2", "httpd -f -p 8080 -h /srv", "MODE=demo TZ=UTC", "8080:8080",
                      "uploads:/srv/uploads", "", "128m"):
            await pilot.press(*value, "tab")           # down to the memory limit, in view
        await save("run")
        await pilot.press("escape")
        await pilot.press("home", "j")                 # cache: memory-limited
        await pilot.press("u")
        await until(pilot, lambda: type(app.screen).__name__ == "UpdateLimitsScreen")
        await pilot.press("ctrl+a", "ctrl+k", *"96m", "tab")
        await save("limits")
        await pilot.press("escape", "home", "l")
        await until(pilot, lambda: type(app.screen).__name__ == "LogsScreen"
                    and app.screen.received > 5)
        await save("logs")
        await pilot.press("escape", "i")
        await until(pilot, lambda: type(app.screen).__name__ == "InspectScreen"
                    and app.screen.data is not None)
        await save("inspect")
        await pilot.press("escape")
    return saved


async def shoot_console(app, pilot, save) -> None:
    """An exec console in api (selected) with a listing and the container's processes."""
    await pilot.press("c")
    await until(pilot, lambda: type(app.screen).__name__ == "ConsoleScreen")
    term = app.screen.current()
    await until(pilot, lambda: term is not None and term.text().rstrip().endswith("#"))
    await pilot.press(*CONSOLE_COMMAND, "enter")
    await until(pilot, lambda: "PID" in term.text() and term.text().rstrip().endswith("#"))
    await save("console")
    await pilot.press("f9")      # close it (and back to the dashboard): its process ends now
    await until(pilot, lambda: term.exit_code is not None or not term.running, timeout=3)


async def shoot_run(app, pilot, save) -> None:
    """The run dialog filled in (its image comes from the selected container)."""
    await pilot.press("R")
    await until(pilot, lambda: type(app.screen).__name__ == "RunDialog")
    for value in ("shop-web-2", "httpd -f -p 8080 -h /srv", "MODE=demo TZ=UTC", "8080:8080",
                  "uploads:/srv/uploads", "", "128m", "0.5"):
        await pilot.press(*value, "tab")    # name, command, env, ports, volumes, network, …
    await save("run")
    await pilot.press("escape")


async def shoot_pull(app, pilot, save, ref: str) -> None:
    """The pull dialog half-way through a pull (one layer done, the others under way); or,
    with no registry to pull from, filled in."""
    await pilot.press("P")
    await until(pilot, lambda: type(app.screen).__name__ == "PullDialog")
    dialog = app.screen
    await pilot.press(*(ref or "127.0.0.1:5000/shop/web:1.4"))
    if ref:
        await pilot.press("enter")

        def halfway() -> bool:
            layers = dialog.progress.layers.values()
            done = [1 for _, cur, tot in layers if tot and cur >= tot]
            going = [1 for _, cur, tot in layers if tot and 0.2 < cur / tot < 0.8]
            return len(layers) == len(PULL_LAYERS) and done and going
        await until(pilot, halfway, timeout=30)
    await save("pull")
    await pilot.press("escape")              # cancels the pull
    if dialog.is_current:
        await pilot.press("escape")          # closes the dialog


async def shoot_graphs(app, engine, pilot, save) -> None:
    """The grid of every running container's graphs, then the memory-limited one's detail."""
    await pilot.press("g")
    await until(pilot, lambda: type(app.screen).__name__ == "GraphsScreen")
    graphs = app.screen
    # they have been sampling since the start: wait for enough points to fill most of a card
    await until(pilot, lambda: len(graphs.cards()) >= 4 and graphs.ticks >= GRAPH_POINTS,
                timeout=GRAPH_POINTS + 5)
    await pilot.pause(0.5)
    await save("graphs")
    cache = graphs.cards().get(engine.container("cache").id)
    if cache is not None:
        graphs.picked = True
        cache.focus()
    await pilot.press("enter")
    await pilot.pause(0.3)
    await save("graphs-detail")
    await pilot.press("escape", "escape")


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
        with pull_source(THEMES) as refs:
            for theme in THEMES:
                for path in asyncio.run(shoot(engine, theme, refs.get(theme, ""))):
                    print(path)
                for path in asyncio.run(shoot_small(engine, theme)):
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
            from helpers import remove_root
            remove_root(root)
        except ImportError:   # no tests/ beside an installed tui: the root itself at least
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
