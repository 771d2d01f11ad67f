"""RegistryClient against the real registry, with a counting/fault-injecting proxy in front."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

from core.errors import RegistryError
from core.registry import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    MANIFEST_ACCEPT,
    OCI_INDEX,
    OCI_MANIFEST,
    RegistryClient,
    is_loopback,
    parse_challenge,
    retry_after_seconds,
)
from tests.registry.conftest import Published, Sleeps
from tests.registry.content import Pusher
from tests.registry.proxy import Fault, FaultProxy, running
from tests.support.registry import RunningRegistry, non_loopback_address

ALL_FOUR = {OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST}
Make = Callable[..., RegistryClient]


def test_head_and_get_send_all_four_accept_types(
    proxy: FaultProxy, published: Published, make_client: Make
) -> None:
    client = make_client(proxy.host)
    head = client.head_manifest(published.repo, published.version)
    manifest = client.get_manifest(published.repo, published.version)
    assert head is not None
    assert head.digest == manifest.digest == published.index.digest
    assert head.media_type == manifest.media_type == OCI_INDEX
    assert head.size == len(published.index.raw)
    assert manifest.raw == published.index.raw  # byte for byte, so the digest is the same
    assert manifest.is_index
    for seen in proxy.requests():
        assert {a.strip() for a in seen.accept.split(",")} == ALL_FOUR, seen


def test_missing_manifest_is_none_on_head_and_an_error_on_get(
    proxy: FaultProxy, published: Published, make_client: Make
) -> None:
    client = make_client(proxy.host)
    assert client.head_manifest(published.repo, "no-such-tag") is None
    with pytest.raises(RegistryError, match=rf"{proxy.host}/{published.repo}: manifest "
                       "no-such-tag not found"):
        client.get_manifest(published.repo, "no-such-tag")


@pytest.mark.parametrize("vector", range(4))
def test_reference_registry_accept_behaviour(
    vector: int, shared_dir: Path, registry: RunningRegistry, pusher: Pusher, make_client: Make
) -> None:
    """The vectors' Accept cases, on the real registry: narrow Accept fails, ours never does."""
    case = json.loads((shared_dir / "vectors/vectors-oci-index.json").read_text())[
        "registry_accept"][vector]
    repo = f"dy/accept-{vector}"
    stored = case["stored"]
    if stored == OCI_MANIFEST:
        target = pusher.image(repo, "linux", "amd64")
        pusher.tag(repo, "t", target)
    else:
        media = DOCKER_LIST if stored == DOCKER_LIST else OCI_INDEX
        target = pusher.index(repo, "t", ["linux/amd64", "linux/arm64"], attest=False,
                              media_type=media)
    narrow = httpx.head(f"{registry.url}/v2/{repo}/manifests/t",
                        headers={"Accept": ", ".join(case["accept"])})
    expected = case["expected"]
    if expected.startswith("404"):
        assert narrow.status_code == 404
    elif "child manifest" in expected:
        assert narrow.status_code == 200
        assert narrow.headers["Docker-Content-Digest"] != target.digest
    else:
        assert narrow.status_code == 200
        assert narrow.headers["Content-Type"] == target.media_type
        assert narrow.headers["Docker-Content-Digest"] == target.digest
    head = make_client(registry.host).head_manifest(repo, "t")
    assert head is not None and head.digest == target.digest
    assert head.media_type == target.media_type


def test_accept_header_constant_lists_index_types_first() -> None:
    assert MANIFEST_ACCEPT.split(", ")[:2] == [OCI_INDEX, DOCKER_LIST]


def test_body_not_matching_its_digest_is_refused(
    proxy: FaultProxy, published: Published, make_client: Make
) -> None:
    proxy.inject(Fault(tamper=True, method="GET"))
    with pytest.raises(RegistryError) as caught:
        make_client(proxy.host).get_manifest(published.repo, published.version)
    message = str(caught.value)
    assert f"{proxy.host}/{published.repo}" in message
    assert f"registry said {published.index.digest}" in message
    assert "\n" not in message


def test_blob_json_is_checked_against_its_digest(
    proxy: FaultProxy, published: Published, make_client: Make
) -> None:
    client = make_client(proxy.host)
    child = client.get_manifest(published.repo,
                                json.loads(published.index.raw)["manifests"][0]["digest"])
    config_digest = child.json["config"]["digest"]
    assert client.get_blob_json(published.repo, config_digest)["architecture"] == "amd64"
    proxy.inject(Fault(tamper=True, path_contains="/blobs/"))
    with pytest.raises(RegistryError, match="altered in transit"):
        client.get_blob_json(published.repo, config_digest)


