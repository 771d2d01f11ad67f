"""TLS trust (a private CA is added to the system's) and the rules for following redirects.

An https fault proxy (certificate from a throw-away CA) in front of the plain-http session
registry plays a TLS-terminating front end; a second proxy on another port plays a storage host.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.errors import RegistryError
from core.registry import RegistryClient
from tests.registry.conftest import Published
from tests.registry.content import digest_of
from tests.registry.proxy import Fault, FaultProxy, TokenServer, running
from tests.support.registry import (
    RunningRegistry,
    make_ca_and_cert,
    non_loopback_address,
    run_registry,
)

Make = Callable[..., RegistryClient]
SECRET = "redirect-Secret-7"


@pytest.fixture(scope="module")
def https_registry() -> Iterator[RunningRegistry]:
    with run_registry(tls=True) as started:
        yield started


@pytest.fixture
def https_front(registry: RunningRegistry, tmp_path: Path) -> Iterator[tuple[FaultProxy, Path]]:
    """https in front of the plain-http registry; yields the proxy and its CA file."""
    ca, cert, key = make_ca_and_cert(tmp_path)
    with running(FaultProxy(registry.host, tls=(cert, key))) as front:
        yield front, ca


def config_digest(client: RegistryClient, published: Published) -> str:
    child = json.loads(published.index.raw)["manifests"][0]["digest"]
    return str(client.get_manifest(published.repo, child).json["config"]["digest"])


def test_ca_file_is_added_to_the_system_trust_not_put_in_its_place(
    https_registry: RunningRegistry, make_client: Make, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """One run talks to ghcr.io (system trust) and to a private host (--ca-file): here the
    "system" trust is pointed at the registry's CA, and --ca-file names an unrelated one."""
    other_ca, _, _ = make_ca_and_cert(tmp_path)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(other_ca))
    with pytest.raises(RegistryError, match=r"TLS connection failed.*--ca-file"):
        make_client(https_registry.host, ca_file=other_ca).ping()  # the control: no trust
    monkeypatch.setenv("SSL_CERT_FILE", str(https_registry.ca_file))
    make_client(https_registry.host, ca_file=other_ca).ping()
    make_client(https_registry.host, ca_file=https_registry.ca_file).ping()


def test_a_private_ca_without_ca_file_names_the_flag(
    https_registry: RunningRegistry, make_client: Make
) -> None:
    client = make_client(https_registry.host)
    with pytest.raises(RegistryError) as caught:
        client.ping()
    message = str(caught.value)
    assert "certificate verify failed" in message and "give --ca-file for a private CA" in message
    assert "\n" not in message
    assert client.base_url.startswith("https://")


def test_https_to_http_redirect_is_refused(
    https_front: tuple[FaultProxy, Path], published: Published, make_client: Make
) -> None:
    front, ca = https_front
    client = make_client(front.host, ca_file=ca)
    digest = config_digest(client, published)  # through the https front: works
    front.inject(Fault(status=307, path_contains="/blobs/", headers={
        "Location": f"http://storage.example/{digest}"}))
    with pytest.raises(RegistryError) as caught:
        client.get_blob_json(published.repo, digest)
    assert str(caught.value) == (
        f"registry: {front.host}/{published.repo}: GET /v2/{published.repo}/blobs/{digest} "
        "was sent on to http storage.example, which is not https; not followed; if "
        "storage.example is meant to serve plain http, pass --insecure-registry storage.example")
    assert front.count == 2  # the image manifest, then the redirect: nothing went further


def test_https_to_http_redirect_to_a_host_marked_insecure_is_followed(
    https_front: tuple[FaultProxy, Path], registry: RunningRegistry, published: Published,
    make_client: Make
) -> None:
    address = non_loopback_address()
    if not address:
        pytest.skip("no non-loopback IPv4 address on this machine")
    front, ca = https_front
    with running(FaultProxy(registry.host, bind=address)) as storage:
        client = make_client(front.host, ca_file=ca, insecure_hosts=[storage.host])
        digest = config_digest(client, published)
        front.inject(Fault(status=307, path_contains="/blobs/", headers={
            "Location": f"http://{storage.host}/v2/{published.repo}/blobs/{digest}"}))
        assert client.get_blob_json(published.repo, digest)["os"] == "linux"
        assert [s.status for s in storage.requests()] == [200]


