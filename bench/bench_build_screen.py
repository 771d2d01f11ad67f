"""Replay recorded buildx output through the Build screen, against a bare Log, in one run.

The flood (tests/support/flood.py: the real ``build-push-plain.stderr`` recording repeated to
LINES lines) is written to a file. "screen": ``cat`` prints it and the engine's reader
(``stream_batches``) reads it in batches, each through the plain-progress parser's
``feed_batch`` inside the release generator, then the Build screen's worker, inbox, log file,
step table and capped Log. "bare": the same lines, unparsed, from memory, batched every 50 ms
into a bare ``Log(max_lines=5000)``. While each streams, a key press is posted every 100 ms and
the time until its binding runs is recorded. Each side runs in its own interpreter so the peak
RSS figures are its own; ``--runs`` repeats the pair. The CPU time (this process's threads, not
``cat``) is given too: on a busy machine it says more than the wall time.

    .venv/bin/python bench/bench_build_screen.py [--lines 1000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.flood import RECORDING, write_flood  # noqa: E402

CHILD = r'''
import asyncio, json, resource, statistics, sys, tempfile, threading, time
from collections import deque
from pathlib import Path

from textual import events
from textual.app import App
from textual.binding import Binding
from textual.widgets import Log

kind, fixture, total = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
latencies = []


class Probe:
    """Posts a key every 100 ms; the binding's action notes how long it took to run."""

    def __init__(self, app):
        self.app, self.sent = app, None

    async def run(self, done):
        while not done():
            self.sent = time.perf_counter()
            self.app.post_message(events.Key("z", "z"))
            await asyncio.sleep(0.1)

    def hit(self):
        if self.sent is not None:
            latencies.append(time.perf_counter() - self.sent)
            self.sent = None


def report(seconds, cpu, extra):
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lat = sorted(latencies)
    print(json.dumps({
        "kind": kind, "lines": total, "seconds": seconds, "lines_per_s": total / seconds,
        "cpu_seconds": cpu,
        "peak_rss_mb": rss, "keys": len(lat),
        "key_ms_median": 1000 * statistics.median(lat) if lat else None,
        "key_ms_p95": 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.95))] if lat else None,
        "key_ms_max": 1000 * lat[-1] if lat else None, **extra}))


async def bare():
    class Bare(App):
        BINDINGS = [Binding("z", "ping")]

        def compose(self):
            yield Log(max_lines=5000)

        def action_ping(self):
            probe.hit()

    app = Bare()
    inbox = deque()
    finished = threading.Event()

    lines = fixture.read_text().splitlines()

    def produce():
        for line in lines:
            inbox.append(line)
            while len(inbox) > 50_000:
                time.sleep(0.002)
        finished.set()

    async with app.run_test(size=(140, 45)) as pilot:
        probe = globals()["probe"] = Probe(app)
        log = app.query_one(Log)
        seen = 0

        def drain():
            nonlocal seen
            count = len(inbox)
            batch = [inbox.popleft() for _ in range(count)]
            seen += count
            if batch:
                log.write_lines(batch[-5000:])

        app.set_interval(0.05, drain)
        start, cpu = time.perf_counter(), time.process_time()
        threading.Thread(target=produce, daemon=True).start()
        done = lambda: finished.is_set() and not inbox and seen >= total
        await probe.run(done)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    report(seconds, cpu, {})


async def screen():
    import dataclasses
    from core.demo import create_demo
    from core.engines.process import stream_batches
    from core.engines.progress import PlainParser
    from core.events import PhaseFinished, PhaseStarted, ReleaseFinished
    from core.plan import make_plan
    from screens.build import BuildScreen
    from tui.app import WIZARD_CSS
    from tui.draft import Draft
    from tui.services import Services
    from core.config import load_config
    from core.repo import ProjectRepo

    tmp = Path(tempfile.mkdtemp(prefix="dockyard-bench-"))
    demo = create_demo(tmp / "demo", registry="127.0.0.1:5000")
    repo = ProjectRepo.open(demo.root)
    [version] = repo.version_tags()
    draft = dataclasses.replace(Draft.from_config(demo.root, load_config(demo.root)),
                                version=version, known=(version,), commit=repo.head_commit())
    draft = dataclasses.replace(draft, plan=make_plan(draft.to_request()))

    def release(plan, cancel):
        yield PhaseStarted("build")
        parser = PlainParser()
        for batch in stream_batches(["cat", str(fixture)], cancel=cancel):
            yield from parser.feed_batch(batch)
        yield PhaseFinished("build", True, 1.0)
        yield ReleaseFinished(ok=True, report_path="")

    class Timed(BuildScreen):
        BINDINGS = [Binding("z", "ping")]

        def action_ping(self):
            probe.hit()

    class Host(App):
        CSS_PATH = WIZARD_CSS

        def on_mount(self):
            self.push_screen(Timed(draft, Services(release=release, log_dir=tmp / "logs")))

    app = Host()
    async with app.run_test(size=(140, 45)) as pilot:
        probe = globals()["probe"] = Probe(app)
        while not isinstance(app.screen, BuildScreen):
            await asyncio.sleep(0.001)
        start, cpu = time.perf_counter(), time.process_time()
        build = app.screen
        await probe.run(lambda: build.done)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        log_lines = sum(1 for _ in open(build.outcome.log_path, "rb"))
    report(seconds, cpu, {"log_events": build.lines_seen, "log_file_lines": log_lines,
                     "step_rows": len(build.steps)})


asyncio.run(bare() if kind == "bare" else screen())
'''


def run(kind: str, flood: Path, lines: int) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", CHILD, kind, str(flood), str(lines)],
                          cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"{kind} run failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    if not RECORDING.is_file():
        raise SystemExit(f"recorded fixture not found: {RECORDING}")
    with tempfile.TemporaryDirectory(prefix="dockyard-flood-") as tmp:
        flood = write_flood(Path(tmp) / "flood.log", args.lines)
        for number in range(1, args.runs + 1):
            bare = run("bare", flood, args.lines)
            screen = run("screen", flood, args.lines)
            print(f"run {number}")
            for result in (bare, screen):
                print(f"{result['kind']:>6}: {result['lines']:,} lines in "
                      f"{result['seconds']:.2f} s = {result['lines_per_s']:,.0f} lines/s "
                      f"(CPU {result['cpu_seconds']:.2f} s); peak "
                      f"RSS {result['peak_rss_mb']:.0f} MB; key latency median "
                      f"{result['key_ms_median']:.1f} ms, p95 {result['key_ms_p95']:.1f} ms, max "
                      f"{result['key_ms_max']:.1f} ms ({result['keys']} keys)")
            print(f"screen extras: log lines shown or skipped {screen['log_events']:,}, log file "
                  f"lines {screen['log_file_lines']:,}, step rows {screen['step_rows']}")
            print(f"throughput ratio screen / bare Log: "
                  f"{screen['lines_per_s'] / bare['lines_per_s']:.2f} by wall time, "
                  f"{bare['cpu_seconds'] / screen['cpu_seconds']:.2f} by CPU time "
                  "(aims: >= 0.3, key latency p95 <= 50 ms)", flush=True)


if __name__ == "__main__":
    main()
