"""Typed events a release run emits; the TUI and the headless CLI are two renderers of them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    """Base class: every event can turn itself into a JSON-able dict with its kind."""

    def to_dict(self) -> dict[str, Any]:
        return {"event": type(self).__name__, **asdict(self)}


@dataclass(frozen=True)
class PhaseStarted(Event):
    phase: str  # "build", "verify", "aliases", "verify-aliases"
    detail: str = ""


@dataclass(frozen=True)
class PhaseFinished(Event):
    phase: str
    ok: bool
    seconds: float
    detail: str = ""


@dataclass(frozen=True)
class LogLine(Event):
    text: str
    step: str = ""  # engine step id ("#5") or "" when not tied to one
    platform: str = ""  # "linux/arm64" or "" when not tied to one
    stream: str = "stderr"


@dataclass(frozen=True)
class LogBatch(Event):
    """Engine output read in one go, as one event: a flood of output costs its readers one event
    per read of the pipe instead of one per line. The step events these lines mean follow it.

    ``lines`` are for the full log: the engine's lines as it printed them, every one of them
    (output that is not text, buildx's rawjson, is given as the text it carries). ``shown`` are
    the lines worth showing, each led by its step and platform: ``[linux/arm64] #9 tick 1``.
    """

    lines: tuple[str, ...]
    shown: tuple[str, ...]


@dataclass(frozen=True)
class StepStarted(Event):
    step: str
    name: str
    platform: str = ""


@dataclass(frozen=True)
class StepFinished(Event):
    step: str
    name: str
    platform: str = ""
    seconds: float = 0.0
    cached: bool = False


@dataclass(frozen=True)
class StepFailed(Event):
    step: str
    name: str
    error: str
    platform: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class DigestPushed(Event):
    image: str  # "registry/path": pushed by digest, no tag yet
    digest: str


@dataclass(frozen=True)
class VerifyReported(Event):
    ok: bool
    report: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AliasMoved(Event):
    image: str
    tag: str
    previous: str | None  # digest the alias pointed at before, None when new
    digest: str


@dataclass(frozen=True)
class AliasWithheld(Event):
    """An alias this run does not move: a newer release is published (never backwards)."""

    image: str
    tag: str
    reason: str  # "1.1.0 is published"


@dataclass(frozen=True)
class ReleaseFailed(Event):
    phase: str
    error: str
    registry_state: str  # what is now in the registry, in words


@dataclass(frozen=True)
class ReleaseFinished(Event):
    ok: bool
    report_path: str = ""


@dataclass(frozen=True)
class CredentialChosen(Event):
    """Which stored login a run uses for a registry (the username only, never the secret)."""

    registry: str
    username: str | None  # None: anonymous
    source: str
