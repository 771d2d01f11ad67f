"""Platforms step against the real podman engine; Build mode step against a real copy project."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import ClassVar

import pytest
from textual.widgets import DataTable, Select, SelectionList, Static

from core.demo import create_demo
from core.engines.base import EngineOptions
from core.engines.buildx import BuilderInfo, BuildxEngine
from core.engines.podman import host_platform_arch
from screens.mode import ModeScreen
from screens.platforms import PlatformsScreen
from tests.support.elf import write_elf
from tests.ui.conftest import click, settle
from tui.draft import Draft
from tui.services import Services
from tui.themes import tone
from tui.widgets import DetailsModal, ErrorModal

pytestmark = pytest.mark.anyio


async def test_platforms_marked_native_or_emulated_by_podman(tmp_path, host) -> None:
    draft = Draft(root=tmp_path, platforms=("linux/arm64",), engine="podman")
    app = host(lambda: PlatformsScreen(draft, Services()))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: screen.info is not None, rounds=500)
        assert screen.info.engine == "podman"
        assert not screen.query_one("#builder-row").display  # podman has no builders
        native = f"linux/{host_platform_arch()}"
        assert screen.info.support[native].how == "native"
        foreign = "linux/arm64" if native != "linux/arm64" else "linux/amd64"
        assert screen.info.support[foreign].how == "emulated"
        selection = screen.query_one("#platforms", SelectionList)
        assert selection.selected == ["linux/arm64"]
        assert screen.offered[0] == "linux/arm64"  # the remembered choice comes first
        selection.select("linux/amd64")
        await pilot.press("ctrl+n")
        await pilot.pause()
    [result] = app.results
    assert result.platforms == ("linux/arm64", "linux/amd64")
    assert result.engine == "podman"


async def test_no_platform_ticked_stays(tmp_path, host) -> None:
    draft = Draft(root=tmp_path, engine="podman")
    app = host(lambda: PlatformsScreen(draft, Services()))
    async with app.run_test() as pilot:
        screen = app.screen
        await settle(pilot, lambda: screen.info is not None, rounds=500)
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.results == []
        await pilot.press("a")  # every supported platform
        await pilot.press("ctrl+n")
        await pilot.pause()
    [result] = app.results
    assert "linux/amd64" in result.platforms and "linux/arm64" in result.platforms


class TwoBuilders(BuildxEngine):
    """buildx cannot run on these machines and no `docker buildx ls` was recorded, so this
    stand-in hands the screen two builders as core's own BuilderInfo values; platform_support
    and BuilderSupport are the real code."""

    BUILDERS: ClassVar[dict[str, BuilderInfo]] = {
        "default": BuilderInfo("default", "docker", (("default", ["linux/amd64", "linux/386"]),)),
        "farm": BuilderInfo("farm", "remote", (("x86", ["linux/amd64"]),
                                               ("pi", ["linux/arm64", "linux/arm/v7"]))),
    }

    def builder(self) -> BuilderInfo:
        return self.BUILDERS[self.options.builder or "default"]

    def builders(self) -> list[BuilderInfo]:
        return list(self.BUILDERS.values())


async def test_a_buildx_builder_can_be_chosen_and_shows_its_nodes(tmp_path, host) -> None:
    asked: list[str | None] = []

    def engine(name: str | None, builder: str | None) -> BuildxEngine:
        asked.append(builder)
        return TwoBuilders(EngineOptions(builder=builder))

    draft = Draft(root=tmp_path, platforms=("linux/arm64",), engine="buildx")
    app = host(lambda: PlatformsScreen(draft, Services(engine=engine)))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: screen.info is not None)
        assert screen.query_one("#builder-row").display
        choice = screen.query_one("#builder-choice", Select)
        assert choice.value == "default" and screen.info.builder == "default"
        assert not screen.info.support["linux/arm64"].supported
        await pilot.press("ctrl+n")  # default cannot build arm64: refused, stays
        await pilot.pause()
        assert app.results == []
        choice.value = "farm"
        await settle(pilot, lambda: screen.info is not None and screen.info.builder == "farm")
        assert asked == [None, "farm"]
        assert screen.info.support["linux/arm64"].supported
        shown = str(screen.query_one("#builder", Static).render())
        assert "node x86" in shown and "node pi: linux/arm64, linux/arm/v7" in shown
        await pilot.press("ctrl+n")
        await pilot.pause()
    [result] = app.results
    assert (result.engine, result.builder, result.platforms) == ("buildx", "farm", ("linux/arm64",))
    assert result.to_request().builder == "farm"


async def test_switching_to_podman_asks_again_and_drops_the_builder(tmp_path, host) -> None:
    asked: list[tuple[str | None, str | None]] = []

    def engine(name: str | None, builder: str | None):
        asked.append((name, builder))
        if name == "buildx":
            return TwoBuilders(EngineOptions(builder=builder))
        return Services().engine(name, builder)  # the real podman

    draft = Draft(root=tmp_path, platforms=("linux/amd64",), engine="buildx", builder="farm")
    app = host(lambda: PlatformsScreen(draft, Services(engine=engine)))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: screen.info is not None)
        assert screen.info.builder == "farm"  # the draft's builder is asked first
        screen.query_one("#engine", Select).value = "podman"
        await settle(pilot, lambda: screen.info is not None and screen.info.engine == "podman",
                     rounds=500)
        assert not screen.query_one("#builder-row").display
        await pilot.press("ctrl+n")
        await pilot.pause()
    assert asked == [("buildx", "farm"), ("podman", None)]
    [result] = app.results
    assert (result.engine, result.builder) == ("podman", None)


def copy_draft(root: Path) -> Draft:
    return Draft(root=root, platforms=("linux/amd64", "linux/arm64"), mode="copy",
                 binary="dist/{arch}/app")


def binary_rows(screen: ModeScreen) -> dict[str, list[str]]:
    table = screen.query_one("#binaries", DataTable)
    rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
    return {row[0]: row for row in rows}


async def test_copy_mode_table_shows_elf_checks(tmp_path, host) -> None:
    demo = create_demo(tmp_path / "demo", registry="127.0.0.1:5000")
    app = host(lambda: ModeScreen(copy_draft(demo.root), Services()))
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: screen.checks is not None)
        rows = binary_rows(screen)
        assert rows["linux/amd64"][1:5] == ["dist/amd64/app", "found", "x86-64", "static"]
        assert rows["linux/arm64"][1:5] == ["dist/arm64/app", "found", "aarch64", "static"]
        await pilot.press("ctrl+n")
        await pilot.pause()
    [result] = app.results
    assert (result.mode, result.binary) == ("copy", "dist/{arch}/app")


async def test_copy_mode_mismatch_is_red_and_blocks_next(tmp_path, host) -> None:
    demo = create_demo(tmp_path / "demo", registry="127.0.0.1:5000")
    write_elf(demo.root / "dist" / "arm64" / "app", "x86-64")
    app = host(lambda: ModeScreen(copy_draft(demo.root), Services()))
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: screen.checks is not None)
        table = screen.query_one("#binaries", DataTable)
        arm = next(i for i in range(table.row_count)
                   if str(table.get_row_at(i)[0]) == "linux/arm64")
        machine = table.get_row_at(arm)[3]
        assert str(machine) == "x86-64" and machine.style == tone("error")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.results == []
        await pilot.press("f3")  # the whole problem, not the table's cut cell
        await pilot.pause()
        assert isinstance(app.screen, DetailsModal)
        [problem] = app.screen.problems
        wrong = next(c for c in screen.checks if not c.ok)
        assert problem == f"linux/arm64 dist/arm64/app: {wrong.problem}"
        await pilot.press("escape")
        await pilot.pause()
        write_elf(demo.root / "dist" / "arm64" / "app", "aarch64")
        await pilot.press("ctrl+r")
        await settle(pilot, lambda: screen.checks is not None and all(c.ok for c in screen.checks))


async def test_build_mode_options_go_into_the_draft(tmp_path, host) -> None:
    draft = dataclasses.replace(copy_draft(tmp_path), mode="build", binary=None)
    app = host(lambda: ModeScreen(draft, Services()))
    async with app.run_test(size=(120, 50)) as pilot:
        screen = app.screen
        assert not screen.query_one("#copy-box").display
        await click(pilot, "#cache-from")
        await pilot.press(*"ghcr.io/acme/cache")
        await click(pilot, "#sbom")
        await pilot.press("ctrl+n")
        await pilot.pause()
    [result] = app.results
    assert result.mode == "build"
    assert result.cache_from == "ghcr.io/acme/cache"
    assert result.sbom and result.provenance


async def test_unusable_engine_is_a_readable_error_not_a_traceback(tmp_path, host) -> None:
    """No docker buildx here (ENVIRONMENT.md): asking for it explains what to install."""
    from core.engines.base import EngineOptions
    from core.engines.buildx import buildx_available

    if buildx_available(EngineOptions()) is None:
        pytest.skip("docker buildx works on this machine")
    draft = Draft(root=tmp_path, engine="buildx", platforms=("linux/amd64",))
    app = host(lambda: PlatformsScreen(draft, Services()))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, ErrorModal), rounds=500)
        modal = app.screen
        assert modal.title_text == "engine"
        assert "buildx" in modal.problem and "Traceback" not in modal.problem
        assert modal.valid  # what to do about it
        await pilot.press("escape")
        await pilot.pause()
        assert "buildx" in str(app.screen.query_one("#builder").render())


async def test_auto_with_an_unreachable_builder_falls_back_to_podman_and_says_why(
    tmp_path, host, monkeypatch
) -> None:
    """The recorded machine with its current builder `dead`: the wizard uses podman (as the
    headless run and doctor do) instead of marking every platform unsupported."""
    import shutil

    from tests.support.buildx import install_standin, write_buildx_state

    if shutil.which("podman") is None:
        pytest.skip("podman is not installed")
    standin = install_standin(tmp_path, monkeypatch)
    write_buildx_state(standin.buildx_dir, ["dead", "real"], "dead")
    draft = Draft(root=tmp_path, platforms=("linux/amd64",), engine="auto")
    app = host(lambda: PlatformsScreen(draft, Services()))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: screen.info is not None, rounds=500)
        assert screen.info.engine == "podman"
        assert screen.info.note == ("using podman because the current buildx builder does not "
                                    "answer: context deadline exceeded")
        assert screen.info.support["linux/amd64"].supported
        assert "context deadline exceeded" in str(screen.query_one("#builder", Static).render())
