"""Typed events a release run emits; the TUI and the headless CLI are two renderers of them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.verify import VerifyReport  # for the annotation only: core.verify loads httpx


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
    """What one verification found, as the typed report (JSON only at the edge, in to_dict)."""

    report: VerifyReport

    @property
    def ok(self) -> bool:
        return self.report.ok

    def to_dict(self) -> dict[str, Any]:
        return {"event": type(self).__name__, "ok": self.ok, "report": self.report.to_dict()}


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
    run: str = "release"  # what ran: "release" (parts and merges too) or "promote"


@dataclass(frozen=True)
class ReleaseFinished(Event):
    ok: bool
    report_path: str = ""
    run: str = "release"  # as ReleaseFailed's


@dataclass(frozen=True)
class CredentialChosen(Event):
    """Which stored login a run uses for a registry (the username only, never the secret)."""

    registry: str
    username: str | None  # None: anonymous
    source: str


def format_event(event: Event) -> str | None:
    """One readable line per event (None for events not worth a line): the headless CLI prints
    it and the Build screen logs it, so both front ends read the same."""
    platform = str(getattr(event, "platform", ""))
    step_id = str(getattr(event, "step", ""))
    where = f"[{platform}] " if platform and platform not in step_id else ""
    match event:
        case PhaseStarted(phase=phase, detail=detail):
            return f"== {phase}" + (f": {detail}" if detail else "")
        case PhaseFinished(phase=phase, ok=ok, seconds=seconds, detail=detail):
            state = "ok" if ok else "FAILED"
            return f"== {phase} {state} in {seconds:.1f}s" + (f" ({detail})" if detail else "")
        case LogLine(text=text, step=step):
            return f"   {where}{step + ' ' if step else ''}{text}"
        case LogBatch(shown=shown):
            return "\n".join(f"   {line}" for line in shown) if shown else None
        case StepStarted(step=step, name=name):
            return f" > {where}{step} {name}"
        case StepFinished(step=step, name=name, seconds=seconds, cached=cached):
            return f" ✓ {where}{step} {name} ({'cached' if cached else f'{seconds:.1f}s'})"
        case StepFailed(step=step, name=name, error=error):
            return f" ✗ {where}{step} {name}: {error}"
        case CredentialChosen(registry=registry, username=username, source=source):
            who = f"{username} from {source}" if username else f"anonymous ({source})"
            return f"credentials for {registry}: {who}"
        case DigestPushed(image=image, digest=digest):
            return f"pushed {image}@{digest}"
        case VerifyReported(report=report):
            problems = "; ".join(report.problems)
            return f"verify {report.image}: {'ok' if report.ok else 'FAILED: ' + problems}"
        case AliasMoved(image=image, tag=tag, previous=previous, digest=digest):
            return f"moved {image}:{tag} -> {digest} (was {previous or 'absent'})"
        case AliasWithheld(image=image, tag=tag, reason=reason):
            return f"withheld: {image}:{tag} — {reason}"
        case ReleaseFailed(phase=phase, error=error, registry_state=state, run=run):
            return f"{run} FAILED in phase {phase}: {error}\nregistry now: {state}"
        case ReleaseFinished(ok=ok, report_path=path, run=run):
            return f"{run} {'ok' if ok else 'FAILED'}; report: {path}"
    return None
