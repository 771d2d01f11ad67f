"""login(): checked against a real htpasswd registry (plain http and TLS), saved only on success."""

from __future__ import annotations

import pytest

from core.credentials import Credential, CredentialStore, login
from core.errors import CredentialError, DockyardError
from tests.credentials.support import SECRET, USER
from tests.support.registry import RunningRegistry


def test_login_succeeds_and_round_trips(
    store: CredentialStore, auth_registry: RunningRegistry
) -> None:
    cred = login(store, auth_registry.host, USER, SECRET)
    assert cred == Credential(auth_registry.host, USER, SECRET)
    assert store.entries() == [(auth_registry.host, USER)]
    assert store.get(auth_registry.host) == cred


def test_login_over_tls_with_a_private_ca(
    store: CredentialStore, tls_registry: RunningRegistry
) -> None:
    assert tls_registry.ca_file is not None
    cred = login(store, tls_registry.host, USER, SECRET, ca_file=tls_registry.ca_file)
    assert store.get(tls_registry.host, USER) == cred


def test_wrong_password_stores_nothing(
    store: CredentialStore, auth_registry: RunningRegistry
) -> None:
    wrong = SECRET + "-wrong"
    with pytest.raises(CredentialError) as caught:
        login(store, auth_registry.host, USER, wrong)
    assert wrong not in str(caught.value)
    assert store.entries() == []
    assert store.get(auth_registry.host, USER) is None


def test_unknown_user_stores_nothing(
    store: CredentialStore, auth_registry: RunningRegistry
) -> None:
    with pytest.raises(CredentialError):
        login(store, auth_registry.host, "someone-else", SECRET)
    assert store.entries() == []


def test_tls_registry_without_its_ca_stores_nothing(
    store: CredentialStore, tls_registry: RunningRegistry
) -> None:
    with pytest.raises(DockyardError) as caught:
        login(store, tls_registry.host, USER, SECRET)
    assert SECRET not in str(caught.value)
    assert store.entries() == []


def test_failed_relogin_keeps_the_old_secret(
    store: CredentialStore, auth_registry: RunningRegistry
) -> None:
    good = login(store, auth_registry.host, USER, SECRET)
    with pytest.raises(CredentialError):
        login(store, auth_registry.host, USER, "not-the-password")
    assert store.get(auth_registry.host, USER) == good
