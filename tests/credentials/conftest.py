"""Fixtures for the credential tests: the real Secret Service, real registries, a temp HOME.

Keyring tests need a Secret Service (scripts/test runs pytest inside ``dbus-run-session`` with an
unlocked gnome-keyring and sets DOCKYARD_TEST_KEYRING=secretservice). They skip only when that
variable is unset and there is no D-Bus session at all; with the variable set, any other backend
is a failure. Every test uses its own keyring service name and removes what it stored.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.credentials.support import SECRET, USER, OciImage, make_oci_layout
from tests.support.registry import RunningRegistry, run_registry


@pytest.fixture(scope="session")
def auth_registry() -> Iterator[RunningRegistry]:
    """A plain-http loopback registry with htpasswd auth (USER / SECRET)."""
    with run_registry(username=USER, password=SECRET) as running:
        yield running


@pytest.fixture(scope="session")
def tls_registry() -> Iterator[RunningRegistry]:
    """An https registry with htpasswd auth and a certificate from a throw-away CA."""
    with run_registry(username=USER, password=SECRET, tls=True) as running:
        yield running


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throw-away HOME (and runtime dir) so the real ~/.docker is never touched."""
    home = tmp_path / "home"
    home.mkdir()
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    for name in ("DOCKER_CONFIG", "BUILDX_CONFIG", "REGISTRY_AUTH_FILE", "DOCKER_HOST",
                 "DOCKER_CONTEXT", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def oci_image(tmp_path: Path) -> OciImage:
    """A tiny FROM-scratch image (one file) as an OCI layout on disk."""
    return make_oci_layout(tmp_path / "oci", f"dockyard credentials test {uuid.uuid4()}\n")


@pytest.fixture
def cli_env(home: Path, service: str) -> dict[str, str]:
    """Environment for a ``dockyard`` child: temp HOME, this test's keyring service."""
    return {**os.environ, "DOCKYARD_KEYRING_SERVICE": service}
