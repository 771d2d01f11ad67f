"""The keyring store against the real Secret Service, and the names it keys entries by."""

from __future__ import annotations

import pytest

from core.credentials import INDEX_USERNAME, Credential, CredentialStore
from core.errors import CredentialError, RegistryError
from core.reference import api_host, auth_key, canonical_registry


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("docker.io", "docker.io"),
        ("index.docker.io", "docker.io"),
        ("registry-1.docker.io", "docker.io"),
        ("https://index.docker.io/v1/", "docker.io"),
        ("GHCR.io", "ghcr.io"),
        ("127.0.0.1:5000", "127.0.0.1:5000"),
        ("http://Registry.Example.com:8443/some/path", "registry.example.com:8443"),
        ("[::1]:5000", "[::1]:5000"),
    ],
)
def test_canonical_registry(given: str, expected: str) -> None:
    assert canonical_registry(given) == expected


@pytest.mark.parametrize("bad", ["", "  ", "bad host", "-x.io", "ghcr.io:port"])
def test_canonical_registry_refuses_non_hosts(bad: str) -> None:
    with pytest.raises(RegistryError, match="registry: "):
        canonical_registry(bad)


def test_docker_hub_names_for_api_and_config() -> None:
    assert api_host("index.docker.io") == "registry-1.docker.io"
    assert auth_key("registry-1.docker.io") == "https://index.docker.io/v1/"
    assert api_host("ghcr.io") == auth_key("ghcr.io") == "ghcr.io"


def test_credential_never_shows_the_secret() -> None:
    cred = Credential("Index.Docker.io", "bob", "hunter2-secret")
    assert cred.registry == "docker.io"
    for text in (repr(cred), str(cred), f"{cred}", f"{cred!r}", repr([cred])):
        assert "hunter2-secret" not in text
        assert "bob" in text


@pytest.mark.parametrize(("user", "secret"), [("", "tok-x1"), ("a:b", "tok-x2"), ("bob", ""),
                                              ("bob", "tok\nx3")])
def test_credential_refuses_unusable_values(user: str, secret: str) -> None:
    with pytest.raises(CredentialError) as caught:
        Credential("ghcr.io", user, secret)
    if secret:
        assert secret not in str(caught.value)


def test_save_get_list_delete_round_trip(store: CredentialStore) -> None:
    store.save(Credential("ghcr.io", "alice", "tok-alice"))
    store.save(Credential("index.docker.io", "bob", "tok-bob"))
    store.save(Credential("ghcr.io", "carol", "tok-carol"))

    assert store.entries() == [("docker.io", "bob"), ("ghcr.io", "alice"), ("ghcr.io", "carol")]
    assert store.get("registry-1.docker.io") == Credential("docker.io", "bob", "tok-bob")
    assert store.get("ghcr.io", "alice") == Credential("ghcr.io", "alice", "tok-alice")
    assert store.get("ghcr.io") == Credential("ghcr.io", "carol", "tok-carol")  # latest saved
    assert store.get("quay.io") is None
    assert store.get("ghcr.io", "nobody") is None

    assert store.delete("ghcr.io", "carol") == 1
    assert store.get("ghcr.io") == Credential("ghcr.io", "alice", "tok-alice")
    assert store.delete("ghcr.io", "carol") == 0
    assert store.delete("docker.io") == 1
    assert store.entries() == [("ghcr.io", "alice")]


def test_saving_again_replaces_the_secret(store: CredentialStore) -> None:
    store.save(Credential("ghcr.io", "alice", "old"))
    store.save(Credential("ghcr.io", "alice", "new"))
    assert store.entries() == [("ghcr.io", "alice")]
    got = store.get("ghcr.io", "alice")
    assert got is not None and got.secret == "new"


def test_keyring_layout_and_no_secret_in_the_index(store: CredentialStore, service: str) -> None:
    import keyring

    store.save(Credential("127.0.0.1:5000", "alice", "tok-index-check"))
    backend = keyring.get_keyring()
    assert backend.get_password(service, "127.0.0.1:5000/alice") == "tok-index-check"
    index = backend.get_password(service, INDEX_USERNAME)
    assert index is not None and "tok-index-check" not in index
    assert store.delete("127.0.0.1:5000") == 1
    assert backend.get_password(service, INDEX_USERNAME) is None  # nothing left behind
    assert backend.get_password(service, "127.0.0.1:5000/alice") is None


def test_other_services_do_not_see_each_other(store: CredentialStore) -> None:
    store.save(Credential("ghcr.io", "alice", "tok"))
    other = CredentialStore(store.service + "-other")
    assert other.entries() == []
    assert other.get("ghcr.io") is None


def test_damaged_index_is_a_clear_error(store: CredentialStore, service: str) -> None:
    import keyring

    keyring.get_keyring().set_password(service, INDEX_USERNAME, "{not json")
    try:
        with pytest.raises(CredentialError, match="damaged"):
            store.entries()
    finally:
        keyring.get_keyring().delete_password(service, INDEX_USERNAME)
