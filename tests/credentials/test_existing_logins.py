"""Existing logins (issue 14, item 4): podman's auth file after docker's config, identity tokens
used live and never copied, and ``dockyard login --import`` copying a static login into the real
keyring after the real htpasswd registry accepted it, while a credential helper's login stays
live."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

import pytest

from core.clients import logged_in_clients
from core.credentials import CredentialStore, logins_for, user_podman_auth_files
from core.reference import parse_image_name
from tests.credentials.support import SECRET, USER, dockyard, watch_processes
from tests.credentials.test_docker_logins import auths_for, helper, write_config
from tests.support.podman import podman_args, podman_storage
from tests.support.registry import RunningRegistry

__all__ = ["helper"]  # the fixture, shared with test_docker_logins


def podman_file(home: Path) -> Path:
    """Where ``podman login`` keeps logins for this test (``$XDG_RUNTIME_DIR`` of ``home``)."""
    return Path(os.environ["XDG_RUNTIME_DIR"]) / "containers" / "auth.json"


def write_podman(home: Path, config: dict[str, object]) -> Path:
    path = podman_file(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config))
    return path


def env_for(store: CredentialStore) -> dict[str, str]:
    """A ``dockyard`` child's environment: this test's HOME, PATH and keyring service."""
    return {**os.environ, "DOCKYARD_KEYRING_SERVICE": store.service}


def test_podman_login_is_found_after_a_real_podman_login(
    store: CredentialStore, home: Path, auth_registry: RunningRegistry,
) -> None:
    """The auth file real ``podman login`` writes, read where podman keeps it, works."""
    with podman_storage("dy-plogin-") as root:
        done = subprocess.run(
            [*podman_args(root), "login", "--tls-verify=false", "--username", USER,
             "--password-stdin", auth_registry.host],
            input=SECRET + "\n", capture_output=True, text=True, timeout=120, check=False,
        )
    assert done.returncode == 0, done.stderr
    assert podman_file(home).is_file()
    (login,) = logins_for([auth_registry.host], store)
    assert login.describe() == (f"{auth_registry.host}: {USER} from podman auth file "
                                f"({podman_file(home)})")
    assert not login.live
    with logged_in_clients(logins=[login])(parse_image_name(f"{auth_registry.host}/a/b")) as c:
        c.check_auth()


def test_docker_wins_over_podman_and_registry_auth_file_wins_over_the_runtime_dir(
    store: CredentialStore, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_config(home, auths_for("ghcr.io", "docker-user"))
    podman_auth = {"auth": base64.b64encode(f"podman-user:{SECRET}".encode()).decode()}
    write_podman(home, {"auths": {"ghcr.io": podman_auth, "quay.io": podman_auth}})
    ghcr, quay, other = logins_for(["ghcr.io", "quay.io", "gitlab.com"], store)
    assert ghcr.credential is not None and ghcr.credential.username == "docker-user"
    assert quay.credential is not None and quay.credential.username == "podman-user"
    assert other.credential is None and other.source == "no stored login"
    elsewhere = tmp_path / "ci-auth.json"
    elsewhere.write_text(json.dumps(auths_for("quay.io", "ci-user")))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(elsewhere))
    (quay,) = logins_for(["quay.io"], store)
    assert quay.credential is not None and quay.credential.username == "ci-user"


def test_podmans_config_home_file_is_read_after_its_runtime_file_as_podman_reads_it(
    store: CredentialStore, home: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """containers-auth.json(5): after the runtime dir's file, ``$XDG_CONFIG_HOME/containers/
    auth.json``; real podman finds the login there too (``podman login --get-login``)."""
    config_home = home / ".config" / "containers" / "auth.json"
    config_home.parent.mkdir(parents=True)
    config_home.write_text(json.dumps(auths_for("quay.io", "config-user")))
    write_podman(home, auths_for("ghcr.io", "runtime-user"))
    quay, ghcr = logins_for(["quay.io", "ghcr.io"], store)
    assert quay.credential is not None and quay.credential.username == "config-user"
    assert quay.source == "podman auth file (~/.config/containers/auth.json)"
    assert ghcr.credential is not None and ghcr.credential.username == "runtime-user"
    with podman_storage("dy-pconf-") as root:
        done = subprocess.run(
            [*podman_args(root), "login", "--get-login", "quay.io"],
            capture_output=True, text=True, timeout=120, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "config-user"), done.stderr
    elsewhere = home / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(elsewhere))
    (quay,) = logins_for(["quay.io"], store)
    assert quay.credential is None  # the file moved with the variable
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert user_podman_auth_files() == [Path(f"/run/containers/{os.getuid()}/auth.json"),
                                        elsewhere / "containers" / "auth.json"]


def test_an_identity_token_is_used_live_and_import_leaves_it_in_its_file(
    store: CredentialStore, home: Path, auth_registry: RunningRegistry,
) -> None:
    """Refresh tokens are short-lived and renewed by the tool that wrote them (``az acr
    login``), so a keyring copy would go stale: ``--import`` says so and copies nothing."""
    host = auth_registry.host
    token = "refresh-" + SECRET
    write_config(home, {"auths": {host: {"identitytoken": token}}})
    (login,) = logins_for([host], store)
    assert login.credential is not None and login.credential.identity_token and login.live
    assert login.credential.username == "<token>"  # the file names no user
    assert login.describe() == f"{host}: identity token from docker config (~/.docker/config.json)"
    done = dockyard("login", "--import", host, env=env_for(store))
    assert done.returncode == 0, done.stderr
    assert done.stdout == (f"Not copied: the identity token for {host} in docker config "
                           "(~/.docker/config.json) stays there; dockyard reads it afresh on each "
                           "run (the tool that wrote it renews it)\n")
    listed = dockyard("login", "--import", env=env_for(store))
    assert listed.stdout.splitlines()[0] == (f"{host}  docker config ~/.docker/config.json: "
                                             "identity token, used live")
    assert token not in done.stdout + done.stderr + listed.stdout + listed.stderr
    assert store.entries() == []
    # an unusable one (two lines) is said, and a usable podman login is found behind it
    write_config(home, {"auths": {host: {"identitytoken": "refresh\n" + SECRET}}})
    (login,) = logins_for([host], store)
    assert login.credential is None
    assert login.source == (f"docker config (~/.docker/config.json) holds an unusable identity "
                            f"token for {host}: the token or password is empty or holds control "
                            "characters (e.g. a newline)")
    write_podman(home, auths_for(host))
    (login,) = logins_for([host], store)
    assert login.credential is not None and login.source.startswith("podman auth file")


def test_import_copies_a_static_login_after_the_registry_check_and_leaks_it_nowhere(
    store: CredentialStore, home: Path, auth_registry: RunningRegistry,
) -> None:
    host = auth_registry.host
    podman = write_podman(home, auths_for(host))
    before = podman.read_bytes()
    needles = [SECRET.encode(), base64.b64encode(f"{USER}:{SECRET}".encode())]
    with watch_processes() as seen:
        done = dockyard("login", "--import", host, env=env_for(store))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Imported {USER} at {host} from podman auth file "
                                  f"({podman}), checked against the registry and saved in ")
    cred = store.get(host)
    assert cred is not None and (cred.username, cred.secret) == (USER, SECRET)
    assert podman.read_bytes() == before
    cmdlines = [data for datas in seen.values() for data in datas]
    assert any(b"tui.cli\0login\0--import" in c for c in cmdlines)  # the watcher saw the run
    outputs = [done.stdout.encode(), done.stderr.encode()]
    files = [p.read_bytes() for p in home.rglob("*") if p.is_file()]
    hits = [where for where, blobs in (("output", outputs), ("process", cmdlines),
                                       ("HOME", files)) for blob in blobs for n in needles
            if n in blob]
    assert hits == []
    assert not (home / ".docker").exists()  # nothing written to docker's config


def test_import_of_a_login_the_registry_refuses_stores_nothing(
    store: CredentialStore, home: Path, auth_registry: RunningRegistry,
) -> None:
    write_config(home, auths_for(auth_registry.host, USER, "stale-" + SECRET))
    done = dockyard("login", "--import", auth_registry.host, env=env_for(store))
    assert done.returncode == 2
    assert done.stderr.startswith("error: credentials: ") and len(done.stderr.splitlines()) == 1
    assert SECRET not in done.stdout + done.stderr
    assert store.entries() == []
    missing = dockyard("login", "--import", "ghcr.io", env=env_for(store))
    assert missing.returncode == 2
    assert missing.stderr == ("error: credentials: neither docker nor podman has a login for "
                              "ghcr.io; run `dockyard login ghcr.io`, or `docker login ghcr.io` "
                              "first\n")


def test_a_helper_login_is_used_live_and_never_copied(
    store: CredentialStore, home: Path, auth_registry: RunningRegistry, helper: Path,
    tmp_path: Path,
) -> None:
    host = auth_registry.host
    helper.write_text(json.dumps({host: [USER, SECRET]}))
    write_config(home, {"credHelpers": {host: "dytest"}})
    done = dockyard("login", "--import", host, env=env_for(store))
    assert done.returncode == 0, done.stderr
    assert done.stdout == (f"Not copied: {USER} at {host} comes from docker credential helper "
                           "docker-credential-dytest (~/.docker/config.json); dockyard asks it "
                           "afresh on each run (its tokens may expire)\n")
    assert (tmp_path / "helper-asked.txt").read_text().split() == [host]
    assert store.entries() == []
    (login,) = logins_for([host], store)
    assert login.live and login.credential is not None
    helper.write_text(json.dumps({host: ["<token>", "refresh-" + SECRET]}))
    (login,) = logins_for([host], store)
    assert login.live and login.credential is not None and login.credential.identity_token
    assert login.describe() == (f"{host}: identity token from docker credential helper "
                                "docker-credential-dytest (~/.docker/config.json)")


def test_import_without_a_registry_lists_what_it_could_import(
    store: CredentialStore, home: Path, helper: Path,
) -> None:
    helper.write_text(json.dumps({"https://index.docker.io/v1/": ["hub-user", SECRET]}))
    write_config(home, {**auths_for("ghcr.io"), "credsStore": "dytest"})
    podman = write_podman(home, auths_for("quay.io/some-org"))
    done = dockyard("login", "--import", env=env_for(store))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "docker.io  docker config ~/.docker/config.json: credential helper, used live",
        "ghcr.io    docker config ~/.docker/config.json: static, can be imported",
        f"quay.io    podman auth file {podman}: static, can be imported",
        "Import one with: dockyard login --import REGISTRY",
    ]
    assert store.entries() == []
    refused = dockyard("login", "--import", "ghcr.io", "-u", USER, env=env_for(store))
    assert refused.returncode == 2 and refused.stderr.startswith("error: login: --import takes")
