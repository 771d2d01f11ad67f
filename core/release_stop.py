"""The stop a run's registry clients obey: the run's cancel, with a short grace while the
failure is reported."""

from __future__ import annotations

import threading
import time


class RequestStop:
    """What a run's registry clients check: the run's cancel, except while the failure is being
    reported, when requests get ``grace`` seconds (what the registry holds now is worth saying,
    and a registry that hangs then still cannot hold the exit for long)."""

    def __init__(self, cancel: threading.Event, grace: float = 1.0) -> None:
        self.cancel = cancel
        self.grace = grace
        self._reporting_since: float | None = None

    def reporting(self) -> None:
        self._reporting_since = time.monotonic()

    def is_set(self) -> bool:
        if not self.cancel.is_set():
            return False
        since = self._reporting_since
        return since is None or time.monotonic() - since > self.grace

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            left = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
            if left <= 0:
                return False
            time.sleep(left)  # steps: the answer also turns with time, not only with the event
        return True
