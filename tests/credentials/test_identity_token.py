"""Identity tokens (OAuth2 refresh tokens, docker's ``identitytoken``) from the user's login
files, against the real registry with token auth: dockyard's own client gets its bearer tokens
by the refresh-token grant, a real podman push does the same exchange through the run's engine
config, and the token never shows in output, argv, the environment of children or any file but
that engine config (which is gone after the run)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.clients import logged_in_clients
from core.credentials import CredentialStore, logins_for, temporary_docker_config
from core.errors import CredentialError
from core.reference import parse_image_name
from core.registry import sha256_digest
from core.release_logins import engine_credentials
from tests.credentials.support import SECRET, USER, OciImage, dockyard, watch_processes
from tests.credentials.test_docker_logins import write_config
from tests.support.podman import podman_storage
from tests.support.registry import RunningRegistry
from tests.support.tokenauth import TokenIssuer, token_registry

AZURE_USER = "00000000-0000-0000-0000-000000000000"  # what `az acr login` names in ``auth``
GRANTS = {USER: {"team/app": frozenset({"pull", "push"})}}
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[RunningRegistry, TokenIssuer]]:
    with token_registry(tmp_path_factory.mktemp("idtoken"), {USER: SECRET}, GRANTS) as pair:
        yield pair


def identity_config(home: Path, host: str, token: str, user: str = AZURE_USER) -> Path:
    """docker's config.json as ``az acr login`` leaves it: a user with no password, and the
    refresh token."""
    auth = base64.b64encode(f"{user}:".encode()).decode()
    return write_config(home, {"auths": {host: {"auth": auth, "identitytoken": token}}})


def env_for(store: CredentialStore) -> dict[str, str]:
    return {**os.environ, "DOCKYARD_KEYRING_SERVICE": store.service}


def test_dockyards_client_pushes_and_reads_with_an_identity_token_by_the_refresh_grant(
    store: CredentialStore, home: Path, tmp_path: Path,
    secured: tuple[RunningRegistry, TokenIssuer],
) -> None:
    registry, issuer = secured
    token = issuer.issue_refresh_token(USER)
    config = identity_config(home, registry.host, token)
    before = config.read_bytes()
    (login,) = logins_for([registry.host], store)
    assert login.credential is not None and login.credential.identity_token and login.live
    assert login.describe() == (f"{registry.host}: identity token from docker config "
                                "(~/.docker/config.json)")
    assert token not in repr(login)

    layer = tmp_path / "layer"
    layer.write_bytes(b"identity token layer " + os.urandom(8))
    conf = tmp_path / "config"
    conf.write_text(json.dumps({"architecture": "amd64", "os": "linux"}))
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha256_digest(conf.read_bytes()), "size": conf.stat().st_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": sha256_digest(layer.read_bytes()), "size": layer.stat().st_size}],
    }).encode()
    issuer.clear()
    issuer.rotate = True  # each grant answers a new refresh token, as Azure's service does
    try:
        make = logged_in_clients(logins=[login])
        with make(parse_image_name(f"{registry.host}/team/app")) as client:
            assert client.head_manifest("team/app", "1.0.0") is None  # a pull grant
            issuer.revoke(token)  # from here on only the rotated token (in memory) is good
            for blob in (layer, conf):
                client.upload_blob("team/app", sha256_digest(blob.read_bytes()), blob,
                                   blob.stat().st_size)
            digest = client.put_manifest("team/app", "1.0.0", manifest, OCI_MANIFEST)
            head = client.head_manifest("team/app", "1.0.0")
        assert head is not None and head.digest == digest
    finally:
        issuer.rotate = False
    asked = issuer.asked_by("dockyard")
    assert [(a.method, a.grant_type, a.client_id, a.user, a.status, a.password_sent)
            for a in asked] == [("POST", "refresh_token", "dockyard", USER, 200, False)] * 2
    assert [a.scopes for a in asked] == [("repository:team/app:pull",),
                                         ("repository:team/app:pull,push",)]
    assert config.read_bytes() == before  # the rotated token was written nowhere

    # the next run reads the file again: its token is revoked now, which is one line
    done = dockyard("inspect", f"{registry.host}/team/app:1.0.0", "--json", env=env_for(store))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(f"error: credentials: {registry.host}/team/app: the token "
                                  "service refused the identity token (HTTP 400")
    assert len(done.stderr.splitlines()) == 1 and token not in done.stdout + done.stderr


def test_a_stored_identity_token_is_looked_up_at_the_first_challenge(
    store: CredentialStore, home: Path, secured: tuple[RunningRegistry, TokenIssuer],
) -> None:
    """Without the run's logins (inspect, history, the browser) the client asks for the stored
    login when the registry first answers 401; an identity token found then is used by the
    refresh grant, never sent as a password."""
    registry, issuer = secured
    identity_config(home, registry.host, issuer.issue_refresh_token(USER))
    issuer.clear()
    with logged_in_clients()(parse_image_name(f"{registry.host}/team/app")) as client:
        assert client.head_manifest("team/app", "absent") is None
    assert [(a.method, a.grant_type, a.password_sent) for a in issuer.asked_by("dockyard")] == [
        ("POST", "refresh_token", False)]


def test_a_wrong_identity_token_is_one_line_and_leaks_nowhere(
    store: CredentialStore, home: Path, tmp_path: Path,
    secured: tuple[RunningRegistry, TokenIssuer],
) -> None:
    registry, issuer = secured
    wrong = "dy-refresh-wrong-" + SECRET
    identity_config(home, registry.host, wrong)
    issuer.clear()
    with watch_processes() as seen:
        done = dockyard("inspect", f"{registry.host}/team/app:1.0.0", "--json",
                        env=env_for(store))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("error: credentials: ") and len(done.stderr.splitlines()) == 1
    assert "refused the identity token" in done.stderr
    assert [(a.method, a.status, a.password_sent) for a in issuer.asked] == [
        ("POST", 400, False)]  # refused once, no retry, no fallback to a password GET
    blobs = [done.stdout.encode(), done.stderr.encode(),
             *(data for datas in seen.values() for data in datas)]
    assert any(b"tui.cli\0inspect" in blob for blob in blobs)  # the watcher saw the run
    assert [blob for blob in blobs if wrong.encode() in blob] == []


def test_a_basic_auth_registry_refuses_an_identity_token_in_one_line(
    store: CredentialStore, home: Path, auth_registry: RunningRegistry,
) -> None:
    """There is no password to answer a Basic challenge with: say so, send nothing."""
    token = "dy-refresh-" + SECRET
    identity_config(home, auth_registry.host, token)
    (login,) = logins_for([auth_registry.host], store)
    make = logged_in_clients(logins=[login])
    with make(parse_image_name(f"{auth_registry.host}/team/app")) as client, \
            pytest.raises(CredentialError) as caught:
        client.check_auth()
    assert str(caught.value) == (
        f"credentials: {auth_registry.host} asks for Basic auth, which an identitytoken login "
        f"cannot answer (it has no password); log in with a username and token: dockyard login "
        f"{auth_registry.host}")
    done = dockyard("inspect", f"{auth_registry.host}/team/app:1.0.0", env=env_for(store))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith(f"error: credentials: {auth_registry.host}/team/app asks for "
                                  "Basic auth, which an identitytoken login cannot answer")
    assert len(done.stderr.splitlines()) == 1 and token not in done.stderr


def test_the_engine_config_carries_the_identity_token_and_a_real_podman_push_exchanges_it(
    store: CredentialStore, home: Path, oci_image: OciImage,
    secured: tuple[RunningRegistry, TokenIssuer],
) -> None:
    """podman 4.3 (containers/image) does the OAuth POST itself when the authfile's entry has
    ``identitytoken`` and an ``auth`` with a colon (an entry without ``auth`` it skips)."""
    registry, issuer = secured
    token = issuer.issue_refresh_token(USER)
    identity_config(home, registry.host, token)
    logins = logins_for([registry.host], store)
    with podman_storage("dy-idtok-") as root, watch_processes() as seen:
        podman = ["podman", "--root", str(root / "r"), "--runroot", str(root / "rr"),
                  "--storage-driver", "vfs"]
        pulled = subprocess.run([*podman, "pull", "-q", oci_image.ref], capture_output=True,
                                text=True, timeout=120, check=False)
        assert pulled.returncode == 0, pulled.stderr
        with engine_credentials(logins) as directory:
            assert directory is not None
            written = json.loads((directory / "config.json").read_text())
            assert written["auths"] == {registry.host: {
                "auth": base64.b64encode(f"{AZURE_USER}:".encode()).decode(),
                "identitytoken": token}}
            assert (directory / "config.json").stat().st_mode & 0o077 == 0
            issuer.clear()
            pushed = subprocess.run(
                [*podman, "push", "--authfile", str(directory / "config.json"),
                 "--tls-verify=false", pulled.stdout.strip(),
                 f"docker://{registry.host}/team/app:podman"],
                capture_output=True, text=True, timeout=120, check=False)
        assert not directory.exists()
    assert pushed.returncode == 0, pushed.stderr
    asked = [a for a in issuer.asked if not a.agent.startswith("dockyard")]
    assert asked and {(a.method, a.grant_type, a.user, a.status, a.password_sent)
                      for a in asked} == {("POST", "refresh_token", USER, 200, False)}
    make = logged_in_clients(logins=logins)
    with make(parse_image_name(f"{registry.host}/team/app")) as client:
        assert client.head_manifest("team/app", "podman") is not None
    processes = [data for datas in seen.values() for data in datas]
    assert any(b"\0push\0--authfile\0" in p for p in processes)
    assert [p for p in processes if token.encode() in p] == []


def test_a_helpers_identity_token_goes_to_the_engine_config_without_its_placeholder_user(
    home: Path,
) -> None:
    """A helper answers ``Username: "<token>"``; the engine's entry names no user then."""
    from core.credentials import Credential

    cred = Credential("ghcr.io", "<token>", "dy-refresh-" + SECRET, identity_token=True)
    with temporary_docker_config([cred], user_config_dir=home / ".docker") as directory:
        written = json.loads((directory / "config.json").read_text())
    assert written["auths"] == {"ghcr.io": {"auth": base64.b64encode(b":").decode(),
                                            "identitytoken": cred.secret}}
    assert not directory.exists()
