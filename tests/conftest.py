"""Shared fixtures: real git repositories, a real registry, the real keyring."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.credentials import CredentialStore
from core.errors import CredentialError
from tests.support.gitrepo import make_repo
from tests.support.registry import RunningRegistry, run_registry

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture
def repo_factory(tmp_path: Path) -> Callable[..., Path]:
    """``repo_factory("v1.0.0", "v1.1.0")`` makes a real git repo with those tags."""
    counter = iter(range(1000))

    def make(*tags: str, annotated: bool = True) -> Path:
        return make_repo(tmp_path / f"repo{next(counter)}", tags=tags, annotated=annotated)

    return make


@pytest.fixture(scope="session")
def registry() -> Iterator[RunningRegistry]:
    """One plain-http loopback registry shared by the session (tests use distinct repositories)."""
    with run_registry() as running:
        yield running


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"../shared not found at {SHARED}")
    return SHARED


# -- the real Secret Service keyring (scripts/test runs pytest inside dbus-run-session) --


@pytest.fixture(scope="session")
def secret_service() -> str:
    """The keyring backend label, once it is known to be the real Secret Service (or skip)."""
    wanted = os.environ.get("DOCKYARD_TEST_KEYRING")
    if not wanted and not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        pytest.skip("no D-Bus session and DOCKYARD_TEST_KEYRING unset: run scripts/test, or "
                    "pytest inside dbus-run-session with gnome-keyring unlocked")
    try:
        probe = CredentialStore(f"dockyard-test-probe-{uuid.uuid4().hex}")
        label = probe.backend_label
        probe.entries()  # reaches the collection: a locked one fails here, once
    except CredentialError as err:
        pytest.fail(f"a D-Bus session or DOCKYARD_TEST_KEYRING is set, but {err} (a login "
                    "keyring left on disk with another password stays locked: start "
                    "gnome-keyring-daemon with a fresh XDG_DATA_HOME)")
    if wanted == "secretservice" and "keyring.backends.SecretService.Keyring" not in label:
        pytest.fail(f"DOCKYARD_TEST_KEYRING=secretservice but the keyring backend is {label}")
    return label


@pytest.fixture
def service() -> str:
    return f"dockyard-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def store(secret_service: str, service: str) -> Iterator[CredentialStore]:
    """A store on the real keyring under a unique service; emptied afterwards."""
    made = CredentialStore(service)
    yield made
    for registry, _user in made.entries():
        made.delete(registry)
