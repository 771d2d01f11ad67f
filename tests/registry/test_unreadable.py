"""Answers dockyard cannot read end in one line naming host and request, never a traceback."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core.errors import RegistryError
from core.registry import RegistryClient
from tests.registry.conftest import Published
from tests.registry.proxy import Fault, FaultProxy

Make = Callable[..., RegistryClient]
PORTAL = b"<html><body>Please log in to the guest network</body></html>"


def error_line(call: Callable[[], object]) -> str:
    with pytest.raises(RegistryError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_a_redirect_loop(proxy: FaultProxy, published: Published, make_client: Make) -> None:
    path = f"/v2/{published.repo}/manifests/{published.version}"
    proxy.inject(Fault(status=307, times=99, path_contains="/manifests/",
                       headers={"Location": path}))
    client = make_client(proxy.host)
    message = error_line(lambda: client.head_manifest(published.repo, published.version))
    assert message == (f"registry: {proxy.host}/{published.repo}: HEAD {path} was redirected "
                       "more than 5 times (a redirect loop?); check the registry's address and "
                       "its proxy setup")
    assert proxy.count == 6 == client.request_count


def test_a_broken_gzip_body(proxy: FaultProxy, published: Published, make_client: Make) -> None:
    proxy.inject(Fault(status=200, method="GET", headers={"Content-Encoding": "gzip"}))
    client = make_client(proxy.host)
    message = error_line(lambda: client.get_manifest(published.repo, published.version))
    assert message.startswith(f"registry: {proxy.host}/{published.repo}: GET /v2/"
                              f"{published.repo}/manifests/{published.version} failed "
                              "(DecodingError: ")
    assert proxy.count == 1  # the same bytes would come again: not retried


def test_an_answer_that_is_not_http(
    proxy: FaultProxy, published: Published, make_client: Make
) -> None:
    proxy.inject(Fault(garbage=True, times=99))
    client = make_client(proxy.host, max_retries=1)
    message = error_line(lambda: client.head_manifest(published.repo, published.version))
    assert "failed after 2 attempts (RemoteProtocolError: " in message


def test_a_redirect_to_something_that_is_not_a_url(
    proxy: FaultProxy, published: Published, make_client: Make
) -> None:
    proxy.inject(Fault(status=302, headers={"Location": "http://[::1"}))
    client = make_client(proxy.host, max_retries=0)
    message = error_line(lambda: client.head_manifest(published.repo, published.version))
    assert message.startswith(f"registry: {proxy.host}/{published.repo}: HEAD /v2/")
    assert "Invalid URL in location header" in message


@pytest.mark.parametrize("call", ["get_manifest", "head_manifest", "list_tags"])
def test_a_captive_portal_page(
    call: str, proxy: FaultProxy, published: Published, make_client: Make
) -> None:
    """HTML where JSON belongs (a hotel's login page answering for every host)."""
    proxy.inject(Fault(status=200, times=9, body=PORTAL,
                       headers={"Content-Type": "text/html"}))
    client = make_client(proxy.host)
    args = (published.repo,) if call == "list_tags" else (published.repo, published.version)
    message = error_line(lambda: getattr(client, call)(*args))
    assert message.startswith(f"registry: {proxy.host}/{published.repo}: ")
    assert "is not JSON; the registry answered something else" in message


def test_a_token_answer_that_is_a_portal_page(
    proxy: FaultProxy, published: Published, make_client: Make
) -> None:
    proxy.inject(Fault(status=401, times=1, headers={
        "WWW-Authenticate": f'Bearer realm="http://{proxy.host}/token",service="x"'}))
    proxy.inject(Fault(status=200, path_contains="/token", body=PORTAL,
                       headers={"Content-Type": "text/html"}))
    client = make_client(proxy.host)
    message = error_line(lambda: client.head_manifest(published.repo, published.version))
    assert message == (f"registry: {proxy.host}: token response is not JSON; the registry "
                       "answered something else")


def test_a_ca_file_that_cannot_be_read(make_client: Make) -> None:
    message = error_line(lambda: make_client("127.0.0.1:9", ca_file="/nonexistent/ca.pem"))
    assert message.startswith("registry: CA file /nonexistent/ca.pem could not be read")