def test_tag_list_follows_link_pages(
    registry: RunningRegistry, pusher: Pusher, make_client: Make
) -> None:
    repo = "dy/pages"
    index = pusher.index(repo, "base", ["linux/amd64"], attest=False)
    names = [f"v{i}" for i in range(7)]
    for name in names:
        pusher.tag(repo, name, index)
    with running(FaultProxy(registry.host, paginate=True)) as paging:
        client = make_client(paging.host)
        assert client.list_tags(repo, page_size=3) == sorted([*names, "base"])
        pages = [s.path for s in paging.requests("GET")]
    assert len(pages) == 3  # 8 tags, 3 a page
    assert pages[1].endswith("n=3&last=v1")


def test_tag_list_of_unknown_repository_names_it(proxy: FaultProxy, make_client: Make) -> None:
    with pytest.raises(RegistryError, match=f"{proxy.host}/dy/never-pushed: repository not"):
        make_client(proxy.host).list_tags("dy/never-pushed")


def test_put_manifest_points_an_alias_at_identical_bytes(
    proxy: FaultProxy, published: Published, make_client: Make
) -> None:
    client = make_client(proxy.host)
    manifest = client.get_manifest(published.repo, published.version)
    digest = client.put_manifest(published.repo, "moved", manifest.raw, manifest.media_type)
    assert digest == published.index.digest
    head = client.head_manifest(published.repo, "moved")
    assert head is not None and head.digest == published.index.digest
    puts = proxy.requests("PUT")
    assert len(puts) == 1 and puts[0].status == 201


# The body distribution 2.8 answered when two runs PUT one manifest at once (seen in CI).
_DIGEST_INVALID = (b'{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not '
                   b'match uploaded content"}]}')


def test_put_manifest_is_sent_again_when_the_registry_read_a_half_written_copy(
    proxy: FaultProxy, published: Published, make_client: Make, sleeps: Sleeps
) -> None:
    client = make_client(proxy.host, backoff=0.25, max_retries=3)
    manifest = client.get_manifest(published.repo, published.version)
    proxy.inject(Fault(status=400, times=2, method="PUT", body=_DIGEST_INVALID))
    assert client.put_manifest(published.repo, "again", manifest.raw,
                               manifest.media_type) == published.index.digest
    assert [s.status for s in proxy.requests("PUT")] == [400, 400, 201]
    assert sleeps.calls == [0.25, 0.5]


def test_put_manifest_gives_up_on_digest_invalid_after_max_retries_and_names_it(
    proxy: FaultProxy, published: Published, make_client: Make, sleeps: Sleeps
) -> None:
    client = make_client(proxy.host, max_retries=2)
    manifest = client.get_manifest(published.repo, published.version)
    proxy.inject(Fault(status=400, times=5, method="PUT", body=_DIGEST_INVALID))
    with pytest.raises(RegistryError, match="PUT manifest again answered HTTP 400, "
                                            "DIGEST_INVALID"):
        client.put_manifest(published.repo, "again", manifest.raw, manifest.media_type)
    assert len(proxy.requests("PUT")) == 3


def test_other_manifest_refusals_are_not_sent_again(
    proxy: FaultProxy, published: Published, make_client: Make, sleeps: Sleeps
) -> None:
    client = make_client(proxy.host, max_retries=3)
    manifest = client.get_manifest(published.repo, published.version)
    proxy.inject(Fault(status=400, method="PUT", body=(
        b'{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid"}]}')))
    with pytest.raises(RegistryError, match="MANIFEST_INVALID"):
        client.put_manifest(published.repo, "again", manifest.raw, manifest.media_type)
    assert len(proxy.requests("PUT")) == 1 and sleeps.calls == []


def test_429_with_retry_after_is_honoured(
    proxy: FaultProxy, published: Published, make_client: Make, sleeps: Sleeps
) -> None:
    proxy.inject(Fault(status=429, times=2, headers={"Retry-After": "7"}))
    client = make_client(proxy.host, max_retries=4)
    head = client.head_manifest(published.repo, published.version)
    assert head is not None and head.digest == published.index.digest
    assert sleeps.calls == [7.0, 7.0]
    assert [s.status for s in proxy.requests()] == [429, 429, 200]
    assert client.request_count == proxy.count == 3


def test_retry_after_is_capped(
    proxy: FaultProxy, published: Published, make_client: Make, sleeps: Sleeps
) -> None:
    proxy.inject(Fault(status=503, headers={"Retry-After": "86400"}))
    client = make_client(proxy.host, max_retry_after=12.0)
    assert client.head_manifest(published.repo, published.version) is not None
    assert sleeps.calls == [12.0]


def test_retry_after_as_an_http_date_is_honoured(
    proxy: FaultProxy, published: Published, make_client: Make, sleeps: Sleeps
) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=9), usegmt=True)
    proxy.inject(Fault(status=503, times=1, headers={"Retry-After": when}))
    client = make_client(proxy.host, max_retries=2)
    assert client.head_manifest(published.repo, published.version) is not None
    [delay] = sleeps.calls
    assert 7.0 <= delay <= 9.0  # whole seconds in the header, and the clock moved on a bit