def test_https_to_http_redirect_to_loopback_is_followed(
    https_front: tuple[FaultProxy, Path], registry: RunningRegistry, published: Published,
    make_client: Make
) -> None:
    front, ca = https_front
    client = make_client(front.host, ca_file=ca)
    digest = config_digest(client, published)
    front.inject(Fault(status=307, path_contains="/blobs/", headers={
        "Location": f"http://{registry.host}/v2/{published.repo}/blobs/{digest}"}))
    assert client.get_blob_json(published.repo, digest)["architecture"] == "amd64"


def test_plain_http_redirect_off_loopback_needs_the_insecure_mark(
    proxy: FaultProxy, registry: RunningRegistry, published: Published, make_client: Make
) -> None:
    address = non_loopback_address()
    if not address:
        pytest.skip("no non-loopback IPv4 address on this machine")
    path = f"/v2/{published.repo}/manifests/{published.version}"
    with running(FaultProxy(registry.host, bind=address)) as remote:
        proxy.inject(Fault(status=307, headers={"Location": f"http://{remote.host}{path}"}))
        with pytest.raises(RegistryError, match=f"sent on to http {remote.host}, which is not"):
            make_client(proxy.host).head_manifest(published.repo, published.version)
        assert remote.count == 0  # refused before anything went out
        remote.inject(Fault(status=301, headers={"Location": f"http://{remote.host}{path}?a=1"}))
        head = make_client(remote.host, insecure=True).head_manifest(published.repo,
                                                                     published.version)
        assert head is not None and head.digest == published.index.digest
        assert [s.status for s in remote.requests()] == [301, 200]


def test_credentials_stay_with_the_registry_host_on_a_redirect(
    registry: RunningRegistry, published: Published, make_client: Make
) -> None:
    """Registries send blob downloads to a storage host: the token must not go along."""
    tokens = TokenServer({"bob": SECRET})
    with running(tokens), running(FaultProxy(registry.host, bearer=tokens)) as front, \
            running(FaultProxy(registry.host)) as storage:
        client = make_client(front.host, username="bob", secret=SECRET)
        digest = config_digest(client, published)
        front.inject(Fault(status=307, path_contains="/blobs/", headers={
            "Location": f"/v2/{published.repo}/blobs/{digest}?same=host"}))
        assert client.get_blob_json(published.repo, digest)["os"] == "linux"
        front.inject(Fault(status=307, path_contains="/blobs/", headers={
            "Location": f"http://{storage.host}/v2/{published.repo}/blobs/{digest}"}))
        assert client.get_blob_json(published.repo, digest)["os"] == "linux"
    blob_hops = [s for s in front.requests("GET") if "/blobs/" in s.path]
    assert [s.status for s in blob_hops] == [307, 200, 307]
    assert all(s.authorization.startswith("Bearer ") for s in blob_hops)  # same host: kept
    [stored] = storage.requests()
    assert stored.status == 200 and stored.authorization == ""  # another host: dropped


def test_a_plain_http_token_realm_off_loopback_gets_no_credentials(
    registry: RunningRegistry, published: Published, make_client: Make
) -> None:
    address = non_loopback_address()
    if not address:
        pytest.skip("no non-loopback IPv4 address on this machine")
    tokens = TokenServer({"bob": SECRET}, bind=address)
    with running(tokens), running(FaultProxy(registry.host, bearer=tokens)) as front:
        client = make_client(front.host, username="bob", secret=SECRET)
        with pytest.raises(RegistryError) as caught:
            client.head_manifest(published.repo, published.version)
        assert str(caught.value) == (f"registry: {front.host}: token realm {tokens.realm} is "
                                     f"not https; pass --insecure-registry {front.host} to "
                                     "allow it")
        assert tokens.requests == []
        marked = make_client(front.host, username="bob", secret=SECRET, insecure=True)
        assert marked.head_manifest(published.repo, published.version) is not None
        assert [user for user, _ in tokens.requests] == ["bob"]


def test_upload_over_tls(
    https_front: tuple[FaultProxy, Path], registry: RunningRegistry, make_client: Make,
    tmp_path: Path
) -> None:
    """The sliced socket layer under TLS: a body larger than the socket buffers, in full."""
    data = os.urandom(6 * 1024 * 1024 + 3)
    path = tmp_path / "layer"
    path.write_bytes(data)
    digest = digest_of(data)
    front, ca = https_front
    make_client(front.host, ca_file=ca).upload_blob("dy/tls-upload", digest, path, len(data))
    assert [(s.method, s.status) for s in front.requests()] == [
        ("HEAD", 404), ("POST", 202), ("PUT", 201)]
    direct = make_client(registry.host)
    assert direct.blob_exists("dy/tls-upload", digest)
