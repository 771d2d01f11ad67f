"""Start-up to the first interactive screen: dockyard's wizard vs a bare Textual app.

Each sample is a fresh interpreter (``python -c``) that starts the app headless and prints the
wall-clock time once the target screen is up; the parent took the time just before spawning it.
"dockyard" is up when the Version screen is mounted on a real git repo (its repository read runs
on in a worker); "bare" is an App with a Static and a Footer, up after its first refresh. Both
are sampled alternately in the same run, so machine load hits both alike.

    .venv/bin/python bench/bench_startup.py [--runs 9]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BARE = """
import time
from textual.app import App
from textual.widgets import Footer, Static

class Bare(App):
    def compose(self):
        yield Static("hello")
        yield Footer()

    def on_mount(self):
        self.call_after_refresh(self.ready)

    def ready(self):
        print(f"READY {time.time()!r}", flush=True)
        self.exit()

Bare().run(headless=True, size=(120, 40))
"""

DOCKYARD = """
import sys, time
from pathlib import Path
from tui.app import DockyardApp

class Timed(DockyardApp):
    def on_mount(self):
        super().on_mount()
        self.set_interval(0.002, self.poll)

    def poll(self):
        if type(self.screen).__name__ == "VersionScreen" and self.screen.is_mounted:
            print(f"READY {time.time()!r}", flush=True)
            mods = [m for m in ("git", "python_on_whales", "keyring", "httpx") if m in sys.modules]
            print("HEAVY " + ",".join(mods), flush=True)
            self.exit()

Timed(Path(sys.argv[1])).run(headless=True, size=(120, 40))
"""


def sample(code: str, *args: str) -> tuple[float, str]:
    start = time.time()
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True)
    ready = next(line for line in done.stdout.splitlines() if line.startswith("READY "))
    heavy = next((line[6:] for line in done.stdout.splitlines() if line.startswith("HEAVY ")), "")
    return float(ready.split()[1]) - start, heavy


def make_repo(path: Path) -> Path:
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(path), "-c", "user.name=b", "-c", "user.email=b@b",
                        *args], check=True, capture_output=True)

    path.mkdir()
    git("init", "-q", "-b", "main")
    (path / "README").write_text("bench\n")
    git("add", "README")
    git("commit", "-q", "-m", "bench")
    git("tag", "-a", "v1.0.0", "-m", "v1.0.0")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = make_repo(Path(tmp) / "repo")
        sample(BARE)  # warm the file cache for both
        sample(DOCKYARD, str(repo))
        bare: list[float] = []
        ours: list[float] = []
        heavy = ""
        for _ in range(args.runs):
            bare.append(sample(BARE)[0])
            seconds, heavy = sample(DOCKYARD, str(repo))
            ours.append(seconds)
    b, d = statistics.median(bare), statistics.median(ours)
    print(f"runs: {args.runs} each, alternating, fresh interpreter per run")
    print(f"bare Textual app      median {b * 1000:7.1f} ms  (min {min(bare) * 1000:.1f})")
    print(f"dockyard Version step median {d * 1000:7.1f} ms  (min {min(ours) * 1000:.1f})")
    print(f"ratio dockyard / bare  {d / b:.2f}  (aim: <= 1.20)")
    print(f"heavy modules loaded when the Version screen showed: {heavy or 'none'}")


if __name__ == "__main__":
    main()
