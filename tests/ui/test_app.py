"""The whole wizard in DockyardApp: Back/Next as control flow, quit confirmation while a build
runs, help, themes and command palette entries; the release is the recorded buildx replay."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Input

from core.demo import create_demo
from core.engines.progress import PlainParser
from core.events import Event, PhaseFinished, PhaseStarted, ReleaseFinished
from screens.build import BuildScreen
from screens.credentials_step import CredentialsStepScreen
from screens.images import ImagesScreen
from screens.mode import ModeScreen
from screens.platforms import PlatformsScreen
from screens.review import ReviewScreen
from screens.summary import SummaryScreen
from screens.version import VersionScreen
from tests.ui.conftest import click, settle
from tui.app import DARK, LIGHT, DockyardApp
from tui.services import Services
from tui.widgets import ConfirmModal, ErrorModal, HelpModal

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "buildx"
pytestmark = pytest.mark.anyio


def replay_release(block: threading.Event | None = None):
    lines = (FIXTURES / "plain.log").read_text().splitlines()

    def release(plan, cancel: threading.Event, split=None) -> Iterator[Event]:
        yield PhaseStarted("build")
        parser = PlainParser()
        for line in lines:
            yield from parser.feed(line)
        if block is not None:
            while not cancel.is_set() and not block.is_set():
                cancel.wait(0.05)
        yield PhaseFinished("build", True, 0.2)
        yield ReleaseFinished(ok=True, report_path="/tmp/report.json")

    return release


async def on_screen(pilot, kind: type, rounds: int = 500) -> None:
    await settle(pilot, lambda: isinstance(pilot.app.screen, kind), rounds=rounds)


async def next_when_enabled(pilot) -> None:
    await settle(pilot, lambda: not pilot.app.screen.query_one("#next").disabled, rounds=500)
    await pilot.press("ctrl+n")


async def test_wizard_from_version_to_summary_with_back(tmp_path, registry) -> None:
    demo = create_demo(tmp_path / "demo", registry=registry.host)
    services = Services(release=replay_release(), log_dir=tmp_path / "logs")
    app = DockyardApp(demo.root, services)
    async with app.run_test(size=(140, 45)) as pilot:
        await on_screen(pilot, VersionScreen)
        await next_when_enabled(pilot)
        await on_screen(pilot, ImagesScreen)
        assert app.screen.query_one("#images", Input).value == demo.image  # from dockyard.toml
        await pilot.press("escape")  # Back to Version, and forward again
        await on_screen(pilot, VersionScreen)
        await next_when_enabled(pilot)
        await on_screen(pilot, ImagesScreen)
        await next_when_enabled(pilot)
        await on_screen(pilot, PlatformsScreen)
        await settle(pilot, lambda: app.screen.info is not None, rounds=500)
        await next_when_enabled(pilot)
        await on_screen(pilot, ModeScreen)
        await settle(pilot, lambda: app.screen.checks is not None)
        await next_when_enabled(pilot)
        await on_screen(pilot, CredentialsStepScreen)
        await next_when_enabled(pilot)
        await on_screen(pilot, ReviewScreen)
        await settle(pilot, lambda: app.screen.plan_draft is not None, rounds=500)
        assert app.draft is not None and app.draft.platforms == ("linux/amd64", "linux/arm64")
        await next_when_enabled(pilot)
        await on_screen(pilot, BuildScreen)
        await settle(pilot, lambda: app.screen.done, rounds=500)
        assert app.screen.outcome.ok
        await pilot.press("ctrl+n")
        await on_screen(pilot, SummaryScreen)
        await click(pilot, "#quit")
        await pilot.pause()
    assert app.return_code == 0


async def test_quit_while_building_asks_and_stops_the_build(tmp_path, registry) -> None:
    demo = create_demo(tmp_path / "demo", registry=registry.host)
    block = threading.Event()
    services = Services(release=replay_release(block), log_dir=tmp_path / "logs")
    app = DockyardApp(demo.root, services)
    async with app.run_test(size=(140, 45)) as pilot:
        for kind in (VersionScreen, ImagesScreen, PlatformsScreen, ModeScreen,
                     CredentialsStepScreen, ReviewScreen):
            await on_screen(pilot, kind)
            await next_when_enabled(pilot)
        await on_screen(pilot, BuildScreen)
        build = app.screen
        await settle(pilot, lambda: app.build_running and build.lines_seen > 10)
        await pilot.press("ctrl+q")
        await on_screen(pilot, ConfirmModal)
        await pilot.press("n")
        await pilot.pause()
        assert app.is_running and not build.cancel_event.is_set()
        await pilot.press("ctrl+q")
        await on_screen(pilot, ConfirmModal)
        await pilot.press("y")
        await pilot.pause()
        assert build.cancel_event.is_set()
    assert app.return_code == 130


async def test_dry_run_exits_with_the_plan_text(tmp_path, registry) -> None:
    demo = create_demo(tmp_path / "demo", registry=registry.host)
    app = DockyardApp(demo.root, Services())
    async with app.run_test(size=(140, 45)) as pilot:
        for kind in (VersionScreen, ImagesScreen, PlatformsScreen, ModeScreen,
                     CredentialsStepScreen):
            await on_screen(pilot, kind)
            await next_when_enabled(pilot)
        await on_screen(pilot, ReviewScreen)
        await settle(pilot, lambda: app.screen.plan_draft is not None, rounds=500)
        await pilot.press("d")
        await pilot.pause()
    assert app.return_code == 0
    assert app.dry_run_text.startswith("Release 0.1.0 (release) from git tag v0.1.0")
    assert "podman build --platform linux/amd64,linux/arm64" in app.dry_run_text


async def test_help_theme_quit_and_palette_commands(tmp_path, repo_factory) -> None:
    root = repo_factory("v1.0.0")
    app = DockyardApp(root, Services())
    async with app.run_test(size=(120, 40)) as pilot:
        await on_screen(pilot, VersionScreen)
        await pilot.press("question_mark")
        await on_screen(pilot, HelpModal)
        assert "Cut/push tag" in str(app.screen.query_one("#keys").render())
        await pilot.press("escape")
        await on_screen(pilot, VersionScreen)
        assert app.theme == DARK
        await pilot.press("f2")
        assert app.theme == LIGHT
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for wanted in ("Next step", "Back", "Help", "Light/dark theme",
                       "Cut or push the release tag", "Reload repository", "Quit"):
            assert wanted in titles
        await pilot.press("q")  # no build running: quits at once
        await pilot.pause()
    assert app.return_code == 0


async def test_broken_config_is_reported_then_defaults_used(tmp_path, repo_factory) -> None:
    root = repo_factory("v1.0.0")
    (root / "dockyard.toml").write_text("images = 3\n")
    app = DockyardApp(root, Services())
    async with app.run_test(size=(120, 40)) as pilot:
        await on_screen(pilot, ErrorModal)
        assert app.screen.title_text == "config"
        assert "dockyard.toml:1" in app.screen.problem
        await pilot.press("escape")
        await on_screen(pilot, VersionScreen)


async def test_notices_from_the_launcher_show_on_the_first_step(tmp_path, registry) -> None:
    """`dockyard demo` hands over what it did with the registry: the terminal is covered."""
    from textual.widgets._toast import Toast

    demo = create_demo(tmp_path / "demo", registry=registry.host)
    app = DockyardApp(demo.root, notices=["Registry started on X: stopped when you quit."])
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await on_screen(pilot, VersionScreen)
        await settle(pilot, lambda: bool(app.screen.query(Toast)), rounds=200)
        (toast,) = app.screen.query(Toast)
        assert "stopped when you quit" in str(toast.render())
