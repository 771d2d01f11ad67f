"""Every wait is bounded and a cancel is heard: stalled handshakes, stalled answers, Ctrl+C.

Stalls are real: a listening socket nobody accepts on (the kernel completes the TCP handshake,
the TLS handshake never starts), or the fault proxy holding a request without answering.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from core.errors import RegistryError
from core.registry import RegistryClient, RequestCancelled
from tests.registry.conftest import Published
from tests.registry.proxy import Fault, FaultProxy

Make = Callable[..., RegistryClient]


@pytest.fixture
def silent_host() -> Iterator[str]:
    """A loopback port that completes TCP connects (backlog) but never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"127.0.0.1:{listener.getsockname()[1]}"


def cancel_soon(event: threading.Event, seconds: float = 0.3) -> threading.Timer:
    """Set ``event`` from another thread, as the TUI's Ctrl+C handler does."""
    timer = threading.Timer(seconds, event.set)
    timer.daemon = True
    timer.start()
    return timer


def one_line(err: pytest.ExceptionInfo[RegistryError]) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


def test_a_stalled_tls_handshake_fails_at_the_connect_timeout(
    silent_host: str, make_client: Make
) -> None:
    client = make_client(silent_host, connect_timeout=1.5, max_retries=3)
    with pytest.raises(RegistryError) as caught:
        client.ping()
    message = one_line(caught)
    assert message.startswith(f"registry: {silent_host}: GET /v2/: no connection to 127.0.0.1 "
                              "within 1.5 s (TCP connect and TLS handshake)")
    assert client.base_url.startswith("https://")  # a silent host is not "plain http"


def test_a_cancel_ends_a_stalled_tls_handshake(silent_host: str, make_client: Make) -> None:
    cancel = threading.Event()
    client = make_client(silent_host, cancel=cancel)  # connect_timeout stays 10 s
    cancel_soon(cancel)
    with pytest.raises(RequestCancelled) as caught:
        client.ping()
    assert one_line(caught) == (f"registry: {silent_host}: GET /v2/ cancelled; nothing more was "
                                "sent; run again to finish")


def test_a_cancel_ends_a_stalled_request(
    proxy: FaultProxy, published: Published, make_client: Make
) -> None:
    proxy.inject(Fault(stall=True, method="GET"))
    cancel = threading.Event()
    client = make_client(proxy.host, cancel=cancel, stall_timeout=60)
    cancel_soon(cancel)
    with pytest.raises(RequestCancelled, match=f"GET /v2/{published.repo}/manifests/"
                       f"{published.version} cancelled"):
        client.get_manifest(published.repo, published.version)
    assert proxy.count == 1  # a cancel is not retried


def test_a_cancel_set_beforehand_sends_nothing(proxy: FaultProxy, make_client: Make) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(RequestCancelled):
        make_client(proxy.host, cancel=cancel).ping()
    assert proxy.count == 0


def test_a_cancel_cuts_a_retry_after_wait_short(
    proxy: FaultProxy, published: Published, make_client: Make
) -> None:
    proxy.inject(Fault(status=503, times=9, headers={"Retry-After": "30"}))
    cancel = threading.Event()
    client = make_client(proxy.host, cancel=cancel, sleep=None)  # the real wait, not a recorder
    cancel_soon(cancel)
    with pytest.raises(RequestCancelled):
        client.head_manifest(published.repo, published.version)
    assert proxy.count == 1


def test_an_answer_that_never_comes_fails_at_the_stall_timeout(
    proxy: FaultProxy, published: Published, make_client: Make
) -> None:
    proxy.inject(Fault(stall=True, method="HEAD"))
    client = make_client(proxy.host, stall_timeout=1.5)
    with pytest.raises(RegistryError) as caught:
        client.head_manifest(published.repo, published.version)
    assert one_line(caught).startswith(
        f"registry: {proxy.host}/{published.repo}: HEAD /v2/{published.repo}/manifests/"
        f"{published.version} stalled: no bytes moved for 1.5 s")
    assert proxy.count == 1


def test_a_slow_answer_is_waited_for_not_sent_again(
    proxy: FaultProxy, published: Published, make_client: Make
) -> None:
    """Slices are for listening to the cancel event: an answer slower than a slice still
    arrives on the same request (sending again every slice would never hear a slow registry)."""
    proxy.inject(Fault(delay=1.5, method="GET"))
    client = make_client(proxy.host, cancel=threading.Event())
    assert client.get_manifest(published.repo, published.version).digest == \
        published.index.digest
    assert [s.status for s in proxy.requests()] == [200]
    assert client.request_count == 1


def test_timeout_caps_both_bounds_for_quick_probes() -> None:
    with RegistryClient("127.0.0.1:9", timeout=3) as client:
        assert (client.connect_timeout, client.stall_timeout) == (3, 3)
    with RegistryClient("127.0.0.1:9") as client:
        assert (client.connect_timeout, client.stall_timeout) == (10, 120)
