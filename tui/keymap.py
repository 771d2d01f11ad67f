"""The user's own keys: ``keymap.toml`` in dockyard's config directory, binding id -> keys.

Every ``Binding`` in the app has an ``id`` (``version.cut``, ``app.quit``, ``step.next``...); a
line ``"version.cut" = "ctrl+t"`` moves that action to another key (several keys: ``"t,ctrl+t"``).
The file is applied with ``App.set_keymap``, so the footer and help show the user's keys.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from core.errors import ConfigError

if TYPE_CHECKING:
    from textual.app import App

FILE_NAME = "keymap.toml"
_KEYS = re.compile(r"[a-z0-9_+\-]+(,[a-z0-9_+\-]+)*")


def keymap_path() -> Path:
    """Where the keymap lives (platformdirs: ~/.config/dockyard/keymap.toml on Linux)."""

    return platformdirs.user_config_path("dockyard") / FILE_NAME


def load_keymap(path: Path | None = None) -> dict[str, str]:
    """Binding id -> keys from the keymap file; no file is an empty keymap."""
    path = path or keymap_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror}", "check the file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text", "save it as UTF-8") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}",
                          'write one line per binding, e.g. "version.cut" = "ctrl+t"') from None
    keymap: dict[str, str] = {}
    for binding_id, keys in data.items():
        if not isinstance(keys, str) or not _KEYS.fullmatch(keys.replace(" ", "")):
            raise ConfigError(
                f"{path}: {binding_id!r} = {keys!r} is not a key list",
                'give keys as a string, several separated by commas, e.g. "t,ctrl+t"')
        keymap[binding_id] = keys.replace(" ", "")
    return keymap


def apply_user_keymap(app: App[Any], path: Path | None = None) -> ConfigError | None:
    """Set ``app``'s keymap from the file; a broken file is returned (shown by the caller) and
    the default keys stay."""
    try:
        app.set_keymap(load_keymap(path))
    except ConfigError as err:
        return err
    return None
