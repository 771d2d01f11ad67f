"""The wizard walked at the smallest and a wide terminal: every step's main control has the focus
on arrival (arrow keys and typing work without Tab). The release is the recorded buildx replay."""

from __future__ import annotations

import threading

import pytest
from textual.widgets import SelectionList

from core.demo import create_demo
from core.events import LogLine
from screens.build import BuildScreen, format_line
from screens.credentials_step import CredentialsStepScreen
from screens.images import ImagesScreen
from screens.mode import ModeScreen
from screens.platforms import PlatformsScreen
from screens.review import ReviewScreen
from screens.summary import SummaryScreen
from screens.version import VersionScreen
from tests.ui.conftest import settle
from tests.ui.test_app import next_when_enabled, on_screen, replay_release
from tui.app import DockyardApp
from tui.draft import Draft
from tui.services import Services
from tui.widgets import CHECKED, ConfirmModal, StepBar

pytestmark = pytest.mark.anyio

MAIN_CONTROL = [
    (VersionScreen, "candidates"),
    (ImagesScreen, "images"),
    (PlatformsScreen, "platforms"),
    (ModeScreen, "mode"),
    (CredentialsStepScreen, "logins"),
    (ReviewScreen, "next"),
]


def focused_id(app: DockyardApp) -> str | None:
    return app.focused.id if app.focused is not None else None


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
async def test_every_step_focuses_its_main_control_on_arrival(tmp_path, registry, size) -> None:
    demo = create_demo(tmp_path / "demo", registry=registry.host)
    services = Services(release=replay_release(), log_dir=tmp_path / "logs")
    app = DockyardApp(demo.root, services)
    async with app.run_test(size=size) as pilot:
        for kind, control in MAIN_CONTROL:
            await on_screen(pilot, kind)
            await settle(pilot, lambda control=control: focused_id(app) == control)
            if kind is VersionScreen:  # arrows and enter work at once, no Tab first
                screen = app.screen
                await settle(pilot, lambda screen=screen: len(screen.state.candidates) > 1
                             if screen.state else False)
                await pilot.press("down", "enter")
                await settle(pilot, lambda screen=screen: screen.selected
                             is screen.state.candidates[1])
                await pilot.press("up", "enter")
                await settle(pilot, lambda screen=screen: screen.selected
                             is screen.state.candidates[0] and bool(screen.rules))
            await next_when_enabled(pilot)
        await on_screen(pilot, BuildScreen)
        assert focused_id(app) in ("build-log", "next")  # the log, then Continue at the end
        await settle(pilot, lambda: app.screen.done)
        assert focused_id(app) == "next"
        await pilot.press("ctrl+n")
        await on_screen(pilot, SummaryScreen)
        await settle(pilot, lambda: focused_id(app) == "quit")


@pytest.mark.parametrize(("size", "names"), [((80, 24), False), ((160, 50), True)])
async def test_the_step_bar_shows_all_eight_steps(tmp_path, registry, size, names) -> None:
    demo = create_demo(tmp_path / "demo", registry=registry.host)
    app = DockyardApp(demo.root, Services())
    async with app.run_test(size=size) as pilot:
        await on_screen(pilot, VersionScreen)
        bar = str(app.screen.query_one(StepBar).render())
        assert len(bar) <= size[0]
        assert " 1 Version " in bar and " 8 " in bar
        assert (" 8 Summary " in bar) is names
        for number in range(1, 9):
            assert f" {number} " in bar


async def test_the_platform_checklist_reads_without_colour(tmp_path, host) -> None:
    """Ticked rows carry ✓, unticked a blank box: a monochrome capture still tells them apart."""
    draft = Draft(root=tmp_path, platforms=("linux/arm64",), engine="podman")
    app = host(lambda: PlatformsScreen(draft, Services()))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: screen.info is not None)
        await pilot.pause()
        lines = screen_lines(app)
        assert any(f"▐{CHECKED}▌ linux/arm64" in line for line in lines)
        assert any("▐ ▌ linux/amd64" in line for line in lines)
        screen.query_one("#platforms", SelectionList).select("linux/amd64")
        await pilot.pause()
        assert any(f"▐{CHECKED}▌ linux/amd64" in line for line in screen_lines(app))


