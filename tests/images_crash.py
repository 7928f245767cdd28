"""SIGKILL at random points of the image verbs, and what must hold after each kill.

A seeded run picks operations (load, tag, rmi, import, commit, image prune), runs each through
the CLI as a user would and kills it at a random point: at the N-th rename, unlink or mkdir it
makes (strace's syscall injection, so no hook in berth), or after a random delay; some run to
the end. After every operation the store must be in the state before it or the state after it,
never a mix: every image keeps every tag it had unless the operation meant to change that tag,
every record's layers and blobs exist, ``images`` prints no warning and ``run`` works. Used by
tests/test_images_crash.py (a quick run) and bench/images_crash/run (a long soak).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import shutil
import signal
import subprocess
import tarfile
import time

from helpers import BERTH, BUSYBOX_GLIBC, BUSYBOX_MUSL, REPO, berth

MUSL_ID = "sha256:654fc8fd836e35f4a64586bddf8f59b9029b48cf80f520834c6c98ca8ab5def9"
GLIBC_ID = "sha256:c6348fa86ba0fb2108c9334f5fe913ddc6d853313e655891f133a0127c30099f"
NAMES = ["a:1", "a:2", "b:latest", "c:x", "busybox:1.38.0-musl", "busybox:1.38.0-glibc"]
# syscalls whose N-th call is a kill point: what changes state (renames, unlinks, new dirs)
# and what fills files (writes)
KILL_CLASSES = {"rename": "rename,renameat,renameat2", "unlink": "unlink,unlinkat,rmdir",
                "mkdirat": "mkdirat", "write": "write"}
FIRST_GUESS = {"rename": 8, "unlink": 8, "mkdirat": 20, "write": 30}   # calls a verb makes


class State:
    """What the CLI shows: tags (familiar name -> id) and the set of image ids."""

    def __init__(self, tags: dict[str, str], ids: set[str]):
        self.tags, self.ids = dict(tags), set(ids)

    def copy(self) -> "State":
        return State(self.tags, self.ids)

    def __eq__(self, other) -> bool:
        return self.tags == other.tags and self.ids == other.ids

    def __repr__(self) -> str:
        return f"State(tags={self.tags}, ids={sorted(i[7:19] for i in self.ids)})"


def _tar_gz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return gzip.compress(buf.getvalue(), 1)


class CrashRun:
    """One seeded run against the berth root ``root``; ``counts`` says what happened."""

    def __init__(self, root: str, seed: int, work: str, kill_share: float = 0.8):
        self.root, self.seed, self.work = root, seed, work
        self.rng = random.Random(seed)
        self.kill_share = kill_share
        self.strace = shutil.which("strace")
        self.history: list[str] = []
        self.counts: dict[str, int] = {}
        self.archives = {"musl": str(BUSYBOX_MUSL), "glibc": str(BUSYBOX_GLIBC)}
        self.container = ""
        # (verb, syscall class) -> how many such calls the verb makes at most, learnt as the
        # run goes (a kill point past the last call lets the verb complete)
        self.most: dict[tuple[str, str], int] = {}

    # --- set-up ---------------------------------------------------------------------------
    def setup(self) -> None:
        """busybox (musl) loaded and also saved as a docker archive (the same image with other
        blobs), a small rootfs to import, and a stopped container with a change to commit."""
        self.cli("load", "-i", self.archives["musl"])
        docker = os.path.join(self.work, "musl.docker.tar")
        self.cli("save", "--format", "docker-archive", "-o", docker, "busybox:1.38.0-musl")
        self.archives["musl-docker"] = docker
        self.rootfs = os.path.join(self.work, "rootfs.tar.gz")
        with open(self.rootfs, "wb") as f:
            f.write(_tar_gz({"etc/hello": b"hi\n", "bin/x": os.urandom(4096)}))
        self.cli("run", "--network", "none", "--name", "crash-c", MUSL_ID[7:19], "sh", "-c",
                 "echo hi > /made")
        self.container = self.cli("ps", "-aq", "--no-trunc").stdout.split()[0]

    def cli(self, *args, check: bool = True) -> subprocess.CompletedProcess:
        return berth(self.root, *args, check=check, timeout=120)

    def fail(self, what: str) -> None:
        raise AssertionError(f"{what}\nseed {self.seed} (BERTH_CRASH_SEED={self.seed} repeats "
                             "it); operations so far:\n  " + "\n  ".join(self.history[-15:]))

    # --- what the CLI shows -----------------------------------------------------------------
    def state(self) -> State:
        p = self.cli("images", "--format", "json", "--no-trunc", check=False)
        if p.returncode != 0 or p.stderr.strip():
            self.fail(f"`berth images` exited {p.returncode}: {p.stderr.strip()}")
        tags, ids = {}, set()
        for line in p.stdout.splitlines():
            row = json.loads(line)
            ids.add(row["ID"])
            if row["Tag"] != "<none>":
                tags[f"{row['Repository']}:{row['Tag']}"] = row["ID"]
        return State(tags, ids)

    # --- one round ----------------------------------------------------------------------------
    def operation(self, state: State) -> tuple[list[str], object]:
        """(CLI arguments, expectation): the expectation is a State, or a function telling
        whether a State is what the operation may leave when it completes. Prune removes one
        image at a time: killed, it may have removed some of them (``_pruned_some``)."""
        used = {MUSL_ID}   # the container's image
        tagged = sorted(state.tags)
        kind = self.rng.choice(["load", "load", "tag", "tag", "rmi", "import", "commit",
                                "prune", "prune-all"])
        if kind == "load" or (kind in ("tag", "rmi") and not tagged):
            which = self.rng.choice(sorted(self.archives))
            new = state.copy()
            iid = GLIBC_ID if which == "glibc" else MUSL_ID
            name = "busybox:1.38.0-glibc" if which == "glibc" else "busybox:1.38.0-musl"
            new.tags[name] = iid
            new.ids.add(iid)
            return ["load", "-i", self.archives[which]], new
        if kind == "tag" and tagged:
            src, dst = self.rng.choice(tagged), self.rng.choice(NAMES)
            new = state.copy()
            new.tags[dst] = state.tags[src]
            return ["tag", src, dst], new
        if kind == "rmi" and tagged:
            name = self.rng.choice(tagged)
            iid = state.tags[name]
            new = state.copy()
            names = [t for t, i in state.tags.items() if i == iid]
            if len(names) > 1:
                del new.tags[name]
            elif iid not in used:
                del new.tags[name]
                new.ids.discard(iid)
            return ["rmi", name], new
        if kind in ("import", "commit"):
            name = self.rng.choice(NAMES)
            args = ["import", self.rootfs, name] if kind == "import" else \
                ["commit", self.container, name]
            return args, _made_one(state, name)
        if kind in ("prune", "prune-all"):
            everything = kind == "prune-all"
            keep = {i for i in state.ids if i in used or
                    (not everything and i in state.tags.values())}
            return ["image", "prune", "-f", *(["-a"] if everything else [])], \
                _pruned_some(state, keep)
        raise AssertionError(f"no operation for {kind}")

    def run_killed(self, args: list[str]) -> tuple[str, bool, bool]:
        """Run ``berth args``, killed at a random point (or not at all): (how it went, whether
        it was killed, whether it ran to the end with success)."""
        env = {**os.environ, "BERTH_ROOT": self.root}
        env.pop("BERTH_RUN", None)
        roll = self.rng.random()
        cmd = [*BERTH, *args]
        if roll >= self.kill_share:
            mode = "complete"
        elif self.strace and roll < self.kill_share * 0.75:
            cls = self.rng.choice(sorted(KILL_CLASSES))
            most = self.most.setdefault((args[0], cls), FIRST_GUESS[cls])
            n = 1 + int(most * self.rng.random() ** 1.5)   # the first calls matter most
            mode = f"kill at {cls} #{n}"
            cmd = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", f"trace={KILL_CLASSES[cls]}",
                   "-e", f"inject={KILL_CLASSES[cls]}:signal=KILL:when={n}", *cmd]
        else:
            delay = self.rng.uniform(0.08, 0.3)
            mode = f"kill after {delay:.2f}s"
        p = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        if mode.startswith("kill after"):
            time.sleep(delay)
            p.send_signal(signal.SIGKILL)
        err = p.communicate(timeout=120)[1].decode(errors="replace")
        killed = p.returncode in (-9, 137)
        if mode.startswith("kill at"):
            if not killed:   # it made fewer such calls
                self.most[(args[0], cls)] = max(1, n - 1)
            elif n > most * 0.7:   # maybe many more
                self.most[(args[0], cls)] = int(most * 1.5) + 1
        how = f"{mode}: exit {p.returncode}"
        if not killed and (p.returncode not in (0, 1) or "Traceback" in err):
            self.fail(f"berth {' '.join(args)} ({how}) failed: {err[-800:]}")
        return how, killed, not killed and p.returncode == 0

    def round(self) -> None:
        before = self.state()
        args, expect = self.operation(before)
        how, killed, completed = self.run_killed(args)
        self.history.append(f"berth {' '.join(args)}  ({how})")
        after = self.state()
        ok_new = expect(after) if callable(expect) else after == expect
        prune = args[:2] == ["image", "prune"]
        if prune and completed:
            ok_new = ok_new and expect.everything(after)
        if completed and not ok_new:
            self.fail(f"berth {' '.join(args)} completed, but left {after}; expected {expect}")
        if not (after == before or ok_new):
            self.fail(f"berth {' '.join(args)} ({how}) left neither the old state nor the new "
                      f"one:\n  before {before}\n  after  {after}\n  expected {expect}")
        for key in ("prune" if prune else args[0], "killed" if killed else "completed"):
            self.counts[key] = self.counts.get(key, 0) + 1
        self.check_records()
        if prune and completed:
            self.check_no_garbage()

    # --- invariants ---------------------------------------------------------------------------
    def check_records(self) -> None:
        """Every image record names layers and blobs that are there."""
        images = os.path.join(self.root, "images")
        for n in os.listdir(images):
            if len(n) != 69 or not n.endswith(".json"):
                continue
            with open(os.path.join(images, n)) as f:
                rec = json.load(f)
            for c in rec["chain_ids"]:
                d = os.path.join(self.root, "layers", c[7:])
                if not (os.path.isdir(os.path.join(d, "diff")) and
                        os.path.isfile(os.path.join(d, "meta.json"))):
                    self.fail(f"image {n[:12]} names layer {c[7:19]}, which is not there")
            for b in [rec["id"], rec["manifest_digest"], *rec["layers"]]:
                if b and not os.path.isfile(os.path.join(self.root, "blobs", "sha256", b[7:])):
                    self.fail(f"image {n[:12]} names blob {b[7:19]}, which is not there")

    def check_no_garbage(self) -> None:
        """After a prune that ran to its end: no blob, layer or scratch that nothing needs."""
        needed_blobs, needed_layers = set(), set()
        images = os.path.join(self.root, "images")
        for n in os.listdir(images):
            if len(n) == 69 and n.endswith(".json"):
                with open(os.path.join(images, n)) as f:
                    rec = json.load(f)
                needed_layers.update(c[7:] for c in rec["chain_ids"])
                needed_blobs.update(b[7:] for b in [rec["id"], rec["manifest_digest"],
                                                    *rec["layers"]] if b)
        blobs = set(os.listdir(os.path.join(self.root, "blobs", "sha256")))
        layers = set(os.listdir(os.path.join(self.root, "layers")))
        tmp = [n for n in os.listdir(os.path.join(self.root, "tmp"))
               if n.startswith(("img-", "pull-"))]
        if blobs - needed_blobs or layers - needed_layers or tmp:
            self.fail(f"prune left garbage: blobs {sorted(blobs - needed_blobs)}, layers "
                      f"{sorted(layers - needed_layers)}, tmp {tmp}")

    def check_run(self, state: State) -> None:
        if MUSL_ID in state.ids:
            p = self.cli("run", "--rm", "--network", "none", MUSL_ID[7:19], "true", check=False)
            if p.returncode != 0:
                self.fail(f"`berth run` failed: {p.stderr.strip()}")

    def finish(self) -> None:
        """Remove the container and every image: nothing may be left."""
        self.cli("rm", "-f", self.container)
        self.cli("image", "prune", "-a", "-f")
        left = {d: [n for n in os.listdir(os.path.join(self.root, d))
                    if n not in ("refs.json",) and (d != "tmp" or n.startswith(("img-", "pull-")))]
                for d in ("images", "layers", "blobs/sha256", "tmp")}
        if any(left.values()):
            self.fail(f"after rm -f and image prune -a, the root still holds {left}")

    def run(self, rounds: int, min_killed: int = 0) -> dict[str, int]:
        """``rounds`` rounds, and more (up to three times as many) until ``min_killed`` verbs
        were killed: how many kills land before their verb ends is chance."""
        self.setup()
        i = 0
        while i < rounds or (self.counts.get("killed", 0) < min_killed and i < 3 * rounds):
            self.round()
            if i % 5 == 4:
                self.check_run(self.state())
            i += 1
        self.finish()
        return self.counts


def _made_one(before: State, name: str):
    """A State test for import and commit: ``name`` names a new image, nothing else changed
    (the image it named before stays, maybe nameless)."""
    def ok(after: State) -> bool:
        new = after.tags.get(name)
        if new is None or new in before.ids:
            return False
        rest = {t: i for t, i in after.tags.items() if t != name}
        return rest == {t: i for t, i in before.tags.items() if t != name} and \
            after.ids == before.ids | {new}
    ok.__qualname__ = f"a new image named {name}"
    return ok


def _pruned_some(before: State, keep: set[str]):
    """A State test for prune: some of the images not in ``keep`` are gone with their names,
    every other image is there with all its names (``.everything``: all of them are gone)."""
    def ok(after: State) -> bool:
        return keep <= after.ids <= before.ids and \
            after.tags == {t: i for t, i in before.tags.items() if i in after.ids}
    ok.everything = lambda after: after.ids == keep   # type: ignore[attr-defined]
    ok.__qualname__ = f"prune keeping {sorted(i[7:19] for i in keep)}"
    return ok
