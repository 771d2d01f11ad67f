"""Messages the screens and the app share. A worker's result travels in a message of its own,
defined beside the screen that posts it, with typed fields (never a ``what`` tag and ``Any``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from core.credentials import CredentialStore
    from core.reference import ImageName


class BuildDone(Message):
    """The release worker has iterated every event; the screen drains what is left."""


class OpenCredentials(Message):
    """A screen asks the app for the credentials manager (screens do not import each other);
    ``done`` gets the registry whose login was saved, or None."""

    def __init__(self, store: CredentialStore, registry: str,
                 done: Callable[[str | None], None]) -> None:
        super().__init__()
        self.store = store
        self.registry = registry
        self.done = done


class OpenHistory(Message):
    """The browser asks its app for the release history of ``image`` (screens do not import
    each other)."""

    def __init__(self, image: ImageName) -> None:
        super().__init__()
        self.image = image
