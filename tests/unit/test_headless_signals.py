"""The headless run's signal handling and output, in this process (the real runs are in
tests/e2e/test_signals.py)."""

from __future__ import annotations

import errno
import io
import os
import signal
import threading
from collections.abc import Iterator

import pytest

from core.events import Event, LogLine, PhaseStarted, ReleaseFinished
from tui.headless import STOP_SIGNALS, print_events, stop_signals_cancel


class ClosedTerminal(io.StringIO):
    """What a write to a hung-up terminal does: EIO."""

    def write(self, text: str) -> int:
        raise OSError(errno.EIO, "Input/output error")


def test_events_are_drained_when_the_output_is_gone() -> None:
    seen: list[Event] = []

    def events() -> Iterator[Event]:
        for event in (PhaseStarted("build"), LogLine("step"), ReleaseFinished(ok=False)):
            seen.append(event)
            yield event

    assert print_events(events(), as_json=False, out=ClosedTerminal()) == 1
    assert len(seen) == 3  # the release ran on to its end (report, clean-up)


@pytest.mark.parametrize("sig", STOP_SIGNALS, ids=lambda s: s.name)
def test_a_stop_signal_sets_cancel_and_is_noted(sig: signal.Signals,
                                                capfd: pytest.CaptureFixture[str]) -> None:
    cancel = threading.Event()
    received: list[int] = []
    before = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    with stop_signals_cancel(cancel, received):
        os.kill(os.getpid(), sig)
        assert cancel.wait(10)
        os.kill(os.getpid(), signal.SIGTERM)  # a second one only adds a note
    assert received[0] == sig
    assert {s: signal.getsignal(s) for s in STOP_SIGNALS} == before
    err = capfd.readouterr().err
    assert f"{sig.name}: stopping the release" in err
    assert "SIGTERM: already stopping" in err
