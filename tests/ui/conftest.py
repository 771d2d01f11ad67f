"""Fixtures for the wizard's Pilot tests: one screen at a time in a small host app."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.screen import Screen

from tui.app import ASSETS


class Host(App[None]):
    """Pushes one screen and records what it is dismissed with."""

    CSS_PATH = [ASSETS / "wizard.tcss"]

    def __init__(self, make_screen: Callable[[], Screen[Any]]) -> None:
        super().__init__()
        self.make_screen = make_screen
        self.results: list[Any] = []

    def on_mount(self) -> None:
        self.push_screen(self.make_screen(), self.results.append)


@pytest.fixture
def host() -> Callable[[Callable[[], Screen[Any]]], Host]:
    return Host


async def settle(pilot: Any, until: Callable[[], bool], *, rounds: int = 200) -> None:
    """Let workers finish: pause until ``until()`` holds (fails the test if it never does)."""
    for _ in range(rounds):
        await pilot.pause(0.02)
        if until():
            return
    raise AssertionError("condition not reached")


def write_file(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
