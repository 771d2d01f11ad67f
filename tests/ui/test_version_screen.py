"""Version step against real git repositories: rules shown, tags cut and pushed on confirmation."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from textual.widgets import Button, Static

from screens.version import VersionScreen
from tests.support.gitrepo import add_bare_remote, git
from tests.support.tmux import terminal
from tests.ui.conftest import click, settle
from tui.draft import Draft
from tui.services import Services
from tui.widgets import ConfirmModal, ErrorModal

pytestmark = pytest.mark.anyio


def screen_for(root: Path) -> VersionScreen:
    return VersionScreen(Draft(root=root), Services())


def rules_of(screen: VersionScreen) -> dict[str, bool]:
    return {rule.rule: rule.ok for rule in screen.rules}


async def test_tag_on_head_passes_all_rules_and_next_returns_draft(repo_factory, host) -> None:
    root = repo_factory("v1.0.0", "v1.1.0")
    app = host(lambda: screen_for(root))
    async with app.run_test() as pilot:
        screen = app.screen
        assert isinstance(screen, VersionScreen)
        await settle(pilot, lambda: bool(screen.rules))
        assert screen.selected is not None
        assert screen.selected.version.git_tag == "v1.1.0"
        assert screen.selected.label == "tag on HEAD"
        assert rules_of(screen) == {"semver": True, "newer": True, "exists": True,
                                    "on-head": True, "clean": True}
        assert not screen.query_one("#next", Button).disabled
        await pilot.press("ctrl+n")
        await pilot.pause()
    [draft] = app.results
    assert isinstance(draft, Draft)
    assert draft.version is not None and draft.version.git_tag == "v1.1.0"
    assert [v.git_tag for v in draft.known] == ["v1.0.0", "v1.1.0"]
    assert draft.commit == git(root, "rev-parse", "HEAD")


async def test_untagged_head_offers_next_versions_and_cuts_the_tag(repo_factory, host) -> None:
    root = repo_factory("v1.0.0")
    (root / "README").write_text("more\n")
    git(root, "commit", "-q", "-am", "more")
    app = host(lambda: screen_for(root))
    async with app.run_test() as pilot:
        screen = app.screen
        assert isinstance(screen, VersionScreen)
        await settle(pilot, lambda: bool(screen.rules))
        offered = [(c.version.git_tag, c.label) for c in screen.state.candidates]
        assert offered == [("v1.0.1", "next patch"), ("v1.1.0", "next minor"),
                           ("v2.0.0", "next major"), ("v1.0.1-rc.1", "next prerelease")]
        assert rules_of(screen)["exists"] is False
        assert screen.query_one("#next", Button).disabled
        assert "create it at HEAD: dockyard tag v1.0.1\n" in str(
            screen.query_one("#rules", Static).render())
        await click(pilot, "#candidate-1")  # next minor
        await settle(pilot, lambda: bool(screen.rules)
                     and screen.selected.version.git_tag == "v1.1.0")
        # the hint names the version picked, never a patch bump
        assert "create it at HEAD: dockyard tag v1.1.0\n" in str(
            screen.query_one("#rules", Static).render())
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        assert "v1.1.0" in app.screen.question
        await pilot.press("y")
        await settle(pilot, lambda: bool(screen.rules) and all(r.ok for r in screen.rules)
                     and screen.selected.exists)
        assert screen.selected.version.git_tag == "v1.1.0"
        assert not screen.query_one("#next", Button).disabled
    assert git(root, "tag", "--points-at", "HEAD") == "v1.1.0"
    assert git(root, "cat-file", "-t", "v1.1.0") == "tag"  # annotated


async def test_declining_the_confirmation_cuts_nothing(repo_factory, host) -> None:
    root = repo_factory("v1.0.0")
    (root / "README").write_text("more\n")
    git(root, "commit", "-q", "-am", "more")
    app = host(lambda: screen_for(root))
    async with app.run_test() as pilot:
        screen = app.screen
        await settle(pilot, lambda: bool(screen.rules))
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is screen
    assert git(root, "tag", "--points-at", "HEAD") == ""


async def test_dirty_tree_fails_clean_rule_with_fix(repo_factory, host) -> None:
    root = repo_factory("v1.0.0")
    (root / "README").write_text("edited\n")
    app = host(lambda: screen_for(root))
    async with app.run_test() as pilot:
        screen = app.screen
        await settle(pilot, lambda: bool(screen.rules))
        assert rules_of(screen)["clean"] is False
        shown = str(screen.query_one("#rules", Static).render())
        assert "README" in shown and "fix:" in shown
        assert screen.query_one("#next", Button).disabled
        await pilot.press("ctrl+n")
        await pilot.pause()
    assert app.results == []


async def test_unpushed_tag_is_pushed_on_confirmation(repo_factory, host, tmp_path) -> None:
    root = repo_factory("v1.0.0")
    add_bare_remote(root, tmp_path / "origin.git", push_tags=False)
    app = host(lambda: screen_for(root))
    async with app.run_test() as pilot:
        screen = app.screen
        await settle(pilot, lambda: "pushed" in rules_of(screen))
        assert rules_of(screen)["pushed"] is False
        cut = screen.query_one("#cut", Button)
        assert not cut.disabled and "Push v1.0.0" in str(cut.label)
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot, lambda: rules_of(screen).get("pushed") is True)
        assert not screen.query_one("#next", Button).disabled
    assert "v1.0.0" in git(tmp_path / "origin.git", "tag")


async def test_not_a_repository_shows_readable_error(tmp_path, host) -> None:
    app = host(lambda: screen_for(tmp_path))
    async with app.run_test() as pilot:
        await settle(pilot, lambda: isinstance(app.screen, ErrorModal))
        modal = app.screen
        assert modal.title_text == "repo"
        assert "Traceback" not in modal.problem
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, VersionScreen)
        info = str(app.screen.query_one("#repo-info", Static).render())
        assert "Reading the repository" not in info
        assert "is not inside a git work tree" in info
        assert "pass --repo DIR of a git checkout" in info


async def test_a_released_head_is_offered_no_second_release(repo_factory, host) -> None:
    """The rule ``dockyard tag`` follows: v1.1.1 on HEAD, so no v1.1.2/v1.2.0/v2.0.0 to cut."""
    root = repo_factory("v1.1.1")
    app = host(lambda: screen_for(root))
    async with app.run_test() as pilot:
        screen = app.screen
        await settle(pilot, lambda: bool(screen.rules))
        offered = [(c.version.git_tag, c.label) for c in screen.state.candidates]
        assert offered == [("v1.1.1", "tag on HEAD"), ("v1.1.2-rc.1", "next prerelease")]


def test_the_wizard_takes_repo_dir_like_the_other_commands(repo_factory, tmp_path) -> None:
    """``dockyard --repo DIR`` from elsewhere opens the wizard on DIR (a real process)."""
    root = repo_factory("v1.0.0")
    argv = [sys.executable, "-m", "tui.cli", "--repo", str(root)]
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    with terminal(argv, cwd=tmp_path, env=env, status_dir=tmp_path) as term:
        term.wait_for(str(root), "tag on HEAD")
        term.keys("C-q")
        assert term.exit_status(timeout=30) == 0


def test_repo_that_is_not_a_directory_is_one_line(tmp_path, capsys) -> None:
    from tui.cli import main

    assert main(["--repo", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err == (
        f"error: repo: {str(tmp_path / 'nope')!r} is not a directory; "
        "pass --repo DIR of a git checkout\n")
