"""The flag a run's registry clients check: stopped with the run, reopened briefly while the
failure is reported (a real client against a registry that hangs shows it)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from core.registry import RegistryClient, RequestCancelled
from core.release import RequestStop
from tests.support.registry import RunningRegistry


def test_it_follows_the_run_until_the_report_then_gives_a_grace() -> None:
    cancel = threading.Event()
    stop = RequestStop(cancel, grace=0.3)
    assert not stop.is_set()
    cancel.set()
    assert stop.is_set()
    stop.reporting()
    assert not stop.is_set()  # the report may ask the registry what it holds
    assert stop.wait(timeout=5) is True  # ... for the grace, then it is stopped again
    assert stop.is_set()


def test_wait_returns_false_when_nothing_stops_it() -> None:
    stop = RequestStop(threading.Event())
    assert stop.wait(timeout=0.1) is False


@pytest.fixture
def hanging_registry() -> Iterator[str]:
    """A port that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield f"127.0.0.1:{server.getsockname()[1]}"
    server.close()


def test_a_hanging_request_ends_with_the_run_and_the_report_may_still_read(
    hanging_registry: str, registry: RunningRegistry,
) -> None:
    cancel = threading.Event()
    stop = RequestStop(cancel, grace=60)
    hanging = RegistryClient(hanging_registry, cancel=stop, max_retries=0)
    working = RegistryClient(registry.host, cancel=stop, max_retries=0)
    threading.Timer(0.3, cancel.set).start()
    with pytest.raises(RequestCancelled):
        hanging.head_manifest("app", "1.0.0")  # a stalled request ends with the run
    with pytest.raises(RequestCancelled):
        working.head_manifest("app", "1.0.0")  # and nothing new starts after it
    stop.reporting()
    assert working.head_manifest("app", "1.0.0") is None  # the report's look at the registry
    hanging.close()
    working.close()
