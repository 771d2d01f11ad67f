"""The credentials manager: list, add (checked against the registry first) and remove logins.

Secrets are typed into a password field, travel to the worker inside a ``Credential`` (whose repr
hides them) and are cleared from the form once saved; nothing here prints or logs them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Checkbox, DataTable, Footer, Input, Label, Static
from textual.worker import Worker, WorkerState

import assets
from core.credentials import (
    AuthConfig,
    Credential,
    CredentialStore,
    existing_logins,
    import_login,
    login,
)
from core.errors import DockyardError
from tui.table import Table
from tui.widgets import DismissOnce, OnceModal, readable_error

ASSETS = Path(assets.__file__).resolve().parent

LoginFn = Callable[..., Credential]


class ConfirmRemove(OnceModal[bool]):
    """Ask before a login is deleted from the keyring (it cannot be undone)."""

    CSS_PATH = ASSETS / "credentials.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Remove", id="confirm_remove.answer_true"),
        Binding("n,escape", "answer(False)", "Keep", id="confirm_remove.answer_false"),
    ]

    def __init__(self, registry: str, username: str) -> None:
        super().__init__()
        self.registry = registry
        self.username = username

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Label(f"Remove the login {self.username} @ {self.registry} from the keyring?")
            with Horizontal(id="confirm-buttons"):
                yield Button("Remove (y)", id="yes", variant="error")
                yield Button("Keep (n)", id="no")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class CredentialsScreen(DismissOnce[str | None]):
    """Stored registry logins. Dismisses with the registry last saved (None if none was)."""

    CSS_PATH = ASSETS / "credentials.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add", "Add", id="credentials.add"),
        Binding("d,delete", "remove", "Remove", id="credentials.remove"),
        Binding("r", "refresh", "Refresh", id="credentials.refresh"),
        Binding("escape", "leave", "Close", id="credentials.leave"),
        Binding("q", "close", "Close", show=False, id="credentials.close"),
    ]

    class Listed(Message):
        def __init__(self, backend: str, entries: list[tuple[str, str]], announce: bool,
                     offers: list[tuple[str, str]]) -> None:
            super().__init__()
            self.backend = backend
            self.entries = entries
            self.announce = announce  # False keeps the status of the save/remove that reloaded
            self.offers = offers  # (registry, where): docker's or podman's, not in the keyring

    class Imported(Message):
        def __init__(self, registry: str, username: str, where: str, live: bool) -> None:
            super().__init__()
            self.registry = registry
            self.username = username
            self.where = where
            self.live = live  # a credential helper's: used as it is, never copied

    class Saved(Message):
        def __init__(self, registry: str, username: str) -> None:
            super().__init__()
            self.registry = registry
            self.username = username

    class Removed(Message):
        def __init__(self, registry: str, username: str, count: int) -> None:
            super().__init__()
            self.registry = registry
            self.username = username
            self.count = count

    def __init__(
        self,
        store: CredentialStore | None = None,
        *,
        login: LoginFn = login,
        registry: str = "",
        existing: Callable[[], list[AuthConfig]] = existing_logins,
    ) -> None:
        super().__init__()
        self._store = store
        self._login = login
        self._existing = existing  # the user's docker and podman login files
        self.offers: list[tuple[str, str]] = []
        self._initial_registry = registry
        self.entries: list[tuple[str, str]] = []
        self.status = ""
        self.last_saved: str | None = None
        self.backend: str | None = None  # the keyring's label, once it has been read

    @property
    def store(self) -> CredentialStore:
        if self._store is None:
            self._store = CredentialStore()
        return self._store

    def compose(self) -> ComposeResult:
        yield Static("Registry credentials", id="title")
        yield Static("keyring: …", id="backend")
        yield Table(id="entries", cursor_type="row", zebra_stripes=True)
        yield Static("", id="status")
        with Vertical(id="add-form"):
            yield Label("Add a login (checked against the registry before it is saved)")
            yield Input(self._initial_registry, placeholder="registry, e.g. ghcr.io",
                        id="registry")
            yield Input(placeholder="username", id="username")
            yield Input(placeholder="token or password", password=True, id="secret")
            with Horizontal(id="add-row"):
                yield Checkbox("plain http / unverified TLS (insecure)", id="insecure")
                yield Button("Check and save", id="save", variant="primary")
            with Horizontal(id="import-row"):
                yield Static("", id="offer")
                yield Button("Import", id="import")
        yield Footer()

    def on_mount(self) -> None:
        # The form, not the table: typed letters would otherwise trigger bindings (a = Add).
        self.action_add()
        self.action_refresh()

    # ---- actions ------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self._set_status("reading the keyring…")
        self._list()

    def action_add(self) -> None:
        target = "#username" if self.query_one("#registry", Input).value else "#registry"
        self.query_one(target, Input).focus()

    def action_remove(self) -> None:
        table = self.query_one("#entries", DataTable)
        if not self.entries or table.cursor_row < 0:
            self._set_status("no login selected")
            return
        registry, username = self.entries[table.cursor_row]

        def answered(yes: bool | None) -> None:
            if yes:
                self._set_status(f"removing {username} @ {registry}…")
                self._remove(registry, username)
            else:
                self._set_status("kept")

        self.app.push_screen(ConfirmRemove(registry, username), answered)

    def action_leave(self) -> None:
        """Escape leaves a text field first, then the screen."""
        if isinstance(self.focused, Input):
            self.query_one("#entries", DataTable).focus()
        else:
            self.action_close()

    def action_close(self) -> None:
        self.dismiss(self.last_saved)

    @on(Button.Pressed, "#save")
    @on(Input.Submitted, "#secret")
    def action_save(self) -> None:
        registry = self.query_one("#registry", Input).value.strip()
        username = self.query_one("#username", Input).value.strip()
        secret = self.query_one("#secret", Input).value
        try:
            credential = Credential(registry, username, secret)
        except DockyardError as err:
            self._set_status(readable_error(err, secret=secret), error=True)
            return
        insecure = self.query_one("#insecure", Checkbox).value
        self._set_status(f"checking {credential.username} @ {credential.registry}…")
        self.query_one("#save", Button).disabled = True
        self._check_and_save(credential, insecure)

    @on(Input.Submitted, "#registry")
    @on(Input.Submitted, "#username")
    def _next_field(self) -> None:
        self.focus_next()

    # ---- workers (thread: keyring and registry calls block) --------------------------------

    @work(thread=True, exit_on_error=False, exclusive=True, group="list", description="list")
    def _list(self, announce: bool = True) -> None:
        store = self.store
        entries = store.entries()
        stored = {registry for registry, _ in entries}
        offers = [(registry, config.shown()) for config in self._existing()
                  for registry, kind in config.registries()
                  if kind == "static" and registry not in stored]
        self.post_message(self.Listed(store.backend_label, entries, announce,
                                      list(dict.fromkeys(offers))))

    @work(thread=True, exit_on_error=False, group="save", description="import login")
    def _import(self, registry: str) -> None:
        found = import_login(self.store, registry)
        assert found.credential is not None
        self.post_message(self.Imported(found.registry, found.credential.username, found.source,
                                        found.live))

    @work(thread=True, exit_on_error=False, group="save", description="check and save login")
    def _check_and_save(self, credential: Credential, insecure: bool) -> None:
        saved = self._login(
            self.store, credential.registry, credential.username, credential.secret,
            insecure=insecure,
        )
        self.post_message(self.Saved(saved.registry, saved.username))

    @work(thread=True, exit_on_error=False, group="remove", description="remove login")
    def _remove(self, registry: str, username: str) -> None:
        count = self.store.delete(registry, username)
        self.post_message(self.Removed(registry, username, count))

    # ---- results -----------------------------------------------------------------------------

    @on(Button.Pressed, "#import")
    def action_import(self) -> None:
        """Copy the first login docker or podman has that the keyring lacks, once the registry
        accepted it (first-time setup: most users ran `docker login` already)."""
        if not self.offers:
            return
        registry, where = self.offers[0]
        self._set_status(f"checking the login for {registry} from {where}…")
        self.query_one("#import", Button).disabled = True
        self._import(registry)

    def on_credentials_screen_imported(self, message: Imported) -> None:
        self.query_one("#import", Button).disabled = False
        self.last_saved = message.registry
        self._set_status(f"imported {message.username} @ {message.registry} from "
                         f"{message.where} (the registry accepted it)")
        self._list(announce=False)

    def show_offer(self) -> None:
        row = self.query_one("#import-row")
        row.display = bool(self.offers)
        if self.offers:
            registry, where = self.offers[0]
            more = f" (+{len(self.offers) - 1} more)" if len(self.offers) > 1 else ""
            self.query_one("#offer", Static).update(
                f"{where} has a login for {registry}{more}: import it into the keyring?")

    def on_credentials_screen_listed(self, message: Listed) -> None:
        self.entries = message.entries
        self.offers = message.offers
        self.show_offer()
        self.backend = message.backend
        self.query_one("#backend", Static).update(f"keyring: {message.backend}")
        table = self.query_one("#entries", DataTable)
        table.clear(columns=True)  # columns sized here: no width catch-up after the first paint
        table.add_column("Registry", width=max([8, *(len(reg) for reg, _ in self.entries)]))
        table.add_column("Username", width=max([8, *(len(user) for _, user in self.entries)]))
        for registry, username in self.entries:
            table.add_row(registry, username, key=f"{registry}/{username}")
        count = len(self.entries)
        if message.announce:
            self._set_status(f"{count} stored login{'s' if count != 1 else ''}" if count
                             else "no stored logins: add one below")

    def on_credentials_screen_saved(self, message: Saved) -> None:
        self.query_one("#secret", Input).value = ""
        self.query_one("#save", Button).disabled = False
        self.last_saved = message.registry
        self._set_status(f"saved {message.username} @ {message.registry} "
                         "(the registry accepted it)")
        self._list(announce=False)

    def on_credentials_screen_removed(self, message: Removed) -> None:
        what = f"{message.username} @ {message.registry}"
        self._set_status(f"removed {what}" if message.count else f"{what} was not stored")
        self._list(announce=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR or event.worker.error is None:
            return
        secret = self.query_one("#secret", Input).value
        if event.worker.group == "save":
            self.query_one("#save", Button).disabled = False
            self.query_one("#import", Button).disabled = False
        self._set_status(readable_error(event.worker.error, secret=secret), error=True)

    def _set_status(self, text: str, *, error: bool = False) -> None:
        self.status = text
        status = self.query_one("#status", Static)
        status.update(text)
        status.set_class(error, "error")
