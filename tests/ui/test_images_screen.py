"""Images step: tag sets from core.tags, where each alias points now asked of a real registry."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Checkbox, DataTable, Input, Static

from core.version import parse_version
from screens.images import ImagesScreen
from tests.support.gitrepo import git
from tests.ui.conftest import push_tiny_image, settle
from tui.draft import Draft
from tui.services import Services

pytestmark = pytest.mark.anyio


def draft_for(root: Path, version: str, known: tuple[str, ...], images: tuple[str, ...]) -> Draft:
    return Draft(root=root, version=parse_version(version),
                 known=tuple(parse_version(k) for k in known),
                 commit=git(root, "rev-parse", "HEAD"), images=images)


def table_rows(screen: ImagesScreen) -> list[list[str]]:
    table = screen.query_one("#tag-table", DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def test_aliases_show_what_they_move_from(repo_factory, host, registry) -> None:
    root = repo_factory("v1.0.0", "v1.1.0")
    image = f"{registry.host}/ui/images-move"
    old = push_tiny_image(registry.url, "ui/images-move", "latest")
    draft = draft_for(root, "v1.1.0", ("v1.0.0", "v1.1.0"), (image,))
    app = host(lambda: ImagesScreen(draft, Services()))
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: image in screen.lookups)
        rows = table_rows(screen)
        assert [row[1] for row in rows] == ["1.1.0", "1.1", "1", "latest"]
        assert rows[0][4] == "pushed (new)"
        by_tag = {row[1]: row for row in rows}
        assert by_tag["latest"][3] == old.removeprefix("sha256:")[:12]
        assert by_tag["latest"][4].startswith(f"moves {old.removeprefix('sha256:')[:12]}")
        assert by_tag["1.1"][4] == "created → new version"
        await pilot.press("ctrl+n")
        await pilot.pause()
    [result] = app.results
    assert result.images == (image,)
    assert result.tag_policy.latest


async def test_older_release_withholds_aliases_with_reason(repo_factory, host, registry) -> None:
    root = repo_factory("v1.0.0", "v2.0.0", "v1.0.1")
    image = f"{registry.host}/ui/images-withheld"
    draft = draft_for(root, "v1.0.1", ("v1.0.0", "v2.0.0", "v1.0.1"), (image,))
    app = host(lambda: ImagesScreen(draft, Services()))
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: image in screen.lookups)
        kinds = {row[1]: (row[2], row[4]) for row in table_rows(screen)}
        assert kinds["1.0"] == ("alias", "created → new version")
        assert kinds["1"] == ("alias", "created → new version")  # 2.0.0 is another series
        assert kinds["latest"] == ("withheld", "stays: 2.0.0 is newer")
        assert "never backwards" in str(screen.query_one("#withheld", Static).render())


async def test_a_release_the_checkout_does_not_know_withholds_latest(repo_factory, host,
                                                                   registry) -> None:
    """A shallow CI checkout: git knows v1.0.1 only, the registry already holds 1.1.0."""
    root = repo_factory("v1.0.1")
    image = f"{registry.host}/ui/images-registry-newer"
    push_tiny_image(registry.url, "ui/images-registry-newer", "1.1.0")
    draft = draft_for(root, "v1.0.1", ("v1.0.1",), (image,))
    app = host(lambda: ImagesScreen(draft, Services()))
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: image in screen.judged)
        kinds = {row[1]: (row[2], row[4]) for row in table_rows(screen)}
        assert kinds["1.0"] == ("alias", "created → new version")
        assert kinds["1"] == ("withheld", "stays: 1.1.0 is published")
        assert kinds["latest"] == ("withheld", "stays: 1.1.0 is published")
        assert "latest: 1.1.0 is published" in str(screen.query_one("#withheld", Static).render())


async def test_policy_and_names_are_edited_and_invalid_names_refused(repo_factory, host,
                                                                     registry) -> None:
    root = repo_factory("v1.0.0")
    draft = draft_for(root, "v1.0.0", ("v1.0.0",), ())
    app = host(lambda: ImagesScreen(draft, Services()))
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: bool(screen.problems))
        assert "no image given" in screen.problems[0]
        screen.query_one("#images", Input).value = "ghcr.io/Acme/App:1.0"
        await settle(pilot, lambda: "ghcr.io/Acme/App:1.0" not in screen.problems[0]
                     if screen.problems else False, rounds=50)
        assert screen.problems and screen.problems[0].startswith("image:")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.results == []
        screen.query_one("#images", Input).value = f"{registry.host}/ui/edited"
        screen.query_one("#tag-latest", Checkbox).value = False
        screen.query_one("#tag-sha", Checkbox).value = True
        await settle(pilot, lambda: not screen.problems and screen.tag_set is not None
                     and "latest" not in screen.tag_set.aliases)
        assert any(alias.startswith("sha-") for alias in screen.tag_set.aliases)
        await pilot.press("ctrl+n")
        await pilot.pause()
    [result] = app.results
    assert result.images == (f"{registry.host}/ui/edited",)
    assert result.tag_policy.sha and not result.tag_policy.latest