def screen_lines(app) -> list[str]:
    """The checklist's rows as plain text (characters only, no colour)."""
    checklist = app.screen.query_one("#platforms", SelectionList)
    return [checklist.render_line(y).text for y in range(checklist.size.height)]


@pytest.mark.parametrize(
    ("event", "line"),
    [
        (LogLine("RUN make", step="[linux/arm64] 2/3", platform="linux/arm64"),
         "[linux/arm64] 2/3 RUN make"),  # podman's step id already names the platform
        (LogLine("linux/arm64: emulated (QEMU)", platform="linux/arm64"),
         "linux/arm64: emulated (QEMU)"),
        (LogLine("compiling", step="#5", platform="linux/arm64"), "[linux/arm64] #5 compiling"),
        (LogLine("pushed"), "pushed"),
    ],
)
def test_a_log_line_names_its_platform_once(event, line) -> None:
    assert format_line(event) == line


async def test_bare_q_during_a_build_asks_first(tmp_path, registry) -> None:
    demo = create_demo(tmp_path / "demo", registry=registry.host)
    block = threading.Event()
    services = Services(release=replay_release(block), log_dir=tmp_path / "logs")
    app = DockyardApp(demo.root, services)
    async with app.run_test(size=(80, 24)) as pilot:
        for kind, _ in MAIN_CONTROL:
            await on_screen(pilot, kind)
            await next_when_enabled(pilot)
        await on_screen(pilot, BuildScreen)
        build = app.screen
        await settle(pilot, lambda: app.build_running and build.lines_seen > 10)
        await pilot.press("q")
        await on_screen(pilot, ConfirmModal)
        assert app.is_running
        await pilot.press("n")
        await pilot.pause()
        assert app.is_running and not build.cancel_event.is_set()
        block.set()
        await settle(pilot, lambda: build.done)


async def test_enter_twice_on_review_starts_one_build_and_no_traceback(tmp_path, registry) -> None:
    """The second Enter reaches Review while it is leaving: it used to dismiss it again and pop
    the screen under it (a ScreenStackError traceback in a real terminal)."""
    demo = create_demo(tmp_path / "demo", registry=registry.host)
    block = threading.Event()  # the build runs until the test has looked
    services = Services(release=replay_release(block), log_dir=tmp_path / "logs")
    app = DockyardApp(demo.root, services)
    async with app.run_test(size=(120, 40)) as pilot:
        for kind, _ in MAIN_CONTROL[:-1]:
            await on_screen(pilot, kind)
            await next_when_enabled(pilot)
        await on_screen(pilot, ReviewScreen)
        await settle(pilot, lambda: focused_id(app) == "next")
        await pilot.press("enter", "enter", "enter")
        await on_screen(pilot, BuildScreen)
        await pilot.pause(0.2)
        assert [type(screen).__name__ for screen in app.screen_stack][1:] == ["BuildScreen"]
        assert app.is_running and app.return_code is None
        block.set()
        await settle(pilot, lambda: app.screen.done)


async def test_enter_twice_on_an_error_closes_it_and_keeps_the_step(tmp_path, host) -> None:
    from core.errors import DockyardError
    from tui.widgets import ErrorModal

    draft = Draft(root=tmp_path, platforms=("linux/arm64",), engine="podman")
    app = host(lambda: PlatformsScreen(draft, Services()))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: screen.info is not None)
        app.push_screen(ErrorModal(DockyardError("broken", "fix it", field="x")))
        await on_screen(pilot, ErrorModal)
        await pilot.press("enter", "enter")
        await pilot.pause()
        assert app.screen is screen and app.is_running


async def test_a_late_engine_answer_keeps_the_checklist_cursor(tmp_path, host) -> None:
    """The options are rebuilt when the engine's answer comes in: the row the user moved to
    stays highlighted, so the next space ticks what they meant (seen in a real terminal)."""
    draft = Draft(root=tmp_path, platforms=("linux/amd64",), engine="podman")
    app = host(lambda: PlatformsScreen(draft, Services()))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: screen.info is not None)
        checklist = screen.query_one("#platforms", SelectionList)
        checklist.focus()
        checklist.highlighted = 2
        screen.show_info()  # what a probe answering now does
        await pilot.pause()
        assert checklist.highlighted == 2
        await pilot.press("space")
        await pilot.pause()
        assert str(checklist.get_option_at_index(2).value) in checklist.selected
