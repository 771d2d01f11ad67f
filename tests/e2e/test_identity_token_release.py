"""A real ``dockyard release --yes`` (podman) whose only login is an identity token in docker's
config.json, as ``az acr login`` leaves it, against the real registry with token auth over https.

dockyard's own checks, upload and alias moves get their bearer tokens with the refresh-token
grant; podman, pulling the ``FROM`` image from the same registry, gets the token through the
run's private engine config and does the same exchange (podman's own push in this engine goes
to an OCI layout that dockyard uploads, so the pull is where podman meets the registry). The
leak hunt looks for the token in argv and the environment of every process, the output, the run
report and every file under the test's directories but the user's own config.json; the private
engine config is gone afterwards.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.registry import RegistryClient
from tests.credentials.support import dockyard, watch_processes
from tests.support.podman import podman_storage
from tests.support.registry import RunningRegistry
from tests.support.tokenauth import TokenIssuer, project_on_private_base, token_registry

pytestmark = pytest.mark.e2e

USER = "acr-user"
GRANTS = {USER: {"team/app": frozenset({"pull", "push"}), "team/base": frozenset({"pull"})}}
NO_KEYRING = "keyring.backends.fail.Keyring"  # no keyring: the file's login is the one used


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[RunningRegistry, TokenIssuer]]:
    with token_registry(tmp_path_factory.mktemp("idtoken-tls"), {}, GRANTS, tls=True) as pair:
        yield pair


def test_release_with_an_identity_token_from_docker_config(
    secured: tuple[RunningRegistry, TokenIssuer], tmp_path: Path,
) -> None:
    registry, issuer = secured
    assert registry.ca_file is not None
    token = issuer.issue_refresh_token(USER)
    home = tmp_path / "home"
    user_config = home / ".docker" / "config.json"
    user_config.parent.mkdir(parents=True)
    auth = base64.b64encode(b"00000000-0000-0000-0000-000000000000:").decode()
    user_config.write_text(json.dumps(
        {"auths": {registry.host: {"auth": auth, "identitytoken": token}}}))
    before = user_config.read_bytes()
    base = {k: v for k, v in os.environ.items()
            if k not in ("DOCKER_CONFIG", "REGISTRY_AUTH_FILE", "DBUS_SESSION_BUS_ADDRESS",
                         "DOCKYARD_TEST_KEYRING", "BUILDX_CONFIG", "XDG_RUNTIME_DIR",
                         "XDG_CONFIG_HOME")}
    project = project_on_private_base(registry, issuer, tmp_path / "project", "v1.0.0")
    with podman_storage("dy-idrel-") as root:
        env = {**base, "HOME": str(home), "TMPDIR": str(tmp_path),
               "PYTHON_KEYRING_BACKEND": NO_KEYRING, "DOCKYARD_PODMAN_STORAGE_DRIVER": "vfs",
               "DOCKYARD_PODMAN_ISOLATION": "chroot", "DOCKYARD_PODMAN_ROOT": str(root)}
        issuer.clear()
        with watch_processes() as seen:
            done = dockyard("release", "--yes", "--engine", "podman", "--repo", str(project),
                            "--image", f"{registry.host}/team/app", "--platform",
                            "linux/amd64,linux/arm64", "--mode", "copy", "--binary",
                            "dist/{arch}/app", "--ca-file", str(registry.ca_file), env=env,
                            timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (f"credentials for {registry.host}: identity token from docker config "
            "(~/.docker/config.json)") in done.stdout

    # both dockyard and podman exchanged the refresh token; nobody sent a password or a GET
    ours = issuer.asked_by("dockyard")
    theirs = [a for a in issuer.asked if not a.agent.startswith("dockyard")]
    assert ours and theirs
    assert {a.scopes for a in theirs} == {("repository:team/base:pull",)}
    assert {(a.method, a.grant_type, a.user, a.status, a.password_sent)
            for a in ours + theirs} == {("POST", "refresh_token", USER, 200, False)}
    assert {a.client_id for a in ours} == {"dockyard"}

    with RegistryClient(registry.host, identity_token=issuer.issue_refresh_token(USER),
                        ca_file=registry.ca_file) as client:
        version = client.head_manifest("team/app", "1.0.0")
        latest = client.head_manifest("team/app", "latest")
    assert version is not None and latest is not None and version.digest == latest.digest

    needle = token.encode()
    processes = [data for datas in seen.values() for data in datas]
    assert any(b"podman" in p and b"build" in p and str(root).encode() in p for p in processes)
    assert [p for p in processes if needle in p] == []
    assert needle not in (done.stdout + done.stderr).encode()
    files = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_symlink()
             and p != user_config]
    assert list((home / ".local/state/dockyard/runs").glob("*.json"))  # the report is searched
    assert [p for p in files if needle in p.read_bytes()] == []
    assert user_config.read_bytes() == before
    # podman read the token from the run's private engine config, which is gone now
    authfiles = {Path(words[i + 1].decode()) for words in (p.split(b"\0") for p in processes)
                 for i, word in enumerate(words[:-1]) if word == b"--authfile"}
    assert len(authfiles) == 1
    (authfile,) = authfiles
    assert authfile.parent.name.startswith("dockyard-auth-") and not authfile.parent.exists()
    assert [p for p in tmp_path.iterdir() if p.name.startswith("dockyard-auth-")] == []
