"""Logged-in registry clients: the one factory the release, the CLI's inspect and plan checks,
the wizard and the browser all get their clients from, so each talks to a registry the same way.

A registry's login is the run's (looked up once with ``logins_for``) when given, else the one
stored for it, looked up when the registry first asks for a login; without either the client is
anonymous, which public and local registries still answer.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.credentials import Credential, RegistryLogin
    from core.engines.base import ClientFactory
    from core.reference import ImageName
    from core.registry import RegistryClient, StopFlag


def logged_in_clients(
    insecure_registries: Iterable[str] = (),
    logins: Iterable[RegistryLogin] = (),
    *,
    ca_file: Path | None = None,
    cancel: StopFlag | None = None,
    stall_timeout: float | None = None,
    max_retries: int | None = None,
) -> ClientFactory:
    """Clients for an image's registry with its login. ``insecure_registries`` may use plain
    HTTP; ``ca_file`` is trusted besides the system's CAs (a private registry's CA); ``cancel``
    (a run's) ends a waiting request within a second; ``max_retries`` 0 for a quick look."""
    known = {login.registry: login for login in logins}
    marked = tuple(insecure_registries)

    def make(image: ImageName) -> RegistryClient:
        # httpx loads on the first client, not when the factory is made (start-up).
        from core.registry import client_for

        login = known.get(image.registry)
        username, secret, token = _parts(login.credential if login else None)
        return client_for(
            image,
            username=username,
            secret=secret,
            identity_token=token,
            login=None if login else functools.partial(_stored_login, image.domain),
            insecure_registries=marked,
            ca_file=ca_file,
            cancel=cancel,
            stall_timeout=stall_timeout,
            max_retries=max_retries,
        )

    return make


def _parts(cred: Credential | None) -> tuple[str | None, str | None, str | None]:
    """A login as the client takes it: username, secret, identity token."""
    if cred is None:
        return None, None, None
    if cred.identity_token:
        return cred.username, None, cred.secret
    return cred.username, cred.secret, None


def _stored_login(domain: str) -> tuple[str | None, str | None, str | None]:
    """The login stored for ``domain`` now, asked when the registry first wants one (a 401
    challenge): a registry answering anonymously (local, or a plain public one) never costs the
    keyring lookup (~60 ms, most of it loading keyring)."""
    # kept off the start-up path: loads keyring
    from core.credentials import logins_for

    return _parts(logins_for([domain])[0].credential)
