"""Step 5, Credentials: which stored login each registry of the release will use.

Logins live in the OS keyring (``core.credentials``); a missing one can be set up inline with
the credentials manager screen, and a stored one checked against the registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Button, DataTable, Static

from core.errors import DockyardError
from core.reference import canonical_registry, parse_image_name
from tui.draft import Draft
from tui.messages import OpenCredentials
from tui.table import Table
from tui.themes import tone
from tui.widgets import StepScreen

if TYPE_CHECKING:
    from collections.abc import Callable

    from tui.services import Services

ANONYMOUS = ""


class LoginsRead(Message):
    """The login each registry would use: host -> username (ANONYMOUS when none), the keyring
    backend's name, and why the keyring is unusable ("" when it works)."""

    def __init__(self, logins: dict[str, str], backend: str, problem: str) -> None:
        super().__init__()
        self.logins = logins
        self.backend = backend
        self.problem = problem


class LoginChecked(Message):
    """A registry's answer to its stored login: "ok" or the refusal."""

    def __init__(self, host: str | None, result: str) -> None:
        super().__init__()
        self.host = host
        self.result = result


def registries(draft: Draft) -> tuple[str, ...]:
    """The release's registries as the keyring knows them (docker.io, not index.docker.io)."""
    return tuple(dict.fromkeys(canonical_registry(host) for host in draft.registry_hosts()))


class CredentialsStepScreen(StepScreen):
    STEP = "Credentials"
    AUTO_FOCUS = "#logins"
    HELP = (
        "Each registry the release pushes to, and the stored login dockyard will hand to the "
        "engine for this run only (a throw-away docker config, removed afterwards). Registries "
        "without a login are used anonymously, which only local registries usually allow. Set "
        "one up with 's' (checked against the registry before it is saved), or check one with "
        "'c'."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "setup", "Set up login", id="credentials_step.setup"),
        Binding("c", "check", "Check login", id="credentials_step.check"),
    ]

    def __init__(self, draft: Draft, services: Services) -> None:
        super().__init__(draft, services)
        self.hosts = registries(draft)
        self.logins: dict[str, str] = {}  # host -> username, ANONYMOUS when none stored
        self.checks: dict[str, str] = {}  # host -> "ok" or the problem
        self.backend = ""
        self.keyring_problem = ""

    def compose_body(self) -> ComposeResult:
        yield Static(Text("Registries and logins", style="bold"), classes="section")
        yield Static(Text("reading the keyring…", style="dim"), id="backend")
        yield Table(id="logins", cursor_type="row")
        yield Static("", id="advice", classes="hint")

    def compose_actions(self) -> ComposeResult:
        yield Button("Set up login", id="setup")
        yield Button("Check login", id="check")

    def on_mount(self) -> None:
        self.query_one("#logins", DataTable).add_columns("registry", "login", "check")
        self.read_logins()

    def commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        return [
            ("Set up a registry login", "Open the credentials manager for this registry",
             self.action_setup),
            ("Check the registry login", "Ask the registry whether the login works",
             self.action_check),
        ]

    @work(thread=True, exit_on_error=False, exclusive=True, group="keyring")
    def read_logins(self) -> None:
        found, store = self.services.logins(self.hosts)
        logins = {login.registry: login.credential.who if login.credential else ANONYMOUS
                  for login in found}
        problems = {login.source for login in found if login.source.startswith("no usable")}
        backend = "" if problems else store.backend_label
        self.post_message(LoginsRead(logins, backend, "; ".join(sorted(problems))))

    @work(thread=True, exit_on_error=False, exclusive=True, group="check")
    def check_login(self, image: str) -> None:
        try:
            self.services.check_login(parse_image_name(image))
            result = "ok"
        except DockyardError as err:
            result = str(err)
        self.post_message(LoginChecked(self._host_of(image), result))

    def on_logins_read(self, message: LoginsRead) -> None:
        message.stop()
        self.logins, self.backend, self.keyring_problem = (
            message.logins, message.backend, message.problem)
        self.show()

    def on_login_checked(self, message: LoginChecked) -> None:
        message.stop()
        if message.host is not None:
            self.checks[message.host] = message.result
        self.show()

    def retone(self) -> None:
        self.show()

    def show(self) -> None:
        backend = Text("Keyring: ", style="bold")
        if self.keyring_problem:
            backend.append(self.keyring_problem, style=tone("error"))
        else:
            backend.append(self.backend or "…")
        self.query_one("#backend", Static).update(backend)
        table = self.query_one("#logins", DataTable)
        cursor = table.cursor_row
        table.clear()
        for host in self.hosts:
            user = self.logins.get(host)
            login = (Text("…", style="dim") if user is None else
                     Text(user, style=tone("success")) if user else
                     Text("none: anonymous", style=tone("warning")))
            check = self.checks.get(host, "")
            shown = Text(check, style=tone("success" if check == "ok" else "error"))
            table.add_row(host, login, shown, key=host)
        if self.hosts:
            table.move_cursor(row=min(max(cursor, 0), len(self.hosts) - 1))
        missing = [h for h in self.hosts if self.logins.get(h) == ANONYMOUS]
        self.query_one("#advice", Static).update(
            f"No stored login for {', '.join(missing)}: press s to set one up, or go on if the "
            "registry takes anonymous pushes." if missing else "")
        self.refresh_bindings()

    def full_errors(self) -> list[str]:
        found = [f"keyring: {self.keyring_problem}"] if self.keyring_problem else []
        found += [f"{host}: {result}" for host, result in self.checks.items()
                  if result not in ("ok", "checking…")]
        return found

    def selected_host(self) -> str | None:
        table = self.query_one("#logins", DataTable)
        if not self.hosts:
            return None
        return self.hosts[min(max(table.cursor_row, 0), len(self.hosts) - 1)]

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "setup":
            event.stop()
            self.action_setup()
        elif event.button.id == "check":
            event.stop()
            self.action_check()
        else:
            super().on_button_pressed(event)

    def action_setup(self) -> None:
        """The app opens the credentials manager on this registry (screens do not import each
        other); a login saved there is checked at once."""
        host = self.selected_host() or ""
        self.post_message(OpenCredentials(self.services.credentials(), host, self._after_setup))

    def _after_setup(self, saved: str | None) -> None:
        """A login just saved makes that registry's last check stale: check it again at once."""
        self.read_logins()
        image = next((i for i in self.draft.images if self._host_of(i) == saved), None)
        if saved is not None and image is not None:
            self.checks[saved] = "checking…"
            self.show()
            self.check_login(image)

    def action_check(self) -> None:
        host = self.selected_host()
        if host is None:
            return
        image = next(i for i in self.draft.images if self._host_of(i) == host)
        self.checks[host] = "checking…"
        self.show()
        self.check_login(image)

    @staticmethod
    def _host_of(image: str) -> str | None:
        try:
            return parse_image_name(image).registry
        except DockyardError:
            return None

    def next_draft(self) -> Draft | None:
        """The draft as it came: the run looks each registry's login up itself, once."""
        return self.draft
