"""The stored logins of a run: looked up once, then handed to the registry clients and, through
a throw-away docker config, to the engine."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core.engines.base import ClientFactory

if TYPE_CHECKING:
    from core.credentials import RegistryLogin
    from core.plan import Plan
    from core.reference import ImageName
    from core.registry import RegistryClient, StopFlag


def plan_logins(plan: Plan) -> list[RegistryLogin]:
    """The stored login for each registry the plan pushes to, looked up once for the run."""
    from core.credentials import logins_for

    return logins_for(image.name.domain for image in plan.images)



def default_client_for(
    insecure_registries: tuple[str, ...] = (), logins: Sequence[RegistryLogin] | None = None,
    *, ca_file: Path | None = None, cancel: StopFlag | None = None,
    stall_timeout: float | None = None, max_retries: int | None = None,
) -> ClientFactory:
    """Registry clients logged in with the run's stored credential for their registry;
    ``ca_file`` is trusted besides the system's CAs (a private registry's CA); ``cancel`` (the
    run's) ends a waiting request within a second; ``max_retries`` 0 for a quick look."""
    from core.credentials import canonical_registry, logged_in_client

    known = {login.registry: login for login in logins or ()}

    def make(image: ImageName) -> RegistryClient:
        login = known.get(canonical_registry(image.domain))
        return logged_in_client(image, insecure_registries=insecure_registries, login=login,
                                ca_file=ca_file, cancel=cancel, stall_timeout=stall_timeout,
                                max_retries=max_retries)

    return make


@contextlib.contextmanager
def engine_credentials(logins: Sequence[RegistryLogin]) -> Iterator[Path | None]:
    """A throw-away docker config dir holding the run's logins (None when there are none);
    pass it as ``EngineOptions.docker_config``. Removed afterwards, also on failure."""
    from core.credentials import temporary_docker_config

    creds = [login.credential for login in logins if login.credential is not None]
    if not creds:
        yield None
        return
    with temporary_docker_config(creds) as directory:
        yield directory

