"""core.clients: one factory gives every part of dockyard its logged-in registry clients."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.clients import logged_in_clients
from core.credentials import Credential, CredentialStore, RegistryLogin
from core.errors import DockyardError
from core.reference import parse_image_name
from tests.credentials.support import SECRET, USER
from tests.support.registry import RunningRegistry


def test_the_runs_login_is_used_for_its_registry(auth_registry: RunningRegistry) -> None:
    host = auth_registry.host
    login = RegistryLogin(host, Credential(host, USER, SECRET), "this test")
    with logged_in_clients(logins=[login])(parse_image_name(f"{host}/acme/app")) as client:
        assert client.username == USER
        client.check_auth()  # the real registry's htpasswd accepts it


def test_a_wrong_run_login_is_refused_by_the_registry(auth_registry: RunningRegistry) -> None:
    host = auth_registry.host
    login = RegistryLogin(host, Credential(host, USER, "not-the-secret"), "this test")
    with (logged_in_clients(logins=[login])(parse_image_name(f"{host}/acme/app")) as client,
          pytest.raises(DockyardError)):
        client.check_auth()


def test_without_a_run_login_the_stored_one_is_looked_up(
    store: CredentialStore, home: Path, auth_registry: RunningRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    host = auth_registry.host
    monkeypatch.setenv("DOCKYARD_KEYRING_SERVICE", store.service)
    name = parse_image_name(f"{host}/acme/app")
    with logged_in_clients()(name) as client:
        assert client.username is None  # nothing stored yet: anonymous
    store.save(Credential(host, USER, SECRET))
    with logged_in_clients()(name) as client:
        assert client.username == USER
        client.check_auth()


def test_hub_spellings_share_the_runs_hub_login() -> None:
    """The run's logins are keyed by canonical registry: every Hub spelling finds docker.io's."""
    login = RegistryLogin("docker.io", Credential("docker.io", USER, SECRET), "this test")
    factory = logged_in_clients(logins=[login])
    for text in ("alpine", "index.docker.io/acme/app", "registry-1.docker.io/acme/app"):
        with factory(parse_image_name(text)) as client:  # no request is sent
            assert (client.host, client.username) == ("registry-1.docker.io", USER)
