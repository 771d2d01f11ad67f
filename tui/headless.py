"""``dockyard release --yes``: the TUI's release events, printed as lines or as JSON lines."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING, TextIO

from core.engines.base import parse_output
from core.events import Event, ReleaseFinished, format_event
from core.release import release_with_stored_logins

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from core.credentials import RegistryLogin
    from core.parts import Part
    from core.plan import Plan


def print_events(events: Iterator[Event], *, as_json: bool, out: TextIO) -> int:
    """Print every event; exit code 0 only for a verified release, 1 for a failed one.

    Once the output is gone (the terminal closed with SIGHUP, the reading end of a pipe
    exited) the events are still drained unprinted: the release must reach its report and
    clean-up rather than be torn down half-way by a write error."""
    code = 1
    writable = True
    for event in events:
        if as_json:
            text: str | None = json.dumps(event.to_dict(), default=str)
        else:
            text = format_event(event)
        if writable and text is not None:
            try:
                out.write(text + "\n")
                out.flush()
            except OSError:
                writable = False
        if isinstance(event, ReleaseFinished):
            code = 0 if event.ok else 1
    return code


#: What stops a headless run cleanly: Ctrl-C, a CI runner's stop (SIGINT, then SIGTERM 7.5 s
#: later, then SIGKILL) and a closed terminal.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def run_release_headless(plan: Plan, args: argparse.Namespace, *,
                         part_file: Path | None = None, merge: Sequence[Part] = (),
                         logins: Sequence[RegistryLogin] = ()) -> int:
    """Run ``plan`` with the engine, registries and output named in ``args`` (a part or a
    merge when those are given).

    SIGINT, SIGTERM and SIGHUP cancel the run: the engine's process group is stopped, the
    release writes its failure report and says where the registry is left, the temporary
    credentials are removed, and the exit code is 128 + the first signal's number (also when
    the release had got past the point where a cancel changes anything).
    """

    cancel = threading.Event()
    received: list[int] = []
    events = release_with_stored_logins(
        plan,
        insecure_registries=tuple(getattr(args, "insecure_registry", None) or ()),
        output=parse_output(getattr(args, "output", None), getattr(args, "load", None)),
        cancel=cancel,
        ca_file=plan.ca_file,
        part_file=part_file,
        merge=merge,
        stall_timeout=getattr(args, "stall_timeout", None),
        build_timeout=getattr(args, "build_timeout", None),
        given_logins=logins,
    )
    with stop_signals_cancel(cancel, received):
        code = print_events(events, as_json=bool(getattr(args, "json", False)), out=sys.stdout)
    return 128 + received[0] if received else code


@contextlib.contextmanager
def stop_signals_cancel(cancel: threading.Event, received: list[int],
                        what: str = "release") -> Iterator[None]:
    """While the block runs, each stop signal sets ``cancel`` and is noted in ``received``.

    The handler never raises, so a second signal while stopping only repeats the note instead
    of interrupting the clean-up with a traceback. Outside the main thread (where Python cannot
    take signals) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        first = not received
        received.append(signum)
        cancel.set()
        name = signal.Signals(signum).name
        note = (f"{name}: stopping the {what} (the engine, then the clean-up)\n" if first
                else f"{name}: already stopping\n")
        with contextlib.suppress(OSError):
            os.write(sys.stderr.fileno(), note.encode())

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
