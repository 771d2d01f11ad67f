"""Version step against real git repositories."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Button

from screens.version import VersionScreen
from tests.support.gitrepo import add_bare_remote, git
from tests.ui.conftest import settle
from tui.draft import Draft, Nav
from tui.services import Services


def screen_for(root: Path) -> VersionScreen:
    return VersionScreen(Draft(root=root), Services())


async def test_tag_on_head_passes_all_rules_and_next_returns_draft(repo_factory, host) -> None:
    root = repo_factory("v1.0.0", "v1.1.0")
    app = host(lambda: screen_for(root))
    async with app.run_test() as pilot:
        screen = app.screen
        assert isinstance(screen, VersionScreen)
        await settle(pilot, lambda: bool(screen.rules))
        assert screen.selected is not None
        assert screen.selected.version.git_tag == "v1.1.0"
        assert all(rule.ok for rule in screen.rules)
        assert not screen.query_one("#next", Button).disabled
        await pilot.press("ctrl+n")
        await pilot.pause()
    [draft] = app.results
    assert isinstance(draft, Draft)
    assert draft.version is not None and draft.version.git_tag == "v1.1.0"
    assert [v.git_tag for v in draft.known] == ["v1.0.0", "v1.1.0"]
    assert len(draft.commit) == 40
