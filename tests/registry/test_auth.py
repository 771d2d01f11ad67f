"""Auth and TLS: htpasswd Basic + TLS on the real registry; Bearer via the token-server double."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from core.errors import CredentialError, RegistryError
from core.registry import RegistryClient
from tests.registry.content import Pushed, Pusher
from tests.registry.proxy import FaultProxy, TokenServer, running
from tests.support.registry import RunningRegistry, run_registry

Make = Callable[..., RegistryClient]
SECRET = "pa55-Not-In-Messages"


@pytest.fixture(scope="module")
def secured() -> Iterator[tuple[RunningRegistry, Pushed]]:
    """A registry with htpasswd auth and TLS (throw-away CA), holding one index."""
    with run_registry(username="alice", password=SECRET, tls=True) as running_registry:
        pusher = Pusher(running_registry.url, auth=("alice", SECRET),
                        ca_file=running_registry.ca_file)
        index = pusher.index("dy/secured", "1.0.0", ["linux/amd64", "linux/arm64"])
        pusher.close()
        yield running_registry, index


def test_basic_auth_over_verified_tls(secured: tuple[RunningRegistry, Pushed],
                                      make_client: Make) -> None:
    registry, index = secured
    client = make_client(registry.host, username="alice", secret=SECRET,
                         ca_file=registry.ca_file)
    client.check_auth("dy/secured")
    head = client.head_manifest("dy/secured", "1.0.0")
    assert head is not None and head.digest == index.digest
    assert client.list_tags("dy/secured") == ["1.0.0"]
    assert SECRET not in repr(client)


def test_wrong_password_is_a_credential_error_without_the_secret(
    secured: tuple[RunningRegistry, Pushed], make_client: Make
) -> None:
    registry, _ = secured
    wrong = SECRET + "x"
    client = make_client(registry.host, username="alice", secret=wrong, ca_file=registry.ca_file)
    with pytest.raises(CredentialError) as caught:
        client.check_auth()
    message = str(caught.value)
    assert message.startswith(f"credentials: {registry.host}: user 'alice' was refused (HTTP 401")
    assert wrong not in message and SECRET not in message


def test_anonymous_on_an_auth_registry_names_host_and_repository(
    secured: tuple[RunningRegistry, Pushed], make_client: Make
) -> None:
    registry, _ = secured
    client = make_client(registry.host, ca_file=registry.ca_file)
    client.ping()  # reachable: a 401 still says "this is a registry"
    with pytest.raises(CredentialError, match=f"{registry.host}/dy/secured: anonymous access"):
        client.head_manifest("dy/secured", "1.0.0")


def test_unknown_ca_is_refused_and_never_falls_back_to_http(
    secured: tuple[RunningRegistry, Pushed], make_client: Make
) -> None:
    registry, _ = secured
    client = make_client(registry.host, username="alice", secret=SECRET)
    with pytest.raises(RegistryError, match=r"TLS connection failed.*--ca-file") as caught:
        client.ping()
    assert SECRET not in str(caught.value)
    assert client.base_url.startswith("https://")


@pytest.fixture(params=["token", "access_token"])
def bearer(request: pytest.FixtureRequest, registry: RunningRegistry
           ) -> Iterator[tuple[FaultProxy, TokenServer]]:
    """Docker Hub / GHCR style auth in front of the real registry (a test double for the auth).

    The token server answers with ``token`` (Docker Hub) or ``access_token`` (OAuth2 style).
    """
    tokens = TokenServer({"bob": SECRET}, field_name=request.param)
    with running(tokens), running(FaultProxy(registry.host, bearer=tokens)) as front:
        yield front, tokens


def test_anonymous_bearer_pull_fetches_one_token_per_scope(
    bearer: tuple[FaultProxy, TokenServer], pusher: Pusher, make_client: Make
) -> None:
    front, tokens = bearer
    index = pusher.index("dy/bearer", "2.0.0", ["linux/amd64"], attest=False)
    client = make_client(front.host)
    manifest = client.get_manifest("dy/bearer", "2.0.0")
    assert manifest.digest == index.digest
    head = client.head_manifest("dy/bearer", "2.0.0")
    assert head is not None and head.digest == index.digest
    client.list_tags("dy/bearer")
    assert tokens.requests == [("", "repository:dy/bearer:pull")]
    statuses = [s.status for s in front.requests()]
    assert statuses == [401, 200, 200, 200]  # one challenge, then the cached token serves all
    assert client.request_count == 5  # 4 at the registry + 1 at the token server


def test_a_token_that_expired_at_the_service_is_fetched_again(
    bearer: tuple[FaultProxy, TokenServer], pusher: Pusher, make_client: Make
) -> None:
    """A long build outlives its token: the registry's 401 makes the client drop it and ask
    the token service once more, so verification after the build still works."""
    front, tokens = bearer
    index = pusher.index("dy/expiry", "1.0.0", ["linux/amd64"], attest=False)
    client = make_client(front.host, username="bob", secret=SECRET)
    assert client.head_manifest("dy/expiry", "1.0.0") is not None
    tokens.expire_all()
    head = client.head_manifest("dy/expiry", "1.0.0")
    assert head is not None and head.digest == index.digest
    assert len(tokens.requests) == 2
    assert [s.status for s in front.requests()] == [401, 200, 401, 200]


def test_a_token_is_renewed_before_its_stated_lifetime_ends(
    bearer: tuple[FaultProxy, TokenServer], pusher: Pusher, make_client: Make
) -> None:
    front, tokens = bearer
    tokens.expires_in = 6  # the client keeps a margin of 5 s: usable for 1 s
    pusher.index("dy/lifetime", "1.0.0", ["linux/amd64"], attest=False)
    client = make_client(front.host)
    client.head_manifest("dy/lifetime", "1.0.0")
    client.head_manifest("dy/lifetime", "1.0.0")
    assert len(tokens.requests) == 1  # still fresh: cached
    time.sleep(1.1)
    client.head_manifest("dy/lifetime", "1.0.0")
    assert len(tokens.requests) == 2  # renewed up front ...
    assert [s.status for s in front.requests()] == [401, 200, 200, 200]  # ... without a 401


def test_anonymous_push_is_refused(
    bearer: tuple[FaultProxy, TokenServer], pusher: Pusher, make_client: Make
) -> None:
    front, _ = bearer
    index = pusher.index("dy/bearer-push", "1", ["linux/amd64"], attest=False)
    client = make_client(front.host)
    with pytest.raises(CredentialError, match=f"{front.host}/dy/bearer-push: anonymous access"):
        client.put_manifest("dy/bearer-push", "latest", index.raw, index.media_type)


def test_bearer_push_with_credentials(
    bearer: tuple[FaultProxy, TokenServer], pusher: Pusher, make_client: Make
) -> None:
    front, tokens = bearer
    index = pusher.index("dy/bearer-push", "1", ["linux/amd64"], attest=False)
    client = make_client(front.host, username="bob", secret=SECRET)
    client.check_auth()
    assert client.put_manifest("dy/bearer-push", "latest", index.raw,
                               index.media_type) == index.digest
    assert ("bob", "repository:dy/bearer-push:pull,push") in tokens.requests
    assert all(SECRET not in s.authorization for s in front.requests())  # only tokens reach it


def test_bearer_wrong_secret_is_a_credential_error(
    bearer: tuple[FaultProxy, TokenServer], make_client: Make
) -> None:
    front, _ = bearer
    client = make_client(front.host, username="bob", secret="nope-" + SECRET)
    with pytest.raises(CredentialError, match="token service refused the credentials") as caught:
        client.check_auth()
    assert SECRET not in str(caught.value)
