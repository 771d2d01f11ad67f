"""The throw-away docker config dir: contents, permissions, removal, and real clients using it."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from core.credentials import (
    Credential,
    CredentialStore,
    docker_env,
    login,
    temporary_docker_config,
)
from core.errors import CredentialError
from core.registry import RegistryClient
from tests.credentials.support import SECRET, USER, OciImage, skopeo_push
from tests.support.registry import RunningRegistry

DOCKER = shutil.which("docker")
PLUGIN = """#!/bin/sh
if [ "$1" = docker-cli-plugin-metadata ]; then
  echo '{"SchemaVersion":"0.1.0","Vendor":"dockyard tests","Version":"0.0.1",'
  echo '"ShortDescription":"dockyard test plugin"}'
  exit 0
fi
echo "plugin ran: $2"
"""


def _auth(user: str, secret: str) -> str:
    return base64.b64encode(f"{user}:{secret}".encode()).decode()


def test_config_holds_only_our_auths_with_private_permissions(home: Path) -> None:
    user_dir = home / ".docker"
    user_dir.mkdir()
    (user_dir / "config.json").write_text(json.dumps({
        "auths": {"ghcr.io": {"auth": _auth("theirs", "their-secret")}},
        "credsStore": "desktop", "credHelpers": {"gcr.io": "gcloud"},
        "currentContext": "remote", "proxies": {"default": {"httpProxy": "http://proxy:3128"}},
    }))
    creds = [Credential("index.docker.io", "bob", "tok-hub"), Credential("ghcr.io", "al", "tok-g")]
    with temporary_docker_config(creds) as directory:
        assert directory.parent == Path(os.environ["XDG_RUNTIME_DIR"])
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        config_file = directory / "config.json"
        assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
        config = json.loads(config_file.read_text())
        assert config["auths"] == {
            "https://index.docker.io/v1/": {"auth": _auth("bob", "tok-hub")},
            "ghcr.io": {"auth": _auth("al", "tok-g")},
        }
        assert "credsStore" not in config and "credHelpers" not in config
        assert config["currentContext"] == "remote"
        assert config["proxies"] == {"default": {"httpProxy": "http://proxy:3128"}}
        assert config["cliPluginsExtraDirs"][0] == str(user_dir / "cli-plugins")
        env = docker_env(directory)
        assert env == {
            "DOCKER_CONFIG": str(directory),
            "BUILDX_CONFIG": str(user_dir / "buildx"),
            "REGISTRY_AUTH_FILE": str(config_file),
        }
    assert not directory.exists()
    assert "tok-" not in (user_dir / "config.json").read_text()


def test_existing_buildx_config_wins(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUILDX_CONFIG", str(home / "elsewhere"))
    assert docker_env(home / "x")["BUILDX_CONFIG"] == str(home / "elsewhere")


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_removed_after_an_exception_or_interrupt(home: Path, error: type[BaseException]) -> None:
    seen: list[Path] = []
    with pytest.raises(error), temporary_docker_config([Credential("ghcr.io", "al", "t")]) as d:
        seen.append(d)
        raise error("boom")
    assert seen and not seen[0].exists()
    assert list(Path(os.environ["XDG_RUNTIME_DIR"]).iterdir()) == []


def test_two_logins_for_one_registry_are_refused(home: Path) -> None:
    creds = [Credential("docker.io", "a", "t1"), Credential("index.docker.io", "b", "t2")]
    with pytest.raises(CredentialError, match="two logins"), temporary_docker_config(creds):
        pass
    assert list(Path(os.environ["XDG_RUNTIME_DIR"]).iterdir()) == []


def test_dirs_of_killed_runs_are_swept(home: Path) -> None:
    runtime = Path(os.environ["XDG_RUNTIME_DIR"])
    orphan = runtime / "dockyard-auth-999999999-abc"  # above pid_max: that process is gone
    orphan.mkdir()
    (orphan / "config.json").write_text("{}")
    mine = runtime / f"dockyard-auth-{os.getpid()}-keep"
    mine.mkdir()
    with temporary_docker_config([]):
        assert not orphan.exists()
        assert mine.exists()


@pytest.mark.skipif(DOCKER is None, reason="docker CLI not installed")
def test_docker_cli_keeps_plugins_and_context(home: Path) -> None:
    """The real docker CLI, pointed at the temp dir, still finds the user's plugin and context."""
    assert DOCKER is not None
    user_env = {**os.environ, "DOCKER_CONFIG": str(home / ".docker")}
    subprocess.run([DOCKER, "context", "create", "dy-remote", "--docker",
                    "host=unix:///nonexistent/dy.sock"], env=user_env, check=True,
                   capture_output=True)
    subprocess.run([DOCKER, "context", "use", "dy-remote"], env=user_env, check=True,
                   capture_output=True)
    plugin = home / ".docker" / "cli-plugins" / "docker-dyhello"
    plugin.parent.mkdir()
    plugin.write_text(PLUGIN)
    plugin.chmod(0o755)
    before = (home / ".docker" / "config.json").read_text()

    with temporary_docker_config([Credential("ghcr.io", "al", "tok-ctx")]) as directory:
        env = {**os.environ, **docker_env(directory)}
        ran = subprocess.run([DOCKER, "dyhello", "x"], env=env, capture_output=True, text=True)
        assert ran.returncode == 0, ran.stderr
        assert "plugin ran: x" in ran.stdout
        host = subprocess.run(
            [DOCKER, "context", "inspect", "--format", "{{.Endpoints.docker.Host}}"],
            env=env, capture_output=True, text=True,
        )
        assert host.returncode == 0, host.stderr
        assert host.stdout.strip() == "unix:///nonexistent/dy.sock"
    assert (home / ".docker" / "config.json").read_text() == before
    assert (home / ".docker" / "contexts").is_dir()  # the symlink went, not the user's data


@pytest.mark.e2e
@pytest.mark.parametrize("which", ["auth_registry", "tls_registry"])
def test_push_with_stored_credentials(
    which: str, request: pytest.FixtureRequest, home: Path, oci_image: OciImage,
    store: CredentialStore,
) -> None:
    """Login, then push a FROM-scratch image with skopeo reading only the temp config."""
    registry: RunningRegistry = request.getfixturevalue(which)
    login(store, registry.host, USER, SECRET, ca_file=registry.ca_file)
    env = {k: v for k, v in os.environ.items() if k != "REGISTRY_AUTH_FILE"}

    refused = skopeo_push(oci_image, registry, "creds/app:anon", env=env)
    assert refused.returncode != 0  # without the login the registry refuses the push
    assert "unauthorized" in refused.stderr

    cred = store.get(registry.host)
    assert cred is not None
    with temporary_docker_config([cred]) as directory:
        pushed = skopeo_push(oci_image, registry, "creds/app:1.0.0",
                             env={**env, **docker_env(directory)})
        assert pushed.returncode == 0, pushed.stderr
    assert not directory.exists()
    assert list(Path(os.environ["XDG_RUNTIME_DIR"]).iterdir()) == []

    with RegistryClient(registry.host, username=USER, secret=SECRET,
                        ca_file=registry.ca_file) as client:
        assert client.head_manifest("creds/app", "1.0.0") is not None
