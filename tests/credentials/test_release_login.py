"""A real ``dockyard release --yes`` with a login from the keyring: says which login it used,
pushes with it, and leaves the secret nowhere."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.credentials import CredentialStore
from core.registry import RegistryClient
from tests.credentials.support import SECRET, USER, dockyard, watch_processes
from tests.support.elf import copy_mode_project
from tests.support.podman import podman_storage
from tests.support.registry import RunningRegistry

pytestmark = pytest.mark.e2e


@pytest.fixture
def podman_env(cli_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """podman storage of its own (vfs + chroot, as this machine needs)."""
    with podman_storage("dy-cred-") as root:
        yield {**cli_env, "DOCKYARD_PODMAN_STORAGE_DRIVER": "vfs",
               "DOCKYARD_PODMAN_ISOLATION": "chroot", "DOCKYARD_PODMAN_ROOT": str(root)}




def test_release_uses_and_names_the_stored_login_and_leaks_nothing(
    store: CredentialStore, podman_env: dict[str, str], home: Path, tmp_path: Path,
    auth_registry: RunningRegistry,
) -> None:
    project = copy_mode_project(tmp_path / "project")
    image = f"{auth_registry.host}/creds/release"
    needles = [SECRET.encode(), base64.b64encode(f"{USER}:{SECRET}".encode())]
    with watch_processes() as seen:
        login = dockyard("login", auth_registry.host, "-u", USER, "--password-stdin",
                         env=podman_env, stdin=SECRET + "\n")
        release = dockyard("release", "--yes", "--engine", "podman", "--repo", str(project),
                           "--image", image, "--platform", "linux/amd64,linux/arm64",
                           "--mode", "copy", "--binary", "dist/{arch}/app", env=podman_env,
                           timeout=300)
    assert login.returncode == 0, login.stderr
    assert release.returncode == 0, release.stdout + release.stderr
    assert f"credentials for {auth_registry.host}: {USER} from the keyring" in release.stdout

    client = RegistryClient(auth_registry.host, username=USER, secret=SECRET)
    version = client.head_manifest("creds/release", "1.0.0")
    latest = client.head_manifest("creds/release", "latest")
    assert version is not None and latest is not None and version.digest == latest.digest

    cmdlines = [data for datas in seen.values() for data in datas]
    assert any(b"podman" in c and b"manifest\0push" in c for c in cmdlines)
    outputs = [s.encode() for s in (login.stdout, login.stderr, release.stdout, release.stderr)]
    files = [p.read_bytes() for p in home.rglob("*") if p.is_file()]
    assert any(p.suffix == ".json" for p in (home / ".local/state/dockyard/runs").iterdir())
    hits = [where for where, blobs in (("output", outputs), ("process", cmdlines),
                                       ("HOME", files)) for blob in blobs for needle in needles
            if needle in blob]
    assert hits == []
    assert not (home / ".docker" / "config.json").exists()
    assert list(Path(os.environ["XDG_RUNTIME_DIR"]).iterdir()) == []


def test_release_without_a_stored_login_says_anonymous_and_is_refused_by_the_registry(
    store: CredentialStore, podman_env: dict[str, str], tmp_path: Path,
    auth_registry: RunningRegistry,
) -> None:
    project = copy_mode_project(tmp_path / "project")
    release = dockyard("release", "--yes", "--engine", "podman", "--repo", str(project),
                       "--image", f"{auth_registry.host}/creds/anon",
                       "--platform", "linux/amd64", "--mode", "copy",
                       "--binary", "dist/{arch}/app", env=podman_env, timeout=300)
    assert release.returncode == 1
    assert f"credentials for {auth_registry.host}: anonymous (no stored login)" in release.stdout
    assert "release FAILED in phase resolve" in release.stdout


def test_release_to_a_registry_with_a_private_ca_needs_and_uses_ca_file(
    store: CredentialStore, podman_env: dict[str, str], home: Path, tmp_path: Path,
    tls_registry: RunningRegistry,
) -> None:
    """https with a throw-away CA: refused (naming --ca-file) without it, published with it;
    the CA is trusted besides the system's, not instead of them."""
    assert tls_registry.ca_file is not None
    project = copy_mode_project(tmp_path / "project")
    image = f"{tls_registry.host}/creds/private-ca"
    login = dockyard("login", tls_registry.host, "-u", USER, "--password-stdin", "--ca-file",
                     str(tls_registry.ca_file), env=podman_env, stdin=SECRET + "\n")
    assert login.returncode == 0, login.stderr
    release = ("release", "--yes", "--engine", "podman", "--repo", str(project), "--image",
               image, "--platform", "linux/amd64,linux/arm64", "--mode", "copy", "--binary",
               "dist/{arch}/app")
    refused = dockyard(*release, env=podman_env, timeout=300)
    assert refused.returncode == 1
    assert "release FAILED in phase resolve" in refused.stdout
    assert "--ca-file" in refused.stdout
    bad = dockyard(*release, "--ca-file", str(tmp_path / "nope.pem"), env=podman_env)
    assert (bad.returncode, bad.stderr) == (
        2, f"error: ca-file: {tmp_path / 'nope.pem'} is not a file; give the PEM CA "
           "certificate of the registry\n")
    done = dockyard(*release, "--ca-file", str(tls_registry.ca_file), env=podman_env,
                    timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    client = RegistryClient(tls_registry.host, username=USER, secret=SECRET,
                            ca_file=tls_registry.ca_file)
    version = client.head_manifest("creds/private-ca", "1.0.0")
    latest = client.head_manifest("creds/private-ca", "latest")
    assert version is not None and latest is not None and version.digest == latest.digest
