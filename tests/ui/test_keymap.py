"""The user's keymap.toml: binding ids remapped with App.set_keymap, shown in the footer; a broken
file is one readable error and the default keys stay."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.errors import ConfigError
from screens.images import ImagesScreen
from screens.version import VersionScreen
from tests.ui.conftest import settle
from tests.ui.test_app import on_screen
from tui.app import DockyardApp
from tui.keymap import keymap_path, load_keymap
from tui.services import Services

pytestmark = pytest.mark.anyio
SOURCES = Path(__file__).resolve().parents[2]


def test_every_binding_has_an_id() -> None:
    for folder in ("screens", "tui"):
        for path in (SOURCES / folder).glob("*.py"):
            text = path.read_text()
            for call in re.findall(r"\bBinding\(.*", text):  # one Binding(...) per line
                assert "id=" in call, f"{path.name}: {call}"


def test_the_keymap_lives_in_the_user_config_directory(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert keymap_path() == tmp_path / "dockyard" / "keymap.toml"
    assert load_keymap() == {}  # no file: the default keys


@pytest.mark.parametrize(
    ("text", "problem"),
    [('"step.next" = 5', "is not a key list"), ("step.next = ", "not valid TOML")],
)
def test_a_broken_keymap_is_one_readable_error(tmp_path, text, problem) -> None:
    path = tmp_path / "keymap.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=problem) as caught:
        load_keymap(path)
    assert "\n" not in str(caught.value)


async def test_a_remapped_key_works_and_the_old_one_does_not(tmp_path, repo_factory) -> None:
    root = repo_factory("v1.0.0")
    keymap = tmp_path / "keymap.toml"
    keymap.write_text('# my keys\n"step.next" = "ctrl+j"\n"version.reload" = "f5"\n')
    app = DockyardApp(root, Services(), keymap_file=keymap)
    async with app.run_test(size=(120, 30)) as pilot:
        await on_screen(pilot, VersionScreen)
        screen = app.screen
        await settle(pilot, lambda: bool(screen.rules) and all(r.ok for r in screen.rules))
        keys = {b.binding.id: b.binding.key for b in screen.active_bindings.values()}
        assert keys["step.next"] == "ctrl+j" and keys["version.reload"] == "f5"
        await pilot.press("ctrl+n")  # the old key no longer moves on
        await pilot.pause(0.2)
        assert app.screen is screen
        await pilot.press("ctrl+j")
        await on_screen(pilot, ImagesScreen)


async def test_a_broken_keymap_is_shown_and_the_defaults_stay(tmp_path, repo_factory) -> None:
    root = repo_factory("v1.0.0")
    keymap = tmp_path / "keymap.toml"
    keymap.write_text('"step.next" = ["ctrl+j"]\n')
    app = DockyardApp(root, Services(), keymap_file=keymap)
    async with app.run_test(size=(120, 30)) as pilot:
        await on_screen(pilot, VersionScreen)
        [toast] = app._notifications
        assert "is not a key list" in toast.message and "default keys are used" in toast.message
        screen = app.screen
        await settle(pilot, lambda: bool(screen.rules) and all(r.ok for r in screen.rules))
        await pilot.press("ctrl+n")
        await on_screen(pilot, ImagesScreen)
