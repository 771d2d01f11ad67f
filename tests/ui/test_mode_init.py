"""The Mode screen offers "Create a Dockerfile" when there is none, writes it through core in a
worker, and replaces settings only after a second, confirming press."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Button

from core.config import load_config
from screens.mode import ModeScreen
from tests.support.elf import write_elf
from tests.ui.conftest import click, settle
from tui.draft import Draft
from tui.services import Services

pytestmark = pytest.mark.anyio


def copy_project(root: Path) -> Draft:
    write_elf(root / "dist/amd64/app", "x86-64")
    write_elf(root / "dist/arm64/app", "aarch64")
    return Draft(root=root, platforms=("linux/amd64", "linux/arm64"), mode="copy",
                 binary="dist/{arch}/app")


async def test_create_a_dockerfile_when_none_exists(tmp_path, host) -> None:
    draft = copy_project(tmp_path)
    app = host(lambda: ModeScreen(draft, Services()))
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        box = screen.query_one("#init-box")
        await settle(pilot, lambda: box.display and screen.checks is not None)
        assert "does not exist" in str(screen.dockerfile_problem)
        await click(pilot, "#create-dockerfile")
        await settle(pilot, lambda: (tmp_path / "Dockerfile").exists() and not box.display)
        await settle(pilot, lambda: screen.checks is not None and screen.dockerfile_problem is None)
        assert "FROM scratch" in (tmp_path / "Dockerfile").read_text()
        assert (load_config(tmp_path).mode, load_config(tmp_path).binary) == (
            "copy", "dist/{arch}/app")
        await pilot.press("ctrl+n")
        await pilot.pause()
    [result] = app.results
    assert result.mode == "copy"


async def test_not_offered_when_a_dockerfile_exists(tmp_path, host) -> None:
    draft = copy_project(tmp_path)
    (tmp_path / "Dockerfile").write_text("FROM scratch\nARG TARGETARCH\n"
                                         "COPY dist/${TARGETARCH}/app /app\n")
    app = host(lambda: ModeScreen(draft, Services()))
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: screen.checks is not None)
        await pilot.pause(0.1)
        assert not screen.query_one("#init-box").display
        assert screen.dockerfile_problem is None


async def test_changing_dockyard_toml_needs_a_confirming_press(tmp_path, host) -> None:
    draft = copy_project(tmp_path)
    (tmp_path / "dockyard.toml").write_text('# ours\nmode = "build"\n')
    app = host(lambda: ModeScreen(draft, Services()))
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        button = screen.query_one("#create-dockerfile", Button)
        await settle(pilot, lambda: screen.query_one("#init-box").display)
        await click(pilot, "#create-dockerfile")
        await settle(pilot, lambda: "confirm" in str(button.label))
        assert not (tmp_path / "Dockerfile").exists()
        assert load_config(tmp_path).mode == "build"
        app.clear_notifications()  # the first press's warning toast may lie over the button
        await pilot.pause()
        await click(pilot, "#create-dockerfile")
        await settle(pilot, lambda: (tmp_path / "Dockerfile").exists())
        await settle(pilot, lambda: load_config(tmp_path).mode == "copy")
    assert (tmp_path / "dockyard.toml").read_text().startswith("# ours\n")
