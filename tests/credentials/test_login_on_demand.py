"""A client without the run's login asks for the stored one only when the registry wants a login:
an anonymous registry costs no keyring lookup, an htpasswd one gets the login at its first 401."""

from __future__ import annotations

import pytest

from core.errors import CredentialError
from core.reference import parse_image_name
from core.registry import client_for
from tests.credentials.support import SECRET, USER
from tests.support.registry import RunningRegistry


class Lookup:
    """A login source that counts how often it is asked."""

    def __init__(self, username: str | None, secret: str | None) -> None:
        self.answer = (username, secret, None)
        self.calls = 0

    def __call__(self) -> tuple[str | None, str | None, str | None]:
        self.calls += 1
        return self.answer


def test_an_anonymous_registry_never_asks_for_the_login(registry: RunningRegistry) -> None:
    lookup = Lookup(USER, SECRET)
    with client_for(parse_image_name(f"{registry.host}/lazy/app"), login=lookup) as client:
        client.check_auth()
        assert client.head_manifest("lazy/app", "absent") is None
    assert lookup.calls == 0


def test_a_registry_that_wants_a_login_gets_it_once(auth_registry: RunningRegistry) -> None:
    lookup = Lookup(USER, SECRET)
    with client_for(parse_image_name(f"{auth_registry.host}/lazy/app"), login=lookup) as client:
        client.check_auth()  # the real htpasswd check passes with the looked-up login
        assert client.head_manifest("lazy/app", "absent") is None
        assert client.username == USER
    assert lookup.calls == 1


def test_no_stored_login_is_refused_as_anonymous(auth_registry: RunningRegistry) -> None:
    lookup = Lookup(None, None)
    with (client_for(parse_image_name(f"{auth_registry.host}/lazy/app"), login=lookup) as client,
          pytest.raises(CredentialError, match="anonymous access")):
        client.check_auth()
    assert lookup.calls == 1
