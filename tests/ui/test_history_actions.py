"""The history view's row actions in the browser app, against the real registry: "point aliases
here" (the rollback, confirmed in a modal) and "compare with the marked version"."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Static

from core.reference import parse_reference
from core.registry import RegistryClient
from screens.diff import DiffScreen
from screens.history import HistoryScreen
from screens.rollback import RollbackModal
from tests.registry.content import Pushed, Pusher, push_releases
from tests.support.registry import RunningRegistry
from tests.ui.conftest import quiet
from tests.ui.test_history_screen import (
    SIZE,
    history_host,
    loaded,
    open_history,
    real_client,
    rows,
)
from tui.standalone import BrowserApp


def fresh_releases(registry: RunningRegistry) -> tuple[str, dict[str, Pushed]]:
    """A repository of its own: a rollback changes what the registry holds."""
    repo = f"h15/actions-{uuid.uuid4().hex[:8]}"
    pusher = Pusher(registry.url)
    try:
        return repo, push_releases(pusher, repo)
    finally:
        pusher.close()


def tags_now(registry: RunningRegistry, repo: str) -> dict[str, str | None]:
    with RegistryClient(registry.host) as client:
        tags = client.list_tags(repo)
        return {tag: (head.digest if (head := client.head_manifest(repo, tag)) else None)
                for tag in tags}


async def highlight(pilot: Any, screen: HistoryScreen, tag: str) -> None:
    table = screen.query_one("#versions", DataTable)
    table.focus()
    table.move_cursor(row=[row[1] for row in rows(screen)].index(tag))
    await quiet(pilot)


async def wait_for(pilot: Any, done: Any) -> None:
    for _ in range(500):
        await pilot.pause(0.02)
        if done():
            await quiet(pilot)
            return
    raise AssertionError("never happened")


@pytest.mark.anyio
async def test_point_aliases_here_asks_then_moves_the_versions_own_aliases(
    registry: RunningRegistry, tmp_path: Path,
) -> None:
    repo, releases = fresh_releases(registry)
    before = tags_now(registry, repo)
    app = BrowserApp(f"{registry.host}/{repo}", client_factory=real_client, report_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_history(pilot)
        await highlight(pilot, screen, "1.1.1")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, RollbackModal))
        modal = app.screen
        assert isinstance(modal, RollbackModal)
        moves = str(modal.query_one("#moves", Static).render())
        assert "1.1: already on 1.1.1" in moves and "latest: sha256:" in moves
        assert tags_now(registry, repo) == before  # asked, nothing moved yet
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is screen and "nothing moved" in screen.status)
        assert tags_now(registry, repo) == before

        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, RollbackModal))
        await pilot.press("y")
        await wait_for(pilot, lambda: app.screen is screen and "moved 1, latest to 1.1.1"
                       in screen.status and screen.history is not None and not app.workers)
        shown = {row[1]: row[2] for row in rows(screen)}
        assert shown["1.1.1"] == "latest, 1, 1.1"
        assert shown["1.2.0"] == "1.2, v1.2.0"  # its own series alias stays
    after = tags_now(registry, repo)
    target = releases["1.1.1"].digest
    assert after["latest"] == after["1"] == target
    assert {t: d for t, d in after.items() if t not in ("latest", "1")} == {
        t: d for t, d in before.items() if t not in ("latest", "1")}
    [report] = [json.loads(p.read_text()) for p in tmp_path.glob("*.json")]
    assert report["mode"] == "rollback" and report["ok"] is True


@pytest.mark.anyio
async def test_a_target_that_fails_verification_is_one_line_and_asks_nothing(
    registry: RunningRegistry, tmp_path: Path,
) -> None:
    """A prerelease owns no alias: refused before any modal, nothing moved."""
    repo, _ = fresh_releases(registry)
    before = tags_now(registry, repo)
    app = BrowserApp(f"{registry.host}/{repo}", client_factory=real_client, report_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_history(pilot)
        await highlight(pilot, screen, "1.2.0-rc.1 pre")
        await pilot.press("a")
        status = screen.query_one("#status", Static)
        await wait_for(pilot, lambda: "error" in status.classes)
        assert app.screen is screen
        assert screen.status.startswith("to: ") and "prerelease" in screen.status
        assert "\n" not in screen.status
        assert screen.check_action("point_aliases", ()) is True  # free to try another
    assert tags_now(registry, repo) == before
    assert list(tmp_path.glob("*.json")) == []


@pytest.mark.anyio
async def test_compare_opens_the_diff_of_the_marked_and_the_highlighted_version(
    registry: RunningRegistry, tmp_path: Path,
) -> None:
    repo, _ = fresh_releases(registry)
    app = BrowserApp(f"{registry.host}/{repo}", client_factory=real_client, report_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_history(pilot)
        assert screen.check_action("compare", ()) is None  # nothing marked: greyed
        await highlight(pilot, screen, "1.1.0")
        await pilot.press("m")
        assert screen.check_action("compare", ()) is None  # the mark is the highlighted one
        await highlight(pilot, screen, "1.2.0")
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, DiffScreen)
                       and app.screen.diff is not None)
        diff = app.screen
        assert isinstance(diff, DiffScreen)
        assert (diff.a, diff.b) == ("1.1.0", "1.2.0")
        assert diff.image == parse_reference(f"{registry.host}/{repo}").name
        assert diff.diff is not None and not diff.diff.identical
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)


@pytest.mark.anyio
async def test_without_the_apps_screens_the_actions_are_not_offered(
    registry: RunningRegistry, tmp_path: Path,
) -> None:
    repo, _ = fresh_releases(registry)
    name = parse_reference(f"{registry.host}/{repo}").name
    app = history_host(str(name), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        assert screen.check_action("point_aliases", ()) is False
        assert screen.check_action("compare", ()) is False


def test_snapshot_the_rollback_confirmation_over_the_history_in_the_browser(
    registry: RunningRegistry, tmp_path: Path, snap_compare: Any,
) -> None:
    """The browser app styles its modals as the wizard does (a dialog over the dimmed view)."""
    pusher = Pusher(registry.url)
    try:
        push_releases(pusher, "h15/actions-snapshot")  # the same bytes each time
    finally:
        pusher.close()
    name = "registry.test/h15/actions-snapshot"  # a fixed name for the picture
    app = BrowserApp(name, client_factory=lambda _name: RegistryClient(registry.host),
                     report_dir=tmp_path)

    async def ready(pilot: Any) -> None:
        screen = await open_history(pilot)
        await highlight(pilot, screen, "1.1.1")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, RollbackModal))

    assert snap_compare(app, terminal_size=SIZE, run_before=ready)
