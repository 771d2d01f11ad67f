"""The compare screen against the real registry: a known change between two pushed versions,
progress while it reads, one error line for a tag the registry lacks, Escape leaves."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from textual.screen import Screen
from textual.widgets import LoadingIndicator, Static

from core.reference import ImageName, parse_image_name
from core.registry import RegistryClient
from screens.diff import DiffScreen
from tests.registry.content import Pusher
from tests.support.registry import RunningRegistry
from tests.ui.conftest import Host, settle
from tui.services import Services

REPO = "dy/diff-screen"


@pytest.fixture(scope="module")
def image(registry: RunningRegistry) -> Iterator[ImageName]:
    """1.0.0 on amd64; 1.1.0 relabelled, with an env variable and linux/arm64 added."""
    pusher = Pusher(registry.url)
    pusher.index(REPO, "1.0.0", ["linux/amd64"], labels={"v": "1.0.0"})
    pusher.index(REPO, "1.1.0", ["linux/amd64", "linux/arm64"], labels={"v": "1.1.0"},
                 settings={"Env": ["FEATURE=on"]})
    pusher.close()
    yield parse_image_name(f"{registry.host}/{REPO}")


def services() -> Services:
    return Services(registry_client=lambda name: RegistryClient(name.api_host))


def shown(screen: Screen[Any], selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


@pytest.mark.anyio
async def test_shows_the_change_and_escape_leaves(
    host: Callable[..., Host], image: ImageName,
) -> None:
    app = host(lambda: DiffScreen(image, "1.0.0", "1.1.0", services().diff))
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, DiffScreen)
                     and app.screen.diff is not None)
        screen = app.screen
        text = shown(screen, "#diff").splitlines()
        assert text[0] == f"{image}  1.0.0 -> 1.1.0"
        assert '  ~ label v: "1.0.0" -> "1.1.0"' in text
        assert '  + env FEATURE: "on"' in text
        assert any(line.startswith("only in B: linux/arm64  ") for line in text)
        assert shown(screen, "#status") == "1 platform(s) changed, 1 on one side only"
        assert not screen.query_one("#loading", LoadingIndicator).display
        await pilot.press("escape")
        await settle(pilot, lambda: app.results == [None])
        assert not isinstance(app.screen, DiffScreen)


@pytest.mark.anyio
async def test_progress_while_reading(host: Callable[..., Host], image: ImageName) -> None:
    """The real read, held back until the test has seen the progress it shows meanwhile."""
    release = threading.Event()
    real = services().diff

    def held(name: ImageName, a: str, b: str) -> Any:
        release.wait(timeout=30)
        return real(name, a, b)

    app = host(lambda: DiffScreen(image, "1.1.0", "1.1.0", held))
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, DiffScreen))
        screen = app.screen
        assert screen.query_one("#loading", LoadingIndicator).display
        assert shown(screen, "#status") == f"reading 1.1.0 and 1.1.0 from {image.registry}…"
        release.set()
        await settle(pilot, lambda: screen.diff is not None)
        assert shown(screen, "#status") == "no changes"
        assert shown(screen, "#diff").splitlines()[-1] == "no changes"


@pytest.mark.anyio
async def test_a_missing_tag_is_one_error_line(
    host: Callable[..., Host], image: ImageName,
) -> None:
    app = host(lambda: DiffScreen(image, "1.0.0", "9.9.9", services().diff))
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, DiffScreen)
                     and "error" in app.screen.query_one("#status").classes)
        screen = app.screen
        assert shown(screen, "#status") == (
            f"image: {image}:9.9.9 does not exist; give a tag or digest the repository holds "
            "(dockyard history lists its versions)")
        assert not screen.query_one("#loading", LoadingIndicator).display
        assert shown(screen, "#diff") == ""
