"""``dockyard login`` and ``dockyard inspect`` with the keyring against the real registry with
token auth over https (throw-away CA): the login check goes through the token service and is
saved only when it answers; inspect reads with the saved login and a pull token alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.credentials import CredentialStore
from tests.credentials.support import SECRET, USER, dockyard
from tests.registry.content import Pusher
from tests.support.registry import RunningRegistry
from tests.support.tokenauth import TokenIssuer, token_registry

pytestmark = pytest.mark.e2e

GRANTS = {USER: {"team/app": frozenset({"pull", "push"})}}


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[RunningRegistry, TokenIssuer]]:
    with token_registry(tmp_path_factory.mktemp("token-login"), {USER: SECRET}, GRANTS,
                        tls=True) as pair:
        yield pair


def test_login_through_the_token_service_then_inspect_with_pull_only(
    store: CredentialStore, cli_env: dict[str, str], home: Path,
    secured: tuple[RunningRegistry, TokenIssuer],
) -> None:
    registry, issuer = secured
    assert registry.ca_file is not None
    ca = ("--ca-file", str(registry.ca_file))
    wrong = dockyard("login", registry.host, "-u", USER, "--password-stdin", *ca,
                     env=cli_env, stdin="not-" + SECRET + "\n")
    assert wrong.returncode != 0
    assert "the token service refused the credentials (HTTP 401)" in wrong.stderr
    assert store.entries() == []
    done = dockyard("login", registry.host, "-u", USER, "--password-stdin", *ca, env=cli_env,
                    stdin=SECRET + "\n")
    assert done.returncode == 0, done.stderr
    assert store.get(registry.host, USER) is not None
    assert [(a.user, a.scopes, a.status) for a in issuer.asked] == [
        (USER, (), 401), (USER, (), 200)]  # the check asks for no repository's rights

    pusher = Pusher(registry.url, ca_file=registry.ca_file)
    pusher.http.headers["Authorization"] = "Bearer " + issuer.mint(
        "fixture", [{"type": "repository", "name": "team/app", "actions": ["pull", "push"]}])
    index = pusher.index("team/app", "3.0.0", ["linux/amd64"], attest=False)
    pusher.close()
    issuer.clear()
    shown = dockyard("inspect", f"{registry.host}/team/app:3.0.0", "--json", *ca, env=cli_env)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["digest"] == index.digest
    assert [(a.user, a.scopes) for a in issuer.asked] == [(USER, ("repository:team/app:pull",))]
