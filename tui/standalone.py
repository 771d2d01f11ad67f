"""Small apps around one screen: the credentials manager (``dockyard login`` without a registry)
and the registry browser (``dockyard browse``). Services are parameters so tests can inject them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from textual.app import App

from core.credentials import CredentialStore, logged_in_client, login
from core.reference import ImageName
from core.registry import RegistryClient
from screens.browser import PAGE_SIZE, BrowserScreen, ClientFactory
from screens.credentials import CredentialsScreen, LoginFn


class CredentialsApp(App[int]):
    """Hosts the credentials manager; closing the screen ends the app."""

    TITLE = "dockyard credentials"

    def __init__(self, store: CredentialStore | None = None, *, login: LoginFn = login) -> None:
        super().__init__()
        self._store = store
        self._login = login

    def on_mount(self) -> None:
        self.push_screen(CredentialsScreen(self._store, login=self._login),
                         lambda _saved: self.exit(0))


class BrowserApp(App[int]):
    """Hosts the registry browser; closing the screen ends the app."""

    TITLE = "dockyard browse"

    def __init__(self, image: str | None, *, client_factory: ClientFactory,
                 page_size: int = PAGE_SIZE) -> None:
        super().__init__()
        self._image = image
        self._client_factory = client_factory
        self._page_size = page_size

    def on_mount(self) -> None:
        screen = BrowserScreen(self._image, client_factory=self._client_factory,
                               page_size=self._page_size)
        self.push_screen(screen, lambda _none: self.exit(0))


def stored_login_client(insecure_registries: Sequence[str] = (),
                        ca_file: Path | None = None) -> ClientFactory:
    """Clients that use the stored login for the registry when there is one, else anonymous
    (a missing keyring still lets public repositories be browsed)."""

    def make(image: ImageName) -> RegistryClient:
        return logged_in_client(image, insecure_registries=insecure_registries, ca_file=ca_file)

    return make


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
    factory = client_factory or stored_login_client(insecure_registries, ca_file)
    return BrowserApp(image, client_factory=factory).run() or 0
