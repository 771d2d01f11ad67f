"""The credentials manager on the real Secret Service keyring and a real htpasswd registry.

Run inside ``dbus-run-session`` with gnome-keyring unlocked and DOCKYARD_TEST_KEYRING=secretservice
(scripts/test does). Each test uses its own keyring service and empties it afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from textual.widgets import DataTable, Input

from core.credentials import Credential, CredentialStore
from screens.credentials import ConfirmRemove, CredentialsScreen
from tests.support.registry import RunningRegistry, run_registry
from tests.ui.conftest import click
from tui.standalone import CredentialsApp

USER = "h7-bot"
SECRET = "h7-T0ken-" + uuid.uuid4().hex  # unique: finding it anywhere is a leak


@pytest.fixture(scope="module")
def auth_registry() -> Iterator[RunningRegistry]:
    with run_registry(username=USER, password=SECRET) as running:
        yield running


async def idle(pilot: Any) -> CredentialsScreen:
    """Wait until no worker runs and the screen has taken in the results."""
    app = pilot.app
    for _ in range(500):
        await pilot.pause(0.02)
        screen = app.screen
        if (isinstance(screen, CredentialsScreen) and not app.workers
                and (screen.backend is not None or "error" in screen.query_one("#status").classes)
                and not screen.status.endswith("…")):
            await pilot.pause(0.05)  # one more refresh: the table sizes its columns on idle
            return screen
    raise AssertionError("the credentials screen never settled")


def screen_text(app: Any) -> str:
    return str(app.export_screenshot())


async def fill_form(pilot: Any, registry: str, username: str, secret: str) -> None:
    screen = pilot.app.screen
    screen.query_one("#registry", Input).value = registry
    screen.query_one("#username", Input).value = username
    screen.query_one("#secret", Input).focus()
    await pilot.press(*secret)


@pytest.mark.anyio
async def test_lists_stored_logins_without_secrets(store: CredentialStore,
                                                   secret_service: str) -> None:
    store.save(Credential("ghcr.io", "alice", SECRET))
    store.save(Credential("127.0.0.1:5000", "bob", SECRET))
    app = CredentialsApp(store)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await idle(pilot)
        assert screen.entries == [("127.0.0.1:5000", "bob"), ("ghcr.io", "alice")]
        assert screen.query_one("#entries", DataTable).row_count == 2
        assert screen.status == "2 stored logins"
        text = screen_text(app)
        assert "SecretService" in secret_service and "SecretService" in text
        assert SECRET not in text


@pytest.mark.anyio
async def test_add_is_checked_against_the_registry_then_saved(
    store: CredentialStore, auth_registry: RunningRegistry
) -> None:
    app = CredentialsApp(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await idle(pilot)
        await fill_form(pilot, auth_registry.host, USER, SECRET)
        assert SECRET not in screen_text(app)  # typed into a password field
        await pilot.press("enter")
        screen = await idle(pilot)
        assert screen.status == f"saved {USER} @ {auth_registry.host} (the registry accepted it)"
        assert screen.entries == [(auth_registry.host, USER)]
        assert screen.query_one("#secret", Input).value == ""
        assert screen.last_saved == auth_registry.host
        assert SECRET not in screen_text(app)
    saved = store.get(auth_registry.host, USER)
    assert saved is not None and saved.secret == SECRET


@pytest.mark.anyio
async def test_a_refused_login_is_not_saved(
    store: CredentialStore, auth_registry: RunningRegistry
) -> None:
    wrong = SECRET + "-wrong"
    app = CredentialsApp(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await idle(pilot)
        await fill_form(pilot, auth_registry.host, USER, wrong)
        await click(pilot, "#save")
        screen = await idle(pilot)
        assert screen.status.startswith("credentials: ")
        assert wrong not in screen.status and SECRET not in screen.status
        assert "error" in screen.query_one("#status").classes
        assert screen.entries == []
        assert not screen.query_one("#save").disabled  # the user can correct and retry
    assert store.entries() == []


@pytest.mark.anyio
async def test_form_problems_are_shown_before_any_request(store: CredentialStore) -> None:
    app = CredentialsApp(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await idle(pilot)
        await fill_form(pilot, "ghcr.io", "", SECRET)
        await pilot.press("enter")
        screen = await idle(pilot)
        assert screen.status == "credentials: '' is not a usable username; " \
            "a non-empty name without ':' or control characters"
        await fill_form(pilot, "not a host", "alice", "x")
        await pilot.press("enter")
        screen = await idle(pilot)
        assert screen.status.startswith("registry: 'not a host' is not a registry host")
    assert store.entries() == []


@pytest.mark.anyio
async def test_remove_asks_first(store: CredentialStore) -> None:
    store.save(Credential("ghcr.io", "alice", SECRET))
    store.save(Credential("quay.io", "carol", SECRET))
    app = CredentialsApp(store)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await idle(pilot)
        screen.query_one("#entries", DataTable).focus()
        await pilot.press("down", "d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmRemove)
        assert (app.screen.registry, app.screen.username) == ("quay.io", "carol")
        await pilot.press("n")
        screen = await idle(pilot)
        assert screen.status == "kept"
        assert store.entries() == [("ghcr.io", "alice"), ("quay.io", "carol")]
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("y")
        screen = await idle(pilot)
        assert screen.entries == [("ghcr.io", "alice")]
    assert store.entries() == [("ghcr.io", "alice")]
    assert store.get("quay.io", "carol") is None


@pytest.mark.anyio
async def test_escape_leaves_the_field_then_closes(store: CredentialStore) -> None:
    app = CredentialsApp(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await idle(pilot)
        app.screen.query_one("#username", Input).focus()
        await pilot.press("escape")
        assert app.is_running
        await pilot.press("escape")
        await pilot.pause()
    assert app.return_value == 0


@pytest.mark.anyio
async def test_typing_on_arrival_fills_the_form(store: CredentialStore) -> None:
    """The form has the focus, so letters are typed, not taken as keys (a would be Add)."""
    app = CredentialsApp(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await idle(pilot)
        await pilot.press(*"ghcr.io", "enter", *"alice")
        screen = app.screen
        assert screen.query_one("#registry", Input).value == "ghcr.io"
        assert screen.query_one("#username", Input).value == "alice"
        assert app.focused is screen.query_one("#username", Input)


# ---- snapshots: fixed registry names, no secrets, no ports --------------------------------------


def test_snapshot_list(store: CredentialStore, snap_compare: Any) -> None:
    store.save(Credential("ghcr.io", "alice", SECRET))
    store.save(Credential("registry.example:5000", "bob", SECRET))
    assert snap_compare(CredentialsApp(store), terminal_size=(100, 30), run_before=idle)


def test_snapshot_confirm_remove(store: CredentialStore, snap_compare: Any) -> None:
    store.save(Credential("ghcr.io", "alice", SECRET))

    async def confirm(pilot: Any) -> None:
        screen = await idle(pilot)
        screen.query_one("#entries", DataTable).focus()
        await pilot.press("d")
        await pilot.pause()

    assert snap_compare(CredentialsApp(store), terminal_size=(100, 30), run_before=confirm)


def test_snapshot_form_error(store: CredentialStore, snap_compare: Any) -> None:
    async def bad_form(pilot: Any) -> None:
        await idle(pilot)
        await fill_form(pilot, "ghcr.io", "", "secret")
        await pilot.press("enter")
        await idle(pilot)

    assert snap_compare(CredentialsApp(store), terminal_size=(100, 30), run_before=bad_form)


def docker_login_file(tmp_path: Any, monkeypatch: pytest.MonkeyPatch, registry: str,
                      secret: str) -> None:
    """What `docker login` leaves: a static auth in $DOCKER_CONFIG/config.json (no podman file)."""
    import base64
    import json

    config = tmp_path / "docker"
    config.mkdir()
    auth = base64.b64encode(f"{USER}:{secret}".encode()).decode()
    (config / "config.json").write_text(json.dumps({"auths": {registry: {"auth": auth}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(tmp_path / "no-podman-auth.json"))


@pytest.mark.anyio
async def test_first_time_setup_offers_docker_login_and_imports_it_once_accepted(
    store: CredentialStore, auth_registry: RunningRegistry, tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    docker_login_file(tmp_path, monkeypatch, auth_registry.host, SECRET)
    app = CredentialsApp(store)
    async with app.run_test(size=(120, 32)) as pilot:
        screen = await idle(pilot)
        assert screen.offers == [(auth_registry.host, str(tmp_path / "docker" / "config.json"))]
        offer = str(screen.query_one("#offer").render())
        assert offer.endswith(f"has a login for {auth_registry.host}: import it into the "
                              "keyring?")
        assert screen.query_one("#import-row").display
        await click(pilot, "#import")
        screen = await idle(pilot)
        assert screen.status.startswith(f"imported {USER} @ {auth_registry.host} from docker "
                                        "config")
        assert screen.entries == [(auth_registry.host, USER)]
        assert screen.offers == [] and not screen.query_one("#import-row").display
        assert SECRET not in screen_text(app)
    saved = store.get(auth_registry.host, USER)
    assert saved is not None and saved.secret == SECRET


@pytest.mark.anyio
async def test_an_imported_login_the_registry_refuses_is_not_stored(
    store: CredentialStore, auth_registry: RunningRegistry, tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrong = SECRET + "-old"
    docker_login_file(tmp_path, monkeypatch, auth_registry.host, wrong)
    app = CredentialsApp(store)
    async with app.run_test(size=(120, 32)) as pilot:
        await idle(pilot)
        await click(pilot, "#import")
        screen = await idle(pilot)
        assert "error" in screen.query_one("#status").classes
        assert wrong not in screen.status and wrong not in screen_text(app)
        assert screen.entries == [] and not screen.query_one("#import").disabled
    assert store.entries() == []
