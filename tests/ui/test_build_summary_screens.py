"""Build screen fed by H4's parser over the real recorded buildx output; cancel stops a real
process; Summary from a real verification report shape and a real registry."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Button, DataTable, Log, Static

from core.demo import create_demo
from core.engines.process import BuildCancelled, stream_lines
from core.engines.progress import PlainParser
from core.events import (
    AliasMoved,
    Event,
    PhaseFinished,
    PhaseStarted,
    ReleaseFailed,
    ReleaseFinished,
    StepFailed,
    StepStarted,
    VerifyReported,
    format_event,
)
from core.plan import make_plan
from core.verify import PlatformResult, TagResult, VerifyReport
from screens.build import LOG_BATCH, LOG_CAP, BuildScreen
from screens.summary import AGAIN, QUIT, SummaryScreen
from tests.support.processes import running_with
from tests.ui.conftest import click, demo_draft, push_tiny_image, settle
from tui.draft import BuildOutcome, Draft
from tui.services import Services
from tui.widgets import ConfirmModal, DetailsModal

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "buildx"
pytestmark = pytest.mark.anyio


@pytest.fixture
def planned(tmp_path: Path, registry) -> Draft:
    demo = create_demo(tmp_path / "demo", registry=registry.host)
    draft = demo_draft(demo.root, demo.image)
    import dataclasses

    return dataclasses.replace(draft, plan=make_plan(draft.to_request()))


def recorded(name: str) -> list[str]:
    path = FIXTURES / name
    if not path.is_file():
        pytest.skip(f"recorded fixture {path} not found")
    return path.read_text().splitlines()


def replay(lines: list[str], report: Path, *, repeat: int = 1):
    """Release events: the recorded buildx output through the real plain-progress parser."""

    def release(plan, cancel: threading.Event, split=None) -> Iterator[Event]:
        yield PhaseStarted("preflight")
        yield PhaseFinished("preflight", True, 0.01)
        yield PhaseStarted("build")
        parser = PlainParser()
        for _ in range(repeat):
            for line in lines:
                yield from parser.feed(line)
        yield PhaseFinished("build", True, 0.3)
        yield ReleaseFinished(ok=True, report_path=str(report))

    return release


async def test_build_screen_shows_steps_log_and_full_log_file(planned, host, tmp_path) -> None:
    lines = recorded("plain-run.log")
    services = Services(release=replay(lines, tmp_path / "r.json", repeat=300),
                        log_dir=tmp_path / "logs")
    app = host(lambda: BuildScreen(planned, services))
    async with app.run_test(size=(140, 45)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: screen.done, rounds=1000)
        table = screen.query_one("#steps", DataTable)
        steps = {str(table.get_row_at(i)[1]): [str(c) for c in table.get_row_at(i)]
                 for i in range(table.row_count)}
        assert steps["#5"][0] == "linux/amd64" and steps["#5"][3] == "done"
        assert steps["#6"][0] == "linux/arm64"
        assert steps["#8"][4] == "0.2s"
        log = screen.query_one("#build-log", Log)
        assert log.line_count <= LOG_CAP  # capped on screen ...
        assert screen.lines_seen > LOG_CAP
        full = Path(screen.outcome.log_path).read_text().splitlines()
        assert len(full) > LOG_CAP  # ... complete on disk
        assert "#8 aarch64" in full  # plain output does not say which platform ran #8
        assert screen.outcome.log_path in str(screen.query_one("#log-path", Static).render())
        assert "Release verified" in str(screen.query_one("#result", Static).render())
        await pilot.press("ctrl+n")
        await pilot.pause()
    [outcome] = app.results
    assert outcome.ok and outcome.report_path == str(tmp_path / "r.json")


async def test_a_burst_shows_its_last_lines_and_says_how_many_are_in_the_file(
    planned, host, tmp_path
) -> None:
    services = Services(release=replay([], tmp_path / "r.json"), log_dir=tmp_path / "logs")
    app = host(lambda: BuildScreen(planned, services))
    async with app.run_test(size=(140, 45)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: screen.done)
        log = screen.query_one("#build-log", Log)
        log.write_lines([f"earlier {n}" for n in range(LOG_CAP)])  # a full panel, as in a flood
        burst = [f"line {n}" for n in range(LOG_BATCH + 1500)]
        screen.inbox.extend(burst)
        screen.drain()  # one drain takes the whole burst
        shown = [str(log.lines[i]) for i in range(log.line_count)][-LOG_BATCH - 1:]
        assert shown[0] == "… 1,500 more lines here are in the full log file"
        assert shown[1:] == burst[-LOG_BATCH:]
        assert screen.lines_seen >= len(burst)




async def test_cancel_asks_then_really_stops_the_build_process(planned, host, tmp_path) -> None:
    fixture = FIXTURES / "plain-run.log"
    recorded("plain-run.log")
    marker = "61.25"  # a sleep nobody else runs: how we find the process

    def release(plan, cancel: threading.Event, split=None) -> Iterator[Event]:
        yield PhaseStarted("build")
        parser = PlainParser()
        try:
            # the recorded run, then a step that starts and is still running at the cancel
            argv = ["sh", "-c", f"cat {fixture}; echo '#99 [linux/arm64 9/9] RUN make'; "
                    f"exec sleep {marker}"]
            for line in stream_lines(argv, cancel=cancel, grace=2):
                yield from parser.feed(line)
        except BuildCancelled as err:
            yield ReleaseFailed("build", str(err), "nothing was pushed")
            yield ReleaseFinished(ok=False)

    services = Services(release=release, log_dir=tmp_path / "logs")
    app = host(lambda: BuildScreen(planned, services))
    async with app.run_test(size=(140, 45)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: running_with(marker) and "#99" in screen.steps, rounds=500)
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")  # keep building
        await pilot.pause(0.3)
        assert not screen.cancel_event.is_set() and running_with(marker)
        await pilot.press("x")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, ConfirmModal)  # its keys are on its buttons
        assert [str(b.label) for b in modal.query(Button)] == ["Stop build (y)",
                                                               "Keep building (n)"]
        running = [key for key, row in screen.steps.items() if row.state == "running"]
        assert "#99" in running
        await pilot.press("y")
        await settle(pilot, lambda: screen.done, rounds=500)
        assert not running_with(marker)
        assert screen.outcome.cancelled and not screen.outcome.ok
        assert screen.outcome.registry_state == "nothing was pushed"
        assert "Cancelled" in str(screen.query_one("#result", Static).render())
        await pilot.pause()
        table = screen.query_one("#steps", DataTable)
        for key in running:
            assert str(table.get_cell(key, "state")) == "cancelled"
        assert not any(row.state == "running" for row in screen.steps.values())
        finished = [row for row in screen.steps.values() if row.seconds is not None]
        assert finished and all(str(table.get_cell(row.step, "time")).endswith("s")
                                for row in finished)
        time_column = table.columns["time"]
        assert time_column.get_render_width(table) >= max(
            len(f"{row.seconds:.1f}s") for row in finished)
        assert not screen.query_one("#cancel", Button).display
        keys = {b.binding.action for b in screen.active_bindings.values()}
        assert "cancel" not in keys and "finish" in keys  # the footer offers Continue only


def verify_report(image: str, digests: dict[str, str], index: str) -> VerifyReport:
    platforms = tuple(PlatformResult(p, d, p, True) for p, d in digests.items())
    tags = (TagResult("0.1.0", "version", index, "application/vnd.oci.image.index.v1+json", True,
                      platforms=platforms),
            TagResult("latest", "alias", index, "application/vnd.oci.image.index.v1+json", True))
    return VerifyReport(image, "0.1.0", index, "application/vnd.oci.image.index.v1+json",
                        tuple(digests), tags)


async def test_summary_matrix_aliases_pull_and_files(planned, host, registry, tmp_path) -> None:
    image = str(planned.plan.images[0].name)
    repo = planned.plan.images[0].name.path
    amd = push_tiny_image(registry.url, repo, "amd-part", payload=b"amd64 layer")
    arm = push_tiny_image(registry.url, repo, "arm-part", payload=b"arm64 layer!")
    index = "sha256:" + "e" * 64
    outcome = BuildOutcome(
        ok=True, report_path=str(tmp_path / "report.json"), log_path=str(tmp_path / "b.log"),
        verify=[verify_report(image, {"linux/amd64": amd, "linux/arm64": arm}, index)],
        moved=[AliasMoved(image, "latest", None, index)], seconds=3.0,
    )
    app = host(lambda: SummaryScreen(planned, Services(), outcome))
    async with app.run_test(size=(160, 50)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: len(screen.sizes) == 2)
        table = screen.query_one("#matrix", DataTable)
        version_row = [str(c) for c in table.get_row_at(0)]
        assert version_row[1] == "0.1.0 (version)"
        assert version_row[2].startswith(amd.removeprefix("sha256:")[:12])
        assert version_row[2].endswith(" B")
        assert [str(c) for c in table.get_row_at(1)][2] == f"→ {'e' * 12}"
        aliases = screen.query_one("#aliases", DataTable)
        assert [str(c) for c in aliases.get_row_at(0)] == [f"{image}:latest", "absent",
                                                           "e" * 12]
        pull = str(screen.query_one("#pull", Static).render())
        assert f"docker pull {image}:0.1.0" in pull
        assert f"docker pull --platform linux/arm64 {image}:0.1.0" in pull
        files = str(screen.query_one("#files", Static).render())
        assert "report.json" in files and "b.log" in files
        await pilot.press("n")
        await pilot.pause()
    assert app.results == [AGAIN]


async def test_summary_of_failed_release_says_where_registry_is(planned, host) -> None:
    outcome = BuildOutcome(ok=False, failed_phase="verify", error="linux/arm64 is missing",
                           registry_state="x:0.1.0 is sha256:abc; aliases: latest unchanged")
    app = host(lambda: SummaryScreen(planned, Services(), outcome))
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        banner = str(screen.query_one("#banner", Static).render())
        assert "Failed in verify: linux/arm64 is missing" in banner
        assert "latest unchanged" in banner
        # nothing verified: no empty tables, no pull command for a tag never pushed
        assert not screen.query_one("#matrix").display
        assert not screen.query_one("#aliases").display
        assert not screen.query_one("#pull").display
        assert "docker pull" not in str(app.export_screenshot())
        assert screen.check_action("copy", ()) is False
        await click(pilot, "#quit")
        await pilot.pause()
    assert app.results == [QUIT]


def test_verify_reported_carries_the_typed_report_and_its_json_at_the_edge() -> None:
    """The Summary reads the VerifyReport itself; only --json output turns it into a dict."""
    report = verify_report("r/x", {"linux/amd64": "sha256:" + "a" * 64}, "sha256:" + "b" * 64)
    event = VerifyReported(report)
    assert event.report.tags[0].platforms[0].digest == "sha256:" + "a" * 64
    assert event.ok is True
    assert event.to_dict() == {"event": "VerifyReported", "ok": True, "report": report.to_dict()}
    failed = VerifyReported(dataclasses.replace(report, problems=("linux/arm64 is missing",)))
    assert failed.to_dict()["ok"] is False
    assert format_event(failed) == "verify r/x: FAILED: linux/arm64 is missing"


CAUSE = ("process \"/bin/sh -c make\" did not complete successfully: exit code: 2: cc: error: "
         "unrecognized command-line option '-mno-such-flag' (see the Makefile's CFLAGS)")


async def test_at_80x24_a_failed_step_keeps_its_time_and_f3_shows_the_whole_cause(
    planned, host, tmp_path
) -> None:
    def release(plan, cancel: threading.Event, split=None) -> Iterator[Event]:
        yield PhaseStarted("build")
        yield StepStarted("#5", "[linux/arm64 2/2] RUN make CFLAGS=-mno-such-flag all",
                          "linux/arm64")
        yield StepFailed("#5", "[linux/arm64 2/2] RUN make CFLAGS=-mno-such-flag all", CAUSE,
                         "linux/arm64", 16.3)
        yield ReleaseFailed("build", f"RUN make failed: {CAUSE}", "nothing was pushed")
        yield ReleaseFinished(ok=False)

    services = Services(release=release, log_dir=tmp_path / "logs")
    app = host(lambda: BuildScreen(planned, services))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: screen.done)
        await pilot.pause()
        shown = str(app.export_screenshot())
        assert "16.3s" in shown  # the time column is not pushed off the screen
        assert CAUSE not in shown
        await pilot.press("f3")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, DetailsModal)
        assert any(CAUSE in problem for problem in modal.problems)
        assert f"build: RUN make failed: {CAUSE}" in modal.problems
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen
