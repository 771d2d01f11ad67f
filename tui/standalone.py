"""Small apps around one screen: the credentials manager (``dockyard login`` without a registry)
and the registry browser (``dockyard browse``, which opens an image's release history on top).
Services are parameters so tests can inject them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from textual.app import App

import assets
from core.clients import logged_in_clients
from core.credentials import CredentialStore, login
from screens.browser import PAGE_SIZE, BrowserScreen, ClientFactory
from screens.credentials import CredentialsScreen, LoginFn
from screens.diff import DiffScreen
from screens.history import HistoryScreen
from screens.rollback import RollbackModal
from tui.messages import OpenHistory
from tui.services import Services

MODAL_CSS = Path(assets.__file__).resolve().parent / "modal.tcss"


class CredentialsApp(App[int]):
    """Hosts the credentials manager; closing the screen ends the app."""

    TITLE = "dockyard credentials"
    CSS_PATH = MODAL_CSS

    def __init__(self, store: CredentialStore | None = None, *, login: LoginFn = login) -> None:
        super().__init__()
        self._store = store
        self._login = login

    def on_mount(self) -> None:
        self.push_screen(CredentialsScreen(self._store, login=self._login),
                         lambda _saved: self.exit(0))


class BrowserApp(App[int]):
    """Hosts the registry browser and the histories it opens; closing the browser ends the app.
    ``report_dir``: the run reports a history reads (default: dockyard's state dir)."""

    TITLE = "dockyard browse"
    CSS_PATH = MODAL_CSS

    def __init__(self, image: str | None, *, client_factory: ClientFactory,
                 page_size: int = PAGE_SIZE, report_dir: Path | None = None) -> None:
        super().__init__()
        self._image = image
        self._client_factory = client_factory
        self._page_size = page_size
        self._report_dir = report_dir

    def on_mount(self) -> None:
        screen = BrowserScreen(self._image, client_factory=self._client_factory,
                               page_size=self._page_size)
        self.push_screen(screen, lambda _none: self.exit(0))

    def on_open_history(self, message: OpenHistory) -> None:
        """The browser's ``h``: the history reads through the browser's own client factory;
        its row actions open the rollback confirmation and the comparison."""
        services = Services(registry_client=self._client_factory)
        image = message.image
        self.push_screen(HistoryScreen(
            image, services, report_dir=self._report_dir, confirm=RollbackModal,
            compare=lambda a, b: DiffScreen(image, a, b, services.diff)))


def run_credentials_manager(store: CredentialStore | None = None) -> int:
    """List, add and remove stored registry logins; returns the exit code."""
    return CredentialsApp(store).run() or 0


def run_browser(
    image: str | None,
    *,
    insecure_registries: Sequence[str] = (),
    ca_file: Path | None = None,
    client_factory: ClientFactory | None = None,
) -> int:
    """Browse a repository's tags; returns the exit code."""
    # Anonymous without a stored login: a missing keyring still lets public repositories be
    # browsed.
    factory = client_factory or logged_in_clients(insecure_registries, ca_file=ca_file)
    return BrowserApp(image, client_factory=factory).run() or 0
