"""The rollback confirmation: what it shows of a plan, and what it answers (the moves themselves
are tested against the real registry in tests/registry/test_rollback.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.screen import Screen
from textual.widgets import Button, Static

from core.reference import ImageName
from core.registry import OCI_INDEX, Manifest
from core.rollback import AliasMove, RollbackPlan
from core.version import parse_version
from screens.rollback import RollbackModal
from tests.ui.conftest import Host, click

OLD = "sha256:" + "1" * 64
NEW = "sha256:" + "2" * 64
TARGET = "sha256:" + "a" * 64

pytestmark = pytest.mark.anyio


def _plan(moves: list[tuple[str, str | None]]) -> RollbackPlan:
    return RollbackPlan(ImageName("127.0.0.1:5000", "acme/app"), parse_version("1.0.0"),
                        TARGET, Manifest(TARGET, OCI_INDEX, b"{}", {}),
                        ("linux/amd64", "linux/arm64"),
                        tuple(AliasMove(alias, was) for alias, was in moves), chosen=False)


PLAN = _plan([("1.0", TARGET), ("1", NEW), ("latest", None)])


def _text(modal: Screen[Any], selector: str) -> str:
    return str(modal.query_one(selector, Static).render())


async def test_it_shows_each_alias_from_where_to_where_and_confirms(
    host: Callable[..., Host],
) -> None:
    app = host(lambda: RollbackModal(PLAN))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, RollbackModal)
        assert _text(modal, "#title") == "Point aliases at 127.0.0.1:5000/acme/app:1.0.0?"
        assert _text(modal, "#target") == f"{TARGET}\nverified: linux/amd64, linux/arm64"
        assert _text(modal, "#moves").splitlines() == [
            "1.0: already on 1.0.0", f"1: {NEW[:19]} -> {TARGET[:19]}",
            f"latest: absent -> {TARGET[:19]}"]
        assert "Newer versions stay published" in _text(modal, "#note")
        assert [str(b.label) for b in modal.query(Button)] == ["Confirm (y)", "Cancel (n)"]
        await click(pilot, "#confirm")
        await pilot.pause()
    assert app.results == [True]


@pytest.mark.parametrize(("keys", "answer"), [(["y"], True), (["n"], False),
                                              (["escape"], False), (["n", "y"], False)])
async def test_keys_answer_once(host: Callable[..., Host], keys: list[str],
                                answer: bool) -> None:
    app = host(lambda: RollbackModal(PLAN))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        for key in keys:
            await pilot.press(key)
        await pilot.pause()
    assert app.results == [answer]


async def test_cancel_button_answers_false(host: Callable[..., Host]) -> None:
    app = host(lambda: RollbackModal(PLAN))
    async with app.run_test(size=(100, 30)) as pilot:
        await click(pilot, "#cancel")
        await pilot.pause()
    assert app.results == [False]


async def test_nothing_to_do_cannot_be_confirmed(host: Callable[..., Host]) -> None:
    app = host(lambda: RollbackModal(_plan([("1.0", TARGET), ("latest", TARGET)])))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        modal = app.screen
        assert modal.query_one("#confirm", Button).disabled
        assert _text(modal, "#note") == "Nothing to do: every alias is already there."
        await pilot.press("y")
        await pilot.pause()
    assert app.results == [False]
