"""Build screen streaming with real processes: the engine's reader (``stream_batches``) reads what
a real process prints, the real plain-progress parser turns each read into a LogBatch, and the
screen shows it. The flood is the real buildx recording repeated (tests/support/flood.py)."""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Log, ProgressBar, Static

from core.demo import create_demo
from core.engines.process import BuildCancelled, stream_batches
from core.engines.progress import PlainParser
from core.events import (
    Event,
    LogBatch,
    PhaseFinished,
    PhaseStarted,
    ReleaseFailed,
    ReleaseFinished,
)
from core.plan import make_plan
from screens.build import BuildScreen
from tests.support.flood import FLOOD_LINES, RECORDING, write_flood
from tests.support.processes import running_with
from tests.ui.conftest import demo_draft, settle
from tui.draft import Draft
from tui.services import Services
from tui.widgets import StepBar

pytestmark = pytest.mark.anyio


@pytest.fixture
def planned(tmp_path: Path) -> Draft:
    """One platform, so the activity line can name it."""
    demo = create_demo(tmp_path / "demo", registry="127.0.0.1:1")
    draft = dataclasses.replace(demo_draft(demo.root, demo.image), platforms=("linux/arm64",))
    return dataclasses.replace(draft, plan=make_plan(draft.to_request()))


@pytest.fixture
def recording() -> Path:
    if not RECORDING.is_file():
        pytest.skip(f"recorded fixture {RECORDING} not found")
    return RECORDING


def engine_run(argv: list[str], batches: list[LogBatch] | None = None):
    """A release whose build is ``argv`` read by the engine's reader, as the engines read it."""

    def release(plan, cancel: threading.Event, split=None) -> Iterator[Event]:
        yield PhaseStarted("build")
        parser = PlainParser()
        try:
            for batch in stream_batches(argv, cancel=cancel, grace=2):
                for event in parser.feed_batch(batch):
                    if batches is not None and isinstance(event, LogBatch):
                        batches.append(event)
                    yield event
        except BuildCancelled as err:
            yield ReleaseFailed("build", str(err), "nothing was pushed")
            yield ReleaseFinished(ok=False)
            return
        yield PhaseFinished("build", True, 1.0)
        yield ReleaseFinished(ok=True, report_path="")

    return release




def panel(screen: BuildScreen) -> list[str]:
    log = screen.query_one("#build-log", Log)
    return [str(log.lines[i]) for i in range(log.line_count)]


async def test_the_full_log_holds_every_line_of_the_1m_line_flood(
    planned, host, tmp_path, recording
) -> None:
    flood = write_flood(tmp_path / "flood.log")
    batches: list[LogBatch] = []
    services = Services(release=engine_run(["cat", str(flood)], batches), log_dir=tmp_path / "l")
    app = host(lambda: BuildScreen(planned, services))
    async with app.run_test(size=(140, 45)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: screen.done, rounds=20_000)
        full = Path(screen.outcome.log_path).read_text(encoding="utf-8").split("\n")
        printed = flood.read_text(encoding="utf-8").split("\n")[:-1]
        assert len(printed) == FLOOD_LINES
        # Every printed line, in order, between the run's own lines.
        assert full[0] == "== build"
        assert full[1:FLOOD_LINES + 1] == printed
        assert full[FLOOD_LINES + 1].startswith("== build ok")
        # One event per read, not per line: the batches hold every line between them.
        assert sum(len(batch.lines) for batch in batches) == FLOOD_LINES
        assert len(batches) < FLOOD_LINES / 5
        shown = sum(len(batch.shown) for batch in batches)
        assert screen.lines_seen >= shown
        # The panel shows the newest lines, scrolled to the end.
        lines = panel(screen)
        last_shown = next(batch.shown[-1] for batch in reversed(batches) if batch.shown)
        assert last_shown in lines[-4:]
        log = screen.query_one("#build-log", Log)
        await settle(pilot, lambda: log.scroll_y == log.max_scroll_y > 0, rounds=100)


async def test_a_silent_push_says_what_it_does_and_the_log_file_is_already_written(
    planned, host, tmp_path, recording, monkeypatch
) -> None:
    monkeypatch.setattr("screens.build.QUIET_SECONDS", 1.0)
    # The recorded push by digest of linux/arm64, cut where its push went quiet; the process
    # then stays, silent, like a push that hangs.
    recorded = (recording.parent / "pbd-build-arm64.stderr").read_text().splitlines()
    cut = recorded.index("#7 pushing layers 0.0s done") + 1
    part = tmp_path / "part.log"
    part.write_text("\n".join(recorded[:cut]) + "\n")
    marker = "61.75"
    services = Services(release=engine_run(["sh", "-c", f"cat {part}; exec sleep {marker}"]),
                        log_dir=tmp_path / "l")
    app = host(lambda: BuildScreen(planned, services))
    async with app.run_test(size=(140, 45)) as pilot:
        screen = app.screen
        activity = screen.query_one("#activity", Static)
        await settle(pilot, lambda: "no progress" in str(activity.render()), rounds=2000)
        assert running_with(marker)
        assert re.fullmatch(r"pushing linux/arm64 — no progress for \d+ s",
                            str(activity.render()))
        assert panel(screen)[-1] == "#7 pushing layers 0.0s done"
        full = Path(screen.outcome.log_path).read_text().splitlines()
        assert full == ["== build", *recorded[:cut]]  # while the push still hangs
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot, lambda: screen.done, rounds=2000)
        assert not running_with(marker)
        assert str(activity.render()) == ""


async def test_leaving_the_screen_stops_the_engine_through_the_workers_own_cancel(
    planned, host, tmp_path, recording
) -> None:
    marker = "62.25"
    services = Services(release=engine_run(["sh", "-c", f"cat {recording}; exec sleep {marker}"]),
                        log_dir=tmp_path / "l")
    app = host(lambda: BuildScreen(planned, services))
    async with app.run_test(size=(140, 45)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: running_with(marker) and screen.lines_seen > 0, rounds=2000)
        [worker] = [w for w in app.workers if w.group == "release"]
        worker.cancel()  # what Textual does when the screen goes away or the app quits
        await settle(pilot, lambda: not running_with(marker), rounds=2000)
        assert not threading.Event.is_set(screen.cancel_event)  # nobody pressed cancel


async def test_at_80x24_a_long_steps_table_leaves_the_step_bar_and_progress_in_view(
    planned, host, tmp_path, recording
) -> None:
    services = Services(release=engine_run(["cat", str(recording)]), log_dir=tmp_path / "l")
    app = host(lambda: BuildScreen(planned, services))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: screen.done, rounds=2000)
        await pilot.pause()
        assert len(screen.steps) > 12  # more rows than the table has room for
        assert screen.max_scroll_y == 0 and screen.scroll_y == 0
        for widget in (screen.query_one(StepBar), screen.query_one("#progress", ProgressBar),
                       screen.query_one("#result", Static), screen.query_one("#build-log")):
            region = widget.region
            assert region.height >= 1 and region.y >= 0 and region.bottom <= 24, widget
        assert screen.query_one(StepBar).region.y == 0
        assert screen.query_one("#build-log").region.height >= 4
        assert "Release verified" in str(screen.query_one("#result", Static).render())
