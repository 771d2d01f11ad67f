"""docker's own logins (``docker login``: config.json ``auths``, ``credsStore``, ``credHelpers``)
are used, read-only, for registries the keyring has no login for — by the engines and by
dockyard's registry client — and the release names which login it used."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
from pathlib import Path

import pytest

from core.clients import logged_in_clients
from core.credentials import CredentialStore, logins_for
from core.errors import RegistryError
from tests.credentials.support import SECRET, USER, dockyard
from tests.support.elf import copy_mode_project
from tests.support.podman import podman_storage
from tests.support.registry import RunningRegistry

NO_KEYRING = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}  # a CI runner
# In this process keyring caches its first choice, so the explicit opt-in stands in for it.
NO_KEYRING_HERE = {"DOCKYARD_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}

# The docker-credential-helpers protocol as the real helpers speak it: `get` reads the server
# URL on stdin and prints {"ServerURL","Username","Secret"}, or fails with this message; `list`
# prints {ServerURL: Username}.
HELPER = r'''
import json, os, sys
logins = json.load(open(os.environ["DY_HELPER_STORE"]))
if sys.argv[1:] == ["list"]:
    print(json.dumps({server: login[0] for server, login in logins.items()}))
    sys.exit(0)
if sys.argv[1:] != ["get"]:
    sys.exit(2)
server = sys.stdin.read().strip()
with open(os.environ["DY_HELPER_ASKED"], "a") as log:
    log.write(server + "\n")
if server not in logins:
    print("credentials not found in native keychain")
    sys.exit(1)
print(json.dumps({"ServerURL": server, "Username": logins[server][0], "Secret": logins[server][1]}))
'''


def write_config(home: Path, config: dict[str, object]) -> Path:
    path = home / ".docker" / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config))
    return path


def auths_for(host: str, user: str = USER, secret: str = SECRET) -> dict[str, object]:
    token = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return {"auths": {host: {"auth": token}}}


@pytest.fixture
def helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``docker-credential-dytest`` on PATH, answering from a JSON file the test writes."""
    bindir = tmp_path / "helper-bin"
    bindir.mkdir()
    script = bindir / "docker-credential-dytest"
    script.write_text(f"#!{sys.executable}\n{HELPER}")
    script.chmod(0o755)
    store = tmp_path / "helper-store.json"
    store.write_text("{}")
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    monkeypatch.setenv("DY_HELPER_STORE", str(store))
    monkeypatch.setenv("DY_HELPER_ASKED", str(tmp_path / "helper-asked.txt"))
    return store


def test_no_keyring_uses_dockers_auths_and_the_registry_accepts_it(
    home: Path, auth_registry: RunningRegistry, monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = write_config(home, auths_for(auth_registry.host))
    before = hashlib.sha256(config.read_bytes()).hexdigest()
    for name, value in NO_KEYRING_HERE.items():
        monkeypatch.setenv(name, value)
    (login,) = logins_for([auth_registry.host])
    assert login.describe() == f"{auth_registry.host}: {USER} from docker config " \
                               "(~/.docker/config.json)"
    from core.reference import parse_image_name

    name = parse_image_name(f"{auth_registry.host}/x/y")
    for factory in (logged_in_clients(logins=[login]), logged_in_clients()):  # given; looked up
        with factory(name) as client:
            client.check_auth()  # the real registry's htpasswd accepts docker's login
    assert hashlib.sha256(config.read_bytes()).hexdigest() == before  # read-only


def test_the_keyring_login_wins_over_dockers(
    store: CredentialStore, home: Path, auth_registry: RunningRegistry,
) -> None:
    from core.credentials import Credential

    write_config(home, auths_for(auth_registry.host, "docker-user", "docker-secret"))
    store.save(Credential(auth_registry.host, USER, SECRET))
    (login,) = logins_for([auth_registry.host], store)
    assert login.credential is not None and login.credential.username == USER
    assert login.source.startswith("the keyring")


@pytest.mark.parametrize("kind", ["credHelpers", "credsStore"])
def test_a_credential_helper_is_asked_through_the_helper_protocol(
    store: CredentialStore, home: Path, auth_registry: RunningRegistry, helper: Path,
    tmp_path: Path, kind: str,
) -> None:
    helper.write_text(json.dumps({auth_registry.host: [USER, SECRET]}))
    setting: object = {auth_registry.host: "dytest"} if kind == "credHelpers" else "dytest"
    write_config(home, {kind: setting, "auths": {auth_registry.host: {}}})
    (login, other) = logins_for([auth_registry.host, "ghcr.io"], store)
    assert login.describe() == (f"{auth_registry.host}: {USER} from docker credential helper "
                                "docker-credential-dytest (~/.docker/config.json)")
    asked = (tmp_path / "helper-asked.txt").read_text().split()
    assert asked[0] == auth_registry.host
    # a helper that has no login for a registry leaves it anonymous, and says why
    assert other.credential is None and other.source == "no stored login"
    assert asked[1:] == ["ghcr.io"] if kind == "credsStore" else asked[1:] == []


def test_a_broken_docker_config_is_no_login(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(home, {"auths": {"ghcr.io": {"auth": "not base64!"}}, "credsStore": "missing"})
    (home / ".docker" / "config.json").write_text("{not json")
    for name, value in NO_KEYRING_HERE.items():
        monkeypatch.setenv(name, value)
    (login,) = logins_for(["ghcr.io"])
    assert login.credential is None and login.source.startswith("no usable keyring")
    with pytest.raises(RegistryError):
        logins_for(["not a host"])


@pytest.mark.e2e
@pytest.mark.parametrize("tool", ["docker", "podman"])
def test_release_after_docker_login_with_no_keyring_succeeds_and_names_the_login(
    cli_env: dict[str, str], home: Path, tmp_path: Path, auth_registry: RunningRegistry,
    tool: str,
) -> None:
    """As on a CI runner: no keyring, `docker login` (auths in ~/.docker/config.json) or
    `podman login` (auths in $XDG_RUNTIME_DIR/containers/auth.json) done."""
    if tool == "docker":
        config = write_config(home, auths_for(auth_registry.host))
        shown = "docker config (~/.docker/config.json)"
    else:
        config = Path(os.environ["XDG_RUNTIME_DIR"]) / "containers" / "auth.json"
        config.parent.mkdir()
        config.write_text(json.dumps(auths_for(auth_registry.host)))
        shown = f"podman auth file ({config})"
    before = config.read_bytes()
    project = copy_mode_project(tmp_path / "project")
    with podman_storage("dy-dlogin-") as root:
        env = {**cli_env, **NO_KEYRING, "DOCKYARD_PODMAN_STORAGE_DRIVER": "vfs",
               "DOCKYARD_PODMAN_ISOLATION": "chroot", "DOCKYARD_PODMAN_ROOT": str(root)}
        release = dockyard("release", "--yes", "--engine", "podman", "--repo", str(project),
                           "--image", f"{auth_registry.host}/creds/{tool}login",
                           "--platform", "linux/amd64", "--mode", "copy",
                           "--binary", "dist/{arch}/app", env=env, timeout=300)
    assert release.returncode == 0, release.stdout + release.stderr
    assert f"credentials for {auth_registry.host}: {USER} from {shown}" in release.stdout
    assert config.read_bytes() == before
    assert SECRET not in release.stdout + release.stderr
