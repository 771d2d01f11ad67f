"""Messages that carry worker results back to the UI thread (posted from thread workers)."""

from __future__ import annotations

from typing import Any

from textual.message import Message

from core.events import Event


class Loaded(Message):
    """A screen's background job finished; ``what`` names the job, ``data`` is its result."""

    def __init__(self, what: str, data: Any) -> None:
        self.what = what
        self.data = data
        super().__init__()


class BuildEvents(Message):
    """A batch of release events (log lines grouped over ~50 ms) from the build worker."""

    def __init__(self, events: list[Event]) -> None:
        self.events = events
        super().__init__()


class BuildDone(Message):
    """The release worker ended; ``error`` is the readable problem when it did not finish."""

    def __init__(self, ok: bool, *, cancelled: bool = False, error: str = "") -> None:
        self.ok = ok
        self.cancelled = cancelled
        self.error = error
        super().__init__()
