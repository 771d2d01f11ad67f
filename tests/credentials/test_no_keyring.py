"""Without a usable keyring: a clear error naming the fix, nothing written, and never a hang."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from core.credentials import CredentialStore
from core.errors import CredentialError
from tests.credentials.support import REPO, SECRET, USER, dockyard
from tests.support.registry import RunningRegistry

PLAIN = "tests.credentials.plainfile.PlaintextKeyring"


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring", "no keyring backend"),
        ("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring", "disabled"),
        ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/dockyard-bus", "no keyring backend"),
        ("PYTHON_KEYRING_BACKEND", PLAIN, "keeps secrets in a file"),
    ],
)
def test_login_without_a_usable_keyring_fails_clearly_and_writes_nothing(
    variable: str, value: str, problem: str, cli_env: dict[str, str], home: Path,
    auth_registry: RunningRegistry,
) -> None:
    env = {**cli_env, variable: value}
    done = dockyard("login", auth_registry.host, "--username", USER, "--password-stdin",
                    env=env, stdin=SECRET + "\n")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("error: credentials: ")
    assert problem in done.stderr
    assert "gnome-keyring" in done.stderr and "KWallet" in done.stderr
    assert "DOCKYARD_KEYRING_BACKEND" in done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert SECRET not in done.stderr
    assert _files(home) == []
    assert _files(Path(os.environ["XDG_RUNTIME_DIR"])) == []


def test_nothing_reached_the_real_keyring_either(
    secret_service: str, cli_env: dict[str, str], auth_registry: RunningRegistry,
) -> None:
    env = {**cli_env, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    done = dockyard("login", auth_registry.host, "-u", USER, "--password-stdin",
                    env=env, stdin=SECRET + "\n")
    assert done.returncode == 2
    store = CredentialStore(cli_env["DOCKYARD_KEYRING_SERVICE"])
    assert store.entries() == []
    assert store.get(auth_registry.host, USER) is None


def test_plaintext_backend_only_by_explicit_opt_in(
    cli_env: dict[str, str], home: Path, auth_registry: RunningRegistry,
) -> None:
    env = {**cli_env, "DOCKYARD_KEYRING_BACKEND": PLAIN}
    done = dockyard("login", auth_registry.host, "-u", USER, "--password-stdin",
                    env=env, stdin=SECRET + "\n")
    assert done.returncode == 0, done.stderr
    assert f"{PLAIN} (explicit opt-in via DOCKYARD_KEYRING_BACKEND)" in done.stdout
    listed = dockyard("credentials", "--json", env=env)
    assert "explicit opt-in" in listed.stdout
    assert auth_registry.host in listed.stdout
    assert SECRET in (home / "plain-keyring.json").read_text()  # what the opt-in means


def test_unknown_opt_in_backend_is_a_clear_error(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "DOCKYARD_KEYRING_BACKEND": "no.such.Backend"}
    done = dockyard("credentials", env=env)
    assert done.returncode == 2
    assert "does not name an importable keyring backend" in done.stderr


def test_a_silent_dbus_times_out_instead_of_hanging(tmp_path: Path) -> None:
    """A bus socket that accepts connections but never answers: the keyring call is cut off."""
    path = tmp_path / "silent-bus"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen(8)
        env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": f"unix:path={path}"}
        env.pop("PYTHON_KEYRING_BACKEND", None)
        code = (
            "from core.credentials import CredentialStore\n"
            "from core.errors import CredentialError\n"
            "try:\n"
            "    CredentialStore('dockyard-test-silent', timeout=1).entries()\n"
            "except CredentialError as err:\n"
            "    print(err)\n"
        )
        done = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO,
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("credentials: the keyring did not answer within 1 s")


def test_locked_collection_is_a_clear_error(secret_service: str) -> None:
    """A real locked gnome-keyring collection; its unlock prompt cannot show (no display)."""
    import secretstorage
    from jeepney import DBusAddress, new_method_call
    from jeepney.wrappers import DBusErrorResponse
    from keyring.backends.SecretService import Keyring
    from secretstorage.util import format_secret, open_session

    connection = secretstorage.dbus_init()
    internal = DBusAddress(
        "/org/freedesktop/secrets", bus_name="org.freedesktop.secrets",
        interface="org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface",
    )
    master = format_secret(open_session(connection), b"locked-test", "text/plain")
    label = {"org.freedesktop.Secret.Collection.Label": ("s", "dockyard-locked-test")}
    try:
        reply = connection.send_and_get_reply(
            new_method_call(internal, "CreateWithMasterPassword", "a{sv}(oayays)",
                            (label, master)))
    except DBusErrorResponse as err:
        pytest.skip(f"cannot create a collection without a prompt here (not gnome-keyring?): {err}")
    collection = secretstorage.Collection(connection, reply.body[0])
    try:
        collection.lock()
        assert collection.is_locked()
        backend = Keyring()
        backend.preferred_collection = reply.body[0]
        store = CredentialStore("dockyard-test-locked", backend=backend, timeout=20)
        with pytest.raises(CredentialError, match="keyring is locked") as caught:
            store.entries()
        assert "unlock the login keyring" in str(caught.value)
    finally:
        connection.send_and_get_reply(
            new_method_call(internal, "UnlockWithMasterPassword", "o(oayays)",
                            (reply.body[0], master)))
        collection.delete()
        connection.close()
