"""The stored logins of a run: looked up once, then handed to the registry clients and, through
a throw-away docker config, to the engine."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.credentials import RegistryLogin
    from core.plan import Plan


def plan_logins(plan: Plan, given: Sequence[RegistryLogin] = ()) -> list[RegistryLogin]:
    """The login for each registry the plan pushes to, looked up once for the run: ``given``
    (``--login``) first, the stored ones for the others (none looked up when none are left)."""
    # kept off the start-up path: loads semver
    from core.credentials import logins_for
    from core.reference import canonical_registry

    chosen = {login.registry for login in given}
    rest = [image.name.domain for image in plan.images
            if canonical_registry(image.name.domain) not in chosen]
    return [*given, *(logins_for(rest) if rest else ())]

@contextlib.contextmanager
def engine_credentials(logins: Sequence[RegistryLogin]) -> Iterator[Path | None]:
    """A throw-away docker config dir holding the run's logins (None when there are none);
    pass it as ``EngineOptions.docker_config``. Removed afterwards, also on failure."""
    # kept off the start-up path: loads semver
    from core.credentials import temporary_docker_config

    creds = [login.credential for login in logins if login.credential is not None]
    if not creds:
        yield None
        return
    with temporary_docker_config(creds) as directory:
        yield directory

