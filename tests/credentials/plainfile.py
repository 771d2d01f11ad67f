"""A keyring backend that keeps secrets in a plain JSON file: what dockyard must refuse.

Used by the no-keyring tests through PYTHON_KEYRING_BACKEND (refused) and
DOCKYARD_KEYRING_BACKEND (the labelled opt-in).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class PlaintextKeyring(KeyringBackend):
    priority = 0.5  # type: ignore[assignment]

    @property
    def path(self) -> Path:
        return Path(os.environ["HOME"]) / "plain-keyring.json"

    def _load(self) -> dict[str, str]:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}\0{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}\0{username}"] = password
        self.path.write_text(json.dumps(data))

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        if data.pop(f"{service}\0{username}", None) is None:
            raise PasswordDeleteError("no such entry")
        self.path.write_text(json.dumps(data))