@pytest.mark.parametrize(("value", "expected"), [
    ("120", 120.0),
    ("0", 0.0),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 30.0),
    ("Wed, 21 Oct 2015 07:27:00 GMT", -30.0),  # already past: the client waits 0
    ("", None),
    ("soon", None),
])
def test_retry_after_values(value: str, expected: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 27, 30, tzinfo=UTC).timestamp()
    assert retry_after_seconds(value, now) == expected


def test_5xx_backs_off_exponentially_then_succeeds(
    proxy: FaultProxy, published: Published, make_client: Make, sleeps: Sleeps
) -> None:
    proxy.inject(Fault(status=500, times=3))
    client = make_client(proxy.host, backoff=0.25, max_retries=3)
    assert client.get_manifest(published.repo, published.version).digest == \
        published.index.digest
    assert sleeps.calls == [0.25, 0.5, 1.0]
    assert proxy.count == 4


def test_connection_resets_are_retried(
    proxy: FaultProxy, published: Published, make_client: Make, sleeps: Sleeps
) -> None:
    proxy.inject(Fault(reset=True, times=2))
    client = make_client(proxy.host, backoff=0.01)
    head = client.head_manifest(published.repo, published.version)
    assert head is not None and head.digest == published.index.digest
    assert [s.status for s in proxy.requests()] == [0, 0, 200]
    assert len(sleeps.calls) == 2


@pytest.mark.parametrize("fault", [Fault(status=500, times=99), Fault(reset=True, times=99),
                                   Fault(status=429, times=99, headers={"Retry-After": "1"})],
                         ids=["500", "reset", "429"])
def test_gives_up_after_max_retries_with_one_clear_line(
    fault: Fault, proxy: FaultProxy, published: Published, make_client: Make, sleeps: Sleeps
) -> None:
    proxy.inject(fault)
    client = make_client(proxy.host, max_retries=2, backoff=0.01)
    with pytest.raises(RegistryError) as caught:
        client.head_manifest(published.repo, published.version)
    message = str(caught.value)
    assert message.startswith(f"registry: {proxy.host}/{published.repo}: HEAD ")
    assert "3 attempts" in message
    assert "\n" not in message
    assert proxy.count == 3 == client.request_count
    assert len(sleeps.calls) == 2


def test_ping(proxy: FaultProxy, make_client: Make) -> None:
    client = make_client(proxy.host)
    client.ping()
    assert [(s.method, s.path) for s in proxy.requests()] == [("GET", "/v2/")]


def test_ping_of_something_else_is_a_registry_error(make_client: Make) -> None:
    with running(FaultProxy("127.0.0.1:9")) as other:
        other.inject(Fault(status=404, times=1))
        with pytest.raises(RegistryError, match="Registry HTTP API v2"):
            make_client(other.host).ping()


def test_unreachable_registry_is_a_registry_error(make_client: Make) -> None:
    from tests.support.registry import free_port

    host = f"127.0.0.1:{free_port()}"
    with pytest.raises(RegistryError, match=f"{host}: GET /v2/ failed after 2 attempts"):
        make_client(host, max_retries=1).ping()


def test_loopback_rule() -> None:
    assert is_loopback("127.0.0.1:5000") and is_loopback("127.3.4.5")
    assert is_loopback("localhost:5000") and is_loopback("[::1]:5000")
    assert not is_loopback("192.0.2.2:5000") and not is_loopback("ghcr.io")


def test_plain_http_to_a_non_loopback_host_needs_insecure(
    registry: RunningRegistry, published: Published, make_client: Make
) -> None:
    bind = non_loopback_address()
    if not bind:
        pytest.skip("no non-loopback IPv4 address on this machine")
    with running(FaultProxy(registry.host, bind=bind)) as remote:
        with pytest.raises(RegistryError) as caught:
            make_client(remote.host).head_manifest(published.repo, published.version)
        assert f"pass --insecure-registry {remote.host}" in str(caught.value)
        assert remote.count == 0  # nothing went out in plain http
        insecure = make_client(remote.host, insecure=True)
        head = insecure.head_manifest(published.repo, published.version)
        assert head is not None and head.digest == published.index.digest


def test_challenge_parsing() -> None:
    scheme, params = parse_challenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/alpine:pull"')
    assert scheme == "bearer"
    assert params == {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                      "scope": "repository:library/alpine:pull"}
    assert parse_challenge('Basic realm="x"') == ("basic", {"realm": "x"})


def test_bad_host_is_refused() -> None:
    with pytest.raises(RegistryError, match="not a registry host"):
        RegistryClient("ghcr.io/acme")
