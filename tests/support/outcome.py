"""How a release's event stream ended, for tests that run one (fast and e2e alike)."""

from __future__ import annotations

from core.events import Event, ReleaseFailed, ReleaseFinished


def finished(events: list[Event]) -> ReleaseFinished:
    """The closing event; every run ends with exactly one."""
    last = events[-1]
    assert isinstance(last, ReleaseFinished), last
    return last


def failure(events: list[Event]) -> ReleaseFailed:
    """The one failure a failed run reports."""
    (failed,) = [e for e in events if isinstance(e, ReleaseFailed)]
    return failed
