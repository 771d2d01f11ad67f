"""``dockyard release --yes``: the TUI's release events, printed as lines or as JSON lines."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TYPE_CHECKING, TextIO

from core.events import (
    AliasMoved,
    AliasWithheld,
    CredentialChosen,
    DigestPushed,
    Event,
    LogLine,
    PhaseFinished,
    PhaseStarted,
    ReleaseFailed,
    ReleaseFinished,
    StepFailed,
    StepFinished,
    StepStarted,
    VerifyReported,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from core.parts import Part
    from core.plan import Plan


def format_event(event: Event) -> str | None:
    """One readable line per event (None for events not worth a line)."""
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
        case VerifyReported(ok=ok, report=report):
            problems = "; ".join(report.get("problems", []))
            return f"verify {report.get('image', '')}: {'ok' if ok else 'FAILED: ' + problems}"
        case AliasMoved(image=image, tag=tag, previous=previous, digest=digest):
            return f"moved {image}:{tag} -> {digest} (was {previous or 'absent'})"
        case AliasWithheld(image=image, tag=tag, reason=reason):
            return f"withheld: {image}:{tag} — {reason}"
        case ReleaseFailed(phase=phase, error=error, registry_state=state):
            return f"release FAILED in phase {phase}: {error}\nregistry now: {state}"
        case ReleaseFinished(ok=ok, report_path=path):
            return f"release {'ok' if ok else 'FAILED'}; report: {path}"
    return None


def print_events(events: Iterator[Event], *, as_json: bool, out: TextIO) -> int:
    """Print every event; exit code 0 only for a verified release, 1 for a failed one."""
    code = 1
    for event in events:
        if as_json:
            out.write(json.dumps(event.to_dict(), default=str) + "\n")
        else:
            line = format_event(event)
            if line is not None:
                out.write(line + "\n")
        out.flush()
        if isinstance(event, ReleaseFinished):
            code = 0 if event.ok else 1
    return code


def run_release_headless(plan: Plan, args: argparse.Namespace, *,
                         part_file: Path | None = None, merge: Sequence[Part] = ()) -> int:
    """Run ``plan`` with the engine, registries and output named in ``args``; Ctrl-C cancels
    the build (its process group is stopped) and still prints where the registry is left."""
    from core.engines.base import parse_output
    from core.release import release_with_stored_logins

    cancel = threading.Event()
    events = release_with_stored_logins(
        plan,
        engine=plan.engine,
        insecure_registries=tuple(getattr(args, "insecure_registry", None) or ()),
        output=parse_output(getattr(args, "output", None), getattr(args, "load", None)),
        cancel=cancel,
        ca_file=getattr(args, "ca_file", None),
        part_file=part_file,
        merge=merge,
    )
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, _cancel_handler(cancel)) if main else None
    try:
        return print_events(events, as_json=bool(getattr(args, "json", False)), out=sys.stdout)
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)


def _cancel_handler(cancel: threading.Event) -> Callable[[int, FrameType | None], None]:
    """Ctrl-C cancels the run cleanly; the release then reports what it left behind."""

    def handler(signum: int, frame: FrameType | None) -> None:
        cancel.set()

    return handler
