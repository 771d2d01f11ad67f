"""The wizard walked at the smallest and a wide terminal: every step's main control has the focus
on arrival (arrow keys and typing work without Tab). The release is the recorded buildx replay."""

from __future__ import annotations

import pytest

from core.demo import create_demo
from screens.build import BuildScreen
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
from tui.services import Services

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
