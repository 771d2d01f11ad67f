"""Review step (core validates the plan, renders the commands) and the Credentials step."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import keyring.backends.fail
import pytest
from textual.widgets import Checkbox, DataTable, Input, Static

from core.config import load_config
from core.credentials import Credential, CredentialStore
from core.demo import create_demo
from core.reference import ImageName
from core.registry import RegistryClient, client_for
from screens.credentials import CredentialsScreen
from screens.credentials_step import CredentialsStepScreen
from screens.review import ReviewScreen
from tests.support.registry import RunningRegistry, run_registry
from tests.ui.conftest import demo_draft, settle
from tui.draft import Draft
from tui.services import Services
from tui.widgets import DetailsModal, ErrorModal

pytestmark = pytest.mark.anyio


async def test_review_shows_plan_and_commands_and_dry_run(tmp_path, host, registry) -> None:
    demo = create_demo(tmp_path / "demo", registry=registry.host)
    draft = demo_draft(demo.root, demo.image)
    app = host(lambda: ReviewScreen(draft, Services()))
    async with app.run_test(size=(140, 50)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: screen.plan_draft is not None, rounds=500)
        shown = str(screen.query_one("#plan", Static).render())
        assert f"pushed first: {demo.image}:0.1.0" in shown
        assert "then moved:   " + f"{demo.image}:latest" in shown
        assert "podman build" in shown and "manifest push" in shown
        await pilot.press("d")
        await pilot.pause()
    [result] = app.results
    assert result.dry_run and result.plan is not None
    assert [str(p) for p in result.plan.platforms] == ["linux/amd64", "linux/arm64"]
    assert result.steps and result.steps[0][0] == "podman"


async def test_review_saves_changed_choices_only_when_ticked(tmp_path, host, registry) -> None:
    demo = create_demo(tmp_path / "demo", registry=registry.host)
    draft = demo_draft(demo.root, f"{registry.host}/ui/renamed")
    app = host(lambda: ReviewScreen(draft, Services()))
    async with app.run_test(size=(140, 50)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: screen.plan_draft is not None, rounds=500)
        save = screen.query_one("#save", Checkbox)
        assert not save.value  # only when the user agrees
        save.focus()  # by keyboard: a click can land before the plan text has pushed it down
        await pilot.press("space")
        await settle(pilot, lambda: save.value)
        await pilot.press("ctrl+n")
        await settle(pilot, lambda: bool(app.results))
    assert load_config(demo.root).images == (f"{registry.host}/ui/renamed",)
    [result] = app.results
    assert not result.dry_run and result.plan is not None


async def test_review_with_invalid_plan_explains_and_blocks(tmp_path, host, registry) -> None:
    demo = create_demo(tmp_path / "demo", registry=registry.host)
    (demo.root / "dist" / "arm64" / "app").unlink()
    draft = demo_draft(demo.root, demo.image)
    app = host(lambda: ReviewScreen(draft, Services()))
    async with app.run_test(size=(140, 50)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, ErrorModal), rounds=500)
        assert app.screen.title_text == "binary"
        await pilot.press("escape")
        await pilot.pause()
        screen = app.screen
        assert "not valid yet" in str(screen.query_one("#plan", Static).render())
        await pilot.press("ctrl+n")
        await pilot.pause()
    assert app.results == []


# -- credentials step ----------------------------------------------------------------------


def rows(screen: CredentialsStepScreen) -> list[list[str]]:
    table = screen.query_one("#logins", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_no_keyring_means_anonymous_with_the_reason(tmp_path, host) -> None:
    draft = Draft(root=tmp_path, images=("127.0.0.1:5999/a/b", "ghcr.io/acme/app"))
    store = CredentialStore("dockyard-h6-none", backend=keyring.backends.fail.Keyring())
    app = host(lambda: CredentialsStepScreen(draft, Services(credentials=lambda: store)))
    async with app.run_test(size=(120, 30)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: bool(screen.logins))
        assert [r[:2] for r in rows(screen)] == [["127.0.0.1:5999", "none: anonymous"],
                                                 ["ghcr.io", "none: anonymous"]]
        assert "keyring" in str(screen.query_one("#backend", Static).render()).lower()
        await pilot.press("ctrl+n")
        await pilot.pause()
    [result] = app.results
    assert result == draft  # the run looks the logins up itself


USER = "h6-bot"
SECRET = "h6-T0ken-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def auth_registry() -> Iterator[RunningRegistry]:
    with run_registry(username=USER, password=SECRET) as running:
        yield running


async def test_stored_login_is_shown_and_checked(tmp_path, host, store,
                                                 auth_registry) -> None:
    store.save(Credential(auth_registry.host, USER, SECRET))

    def client(image: ImageName) -> RegistryClient:
        cred = store.get(image.domain)
        return client_for(image, username=cred.username if cred else None,
                          secret=cred.secret if cred else None)

    services = Services(credentials=lambda: store, registry_client=client)
    draft = Draft(root=tmp_path, images=(f"{auth_registry.host}/team/app",))
    app = host(lambda: CredentialsStepScreen(draft, services))
    async with app.run_test(size=(120, 30)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: bool(screen.logins))
        assert rows(screen)[0][:2] == [auth_registry.host, USER]
        await pilot.press("c")
        await settle(pilot, lambda: screen.checks.get(auth_registry.host) == "ok")
        assert SECRET not in str(screen.query_one("#logins", DataTable).get_row_at(0))


async def test_a_login_saved_from_the_step_is_checked_again_at_once(
    tmp_path, host, store, auth_registry
) -> None:
    """No stale red refusal after a save, and the whole refusal is one key (f3) away."""

    def client(image: ImageName) -> RegistryClient:
        cred = store.get(image.domain)
        return client_for(image, username=cred.username if cred else None,
                          secret=cred.secret if cred else None)

    services = Services(credentials=lambda: store, registry_client=client)
    draft = Draft(root=tmp_path, images=(f"{auth_registry.host}/team/app",))
    app = host(lambda: CredentialsStepScreen(draft, services))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: bool(screen.logins))
        await pilot.press("c")
        await settle(pilot, lambda: screen.checks.get(auth_registry.host, "ok")
                     not in ("ok", "checking…"))
        refusal = screen.checks[auth_registry.host]
        await pilot.press("f3")
        await pilot.pause()
        assert isinstance(app.screen, DetailsModal)
        assert app.screen.problems == [f"{auth_registry.host}: {refusal}"]
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("s")
        await settle(pilot, lambda: isinstance(app.screen, CredentialsScreen))
        form = app.screen
        form.query_one("#username", Input).value = USER
        form.query_one("#secret", Input).focus()
        await pilot.press(*SECRET, "enter")
        await settle(pilot, lambda: form.last_saved == auth_registry.host, rounds=1000)
        await pilot.press("escape", "escape")  # leave the field, close the manager
        await settle(pilot, lambda: app.screen is screen)
        await settle(pilot, lambda: screen.checks.get(auth_registry.host) == "ok")
        assert screen.logins[auth_registry.host] == USER
        assert screen.check_action("details", ()) is False
    store.delete(auth_registry.host)
