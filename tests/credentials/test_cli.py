"""``dockyard login/logout/credentials`` as real processes, and the secret-leak hunt."""

from __future__ import annotations

import base64
import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.credentials import CredentialStore
from tests.credentials.support import REPO, SECRET, USER, OciImage, dockyard, watch_processes
from tests.support.registry import RunningRegistry
from tests.support.tmux import terminal


def test_login_list_logout_round_trip(
    store: CredentialStore, cli_env: dict[str, str], tls_registry: RunningRegistry,
) -> None:
    assert tls_registry.ca_file is not None
    done = dockyard("login", tls_registry.host, "--username", USER, "--password-stdin",
                    "--ca-file", str(tls_registry.ca_file), env=cli_env, stdin=SECRET + "\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Login succeeded: {USER} at {tls_registry.host}, saved in ")
    assert store.get(tls_registry.host) is not None

    listed = dockyard("credentials", "--json", env=cli_env)
    data = json.loads(listed.stdout)
    assert data["credentials"] == [{"registry": tls_registry.host, "username": USER}]
    assert data["service"] == store.service
    table = dockyard("credentials", env=cli_env)
    assert f"{tls_registry.host}  {USER}" in table.stdout

    out = dockyard("logout", tls_registry.host, env=cli_env)
    assert out.returncode == 0, out.stderr
    assert store.entries() == []
    again = dockyard("logout", tls_registry.host, "-u", USER, env=cli_env)
    assert again.returncode == 2
    assert again.stderr.startswith(f"error: credentials: no saved login for {USER} at ")
    for proc in (done, listed, table, out, again):
        assert SECRET not in proc.stdout + proc.stderr


def test_wrong_password_is_one_clear_line_and_stores_nothing(
    store: CredentialStore, cli_env: dict[str, str], auth_registry: RunningRegistry,
) -> None:
    wrong = SECRET + "-nope"
    done = dockyard("login", auth_registry.host, "-u", USER, "--password-stdin",
                    env=cli_env, stdin=wrong + "\n")
    assert done.returncode == 2
    assert done.stderr.startswith("error: credentials: ")
    assert len(done.stderr.splitlines()) == 1
    assert wrong not in done.stderr + done.stdout
    assert store.entries() == []


def test_secret_on_the_command_line_is_refused_without_echoing_it(
    cli_env: dict[str, str],
) -> None:
    for argv in (["--password", "argv-secret-1"], ["-pargv-secret-1"],
                 ["--password=argv-secret-1"]):
        done = dockyard("login", "ghcr.io", "-u", USER, *argv, env=cli_env)
        assert done.returncode == 2
        assert "not accepted" in done.stderr
        assert "argv-secret-1" not in done.stderr


def test_no_terminal_and_no_password_stdin(
    secret_service: str, cli_env: dict[str, str],
) -> None:
    done = dockyard("login", "ghcr.io", "-u", USER, env=cli_env)
    assert done.returncode == 2
    assert "--password-stdin" in done.stderr


def test_login_without_registry_opens_the_credentials_screen(
    cli_env: dict[str, str], tmp_path: Path,
) -> None:
    """As ``--help`` promises: the real process under a terminal shows the manager; escape
    leaves the form (it has the focus, so typing goes into it), escape again closes it."""
    argv = [sys.executable, "-m", "tui.cli", "login"]
    with terminal(argv, cwd=REPO, env=cli_env, status_dir=tmp_path) as term:
        shown = term.wait_for("Registry credentials", "keyring:")
        assert "no REGISTRY given" not in shown
        term.keys("Escape")
        term.wait_for("a Add")  # the table has the focus now: its keys are offered
        term.keys("Escape")
        assert term.exit_status(timeout=30) == 0


def test_prompt_says_tokens_are_preferred_and_does_not_echo(
    store: CredentialStore, cli_env: dict[str, str], auth_registry: RunningRegistry,
) -> None:
    """A real pseudo-terminal: the hint is shown, the typed secret is not echoed back."""
    pid, master = pty.fork()
    if pid == 0:  # child: becomes `dockyard login` on the pty
        os.chdir(REPO)
        os.execve(sys.executable, [sys.executable, "-m", "tui.cli", "login",
                                   auth_registry.host, "-u", USER], cli_env)
    seen = _read_until(master, b"Token (or password) for ")
    os.write(master, SECRET.encode() + b"\n")
    seen += _read_until(master, None)
    _, status = os.waitpid(pid, 0)
    os.close(master)
    text = seen.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "Tokens are preferred over passwords" in text
    assert "Login succeeded" in text
    assert SECRET not in text
    assert store.get(auth_registry.host, USER) is not None


def _read_until(fd: int, marker: bytes | None, limit: float = 60) -> bytes:
    """Read the pty until ``marker`` shows (or EOF when None); ``limit`` only guards a hang."""
    data = b""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the pty
            return data
        if not chunk:
            return data
        data += chunk
        if marker is not None and marker in data:
            return data
    raise AssertionError(f"pty never showed {marker!r}; got {data!r}")


PUSH = """
import os, subprocess, sys
from core.credentials import CredentialStore, docker_env, temporary_docker_config
host, ref, target = sys.argv[1:4]
cred = CredentialStore().get(host)
assert cred is not None
with temporary_docker_config([cred]) as config_dir:
    argv = ["skopeo", "copy", "--dest-tls-verify=false", ref, f"docker://{host}/{target}"]
    done = subprocess.run(argv, env={**os.environ, **docker_env(config_dir)})
print("push", done.returncode)
sys.exit(done.returncode)
"""


@pytest.mark.e2e
def test_the_secret_leaks_nowhere(
    store: CredentialStore, cli_env: dict[str, str], home: Path,
    auth_registry: RunningRegistry, oci_image: OciImage,
) -> None:
    """Login and push as real processes, then hunt for the secret in everything they left."""
    user_docker = home / ".docker"
    user_docker.mkdir()
    (user_docker / "config.json").write_text('{"auths": {}}\n')
    needles = [SECRET.encode(), base64.b64encode(f"{USER}:{SECRET}".encode())]

    with watch_processes() as seen:
        login = dockyard("login", auth_registry.host, "-u", USER, "--password-stdin",
                         env=cli_env, stdin=SECRET + "\n")
        push_done = subprocess.run(
            [sys.executable, "-c", PUSH, auth_registry.host, oci_image.ref, "leak/app:1"],
            env=cli_env, cwd=REPO, capture_output=True, text=True, timeout=120,
        )
    assert login.returncode == 0, login.stderr
    assert push_done.returncode == 0, push_done.stderr

    cmdlines = [data for datas in seen.values() for data in datas]
    assert any(b"tui.cli\0login" in c for c in cmdlines)  # the watcher really saw the run
    assert any(c.startswith(b"skopeo\0copy") for c in cmdlines)
    outputs = [s.encode() for s in (login.stdout, login.stderr, push_done.stdout,
                                     push_done.stderr)]
    files = [p.read_bytes() for p in home.rglob("*") if p.is_file()]
    hits = [
        where for where, blobs in (("output", outputs), ("process", cmdlines), ("HOME", files))
        for blob in blobs for needle in needles if needle in blob
    ]
    assert hits == []
    assert (user_docker / "config.json").read_text() == '{"auths": {}}\n'
    assert list(Path(os.environ["XDG_RUNTIME_DIR"]).iterdir()) == []
