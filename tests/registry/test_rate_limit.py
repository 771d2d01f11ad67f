"""Docker Hub's rate-limit headers in ``dockyard inspect`` and the browser, and ``dockyard browse
HOST`` on registries with and without a catalog.

Docker Hub is not reachable from this machine (no public registry is), so its answers are
played back: the fault proxy adds the header values Docker Hub sends on manifest requests
(``ratelimit-limit: 100;w=21600``, ``ratelimit-remaining: 95;w=21600``, as documented at
docs.docker.com/docker-hub/usage/pulls) to what the real registry behind it answers, and a
``/v2/_catalog`` answered 404/405 plays a registry that lists no repositories.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.registry import RateLimit, RegistryClient, read_rate_limit
from screens.browser import BrowserScreen
from tests.registry.conftest import Published
from tests.registry.proxy import Fault, FaultProxy
from tests.support.registry import RunningRegistry
from tests.support.tokenauth import token_registry
from tui.cli import main
from tui.standalone import BrowserApp

DOCKER_HUB = {"ratelimit-limit": "100;w=21600", "ratelimit-remaining": "95;w=21600",
              "docker-ratelimit-source": "192.0.2.7"}


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("headers", "expected"), [
    (DOCKER_HUB, RateLimit(100, 95, 21600)),
    ({"ratelimit-limit": "200", "ratelimit-remaining": "0"}, RateLimit(200, 0, 0)),
    ({"ratelimit-limit": "100;w=21600"}, None),  # half a statement says nothing
    ({"ratelimit-limit": "lots", "ratelimit-remaining": "95;w=21600"}, None),
    ({}, None),
])
def test_the_headers_are_read_as_docker_hub_writes_them(
    headers: dict[str, str], expected: RateLimit | None
) -> None:
    assert read_rate_limit(httpx.Headers(headers)) == expected


def test_the_allowance_reads_in_hours() -> None:
    assert RateLimit(100, 95, 21600).describe() == "95 of 100 pulls left per 6 h"
    assert RateLimit(200, 3, 0).describe() == "3 of 200 pulls left"


def test_inspect_shows_the_rate_limit_when_the_registry_states_it(
    proxy: FaultProxy, published: Published, capsys: pytest.CaptureFixture[str]
) -> None:
    image = f"{proxy.host}/{published.repo}:1.2.3"
    code, out, _ = _cli(capsys, "inspect", image)
    assert code == 0 and "rate limit" not in out  # the local registry states none
    proxy.extra_headers.update(DOCKER_HUB)
    code, out, _ = _cli(capsys, "inspect", image)
    assert code == 0
    assert out.splitlines()[1] == "  rate limit    95 of 100 pulls left per 6 h"
    code, out, _ = _cli(capsys, "inspect", image, "--json")
    data: dict[str, Any] = json.loads(out)
    assert data["rate_limit"] == {"limit": 100, "remaining": 95, "window_seconds": 21600}
    code, out, _ = _cli(capsys, "inspect", f"{proxy.host}/{published.repo}")
    assert code == 0 and "  rate limit    95 of 100 pulls left per 6 h" in out.splitlines()


def test_the_client_keeps_the_latest_statement(proxy: FaultProxy, published: Published) -> None:
    with RegistryClient(proxy.host) as client:
        client.head_manifest(published.repo, "1.2.3")
        assert client.rate_limit is None
        proxy.extra_headers.update(DOCKER_HUB)
        client.head_manifest(published.repo, "1.2.3")
        assert client.rate_limit == RateLimit(100, 95, 21600)
        proxy.extra_headers["ratelimit-remaining"] = "94;w=21600"
        client.get_manifest(published.repo, "1.2.3")
        assert client.rate_limit == RateLimit(100, 94, 21600)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_browser_status_line_shows_the_rate_limit(
    proxy: FaultProxy, published: Published, anyio_backend: str
) -> None:
    proxy.extra_headers.update(DOCKER_HUB)
    app = BrowserApp(f"{proxy.host}/{published.repo}",
                     client_factory=lambda name: RegistryClient(name.api_host))
    async with app.run_test(size=(160, 40)) as pilot:
        for _ in range(500):
            await pilot.pause(0.02)
            screen = app.screen
            if (isinstance(screen, BrowserScreen) and screen.tags and not app.workers
                    and all(tag in screen.details for tag in screen.shown_tags())):
                break
        else:
            raise AssertionError("the browser never finished loading")
        assert isinstance(screen, BrowserScreen)
        screen._render_status()
        assert screen.status.startswith(f"4 tags in {proxy.host}/{published.repo}")
        assert screen.status.endswith(" · rate limit: 95 of 100 pulls left per 6 h")


def test_browse_a_registry_lists_its_catalog(
    registry: RunningRegistry, published: Published, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _cli(capsys, "browse", registry.host)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith(f"{registry.host}: ") and lines[0].endswith(" repositories")
    assert f"  {published.repo}" in lines[1:]


@pytest.mark.parametrize("status", [404, 405])
def test_browse_a_registry_without_a_catalog_says_so_in_one_line(
    proxy: FaultProxy, status: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """Docker Hub, GHCR and Quay list no repositories: an image name is needed. (A refused
    catalog, 401 after the token dance, is the token registry's test below.)"""
    proxy.inject(Fault(status=status, times=2, path_contains="/v2/_catalog"))
    code, out, err = _cli(capsys, "browse", proxy.host + "/")
    assert (code, out) == (2, "")
    assert err == (f"error: image: {proxy.host} has no catalog to list its repositories from "
                   "(or does not let this login read it); give an image to browse, e.g. "
                   f"dockyard browse {proxy.host}/OWNER/NAME\n")


def test_browse_a_token_registry_whose_catalog_is_not_granted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real registry with token auth: ``registry:catalog:*`` is asked for and not granted
    (as for any user of a hosted registry)."""
    with token_registry(tmp_path, {}, {"": {"team/public": frozenset({"pull"})}}) as (
            registry, issuer):
        code, out, err = _cli(capsys, "browse", registry.host)
        assert (code, out) == (2, "")
        assert err.startswith(f"error: image: {registry.host} has no catalog")
        assert ("registry:catalog:*",) in [a.scopes for a in issuer.asked]
