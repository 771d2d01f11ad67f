"""Token auth against the real registry (distribution's ``auth: token:``), not a stand-in.

The registry checks each JWT the issuer in tests/support/tokenauth.py signs: signature, issuer,
audience, expiry and the actions per repository. ``ci-bot`` may push ``team/app`` and only pull
``team/base``; anonymous users may pull ``team/public``. The issuer records each scope asked
for, which shows what dockyard asks: ``pull`` to read, ``pull,push`` to publish, and a
cross-repository mount adds ``pull`` on the source, never more.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.errors import CredentialError, RegistryError
from core.inspect import inspect_tag
from core.registry import RegistryClient
from tests.registry.content import Pushed, Pusher
from tests.support.registry import RunningRegistry
from tests.support.tokenauth import TokenIssuer, token_registry

USER, SECRET = "ci-bot", "tok-S3cret-for-token-tests"
PULL_PUSH, PULL = frozenset({"pull", "push"}), frozenset({"pull"})
GRANTS = {
    USER: {"team/app": PULL_PUSH, "team/base": PULL, "team/public": PULL},
    "": {"team/public": PULL},
}


@dataclass(frozen=True)
class Setup:
    registry: RunningRegistry
    issuer: TokenIssuer
    app: Pushed  # team/app:1.0.0
    base_blob: str  # a blob only team/base holds


def _push_fixtures(registry: RunningRegistry, issuer: TokenIssuer) -> tuple[Pushed, str]:
    """Content pushed with a token minted for the fixture alone (not through dockyard)."""
    pusher = Pusher(registry.url, ca_file=registry.ca_file)
    access: list[dict[str, object]] = [
        {"type": "repository", "name": name, "actions": ["pull", "push"]}
        for name in ("team/app", "team/base", "team/public")]
    pusher.http.headers["Authorization"] = "Bearer " + issuer.mint("fixture", access)
    try:
        app = pusher.index("team/app", "1.0.0", ["linux/amd64", "linux/arm64"])
        pusher.index("team/public", "1.0.0", ["linux/amd64"], attest=False)
        base_blob = pusher.blob("team/base", b"a layer only team/base holds\n")
    finally:
        pusher.close()
    return app, base_blob


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    with token_registry(tmp_path_factory.mktemp("token"), {USER: SECRET}, GRANTS) as (
            registry, issuer):
        app, base_blob = _push_fixtures(registry, issuer)
        yield Setup(registry, issuer, app, base_blob)


@pytest.fixture
def issuer(setup: Setup) -> TokenIssuer:
    """The issuer with an empty record and its normal lifetimes."""
    setup.issuer.clear()
    setup.issuer.lifetime, setup.issuer.expires_in = 300, 300
    return setup.issuer


def client(setup: Setup, secret: str | None = SECRET) -> RegistryClient:
    return RegistryClient(setup.registry.host, username=USER if secret else None, secret=secret,
                          ca_file=setup.registry.ca_file, sleep=lambda _s: None)


def asked(issuer: TokenIssuer) -> list[tuple[str, ...]]:
    return [a.scopes for a in issuer.asked_by("dockyard")]


def test_the_login_check_goes_through_the_token_service(setup: Setup, issuer: TokenIssuer
                                                        ) -> None:
    with client(setup) as good:
        good.check_auth()
    with client(setup, "wrong-" + SECRET) as bad, pytest.raises(CredentialError) as caught:
        bad.check_auth()
    assert "the token service refused the credentials (HTTP 401)" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert [(a.user, a.scopes, a.status) for a in issuer.asked] == [
        (USER, (), 200), (USER, (), 401)]  # a login check asks for no repository at all


def test_publishing_reads_with_pull_and_writes_with_pull_push_only(
    setup: Setup, issuer: TokenIssuer
) -> None:
    """What a release does after the build: verify the version tag, move an alias, read back."""
    with client(setup) as registry:
        head = registry.head_manifest("team/app", "1.0.0")
        assert head is not None and head.digest == setup.app.digest
        manifest = registry.get_manifest("team/app", "1.0.0")
        assert registry.put_manifest("team/app", "latest", manifest.raw,
                                     manifest.media_type) == setup.app.digest
        latest = registry.head_manifest("team/app", "latest")
        assert latest is not None and latest.digest == setup.app.digest
        assert set(registry.list_tags("team/app")) >= {"1.0.0", "latest"}
    assert asked(issuer) == [("repository:team/app:pull",), ("repository:team/app:pull,push",)]


def test_a_pull_only_grant_makes_the_registry_refuse_a_push(setup: Setup, issuer: TokenIssuer
                                                            ) -> None:
    with client(setup) as registry:
        assert registry.head_manifest("team/base", "nothing") is None  # reading is allowed
        with pytest.raises(CredentialError) as caught:
            registry.put_manifest("team/base", "1.0.0", setup.app.raw, setup.app.media_type)
    message = str(caught.value)
    assert message.startswith(f"credentials: {setup.registry.host}/team/base: user 'ci-bot' "
                              "was refused (HTTP 401")
    assert SECRET not in message
    # dockyard asked for push, the issuer granted only pull, and the registry enforced it
    assert ("repository:team/base:pull,push",) in asked(issuer)


def test_the_push_check_refuses_a_pull_only_grant_and_writes_nothing(
    setup: Setup, issuer: TokenIssuer
) -> None:
    """A release asks this before building: a pull-only login fails in seconds, not after."""
    with client(setup) as registry:
        before = registry.list_tags("team/app")
        registry.check_push("team/app")
        assert registry.list_tags("team/app") == before
        with pytest.raises(CredentialError) as caught:
            registry.check_push("team/base")
    assert str(caught.value) == (
        f"credentials: {setup.registry.host}/team/base: user 'ci-bot' was refused (HTTP 401, "
        "UNAUTHORIZED: authentication required): it may not push; use a login (or token) with "
        "push access to this repository")
    scopes = set(asked(issuer))  # push asked, never delete (the cancel does with the push token)
    assert {("repository:team/app:pull,push",), ("repository:team/base:pull,push",)} <= scopes
    assert all("delete" not in " ".join(scope) for scope in scopes)
    with client(setup, None) as anonymous, pytest.raises(CredentialError, match="may not push"):
        anonymous.check_push("team/public")


def test_a_cross_repository_mount_asks_pull_on_the_source_only(setup: Setup,
                                                               issuer: TokenIssuer) -> None:
    with client(setup) as registry:
        assert registry.mount_blob("team/app", setup.base_blob, "team/base") is True
        assert registry.blob_exists("team/app", setup.base_blob)
    # one token for both (the registry's challenge lists them in no fixed order)
    assert sorted(asked(issuer)[0]) == ["repository:team/app:pull,push",
                                        "repository:team/base:pull"]
    assert all("delete" not in scope and "*" not in scope
               for scopes in asked(issuer) for scope in scopes)


def test_a_mount_from_a_repository_it_may_not_read_falls_back_without_asking_for_more(
    setup: Setup, issuer: TokenIssuer
) -> None:
    """No grant on team/secret: the issuer leaves that scope out, and the registry refuses the
    whole mount (a token must hold every scope a request needs). That means "upload it", not
    "denied"; no wider token (``delete``, ``*``) is asked for on the way."""
    with client(setup) as registry:
        assert registry.mount_blob("team/app", setup.base_blob, "team/secret") is False
    scopes = [scope for scopes in asked(issuer) for scope in scopes]
    assert "repository:team/secret:pull" in scopes
    assert [s for s in scopes if s.rsplit(":", 1)[1] not in ("pull", "pull,push")] == []


def test_a_mount_of_a_blob_the_source_lacks_opens_an_upload_and_abandons_it(
    setup: Setup, issuer: TokenIssuer
) -> None:
    """The registry answers 202 (an upload session); cancelling it would need ``delete``
    rights, which dockyard never asks for: the session is left to expire."""
    with client(setup) as registry:
        assert registry.mount_blob("team/app", "sha256:" + "0" * 64, "team/base") is False
    scopes = {scope for scopes in asked(issuer) for scope in scopes}
    assert scopes == {"repository:team/app:pull,push", "repository:team/base:pull"}


def test_an_expired_token_is_refused_by_the_registry_and_fetched_again(
    setup: Setup, issuer: TokenIssuer
) -> None:
    """The registry enforces ``exp`` (with 60 s leeway), whatever the answer's expires_in says:
    a token that outlived a long build gets a 401, and the client asks the issuer again."""
    issuer.lifetime = -120  # already expired past the registry's leeway
    with client(setup) as registry:
        with pytest.raises(CredentialError, match="was refused"):
            registry.head_manifest("team/app", "1.0.0")
        issuer.lifetime = 300
        head = registry.head_manifest("team/app", "1.0.0")  # cached one refused, new one works
        assert head is not None and head.digest == setup.app.digest
        registry.head_manifest("team/app", "1.0.0")  # and that one is cached
    # the first call's only token was the expired one; the second call's cached copy was refused
    assert asked(issuer) == [("repository:team/app:pull",)] * 2


def test_inspect_reads_with_pull_and_anonymous_reads_only_the_public_repository(
    setup: Setup, issuer: TokenIssuer
) -> None:
    with client(setup) as registry:
        details = inspect_tag(registry, "team/app", "1.0.0")
    assert details.digest == setup.app.digest and len(details.platforms) == 2
    with client(setup, None) as anonymous:
        assert inspect_tag(anonymous, "team/public", "1.0.0").platforms
        with pytest.raises(CredentialError, match="team/app: anonymous access was refused"):
            inspect_tag(anonymous, "team/app", "1.0.0")
    assert {scopes for scopes in asked(issuer)} == {
        ("repository:team/app:pull",), ("repository:team/public:pull",)}
    assert {a.user for a in issuer.asked} == {USER, ""}


def test_token_auth_behind_a_private_ca(tmp_path: Path) -> None:
    """https registry and https token realm, both under a throw-away CA: refused without
    ``--ca-file`` (and never downgraded), working with it."""
    with token_registry(tmp_path, {USER: SECRET}, GRANTS, tls=True) as (registry, issuer):
        assert registry.ca_file is not None and issuer.realm.startswith("https://")
        with RegistryClient(registry.host, username=USER, secret=SECRET) as untrusted, \
                pytest.raises(RegistryError, match=r"TLS connection failed.*--ca-file"):
            untrusted.check_auth()
        with RegistryClient(registry.host, username=USER, secret=SECRET,
                            ca_file=registry.ca_file) as trusted:
            trusted.check_auth("team/app")
            assert trusted.list_tags("team/app", missing_ok=True) == []
        assert [a.scopes for a in issuer.asked] == [(), ("repository:team/app:pull",)]
