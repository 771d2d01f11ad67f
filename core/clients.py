"""Logged-in registry clients: the one factory the release, the CLI's inspect and plan checks,
the wizard and the browser all get their clients from, so each talks to a registry the same way.

A registry's login is the run's (looked up once with ``logins_for``) when given, else the one
stored for it now; without either the client is anonymous, which public and local registries
still answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.credentials import RegistryLogin
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
        # httpx and keyring load on the first client, not when the factory is made (start-up).
        from core.credentials import logins_for
        from core.registry import client_for

        login = known.get(image.registry) or logins_for([image.domain])[0]
        cred = login.credential
        token = cred is not None and cred.identity_token
        return client_for(
            image,
            username=cred.username if cred else None,
            secret=cred.secret if cred and not token else None,
            identity_token=cred.secret if cred and token else None,
            insecure_registries=marked,
            ca_file=ca_file,
            cancel=cancel,
            stall_timeout=stall_timeout,
            max_retries=max_retries,
        )

    return make
