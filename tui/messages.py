"""Messages that carry worker results back to the UI thread (posted from thread workers)."""

from __future__ import annotations

from typing import Any

from textual.message import Message


class Loaded(Message):
    """A screen's background job finished; ``what`` names the job, ``data`` is its result."""

    def __init__(self, what: str, data: Any) -> None:
        self.what = what
        self.data = data
        super().__init__()


class BuildDone(Message):
    """The release worker has iterated every event; the screen drains what is left."""
